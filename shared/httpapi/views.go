package httpapi

import (
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// sessionView is a session as the API shows it: hostId and presenterId
// are always present (null when unset) and spotsLeft is computed.
type sessionView struct {
	ID          domain.SessionID   `json:"id"`
	Kind        domain.Kind        `json:"kind"`
	Status      domain.Status      `json:"status"`
	Title       string             `json:"title"`
	EventID     domain.EventID     `json:"eventId,omitempty"`
	EmployerID  domain.EmployerID  `json:"employerId,omitempty"`
	HostID      *domain.UserID     `json:"hostId"`
	PresenterID *domain.UserID     `json:"presenterId"`
	GroupID     string             `json:"groupId,omitempty"`
	Speakers    []domain.UserID    `json:"speakers"`
	Start       *time.Time         `json:"start,omitempty"`
	End         *time.Time         `json:"end,omitempty"`
	Capacity    int                `json:"capacity"`
	Registered  int                `json:"registered"`
	SpotsLeft   int                `json:"spotsLeft"`
	Stage       domain.StageLimits `json:"stage"`
	CreatedAt   time.Time          `json:"createdAt"`
}

func viewSession(s domain.Session) sessionView {
	v := sessionView{
		ID: s.ID, Kind: s.Kind, Status: s.Status, Title: s.Title,
		EventID: s.EventID, EmployerID: s.EmployerID, GroupID: s.GroupID,
		Speakers: s.Speakers, Capacity: s.Capacity, Registered: s.Registered,
		SpotsLeft: s.SpotsLeft(), Stage: s.Stage, CreatedAt: s.CreatedAt,
	}
	if v.Speakers == nil {
		v.Speakers = []domain.UserID{}
	}
	if s.HostID != "" {
		v.HostID = &s.HostID
	}
	if s.PresenterID != "" {
		v.PresenterID = &s.PresenterID
	}
	if !s.Start.IsZero() {
		v.Start, v.End = &s.Start, &s.End
	}
	return v
}

// slotView is a slot of an event; SessionsLeft is absent when neither
// the slot nor the event has a limit the organizer set.
type slotView struct {
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	SessionsLeft *int      `json:"sessionsLeft,omitempty"`
}

// eventView is an event as the API shows it: a limit the organizer did
// not set is absent, never its internal default (issue 14).
type eventView struct {
	ID                     domain.EventID     `json:"id"`
	OrganizerID            domain.OrganizerID `json:"organizerId"`
	Name                   string             `json:"name"`
	Windows                []domain.Window    `json:"windows"`
	SlotMinutes            int                `json:"slotMinutes"`
	Capacity               int                `json:"capacity"`
	MaxSessionsPerEmployer *int               `json:"maxSessionsPerEmployer,omitempty"`
	MaxSessions            *int               `json:"maxSessions,omitempty"`
	SessionsPerSlot        *int               `json:"sessionsPerSlot,omitempty"`
	Stage                  domain.StageLimits `json:"stage"`
	SessionsBooked         int                `json:"sessionsBooked"`
	CreatedAt              time.Time          `json:"createdAt"`
}

func viewEvent(e domain.Event) eventView {
	v := eventView{
		ID: e.ID, OrganizerID: e.OrganizerID, Name: e.Name, Windows: e.Windows, SlotMinutes: e.SlotMinutes,
		Capacity: e.Capacity, Stage: e.Stage, SessionsBooked: e.SessionsBooked, CreatedAt: e.CreatedAt,
	}
	if v.Windows == nil {
		v.Windows = []domain.Window{}
	}
	limit := func(name string, n int) *int {
		if !e.LimitSet(name) {
			return nil
		}
		return &n
	}
	v.MaxSessions = limit(domain.LimitMaxSessions, e.MaxSessions)
	v.MaxSessionsPerEmployer = limit(domain.LimitMaxSessionsPerEmployer, e.MaxSessionsPerEmployer)
	v.SessionsPerSlot = limit(domain.LimitSessionsPerSlot, e.SessionsPerSlot)
	return v
}

type userView struct {
	ID     domain.UserID `json:"id"`
	Name   string        `json:"name"`
	Device domain.Device `json:"device,omitempty"`
}

type organizerView struct {
	ID   domain.OrganizerID `json:"id"`
	Name string             `json:"name"`
}

type employerView struct {
	ID      domain.EmployerID `json:"id"`
	Name    string            `json:"name"`
	EventID domain.EventID    `json:"eventId"`
}

// inviteView is an invite link: the token to redeem and a link that
// carries it.
type inviteView struct {
	Invite    string    `json:"invite"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}
