package domain

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// The live state of a session — members, stage, hand queue, questions and
// breakout rooms — is changed only through the methods in this package.
//
// A store keeps it as many small items, not one document: the session
// item (status, presenter, the stage's seats, breakout phase, media
// assignment and the counters of spots, questions and the hand queue),
// one item per member, one per question and one per vote. A command
// reads only the items it needs into a Session whose Live holds those
// members and questions (Partial), runs one method here, and the store
// writes back only the items the method changed, each on condition that
// nothing it was decided on has changed since: the version of each
// member written, the version of the session item when its fields
// change, and for the counters the limit itself (spots below capacity,
// questions below MaxQuestions). So every method is one atomic step
// whatever the number of handlers running at once, every limit here
// holds under races, and one member's message rewrites nobody else's
// data.
//
// Facts that count members are therefore kept on the session, never
// counted from the member list: Live.Stage lists the seats (so that stage
// limits hold without reading every member), Live.Spots counts the spots
// participants hold, Live.QuestionCount the questions and Live.Seq numbers
// hands and questions. A method that must see every member (filling a
// full room with spots that lapsed, placing everyone in breakout rooms)
// returns ErrPartial when handed a partial session; the caller reads them
// all and runs it again.

// Role is a member's part in a session.
type Role string

const (
	// RoleHost created an instant or primetime session.
	RoleHost Role = "host"
	// RoleSpeaker is a scheduled session's employer or listed speaker.
	RoleSpeaker Role = "speaker"
	// RoleParticipant is everyone else.
	RoleParticipant Role = "participant"
)

// Moderates reports whether the role approves hands, answers questions,
// removes members and runs breakout rooms.
func (r Role) Moderates() bool { return r == RoleHost || r == RoleSpeaker }

// ConnectionID is an API Gateway WebSocket connection id.
type ConnectionID string

// Times of the live rules.
const (
	// HostRejoinWindow is how long the host of an instant session may be
	// away from the setup screen before the session expires (seed 000).
	HostRejoinWindow = 30 * time.Minute
	// AdmissionHold is how long an admitted member who has not connected,
	// or who dropped, keeps their spot in the room.
	AdmissionHold = 2 * time.Minute
	// StageHold is how long a member who dropped keeps a stage seat and a
	// raised hand before the scheduler frees them.
	StageHold = 2 * time.Minute
	// MaxConnectionAge and MaxIdle are API Gateway's WebSocket limits.
	MaxConnectionAge = 2 * time.Hour
	MaxIdle          = 10 * time.Minute
	// ConnectGrace is how long a connection may still be inside its
	// $connect: API Gateway answers 410 to posts until $connect has
	// returned, and that integration may run up to its 29-second timeout.
	// A 410 from a younger connection is no proof that it is gone.
	ConnectGrace = 30 * time.Second
	// MaxQuestions bounds the questions of one session.
	MaxQuestions = 200
	// MaxChatLen and MaxQuestionLen bound texts, in characters; every
	// text is bounded in bytes too (TextFits), so that an item and a
	// state reply stay within their limits whatever the script.
	MaxChatLen     = 1000
	MaxQuestionLen = 500
	// PruneAfter is how long a member who left stays listed: past it, a
	// member who holds no seat, no raised hand and no spot any longer is
	// pruned (Prune), so that a session's members are those present and
	// those who may still come back to their place.
	PruneAfter = AdmissionHold
	// RemovedTTL is how long a removed member's item is kept, refusing its
	// return, after the removal.
	RemovedTTL = 7 * 24 * time.Hour
	// MaxMembersPerTick bounds the members one Tick or one Prune changes,
	// so that what one sweep writes fits one transaction; the others stay
	// due and the next call takes them.
	MaxMembersPerTick = 40
)

// Errors of the live rules. The WebSocket handler maps each to the
// contract's code once, at the edge.
var (
	// ErrForbidden: the actor's role or device may not do this.
	ErrForbidden = errors.New("domain: forbidden")
	// ErrConflict: the session is not in a state where this can happen.
	ErrConflict = errors.New("domain: conflict")
	// ErrStageFull: no free seat on the stage.
	ErrStageFull = errors.New("domain: stage full")
	// ErrNotMember: the user named is not a member of the session.
	ErrNotMember = errors.New("domain: not a member")
	// ErrNoQuestion: no question with that id.
	ErrNoQuestion = errors.New("domain: no such question")
	// ErrNoChange: the command changes nothing (a repeat); nothing is
	// stored and nothing is broadcast.
	ErrNoChange = errors.New("domain: no change")
	// ErrSessionOver: the session has ended or expired.
	ErrSessionOver = errors.New("domain: session over")
	// ErrNotRegistered: a scheduled session before it is live admits only
	// registered users and its speakers.
	ErrNotRegistered = errors.New("domain: not registered")
	// ErrRoomFull: the room holds its capacity.
	ErrRoomFull = errors.New("domain: room full")
	// ErrRemoved: the member was removed from the session by a moderator.
	ErrRemoved = errors.New("domain: removed from the session")
	// ErrQuestionsFull: the session holds MaxQuestions questions. It is a
	// conflict.
	ErrQuestionsFull = fmt.Errorf("domain: the session holds the most questions it may (%d): %w", MaxQuestions, ErrConflict)
	// ErrPartial: the method must see every member of the session and was
	// handed only some (Live.Partial); read them all and run it again.
	ErrPartial = errors.New("domain: every member is needed")
)

// Member is one user's place in a session.
type Member struct {
	UserID UserID `json:"userId"`
	Name   string `json:"name"`
	Device Device `json:"device"`
	Role   Role   `json:"role"`
	Mic    bool   `json:"mic"`
	Cam    bool   `json:"cam"`
	// OnStage members may publish media. It mirrors Live.Stage, which is
	// what a store keeps; the methods here keep both in step.
	OnStage bool `json:"onStage"`
	// HandRaisedAt is when the member asked to go on stage; HandSeq orders
	// the queue (the server's order, identical for everyone).
	HandRaisedAt *time.Time `json:"handRaisedAt"`
	HandSeq      int64      `json:"handSeq,omitempty"`
	// JoinSeq numbers members in the order they were first admitted (from
	// Live.Seq): members are listed in that order, whatever the clock.
	JoinSeq int64 `json:"joinSeq,omitempty"`
	// Room is the breakout room the member is in; nil is the main room.
	// It mirrors Live.Breakout (the assignment, while rooms are open),
	// which is what a store keeps.
	Room *int `json:"room"`
	// Registered members hold a registration's spot.
	Registered bool `json:"registered,omitempty"`
	// Spot: the member holds one of the spots Live.Spots counts (a
	// participant admitted without a registration's spot of a scheduled
	// session, or any participant of another kind), until it is pruned or
	// removed.
	Spot bool `json:"spot,omitempty"`
	// Version grows with every write of the member's item; a store writes
	// the member only if it still has the version that was read.
	Version int64 `json:"version,omitempty"`
	// ConnectionID is the member's current WebSocket connection; it is
	// never shown to other members.
	ConnectionID ConnectionID `json:"connectionId,omitempty"`
	Connected    bool         `json:"connected"`
	// Synced: the member's current connection has asked for the state
	// (Sync). Events are posted to such connections, and to those that
	// connected over ConnectGrace ago (Listeners): one that has only just
	// connected gets everything so far with the state it will ask for.
	Synced bool `json:"synced,omitempty"`
	// JoinedAt is when the member was first admitted (AdmittedAt moves
	// with every admission): members are listed in that order.
	JoinedAt    time.Time `json:"joinedAt,omitzero"`
	AdmittedAt  time.Time `json:"admittedAt"`
	ConnectedAt time.Time `json:"connectedAt,omitzero"`
	LastSeenAt  time.Time `json:"lastSeenAt,omitzero"`
	LeftAt      time.Time `json:"leftAt,omitzero"`
	// Removed members were sent away by a moderator and may not return.
	Removed bool `json:"removed,omitempty"`
}

// handRaised reports whether the member is in the hand queue.
func (m *Member) handRaised() bool { return m.HandRaisedAt != nil }

func (m *Member) lowerHand() {
	m.HandRaisedAt = nil
	m.HandSeq = 0
}

// awaySince is when a member who is not connected was last known here:
// when it dropped, or when it was admitted if it never connected since.
func (m *Member) awaySince() time.Time {
	if m.LeftAt.After(m.AdmittedAt) {
		return m.LeftAt
	}
	return m.AdmittedAt
}

// present reports whether the member takes a spot in the room at now:
// connected, or admitted or dropped within AdmissionHold.
func (m *Member) present(now time.Time) bool {
	if m.Removed {
		return false
	}
	return m.Connected || now.Sub(m.awaySince()) < AdmissionHold
}

// QuestionStatus is where a question is: open, answered or dismissed.
type QuestionStatus string

const (
	QuestionOpen      QuestionStatus = "open"
	QuestionAnswered  QuestionStatus = "answered"
	QuestionDismissed QuestionStatus = "dismissed"
)

// Question is one entry of a session's Q&A. A store keeps each vote as
// an item of its own; Voters holds the voters that were read with the
// question (every voter, or only the member asking).
type Question struct {
	ID      string         `json:"id"`
	UserID  UserID         `json:"userId"`
	Name    string         `json:"name"`
	Text    string         `json:"text"`
	Votes   int            `json:"votes"`
	Voters  []UserID       `json:"voters,omitempty"`
	Status  QuestionStatus `json:"status"`
	AskedAt time.Time      `json:"askedAt"`
	Seq     int64          `json:"seq"`
}

// votedBy reports whether u has upvoted the question.
func (q *Question) votedBy(u UserID) bool {
	for _, v := range q.Voters {
		if v == u {
			return true
		}
	}
	return false
}

// Change is one effect of a command, broadcast as
// {"type":"event","event":Event,"userId":…,"questionId":…, …Data}.
type Change struct {
	Event      string
	UserID     UserID
	QuestionID string
	Data       map[string]any
	// Scoped changes go only to the members of Room (nil: the main
	// room); others go to every member.
	Scoped bool
	Room   *int
	// Disconnect asks the handler to close these connections afterwards.
	Disconnect []ConnectionID
}

// Ends reports whether the change ends the session: every connection of
// it is closed afterwards, not only those listed (a partial session lists
// the connections it holds).
func (c Change) Ends() bool { return c.Event == "session.ended" || c.Event == "session.expired" }

// AffectsMedia reports whether the change alters who publishes, who sees
// whom or which kinds are forwarded: only then is the SFU worker told. A
// member's first connection is not such a change: it has no media yet,
// and the worker learns of it with its first offer (media.Signal sends
// the room's state when the worker does not know the member); a member
// connecting again replaces a connection the worker may be serving.
func (c Change) AffectsMedia() bool {
	if c.Event == "member.joined" {
		again, _ := c.Data["rejoined"].(bool)
		return again
	}
	switch c.Event {
	case "member.left", "member.removed", "member.pruned", "devices.changed",
		"stage.changed", "hand.approved", "presenter.assigned",
		"breakout.opened", "breakout.closed", "breakout.moved", "breakout.configured",
		"session.ended", "session.expired":
		return true
	}
	return false
}

// Seat is one seat on the stage: Speaker seats are taken by hosts and
// speakers, the others by everyone else.
type Seat struct {
	UserID  UserID `json:"userId"`
	Speaker bool   `json:"speaker,omitempty"`
}

// Live is the part of a session that changes while it runs.
type Live struct {
	// Members and Questions are those read: all of them, or, when Partial,
	// those a command needs.
	Members   []Member   `json:"members,omitempty"`
	Questions []Question `json:"questions,omitempty"`
	// Partial says Members and Questions hold only some of the session's.
	Partial bool `json:"-"`
	// Stage lists the seats taken, in the order they were taken.
	Stage    []Seat   `json:"stage,omitempty"`
	Breakout Breakout `json:"breakout"`
	// Media is the SFU worker carrying the session's media.
	Media MediaAssignment `json:"media,omitzero"`
	// Spots counts the members holding a spot (Member.Spot).
	Spots int `json:"spots,omitempty"`
	// QuestionCount counts the questions, MaxQuestions at most.
	QuestionCount int `json:"questionCount,omitempty"`
	// Seq orders hands and questions. A store hands it out atomically
	// (a counter), so two commands never number alike.
	Seq int64 `json:"seq,omitempty"`
	// Pruned adds up the versions of the members pruned, so that
	// StateVersion never goes back when a member's item goes.
	Pruned     int64     `json:"pruned,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	EndedAt    time.Time `json:"endedAt,omitzero"`
	HostLeftAt time.Time `json:"hostLeftAt,omitzero"`
}

// member returns the member u, or nil.
func (s *Session) member(u UserID) *Member {
	for i := range s.Live.Members {
		if s.Live.Members[i].UserID == u {
			return &s.Live.Members[i]
		}
	}
	return nil
}

// Member returns a copy of member u.
func (s *Session) Member(u UserID) (Member, bool) {
	if m := s.member(u); m != nil {
		return *m, true
	}
	return Member{}, false
}

// MemberByConnection returns the member using connection c.
func (s *Session) MemberByConnection(c ConnectionID) (Member, bool) {
	for _, m := range s.Live.Members {
		if m.ConnectionID == c && c != "" {
			return m, true
		}
	}
	return Member{}, false
}

// StateVersion is the version of the session as members see it: the
// session item's version, plus every member's, plus those of the members
// pruned. Every write of any of those items makes it grow, so two states
// and events compare by it; it needs every member.
func (s Session) StateVersion() int64 {
	v := s.Version + s.Live.Pruned
	for _, m := range s.Live.Members {
		v += m.Version
	}
	return v
}

// ProvenGone returns the connections among refused (those a post to
// answered 410) that are really gone: every one except the current
// connections of members who connected less than ConnectGrace before now,
// which may simply not be established yet. Those are left to their own
// $disconnect, to a 410 after the grace, or to the scheduler's sweep.
func (s *Session) ProvenGone(refused []ConnectionID, now time.Time) []ConnectionID {
	if len(refused) == 0 {
		return nil
	}
	young := map[ConnectionID]bool{}
	for _, m := range s.Live.Members {
		if m.ConnectionID != "" && m.Connected && now.Sub(m.ConnectedAt) < ConnectGrace {
			young[m.ConnectionID] = true
		}
	}
	var gone []ConnectionID
	for _, c := range refused {
		if !young[c] {
			gone = append(gone, c)
		}
	}
	return gone
}

// actor returns the member u, who must be in the session and not removed.
func (s *Session) actor(u UserID) (*Member, error) {
	m := s.member(u)
	if m == nil || m.Removed {
		return nil, ErrNotMember
	}
	return m, nil
}

// moderator returns the member u, who must be a host or speaker.
func (s *Session) moderator(u UserID) (*Member, error) {
	m, err := s.actor(u)
	if err != nil {
		return nil, err
	}
	if !m.Role.Moderates() {
		return nil, ErrForbidden
	}
	return m, nil
}

// running refuses commands once the session is over.
func (s *Session) running() error {
	if s.Status.Over() {
		return ErrSessionOver
	}
	return nil
}

// Hands returns the hand queue in the server's order.
func (s *Session) Hands() []Member {
	var out []Member
	for _, m := range s.Live.Members {
		if m.handRaised() && !m.Removed {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].HandSeq != out[j].HandSeq {
			return out[i].HandSeq < out[j].HandSeq
		}
		return out[i].UserID < out[j].UserID
	})
	return out
}

// SortedQuestions returns the questions by votes, most first, then by the
// order they were asked.
func (s *Session) SortedQuestions() []Question {
	out := append([]Question(nil), s.Live.Questions...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Votes != out[j].Votes {
			return out[i].Votes > out[j].Votes
		}
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Connections returns the connection ids of the connected members.
func (s *Session) Connections() []ConnectionID {
	var out []ConnectionID
	for _, m := range s.Live.Members {
		if m.Connected && m.ConnectionID != "" && !m.Removed {
			out = append(out, m.ConnectionID)
		}
	}
	return out
}

// Listeners returns the connections events go to at now: those of
// connected members that have asked for the state since they connected
// (Synced), or that connected ConnectGrace ago or more. A connection that
// has only just connected — maybe still inside its $connect, where API
// Gateway refuses posts anyway — reads every change so far in the state
// it asks for first; one that never asks is posted to once the grace is
// over, which tells whether it is gone.
func (s *Session) Listeners(now time.Time) []ConnectionID {
	return s.listeners(now, func(*Member) bool { return true })
}

// ListenersIn returns the Listeners of one room (nil: the main room).
func (s *Session) ListenersIn(room *int, now time.Time) []ConnectionID {
	return s.listeners(now, func(m *Member) bool { return sameRoom(m.Room, room) })
}

func (s *Session) listeners(now time.Time, in func(*Member) bool) []ConnectionID {
	var out []ConnectionID
	for i := range s.Live.Members {
		m := &s.Live.Members[i]
		if m.Connected && m.ConnectionID != "" && !m.Removed && in(m) &&
			(m.Synced || now.Sub(m.ConnectedAt) >= ConnectGrace) {
			out = append(out, m.ConnectionID)
		}
	}
	return out
}

// ConnectionsIn returns the connection ids of the connected members of
// one room: a breakout room's index, or nil for the main room.
func (s *Session) ConnectionsIn(room *int) []ConnectionID {
	var out []ConnectionID
	for _, m := range s.Live.Members {
		if m.Connected && m.ConnectionID != "" && !m.Removed && sameRoom(m.Room, room) {
			out = append(out, m.ConnectionID)
		}
	}
	return out
}

// onStage counts the seats taken by kind: speaker seats are taken by
// hosts and speakers, participant seats by everyone else.
func (s *Session) onStage() (speakers, participants int) {
	for _, st := range s.Live.Stage {
		if st.Speaker {
			speakers++
		} else {
			participants++
		}
	}
	return speakers, participants
}

// OnStage returns the ids of the members on stage, in the order they
// took their seats.
func (s *Session) OnStage() []UserID {
	var out []UserID
	for _, st := range s.Live.Stage {
		out = append(out, st.UserID)
	}
	return out
}

// Seated reports whether u holds a seat on the stage.
func (s *Session) Seated(u UserID) bool {
	for _, st := range s.Live.Stage {
		if st.UserID == u {
			return true
		}
	}
	return false
}

// seat puts m on the stage.
func (s *Session) seat(m *Member) {
	if !s.Seated(m.UserID) {
		s.Live.Stage = append(s.Live.Stage, Seat{UserID: m.UserID, Speaker: m.Role.Moderates()})
	}
	m.OnStage = true
}

// unseat takes u off the stage; m, when not nil, is u's member.
func (s *Session) unseat(u UserID, m *Member) {
	s.Live.Stage = slices.DeleteFunc(s.Live.Stage, func(st Seat) bool { return st.UserID == u })
	if len(s.Live.Stage) == 0 {
		s.Live.Stage = nil
	}
	if m != nil {
		m.OnStage = false
	}
}

// Mirror sets the members' OnStage and Room from the session's stage and
// breakout rooms, as a store does for the members it reads.
func (s *Session) Mirror() {
	open := s.Live.Breakout.Status == BreakoutOpen
	for i := range s.Live.Members {
		m := &s.Live.Members[i]
		m.OnStage = s.Seated(m.UserID)
		m.Room = nil
		if idx, ok := s.Live.Breakout.Assign[m.UserID]; ok && open && !m.Removed {
			v := idx
			m.Room = &v
		}
	}
}

// SpotLimit is how many spots Live.Spots may count: the capacity, less
// the registrations' spots in a scheduled session (where registered
// members hold theirs by their registration). registered reports whether
// it depends on Registered.
func (s *Session) SpotLimit() (limit int, registered bool) {
	if s.Kind == KindScheduled {
		return s.Capacity - s.Registered, true
	}
	return s.Capacity, false
}

// MediaAssignment names the SFU worker a session's media runs on. Epoch
// grows with every reassignment, so members can tell a new worker from
// the one they knew.
type MediaAssignment struct {
	WorkerID string `json:"workerId,omitempty"`
	Epoch    int64  `json:"epoch,omitempty"`
}
