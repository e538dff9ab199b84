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
	attrSpeakers       = "speakers"
	attrStatus         = "status"
	attrLive           = "live"
	attrVer            = "ver"
	attrCV             = "cv"
	attrSpots          = "spots"
	attrSeq            = "seq"
	attrQuestions      = "qn"
	attrPruned         = "pruned"
	attrVotes          = "v"
	attrQStatus        = "st"
	attrLastSeenAt     = "lastSeenAt"
	attrConnectedAt    = "connectedAt"
	attrLimits         = "rl"
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
	Defaulted              []string     `dynamodbav:"defaulted,omitempty"`
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
		Defaulted:              e.Defaulted,
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
		Defaulted:              it.Defaulted,
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

// sessionItem is a session's own item. Ver grows with every write of
// Live (its own state, store.HeadFields as one JSON value) and CV with
// every write of its counters alone; the session's Version is their sum.
// Conditions look at ver, at the counters and at status, so status is
// kept apart from Live too.
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
	GroupID              string    `dynamodbav:"groupId,omitempty"`
	Speakers             []string  `dynamodbav:"speakers,omitempty"`
	Start                time.Time `dynamodbav:"start"`
	End                  time.Time `dynamodbav:"end"`
	Capacity             int       `dynamodbav:"capacity"`
	Registered           int       `dynamodbav:"registered"`
	StageMaxSpeakers     int       `dynamodbav:"stageMaxSpeakers"`
	StageMaxParticipants int       `dynamodbav:"stageMaxParticipants"`
	CreatedAt            time.Time `dynamodbav:"createdAt"`
	Ver                  int64     `dynamodbav:"ver"`
	CV                   int64     `dynamodbav:"cv"`
	Spots                int       `dynamodbav:"spots"`
	Seq                  int64     `dynamodbav:"seq"`
	Questions            int       `dynamodbav:"qn"`
	Pruned               int64     `dynamodbav:"pruned,omitempty"`
	Live                 string    `dynamodbav:"live,omitempty"`
	// GSI1PK and GSI1SK file the session in the list of items due
	// (dueIndexKey); absent when nothing is pending.
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
}

// encodeHead is the stored form of a session's own state.
func encodeHead(s *domain.Session) (string, error) {
	b, err := json.Marshal(store.HeadOf(s))
	if err != nil {
		return "", fmt.Errorf("encode session state: %w", err)
	}
	return string(b), nil
}

// toSessionItem stores a new session's own item: no spot is held yet,
// and it is due for the scheduler at s.HeadDue().
func toSessionItem(s domain.Session) (sessionItem, error) {
	live, err := encodeHead(&s)
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
		GroupID:              s.GroupID,
		Speakers:             sp,
		Start:                s.Start,
		End:                  s.End,
		Capacity:             s.Capacity,
		StageMaxSpeakers:     s.Stage.MaxSpeakers,
		StageMaxParticipants: s.Stage.MaxParticipants,
		CreatedAt:            s.CreatedAt,
		Ver:                  s.Version,
		Seq:                  s.Live.Seq,
		Live:                 live,
	}
	if due := s.HeadDue(); !due.IsZero() {
		ik := dueIndexKey(due, s.ID, skMeta)
		it.GSI1PK, it.GSI1SK = ik.PK, ik.SK
	}
	return it, nil
}

// domain returns the session the item stores, without members or
// questions (Live.Partial).
func (it sessionItem) domain() (domain.Session, error) {
	var h store.HeadFields
	if it.Live != "" {
		if err := json.Unmarshal([]byte(it.Live), &h); err != nil {
			return domain.Session{}, fmt.Errorf("decode state of session %s: %w", it.ID, err)
		}
	}
	var sp []domain.UserID
	if len(it.Speakers) > 0 {
		sp = make([]domain.UserID, len(it.Speakers))
		for i, u := range it.Speakers {
			sp[i] = domain.UserID(u)
		}
	}
	s := domain.Session{
		ID:         domain.SessionID(it.ID),
		Kind:       domain.Kind(it.Kind),
		Title:      it.Title,
		EventID:    domain.EventID(it.EventID),
		EmployerID: domain.EmployerID(it.EmployerID),
		HostID:     domain.UserID(it.HostID),
		GroupID:    it.GroupID,
		Speakers:   sp,
		Start:      it.Start,
		End:        it.End,
		Capacity:   it.Capacity,
		Registered: it.Registered,
		Stage:      domain.StageLimits{MaxSpeakers: it.StageMaxSpeakers, MaxParticipants: it.StageMaxParticipants},
		CreatedAt:  it.CreatedAt,
		Version:    it.Ver + it.CV,
	}
	h.Apply(&s)
	s.Status = domain.Status(it.Status)
	s.Live.Spots, s.Live.Seq, s.Live.QuestionCount, s.Live.Pruned = it.Spots, it.Seq, it.Questions, it.Pruned
	s.Live.Partial = true
	return s, nil
}

// memberItem is one member of a session. Times are Unix nanoseconds (0
// for none), names short: a member's item is written on every message of
// that member, and its size is what a write costs. Ver grows with every
// write; ttl is set once the member is removed.
type memberItem struct {
	PK          string `dynamodbav:"PK"`
	SK          string `dynamodbav:"SK"`
	User        string `dynamodbav:"u"`
	Name        string `dynamodbav:"n"`
	Device      string `dynamodbav:"d,omitempty"`
	Role        string `dynamodbav:"r"`
	Mic         bool   `dynamodbav:"mic,omitempty"`
	Cam         bool   `dynamodbav:"cam,omitempty"`
	HandAt      int64  `dynamodbav:"ha,omitempty"`
	HandSeq     int64  `dynamodbav:"hs,omitempty"`
	Registered  bool   `dynamodbav:"reg,omitempty"`
	Conn        string `dynamodbav:"c,omitempty"`
	Connected   bool   `dynamodbav:"on,omitempty"`
	Synced      bool   `dynamodbav:"sy,omitempty"`
	JoinSeq     int64  `dynamodbav:"js,omitempty"`
	AdmittedAt  int64  `dynamodbav:"at,omitempty"`
	ConnectedAt int64  `dynamodbav:"cat,omitempty"`
	LastSeenAt  int64  `dynamodbav:"ls,omitempty"`
	LeftAt      int64  `dynamodbav:"la,omitempty"`
	Removed     bool   `dynamodbav:"rm,omitempty"`
	Spot        bool   `dynamodbav:"sp,omitempty"`
	Ver         int64  `dynamodbav:"ver"`
	TTL         int64  `dynamodbav:"ttl,omitempty"`
	GSI1PK      string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK      string `dynamodbav:"GSI1SK,omitempty"`
}

// nanos is t in Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the time of n Unix nanoseconds in UTC, the zero time for 0.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// toMemberItem stores m of session id at version ver, filed in the due
// list at due (zero: not filed); a removed member expires at expires.
func toMemberItem(id domain.SessionID, m domain.Member, ver int64, due, expires time.Time) memberItem {
	k := memberKey(id, m.UserID)
	it := memberItem{
		PK: k.PK, SK: k.SK,
		User: string(m.UserID), Name: m.Name, Device: string(m.Device), Role: string(m.Role),
		Mic: m.Mic, Cam: m.Cam, HandSeq: m.HandSeq, JoinSeq: m.JoinSeq, Registered: m.Registered,
		Conn: string(m.ConnectionID), Connected: m.Connected, Synced: m.Synced,
		AdmittedAt: nanos(m.AdmittedAt), ConnectedAt: nanos(m.ConnectedAt), LastSeenAt: nanos(m.LastSeenAt), LeftAt: nanos(m.LeftAt),
		Removed: m.Removed, Spot: m.Spot, Ver: ver,
	}
	if m.HandRaisedAt != nil {
		it.HandAt = nanos(*m.HandRaisedAt)
	}
	if m.Removed && !expires.IsZero() {
		it.TTL = expires.Unix()
	}
	if !due.IsZero() {
		ik := dueIndexKey(due, id, k.SK)
		it.GSI1PK, it.GSI1SK = ik.PK, ik.SK
	}
	return it
}

func (it memberItem) domain() domain.Member {
	m := domain.Member{
		UserID: domain.UserID(it.User), Name: it.Name, Device: domain.Device(it.Device), Role: domain.Role(it.Role),
		Mic: it.Mic, Cam: it.Cam, HandSeq: it.HandSeq, JoinSeq: it.JoinSeq, Registered: it.Registered,
		ConnectionID: domain.ConnectionID(it.Conn), Connected: it.Connected, Synced: it.Synced,
		AdmittedAt: fromNanos(it.AdmittedAt), ConnectedAt: fromNanos(it.ConnectedAt), LastSeenAt: fromNanos(it.LastSeenAt), LeftAt: fromNanos(it.LeftAt),
		Removed: it.Removed, Spot: it.Spot, Version: it.Ver,
	}
	if it.HandAt != 0 {
		t := fromNanos(it.HandAt)
		m.HandRaisedAt = &t
	}
	return m
}

// questionItem is one question; its votes are counted here and each
// vote is an item of its own (voteKey).
type questionItem struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	ID      string `dynamodbav:"id"`
	User    string `dynamodbav:"u"`
	Name    string `dynamodbav:"n"`
	Text    string `dynamodbav:"t"`
	Votes   int    `dynamodbav:"v"`
	Status  string `dynamodbav:"st"`
	AskedAt int64  `dynamodbav:"at"`
	Seq     int64  `dynamodbav:"seq"`
}

func toQuestionItem(id domain.SessionID, q domain.Question) questionItem {
	k := questionKey(id, q.ID)
	return questionItem{
		PK: k.PK, SK: k.SK, ID: q.ID, User: string(q.UserID), Name: q.Name, Text: q.Text,
		Votes: q.Votes, Status: string(q.Status), AskedAt: nanos(q.AskedAt), Seq: q.Seq,
	}
}

func (it questionItem) domain() domain.Question {
	return domain.Question{
		ID: it.ID, UserID: domain.UserID(it.User), Name: it.Name, Text: it.Text,
		Votes: it.Votes, Status: domain.QuestionStatus(it.Status), AskedAt: fromNanos(it.AskedAt), Seq: it.Seq,
	}
}

// voteItem is one member's vote for one question.
type voteItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
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

// connectionItem is a WebSocket connection; ttl is ConnectedAt +
// store.ConnectionTTL in Unix seconds.
type connectionItem struct {
	PK          string    `dynamodbav:"PK"`
	SK          string    `dynamodbav:"SK"`
	ID          string    `dynamodbav:"id"`
	SessionID   string    `dynamodbav:"sessionId"`
	GroupID     string    `dynamodbav:"groupId,omitempty"`
	UserID      string    `dynamodbav:"userId"`
	Device      string    `dynamodbav:"device,omitempty"`
	ConnectedAt time.Time `dynamodbav:"connectedAt"`
	LastSeenAt  time.Time `dynamodbav:"lastSeenAt"`
	// Limits holds each rate limiter class's theoretical arrival time in
	// Unix nanoseconds; it is always there (maybe empty), so that one
	// class is set with SET rl.<class>.
	Limits map[string]int64 `dynamodbav:"rl"`
	TTL    int64            `dynamodbav:"ttl"`
	GSI1PK string           `dynamodbav:"GSI1PK"`
	GSI1SK string           `dynamodbav:"GSI1SK"`
}

func toConnectionItem(c store.Connection) connectionItem {
	k := connectionKey(c.ID)
	ik := staleIndexKey(c.Stale(), c.ID)
	return connectionItem{
		PK: k.PK, SK: k.SK,
		ID:          string(c.ID),
		SessionID:   string(c.SessionID),
		GroupID:     string(c.GroupID),
		UserID:      string(c.UserID),
		Device:      string(c.Device),
		ConnectedAt: c.ConnectedAt.UTC(),
		LastSeenAt:  c.LastSeenAt.UTC(),
		Limits:      limitsItem(c.Limits),
		TTL:         c.ConnectedAt.Add(store.ConnectionTTL).Unix(),
		GSI1PK:      ik.PK,
		GSI1SK:      ik.SK,
	}
}

func (it connectionItem) domain() store.Connection {
	c := store.Connection{
		ID:          domain.ConnectionID(it.ID),
		SessionID:   domain.SessionID(it.SessionID),
		GroupID:     domain.GroupID(it.GroupID),
		UserID:      domain.UserID(it.UserID),
		Device:      domain.Device(it.Device),
		ConnectedAt: it.ConnectedAt,
		LastSeenAt:  it.LastSeenAt,
	}
	if len(it.Limits) > 0 {
		c.Limits = make(map[string]time.Time, len(it.Limits))
		for k, v := range it.Limits {
			c.Limits[k] = fromNanos(v)
		}
	}
	return c
}

// limitsItem is the stored form of a connection's rate limiters.
func limitsItem(l map[string]time.Time) map[string]int64 {
	out := make(map[string]int64, len(l))
	for k, v := range l {
		out[k] = nanos(v)
	}
	return out
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

// groupConnItem files a connection among its group's live chat sockets;
// ttl is its record's.
type groupConnItem struct {
	PK          string    `dynamodbav:"PK"`
	SK          string    `dynamodbav:"SK"`
	ID          string    `dynamodbav:"id"`
	GroupID     string    `dynamodbav:"groupId"`
	UserID      string    `dynamodbav:"userId"`
	ConnectedAt time.Time `dynamodbav:"connectedAt"`
	TTL         int64     `dynamodbav:"ttl"`
}

func toGroupConnItem(c store.Connection) groupConnItem {
	k := groupConnKey(c.GroupID, c.ID)
	return groupConnItem{
		PK: k.PK, SK: k.SK,
		ID: string(c.ID), GroupID: string(c.GroupID), UserID: string(c.UserID),
		ConnectedAt: c.ConnectedAt.UTC(),
		TTL:         c.ConnectedAt.Add(store.ConnectionTTL).Unix(),
	}
}

func (it groupConnItem) domain() store.Connection {
	return store.Connection{
		ID:          domain.ConnectionID(it.ID),
		GroupID:     domain.GroupID(it.GroupID),
		UserID:      domain.UserID(it.UserID),
		ConnectedAt: it.ConnectedAt,
		LastSeenAt:  it.ConnectedAt,
	}
}
