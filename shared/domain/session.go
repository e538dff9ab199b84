package domain

import (
	"fmt"
	"time"
)

// Kind is the kind of a session; it decides who may start it, what gates
// the start and the stage limits.
type Kind string

const (
	// KindScheduled is an employer's session booked in an event slot (seed 001).
	KindScheduled Kind = "scheduled"
	// KindInstant is a session any user creates on the spot (seed 000).
	KindInstant Kind = "instant"
	// KindPrimetime is a host's session inside a group chat (seed 002).
	KindPrimetime Kind = "primetime"
)

// Status is where a session is in its life cycle:
// scheduled -> open (waiting room) -> live -> ended, or expired.
type Status string

const (
	StatusScheduled Status = "scheduled"
	StatusOpen      Status = "open"
	StatusLive      Status = "live"
	StatusEnded     Status = "ended"
	StatusExpired   Status = "expired"
)

// Over reports whether the session can no longer be joined.
func (s Status) Over() bool { return s == StatusEnded || s == StatusExpired }

// Device is what a member joins from; the instant kind's presenter rule
// depends on it.
type Device string

const (
	DeviceMobile Device = "mobile"
	DeviceWeb    Device = "web"
)

// Session is one live session of any kind.
type Session struct {
	ID          SessionID  `json:"id"`
	Kind        Kind       `json:"kind"`
	Status      Status     `json:"status"`
	Title       string     `json:"title"`
	EventID     EventID    `json:"eventId,omitempty"`
	EmployerID  EmployerID `json:"employerId,omitempty"`
	HostID      UserID     `json:"hostId,omitempty"`
	PresenterID UserID     `json:"presenterId,omitempty"`
	GroupID     string     `json:"groupId,omitempty"`
	// Speakers are the users who may start a scheduled session and
	// moderate its stage: the employer and the users it listed.
	Speakers []UserID `json:"speakers,omitempty"`
	// Start and End are the slot of a scheduled session; zero otherwise.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Capacity is the most members the session holds; Registered counts
	// the spots held by registrations (the store never lets it pass
	// Capacity).
	Capacity   int         `json:"capacity"`
	Registered int         `json:"registered"`
	Stage      StageLimits `json:"stage"`
	CreatedAt  time.Time   `json:"createdAt"`
	// Version grows with every change of the session's live state.
	Version int64 `json:"version"`
	// Live is the state that changes while the session runs.
	Live Live `json:"live"`
}

// SpotsLeft is how many registrations the session still takes.
func (s Session) SpotsLeft() int { return max(s.Capacity-s.Registered, 0) }

// IsSpeaker reports whether u is one of a scheduled session's speakers.
func (s Session) IsSpeaker(u UserID) bool {
	for _, sp := range s.Speakers {
		if sp == u {
			return true
		}
	}
	return false
}

// IsOwner reports whether u owns the session: the employer who booked a
// scheduled session. Co-speakers moderate its stage but never remove the
// owner (issue 14).
func (s Session) IsOwner(u UserID) bool {
	return s.Kind == KindScheduled && s.EmployerID != "" && UserID(s.EmployerID) == u
}

// MaxListedSpeakers bounds the speakers an employer lists when booking;
// with the employer itself they fill the stage's speaker seats.
const MaxListedSpeakers = MaxSpeakers - 1

// NewScheduledSession books a session of ev at the slot starting at start
// for employer emp. The employer is its first speaker.
func NewScheduledSession(ev Event, emp EmployerID, start time.Time, title string, speakers []UserID, now time.Time) (Session, error) {
	f := FieldErrors{}
	if n := RuneLen(title); n < 1 || n > MaxTitleLen {
		f["title"] = fmt.Sprintf("must be 1 to %d characters", MaxTitleLen)
	}
	slot, err := ev.SlotAt(start)
	if err != nil {
		f["start"] = "must be the start of a slot inside the event's windows"
	}
	if len(speakers) > MaxListedSpeakers {
		f["speakers"] = fmt.Sprintf("must list at most %d users", MaxListedSpeakers)
	}
	all := []UserID{UserID(emp)}
	seen := map[UserID]bool{UserID(emp): true}
	for i, sp := range speakers {
		if sp == "" {
			f[fmt.Sprintf("speakers[%d]", i)] = "must be a user id"
			continue
		}
		if !seen[sp] {
			seen[sp] = true
			all = append(all, sp)
		}
	}
	if limit := ev.Stage.MaxSpeakers; limit > 0 && len(all) > limit {
		f["speakers"] = fmt.Sprintf("must list at most %d users: the stage seats %d speakers, the employer included", limit-1, limit)
	}
	if err := f.orNil(); err != nil {
		return Session{}, err
	}
	return Session{
		ID:         SessionID(NewID(12)),
		Kind:       KindScheduled,
		Status:     StatusScheduled,
		Title:      title,
		EventID:    ev.ID,
		EmployerID: emp,
		Speakers:   all,
		Start:      slot.Start,
		End:        slot.End,
		Capacity:   ev.Capacity,
		Stage:      ev.Stage,
		CreatedAt:  now,
	}, nil
}

// PrimetimeStage is the stage of a primetime session: the host and one
// approved speaker at a time (seed 002).
var PrimetimeStage = StageLimits{MaxSpeakers: 1, MaxParticipants: 1}

// InstantStage is the stage of an instant session: the host and the
// presenter (seed 000).
var InstantStage = StageLimits{MaxSpeakers: 1, MaxParticipants: 1}

// NewHostedSession creates an instant or primetime session; host is its
// creator. Instant sessions get a short id that is easy to share.
func NewHostedSession(kind Kind, host UserID, title, groupID string, now time.Time) (Session, error) {
	f := FieldErrors{}
	stage := InstantStage
	capacity := MaxCapacity
	switch kind {
	case KindInstant:
	case KindPrimetime:
		stage, capacity = PrimetimeStage, PrimetimeCapacity
	default:
		f["kind"] = `must be "instant" or "primetime"`
	}
	if n := RuneLen(title); n < 1 || n > MaxTitleLen {
		f["title"] = fmt.Sprintf("must be 1 to %d characters", MaxTitleLen)
	}
	if RuneLen(groupID) > MaxNameLen {
		f["groupId"] = fmt.Sprintf("must be at most %d characters", MaxNameLen)
	}
	if err := f.orNil(); err != nil {
		return Session{}, err
	}
	return Session{
		ID:        SessionID(NewID(10)),
		Kind:      kind,
		Status:    StatusOpen,
		Title:     title,
		HostID:    host,
		GroupID:   groupID,
		Capacity:  capacity,
		Stage:     stage,
		CreatedAt: now,
	}, nil
}

// StartWindow is how long before its slot a scheduled session may be
// started (seed 001: the Start Session button appears 5 minutes before).
const StartWindow = 5 * time.Minute

// Registration holds one user's spot in a session (one click, idempotent).
type Registration struct {
	SessionID SessionID `json:"sessionId"`
	UserID    UserID    `json:"userId"`
	CreatedAt time.Time `json:"createdAt"`
}

// User is a display-name identity.
type User struct {
	ID        UserID    `json:"id"`
	Name      string    `json:"name"`
	Device    Device    `json:"device,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Organizer runs events.
type Organizer struct {
	ID        OrganizerID `json:"id"`
	Name      string      `json:"name"`
	CreatedAt time.Time   `json:"createdAt"`
}

// Employer books sessions inside one event.
type Employer struct {
	ID      EmployerID `json:"id"`
	EventID EventID    `json:"eventId"`
	Name    string     `json:"name"`
	// SessionsBooked counts its sessions; the store never lets it pass
	// the event's MaxSessionsPerEmployer.
	SessionsBooked int       `json:"sessionsBooked"`
	CreatedAt      time.Time `json:"createdAt"`
}

// RejoinDeadline is when u, the host of an instant session who left its
// setup screen, may rejoin no longer (seed 000: within 30 minutes, from
// the Active Session page); zero when no such deadline runs for u.
func (s *Session) RejoinDeadline(u UserID) time.Time {
	if s.Kind != KindInstant || s.Status != StatusOpen || u != s.HostID || s.Live.HostLeftAt.IsZero() {
		return time.Time{}
	}
	return s.Live.HostLeftAt.Add(HostRejoinWindow)
}
