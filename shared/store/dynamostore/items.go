package dynamostore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// The items below are the stored form of the domain types. They are
// spelled out here, apart from the JSON form of the domain types, so that
// renaming a field of the public contract cannot change what is stored.

// Attribute names that conditions and update expressions name.
const (
	attrSessionsBooked = "sessionsBooked"
	attrBooked         = "booked"
	attrRegistered     = "registered"
	attrCapacity       = "capacity"
	attrStatus         = "status"
	attrPresenterID    = "presenterId"
	attrLive           = "live"
	attrVersion        = "version"
	attrLastSeenAt     = "lastSeenAt"
	attrConnectedAt    = "connectedAt"
	attrCount          = "n"
)

type userItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	ID        string    `dynamodbav:"id"`
	Name      string    `dynamodbav:"name"`
	Device    string    `dynamodbav:"device,omitempty"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
}

func toUserItem(u domain.User) userItem {
	k := userKey(u.ID)
	return userItem{PK: k.PK, SK: k.SK, ID: string(u.ID), Name: u.Name, Device: string(u.Device), CreatedAt: u.CreatedAt}
}

func (it userItem) domain() domain.User {
	return domain.User{ID: domain.UserID(it.ID), Name: it.Name, Device: domain.Device(it.Device), CreatedAt: it.CreatedAt}
}

type organizerItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	ID        string    `dynamodbav:"id"`
	Name      string    `dynamodbav:"name"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
}

func toOrganizerItem(o domain.Organizer) organizerItem {
	k := organizerKey(o.ID)
	return organizerItem{PK: k.PK, SK: k.SK, ID: string(o.ID), Name: o.Name, CreatedAt: o.CreatedAt}
}

type windowItem struct {
	Start time.Time `dynamodbav:"start"`
	End   time.Time `dynamodbav:"end"`
}

type eventItem struct {
	PK                     string       `dynamodbav:"PK"`
	SK                     string       `dynamodbav:"SK"`
	ID                     string       `dynamodbav:"id"`
	OrganizerID            string       `dynamodbav:"organizerId"`
	Name                   string       `dynamodbav:"name"`
	Windows                []windowItem `dynamodbav:"windows"`
	SlotMinutes            int          `dynamodbav:"slotMinutes"`
	Capacity               int          `dynamodbav:"capacity"`
	MaxSessionsPerEmployer int          `dynamodbav:"maxSessionsPerEmployer"`
	MaxSessions            int          `dynamodbav:"maxSessions"`
	SessionsPerSlot        int          `dynamodbav:"sessionsPerSlot"`
	StageMaxSpeakers       int          `dynamodbav:"stageMaxSpeakers"`
	StageMaxParticipants   int          `dynamodbav:"stageMaxParticipants"`
	SessionsBooked         int          `dynamodbav:"sessionsBooked"`
	CreatedAt              time.Time    `dynamodbav:"createdAt"`
}

// toEventItem stores a new event: its counter starts at zero.
func toEventItem(e domain.Event) eventItem {
	k := eventKey(e.ID)
	var ws []windowItem
	if e.Windows != nil {
		ws = make([]windowItem, len(e.Windows))
		for i, w := range e.Windows {
			ws[i] = windowItem(w)
		}
	}
	return eventItem{
		PK: k.PK, SK: k.SK,
		ID:                     string(e.ID),
		OrganizerID:            string(e.OrganizerID),
		Name:                   e.Name,
		Windows:                ws,
		SlotMinutes:            e.SlotMinutes,
		Capacity:               e.Capacity,
		MaxSessionsPerEmployer: e.MaxSessionsPerEmployer,
		MaxSessions:            e.MaxSessions,
		SessionsPerSlot:        e.SessionsPerSlot,
		StageMaxSpeakers:       e.Stage.MaxSpeakers,
		StageMaxParticipants:   e.Stage.MaxParticipants,
		SessionsBooked:         0,
		CreatedAt:              e.CreatedAt,
	}
}

func (it eventItem) domain() domain.Event {
	var ws []domain.Window
	if it.Windows != nil {
		ws = make([]domain.Window, len(it.Windows))
		for i, w := range it.Windows {
			ws[i] = domain.Window(w)
		}
	}
	return domain.Event{
		ID:                     domain.EventID(it.ID),
		OrganizerID:            domain.OrganizerID(it.OrganizerID),
		Name:                   it.Name,
		Windows:                ws,
		SlotMinutes:            it.SlotMinutes,
		Capacity:               it.Capacity,
		MaxSessionsPerEmployer: it.MaxSessionsPerEmployer,
		MaxSessions:            it.MaxSessions,
		SessionsPerSlot:        it.SessionsPerSlot,
		Stage:                  domain.StageLimits{MaxSpeakers: it.StageMaxSpeakers, MaxParticipants: it.StageMaxParticipants},
		SessionsBooked:         it.SessionsBooked,
		CreatedAt:              it.CreatedAt,
	}
}

type employerItem struct {
	PK             string    `dynamodbav:"PK"`
	SK             string    `dynamodbav:"SK"`
	ID             string    `dynamodbav:"id"`
	EventID        string    `dynamodbav:"eventId"`
	Name           string    `dynamodbav:"name"`
	SessionsBooked int       `dynamodbav:"sessionsBooked"`
	CreatedAt      time.Time `dynamodbav:"createdAt"`
}

// toEmployerItem stores a new employer: its counter starts at zero.
func toEmployerItem(e domain.Employer) employerItem {
	k := employerKey(e.EventID, e.ID)
	return employerItem{PK: k.PK, SK: k.SK, ID: string(e.ID), EventID: string(e.EventID), Name: e.Name, CreatedAt: e.CreatedAt}
}

func (it employerItem) domain() domain.Employer {
	return domain.Employer{
		ID:             domain.EmployerID(it.ID),
		EventID:        domain.EventID(it.EventID),
		Name:           it.Name,
		SessionsBooked: it.SessionsBooked,
		CreatedAt:      it.CreatedAt,
	}
}

// slotItem counts the sessions booked in one slot of an event.
type slotItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	Booked int    `dynamodbav:"booked"`
}

// eventSessionItem lists one session in its event's partition.
type eventSessionItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	SessionID string `dynamodbav:"sessionId"`
}

type sessionItem struct {
	PK                   string    `dynamodbav:"PK"`
	SK                   string    `dynamodbav:"SK"`
	ID                   string    `dynamodbav:"id"`
	Kind                 string    `dynamodbav:"kind"`
	Status               string    `dynamodbav:"status"`
	Title                string    `dynamodbav:"title"`
	EventID              string    `dynamodbav:"eventId,omitempty"`
	EmployerID           string    `dynamodbav:"employerId,omitempty"`
	HostID               string    `dynamodbav:"hostId,omitempty"`
	PresenterID          string    `dynamodbav:"presenterId,omitempty"`
	GroupID              string    `dynamodbav:"groupId,omitempty"`
	Speakers             []string  `dynamodbav:"speakers,omitempty"`
	Start                time.Time `dynamodbav:"start"`
	End                  time.Time `dynamodbav:"end"`
	Capacity             int       `dynamodbav:"capacity"`
	Registered           int       `dynamodbav:"registered"`
	StageMaxSpeakers     int       `dynamodbav:"stageMaxSpeakers"`
	StageMaxParticipants int       `dynamodbav:"stageMaxParticipants"`
	CreatedAt            time.Time `dynamodbav:"createdAt"`
	Version              int64     `dynamodbav:"version"`
	// Live is domain.Live as one JSON string: UpdateSession replaces it
	// whole, and one attribute keeps the update expression short.
	Live string `dynamodbav:"live,omitempty"`
	// GSI1PK and GSI1SK file the session in the list of sessions due
	// (dueIndexKey); absent when nothing is pending.
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
}

// encodeLive is the stored form of a session's live state.
func encodeLive(l domain.Live) (string, error) {
	b, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("encode live state: %w", err)
	}
	return string(b), nil
}

// toSessionItem stores a new session: no spot is held yet, and it is due
// for the scheduler at s.NextDue().
func toSessionItem(s domain.Session) (sessionItem, error) {
	live, err := encodeLive(s.Live)
	if err != nil {
		return sessionItem{}, err
	}
	k := sessionKey(s.ID)
	var sp []string
	if len(s.Speakers) > 0 {
		sp = make([]string, len(s.Speakers))
		for i, u := range s.Speakers {
			sp[i] = string(u)
		}
	}
	it := sessionItem{
		PK: k.PK, SK: k.SK,
		ID:                   string(s.ID),
		Kind:                 string(s.Kind),
		Status:               string(s.Status),
		Title:                s.Title,
		EventID:              string(s.EventID),
		EmployerID:           string(s.EmployerID),
		HostID:               string(s.HostID),
		PresenterID:          string(s.PresenterID),
		GroupID:              s.GroupID,
		Speakers:             sp,
		Start:                s.Start,
		End:                  s.End,
		Capacity:             s.Capacity,
		Registered:           0,
		StageMaxSpeakers:     s.Stage.MaxSpeakers,
		StageMaxParticipants: s.Stage.MaxParticipants,
		CreatedAt:            s.CreatedAt,
		Version:              s.Version,
		Live:                 live,
	}
	if due := s.NextDue(); !due.IsZero() {
		ik := dueIndexKey(due, s.ID)
		it.GSI1PK, it.GSI1SK = ik.PK, ik.SK
	}
	return it, nil
}

// domain returns the session the item stores. Each call decodes the live
// state afresh, so two calls give sessions that share nothing mutable but
// the speakers.
func (it sessionItem) domain() (domain.Session, error) {
	var live domain.Live
	if it.Live != "" {
		if err := json.Unmarshal([]byte(it.Live), &live); err != nil {
			return domain.Session{}, fmt.Errorf("decode live state of session %s: %w", it.ID, err)
		}
	}
	var sp []domain.UserID
	if len(it.Speakers) > 0 {
		sp = make([]domain.UserID, len(it.Speakers))
		for i, u := range it.Speakers {
			sp[i] = domain.UserID(u)
		}
	}
	return domain.Session{
		ID:          domain.SessionID(it.ID),
		Kind:        domain.Kind(it.Kind),
		Status:      domain.Status(it.Status),
		Title:       it.Title,
		EventID:     domain.EventID(it.EventID),
		EmployerID:  domain.EmployerID(it.EmployerID),
		HostID:      domain.UserID(it.HostID),
		PresenterID: domain.UserID(it.PresenterID),
		GroupID:     it.GroupID,
		Speakers:    sp,
		Start:       it.Start,
		End:         it.End,
		Capacity:    it.Capacity,
		Registered:  it.Registered,
		Stage:       domain.StageLimits{MaxSpeakers: it.StageMaxSpeakers, MaxParticipants: it.StageMaxParticipants},
		CreatedAt:   it.CreatedAt,
		Version:     it.Version,
		Live:        live,
	}, nil
}

type registrationItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	SessionID string    `dynamodbav:"sessionId"`
	UserID    string    `dynamodbav:"userId"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
}

func toRegistrationItem(r domain.Registration) registrationItem {
	k := registrationKey(r.SessionID, r.UserID)
	return registrationItem{PK: k.PK, SK: k.SK, SessionID: string(r.SessionID), UserID: string(r.UserID), CreatedAt: r.CreatedAt}
}

func (it registrationItem) domain() domain.Registration {
	return domain.Registration{SessionID: domain.SessionID(it.SessionID), UserID: domain.UserID(it.UserID), CreatedAt: it.CreatedAt}
}

// dueItem is the part of a session item DueSessions reads.
type dueItem struct {
	ID     string `dynamodbav:"id"`
	Status string `dynamodbav:"status"`
}

// connectionItem is a WebSocket connection; ttl is ConnectedAt +
// store.ConnectionTTL in Unix seconds.
type connectionItem struct {
	PK          string    `dynamodbav:"PK"`
	SK          string    `dynamodbav:"SK"`
	ID          string    `dynamodbav:"id"`
	SessionID   string    `dynamodbav:"sessionId"`
	UserID      string    `dynamodbav:"userId"`
	Device      string    `dynamodbav:"device,omitempty"`
	ConnectedAt time.Time `dynamodbav:"connectedAt"`
	LastSeenAt  time.Time `dynamodbav:"lastSeenAt"`
	TTL         int64     `dynamodbav:"ttl"`
	GSI1PK      string    `dynamodbav:"GSI1PK"`
	GSI1SK      string    `dynamodbav:"GSI1SK"`
}

func toConnectionItem(c store.Connection) connectionItem {
	k := connectionKey(c.ID)
	ik := staleIndexKey(c.Stale(), c.ID)
	return connectionItem{
		PK: k.PK, SK: k.SK,
		ID:          string(c.ID),
		SessionID:   string(c.SessionID),
		UserID:      string(c.UserID),
		Device:      string(c.Device),
		ConnectedAt: c.ConnectedAt.UTC(),
		LastSeenAt:  c.LastSeenAt.UTC(),
		TTL:         c.ConnectedAt.Add(store.ConnectionTTL).Unix(),
		GSI1PK:      ik.PK,
		GSI1SK:      ik.SK,
	}
}

func (it connectionItem) domain() store.Connection {
	return store.Connection{
		ID:          domain.ConnectionID(it.ID),
		SessionID:   domain.SessionID(it.SessionID),
		UserID:      domain.UserID(it.UserID),
		Device:      domain.Device(it.Device),
		ConnectedAt: it.ConnectedAt,
		LastSeenAt:  it.LastSeenAt,
	}
}

// chatItem is one chat message; ttl is At + store.ChatTTL in Unix seconds.
type chatItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	SessionID string    `dynamodbav:"sessionId"`
	ID        string    `dynamodbav:"id"`
	UserID    string    `dynamodbav:"userId"`
	Name      string    `dynamodbav:"name"`
	Text      string    `dynamodbav:"text"`
	Room      *int      `dynamodbav:"room,omitempty"`
	At        time.Time `dynamodbav:"at"`
	TTL       int64     `dynamodbav:"ttl"`
}

func toChatItem(m store.ChatMessage) chatItem {
	k := chatKey(m.SessionID, m.Room, m.At, m.ID)
	return chatItem{
		PK: k.PK, SK: k.SK,
		SessionID: string(m.SessionID),
		ID:        m.ID,
		UserID:    string(m.UserID),
		Name:      m.Name,
		Text:      m.Text,
		Room:      m.Room,
		At:        m.At.UTC(),
		TTL:       m.At.Add(store.ChatTTL).Unix(),
	}
}

func (it chatItem) domain() store.ChatMessage {
	return store.ChatMessage{
		SessionID: domain.SessionID(it.SessionID),
		ID:        it.ID,
		UserID:    domain.UserID(it.UserID),
		Name:      it.Name,
		Text:      it.Text,
		Room:      it.Room,
		At:        it.At,
	}
}

// expired reports whether an item carries a TTL that has passed. DynamoDB
// deletes such items only eventually (DynamoDB Local never does), so every
// read treats them as gone.
func expired(item map[string]types.AttributeValue, now time.Time) bool {
	n, ok := item[attrTTL].(*types.AttributeValueMemberN)
	if !ok {
		return false
	}
	ttl, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return false
	}
	return ttl <= now.Unix()
}
