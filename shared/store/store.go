// Package store defines what Greenroom keeps and the rules the keeping
// enforces. Two implementations pass one contract suite (storetest): a
// DynamoDB one for AWS and an embedded one for the local runner.
//
// Every limit is enforced inside the store atomically (a conditional
// write or a transaction in DynamoDB, one write transaction in the
// embedded database), never by reading first and writing after.
//
// A session's live state is many small items, not one document: the
// session item, one item per member, one per question and one per vote
// (see domain's live.go). Update reads the items a command needs, runs
// the command's rule and writes back only the items it changed, on
// condition that what it was decided on is unchanged; Diff says what
// changed, the same way for every implementation.
package store

import (
	"context"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// Store is what the HTTP API, the WebSocket handlers and the scheduler
// need from storage.
type Store interface {
	// CreateUser stores a new user; ErrExists if the id is taken.
	CreateUser(ctx context.Context, u domain.User) error
	// GetUser returns a user or ErrNotFound.
	GetUser(ctx context.Context, id domain.UserID) (domain.User, error)

	// CreateOrganizer stores a new organizer; ErrExists if the id is taken.
	CreateOrganizer(ctx context.Context, o domain.Organizer) error

	// CreateEvent stores a new event (SessionsBooked 0); ErrExists if the
	// id is taken.
	CreateEvent(ctx context.Context, e domain.Event) error
	// GetEvent returns an event with its current SessionsBooked, or
	// ErrNotFound.
	GetEvent(ctx context.Context, id domain.EventID) (domain.Event, error)

	// CreateEmployer stores a new employer of an existing event
	// (ErrNotFound if the event does not exist, ErrExists if the id is
	// taken).
	CreateEmployer(ctx context.Context, e domain.Employer) error
	// GetEmployer returns an employer of an event, or ErrNotFound.
	GetEmployer(ctx context.Context, event domain.EventID, id domain.EmployerID) (domain.Employer, error)

	// BookSession stores a scheduled session in its event's slot, all or
	// nothing: the employer's count stays within MaxSessionsPerEmployer
	// (else ErrEmployerLimit), the event's within MaxSessions (else
	// ErrEventLimit), and the slot's within SessionsPerSlot (else
	// ErrSlotFull); when several limits are reached, the first of that
	// order is returned. lim carries the event's limits. ErrNotFound if
	// the event or the employer does not exist.
	BookSession(ctx context.Context, s domain.Session, lim BookingLimits) error
	// CreateSession stores an instant or primetime session; ErrExists if
	// the id is taken.
	CreateSession(ctx context.Context, s domain.Session) error
	// GetSession returns a session with its current Registered count and
	// every member, question and vote, or ErrNotFound.
	GetSession(ctx context.Context, id domain.SessionID) (domain.Session, error)
	// ReadSession returns a session with what load names: its own item
	// always (read strongly consistent), and the members, questions and
	// votes load asks for (Live.Partial unless every member is read).
	// Members are read strongly consistent; questions and votes may be
	// read eventually consistent. ErrNotFound when there is no session.
	ReadSession(ctx context.Context, id domain.SessionID, load Load) (domain.Session, error)
	// ListEventSessions returns an event's sessions ordered by start, then
	// id, each with its current Registered count and its own item only
	// (no members). It reflects every booking and registration that has
	// returned.
	ListEventSessions(ctx context.Context, event domain.EventID) ([]domain.Session, error)
	// AddSpeaker names user a speaker of a scheduled session, atomically
	// within limit speakers in all (the employer included), and returns
	// the session's own item (no members). Naming a speaker again changes
	// nothing. ErrSpeakersFull when the session already has limit
	// speakers, ErrSessionOver when it has ended or expired, ErrNotFound
	// when there is no such session.
	AddSpeaker(ctx context.Context, id domain.SessionID, user domain.UserID, limit int) (domain.Session, error)
	// RemoveSpeaker takes user off a scheduled session's speakers,
	// atomically, and returns the session's own item (no members): the
	// seat it held is free for AddSpeaker at once. ErrNotSpeaker when the
	// session does not name user, ErrSessionOver when it has ended or
	// expired, ErrNotFound when there is no such session. It does not
	// guard the owner: the caller refuses to remove it.
	RemoveSpeaker(ctx context.Context, id domain.SessionID, user domain.UserID) (domain.Session, error)
	// SlotUsage returns how many sessions are booked in each slot of an
	// event, keyed by the slot's start in UTC (slots with none are
	// absent).
	SlotUsage(ctx context.Context, event domain.EventID) (map[time.Time]int, error)

	// Register holds a spot for r.UserID in r.SessionID. The first time it
	// returns r and created=true. A repeat returns the stored registration
	// and created=false and counts once. ErrSessionFull when the session
	// holds Capacity registrations, ErrSessionOver when it has ended or
	// expired, ErrNotFound when it does not exist.
	Register(ctx context.Context, r domain.Registration) (reg domain.Registration, created bool, err error)
	// GetRegistration returns a user's registration, or ErrNotFound.
	GetRegistration(ctx context.Context, session domain.SessionID, user domain.UserID) (domain.Registration, error)
	// CancelRegistration removes a user's registration and frees its
	// spot; ErrNotFound when there is none.
	CancelRegistration(ctx context.Context, session domain.SessionID, user domain.UserID) error

	// Update changes a session's live state as one atomic step. It reads
	// the session as ReadSession does with load (strongly consistent),
	// calls fn on it and writes back what fn changed (Diff), each item on
	// condition that what was read is unchanged: a member's version, the
	// session item's version when its fields change, a counter's limit
	// when it grows (spots within SpotLimit, questions within
	// MaxQuestions), a vote's absence. When a condition fails it reads
	// again and calls fn again, a bounded number of times, then returns
	// ErrContention. When fn returns domain.ErrPartial it reads every
	// member and calls fn again. fn may run several times and must depend
	// only on the session it is given.
	//
	// When fn returns an error, nothing is stored and Update returns the
	// session as read with that error. On success it returns the session
	// as stored: Version has grown by one if the session item was
	// written, members written carry their new Version, and Seq and the
	// numbers fn handed out from it (hands, questions) are those the
	// store allocated. Only the live fields are written (Status,
	// PresenterID, Live; never Registered nor the fields the session was
	// created with), and each item's place in the scheduler's due list
	// (Session.HeadDue, Session.MemberDue). ErrNotFound when there is no
	// such session.
	Update(ctx context.Context, id domain.SessionID, load Load, fn func(*domain.Session) error) (domain.Session, error)
	// UpdateSession is Update reading everything (AllLoad).
	UpdateSession(ctx context.Context, id domain.SessionID, fn func(*domain.Session) error) (domain.Session, error)
	// DueSessions returns up to limit sessions whose session item or one
	// of whose members is due at or before now (HeadDue, MemberDue),
	// earliest first; sessions that are over are never returned.
	DueSessions(ctx context.Context, now time.Time, limit int) ([]domain.SessionID, error)

	// PutConnection records a WebSocket connection (replacing one with
	// the same id). It expires ConnectionTTL after ConnectedAt.
	PutConnection(ctx context.Context, c Connection) error
	// GetConnection returns a connection, or ErrNotFound (also once it has
	// expired).
	GetConnection(ctx context.Context, id domain.ConnectionID) (Connection, error)
	// TouchConnection sets a connection's LastSeenAt; ErrNotFound when
	// there is none.
	TouchConnection(ctx context.Context, id domain.ConnectionID, at time.Time) error
	// DeleteConnection removes a connection; removing one that is not
	// there is not an error.
	DeleteConnection(ctx context.Context, id domain.ConnectionID) error
	// StaleConnections returns up to limit connections that API Gateway
	// has closed by now: idle domain.MaxIdle since LastSeenAt, or open
	// domain.MaxConnectionAge since ConnectedAt (whichever comes first is
	// the connection's Stale time).
	StaleConnections(ctx context.Context, now time.Time, limit int) ([]Connection, error)

	// AddChat keeps a chat message with its session for ChatTTL.
	AddChat(ctx context.Context, m ChatMessage) error
	// RecentChat returns the newest limit messages of a session's room
	// (nil: the main room), oldest first.
	RecentChat(ctx context.Context, session domain.SessionID, room *int, limit int) ([]ChatMessage, error)

	// CreateGroup stores a new group and its owner as its first member,
	// all or nothing; ErrExists if the id is taken.
	CreateGroup(ctx context.Context, g domain.Group, owner domain.GroupMember) error
	// GetGroup returns a group with its current count of members, or
	// ErrNotFound.
	GetGroup(ctx context.Context, id domain.GroupID) (domain.Group, error)
	// AddGroupMember adds m to its group, atomically within limit members
	// (ErrGroupFull). The first time it returns m and created=true; a
	// repeat returns the stored member and created=false and counts once.
	// ErrNotFound when the group does not exist.
	AddGroupMember(ctx context.Context, m domain.GroupMember, limit int) (member domain.GroupMember, created bool, err error)
	// RemoveGroupMember takes user out of its group and the group's count
	// of members, atomically. ErrNotFound when there is no such group or
	// user is not a member; ErrGroupOwner when user owns the group and
	// other members remain. The owner, alone, leaves a group of no
	// members, which AddGroupMember no longer admits anyone to
	// (ErrNotFound): the group is gone.
	RemoveGroupMember(ctx context.Context, group domain.GroupID, user domain.UserID) error
	// GetGroupMember returns a member of a group, or ErrNotFound.
	GetGroupMember(ctx context.Context, group domain.GroupID, user domain.UserID) (domain.GroupMember, error)
	// ListGroupMembers returns a group's members ordered by user id.
	ListGroupMembers(ctx context.Context, group domain.GroupID) ([]domain.GroupMember, error)
	// ListUserGroups returns the groups a user is a member of, ordered by
	// group id, each with its current count of members.
	ListUserGroups(ctx context.Context, user domain.UserID) ([]domain.Group, error)
	// AddGroupChat keeps a message of a group's chat for ChatTTL.
	AddGroupChat(ctx context.Context, m GroupMessage) error
	// RecentGroupChat returns the newest limit messages of a group's chat,
	// oldest first.
	RecentGroupChat(ctx context.Context, group domain.GroupID, limit int) ([]GroupMessage, error)
	// PutGroupConnection records a WebSocket connection to a group's live
	// chat (c.GroupID set, no SessionID) as PutConnection does, and files
	// it among the group's connections, all or nothing.
	PutGroupConnection(ctx context.Context, c Connection) error
	// ListGroupConnections returns a group's connections that have not
	// expired, ordered by id.
	ListGroupConnections(ctx context.Context, group domain.GroupID) ([]Connection, error)
	// DeleteGroupConnection removes a group's connection and its record;
	// removing one that is not there is not an error.
	DeleteGroupConnection(ctx context.Context, group domain.GroupID, id domain.ConnectionID) error
	// SetGroupChatLimit moves a group member's chat rate limiter from prev
	// (zero: never used) to next, only if it still is prev: ErrStale
	// otherwise, ErrNotFound when there is no such member.
	SetGroupChatLimit(ctx context.Context, group domain.GroupID, user domain.UserID, prev, next time.Time) error

	// PutUserSession files a session in its user's list of sessions (the
	// Active Sessions page), replacing the entry of the same session. The
	// entry is gone once Expires has passed.
	PutUserSession(ctx context.Context, e UserSession) error
	// ListUserSessions returns up to limit of a user's entries that have
	// not expired, the latest At first.
	ListUserSessions(ctx context.Context, user domain.UserID, limit int) ([]UserSession, error)

	// SetLimit moves the rate limiter class of connection id from prev
	// (zero: never used) to next, only if it still is prev: ErrStale
	// otherwise, ErrNotFound when the connection is gone. The limiter
	// itself (domain.Rate) is decided by the caller.
	SetLimit(ctx context.Context, id domain.ConnectionID, class string, prev, next time.Time) error

	// PutWorker records an SFU worker's heartbeat, replacing the record
	// with the same id. The record expires WorkerTTL after HeartbeatAt.
	PutWorker(ctx context.Context, w Worker) error
	// ListWorkers returns the workers whose records have not expired,
	// ordered by id. It may be served from an eventually consistent index:
	// a record may show up a moment late, or as it was at its previous
	// heartbeat.
	ListWorkers(ctx context.Context) ([]Worker, error)
	// DeleteWorker removes a worker's record; removing one that is not
	// there is not an error.
	DeleteWorker(ctx context.Context, id string) error
}

// ConnectionTTL is how long a connection record lives: past API Gateway's
// two-hour limit, so a record outlives its connection even when
// $disconnect never comes.
const ConnectionTTL = 2*time.Hour + 10*time.Minute

// ChatTTL is how long chat messages are kept.
const ChatTTL = 7 * 24 * time.Hour

// Load names what ReadSession and Update read of a session besides its
// own item (and its breakout rooms, read whenever it has some).
type Load struct {
	// AllMembers reads every member; Members reads those named (the ones
	// that exist); Stage adds the members on stage.
	AllMembers bool
	Members    []domain.UserID
	Stage      bool
	// AllQuestions reads every question; Questions those named.
	AllQuestions bool
	Questions    []string
	// AllVotes reads every vote of the questions read; VotesOf reads only
	// this user's.
	AllVotes bool
	VotesOf  domain.UserID
}

// AllLoad reads everything.
var AllLoad = Load{AllMembers: true, AllQuestions: true, AllVotes: true}

// WithAllMembers returns l reading every member.
func (l Load) WithAllMembers() Load {
	l.AllMembers = true
	return l
}

// Connection maps an API Gateway WebSocket connection to its session (or,
// for a group's live chat, its group) and user, and keeps its rate
// limiters.
type Connection struct {
	ID        domain.ConnectionID `json:"id"`
	SessionID domain.SessionID    `json:"sessionId"`
	// GroupID is set, and SessionID empty, for a connection to a group's
	// live chat (PutGroupConnection).
	GroupID     domain.GroupID `json:"groupId,omitempty"`
	UserID      domain.UserID  `json:"userId"`
	Device      domain.Device  `json:"device"`
	ConnectedAt time.Time      `json:"connectedAt"`
	LastSeenAt  time.Time      `json:"lastSeenAt"`
	// Limits holds each rate limiter class's theoretical arrival time
	// (domain.Rate), changed only by SetLimit.
	Limits map[string]time.Time `json:"limits,omitempty"`
}

// Stale is when API Gateway closes the connection at the latest.
func (c Connection) Stale() time.Time {
	idle := c.LastSeenAt.Add(domain.MaxIdle)
	if aged := c.ConnectedAt.Add(domain.MaxConnectionAge); aged.Before(idle) {
		return aged
	}
	return idle
}

// ChatMessage is one chat line of a session's main or breakout room.
type ChatMessage struct {
	SessionID domain.SessionID `json:"sessionId"`
	ID        string           `json:"id"`
	UserID    domain.UserID    `json:"userId"`
	Name      string           `json:"name"`
	Text      string           `json:"text"`
	Room      *int             `json:"room"`
	At        time.Time        `json:"at"`
}

// GroupMessage is one entry of a group's chat: a member's text, or the
// card of a PrimeTime session started in the group (Kind
// domain.GroupMessageSession, SessionID set).
type GroupMessage struct {
	GroupID   domain.GroupID   `json:"groupId"`
	ID        string           `json:"id"`
	Kind      string           `json:"kind"`
	UserID    domain.UserID    `json:"userId"`
	Name      string           `json:"name"`
	Text      string           `json:"text,omitempty"`
	SessionID domain.SessionID `json:"sessionId,omitempty"`
	At        time.Time        `json:"at"`
}

// UserSession files a session a user hosts, speaks in or joined, for the
// user's list of active sessions.
type UserSession struct {
	UserID    domain.UserID    `json:"userId"`
	SessionID domain.SessionID `json:"sessionId"`
	// At is when the user last joined (or created, booked or was named).
	At time.Time `json:"at"`
	// Expires is when the entry is dropped (UserSessionTTL after At, or
	// after the slot of a scheduled session).
	Expires time.Time `json:"expires"`
}

// UserSessionTTL is how long a user's entry of a session outlives its
// last use: long past the 30 minutes a host has to rejoin, so that the
// page says the session expired rather than forgetting it.
const UserSessionTTL = 24 * time.Hour

// BookingLimits are the limits BookSession enforces, taken from the event.
type BookingLimits struct {
	MaxSessionsPerEmployer int
	MaxSessions            int
	SessionsPerSlot        int
}

// LimitsOf returns the booking limits of an event.
func LimitsOf(e domain.Event) BookingLimits {
	return BookingLimits{
		MaxSessionsPerEmployer: e.MaxSessionsPerEmployer,
		MaxSessions:            e.MaxSessions,
		SessionsPerSlot:        e.SessionsPerSlot,
	}
}

// WorkerTTL is how long a worker's record outlives its last heartbeat.
// Liveness is decided by the heartbeat's age (sfuworker/registry), long
// before the record expires; the TTL only clears records that nobody
// deleted.
const WorkerTTL = 10 * time.Minute

// Worker is an SFU worker's record in the registry, written with every
// heartbeat.
type Worker struct {
	// ID names the worker (the hostname by default); a session's
	// domain.MediaAssignment refers to it.
	ID string `json:"id"`
	// ControlURL is the base URL of the worker's control API.
	ControlURL string `json:"controlUrl"`
	// Capacity is how many members the worker takes at most; Load is how
	// many it carries now.
	Capacity int `json:"capacity"`
	Load     int `json:"load"`
	// Rooms are the rooms (session ids) open on the worker.
	Rooms []string `json:"rooms,omitempty"`
	// Draining workers take no new rooms.
	Draining bool `json:"draining,omitempty"`
	// HeartbeatAt is when the worker last wrote its record.
	HeartbeatAt time.Time `json:"heartbeatAt"`
}

// Expires is when the record expires.
func (w Worker) Expires() time.Time { return w.HeartbeatAt.Add(WorkerTTL) }
