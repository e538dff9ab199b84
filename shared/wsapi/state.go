package wsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// memberView is a member as other members see it.
type memberView struct {
	UserID       domain.UserID `json:"userId"`
	Name         string        `json:"name"`
	Device       domain.Device `json:"device"`
	Role         domain.Role   `json:"role"`
	Mic          bool          `json:"mic"`
	Cam          bool          `json:"cam"`
	OnStage      bool          `json:"onStage"`
	HandRaisedAt *time.Time    `json:"handRaisedAt"`
	Room         *int          `json:"room"`
	Connected    bool          `json:"connected"`
}

func viewMember(m domain.Member) memberView {
	return memberView{
		UserID: m.UserID, Name: m.Name, Device: m.Device, Role: m.Role, Mic: m.Mic, Cam: m.Cam,
		OnStage: m.OnStage, HandRaisedAt: m.HandRaisedAt, Room: m.Room, Connected: m.Connected,
	}
}

type questionView struct {
	// seq is the question's place in the asking order (the cursor's).
	seq     int64
	ID      string                `json:"id"`
	UserID  domain.UserID         `json:"userId"`
	Name    string                `json:"name"`
	Text    string                `json:"text"`
	Votes   int                   `json:"votes"`
	Voted   bool                  `json:"voted"`
	Status  domain.QuestionStatus `json:"status"`
	AskedAt time.Time             `json:"askedAt"`
}

type roomView struct {
	Index   int             `json:"index"`
	Name    string          `json:"name"`
	Members []domain.UserID `json:"members"`
}

type breakoutView struct {
	Status domain.BreakoutStatus `json:"status"`
	Rooms  []roomView            `json:"rooms"`
	EndsAt *time.Time            `json:"endsAt"`
}

type stageView struct {
	MaxSpeakers     int             `json:"maxSpeakers"`
	MaxParticipants int             `json:"maxParticipants"`
	OnStage         []domain.UserID `json:"onStage"`
}

// stateMessage is the session as one member may see it, within one
// message: every member, the top questions (the rest by qa.list from
// QuestionsCursor) and the newest chat that fit.
type stateMessage struct {
	Type        string           `json:"type"`
	ID          json.RawMessage  `json:"id,omitempty"`
	SessionID   domain.SessionID `json:"sessionId"`
	Kind        domain.Kind      `json:"kind"`
	Status      domain.Status    `json:"status"`
	Title       string           `json:"title"`
	HostID      *domain.UserID   `json:"hostId"`
	PresenterID *domain.UserID   `json:"presenterId"`
	Speakers    []domain.UserID  `json:"speakers"`
	Start       *time.Time       `json:"start,omitempty"`
	End         *time.Time       `json:"end,omitempty"`
	StartsFrom  *time.Time       `json:"startableAt,omitempty"`
	Capacity    int              `json:"capacity"`
	Stage       stageView        `json:"stage"`
	Members     []memberView     `json:"members"`
	Hands       []domain.UserID  `json:"hands"`
	Questions   []questionView   `json:"questions"`
	// QuestionCount counts every question; QuestionsCursor, when there
	// are more than Questions holds, asks qa.list for the next ones.
	QuestionCount   int                 `json:"questionCount"`
	QuestionsCursor *string             `json:"questionsCursor"`
	Breakout        breakoutView        `json:"breakout"`
	Chat            []store.ChatMessage `json:"chat"`
	Self            memberView          `json:"self"`
	Version         int64               `json:"version"`
	ServerTime      time.Time           `json:"serverTime"`
}

func optionalUser(u domain.UserID) *domain.UserID {
	if u == "" {
		return nil
	}
	return &u
}

// viewState builds the state message for member self: every question
// (fitState cuts them to a page).
func viewState(s domain.Session, self domain.Member, chat []store.ChatMessage, now time.Time) stateMessage {
	st := stateMessage{
		Type: "state", SessionID: s.ID, Kind: s.Kind, Status: s.Status, Title: s.Title,
		HostID: optionalUser(s.HostID), PresenterID: optionalUser(s.PresenterID),
		Speakers: s.Speakers, Capacity: s.Capacity,
		Stage:      stageView{MaxSpeakers: s.Stage.MaxSpeakers, MaxParticipants: s.Stage.MaxParticipants, OnStage: s.OnStage()},
		Members:    []memberView{},
		Hands:      []domain.UserID{},
		Questions:  []questionView{},
		Chat:       chat,
		Self:       viewMember(self),
		Version:    s.StateVersion(),
		Breakout:   breakoutView{Status: s.Live.Breakout.Status, Rooms: []roomView{}, EndsAt: s.Live.Breakout.EndsAt},
		ServerTime: now,
	}
	if st.Speakers == nil {
		st.Speakers = []domain.UserID{}
	}
	if st.Stage.OnStage == nil {
		st.Stage.OnStage = []domain.UserID{}
	}
	if st.Chat == nil {
		st.Chat = []store.ChatMessage{}
	}
	if st.Breakout.Status == "" {
		st.Breakout.Status = domain.BreakoutNone
	}
	if s.Kind == domain.KindScheduled {
		start, end, from := s.Start, s.End, s.Start.Add(-domain.StartWindow)
		st.Start, st.End, st.StartsFrom = &start, &end, &from
	}
	for _, m := range s.Live.Members {
		if !m.Removed {
			st.Members = append(st.Members, viewMember(m))
		}
	}
	// Each room has its own hand queue: a member sees the one of the room
	// it is in.
	for _, m := range s.Hands() {
		if sameRoom(m.Room, self.Room) {
			st.Hands = append(st.Hands, m.UserID)
		}
	}
	st.Questions = viewQuestions(s.SortedQuestions(), self.UserID)
	st.QuestionCount = len(s.Live.Questions)
	// Open rooms list who is in them; configured rooms, who is assigned.
	open := s.Live.Breakout.Status == domain.BreakoutOpen
	for _, r := range s.Live.Breakout.Rooms {
		rv := roomView{Index: r.Index, Name: r.Name, Members: []domain.UserID{}}
		for _, m := range s.Live.Members {
			if m.Removed {
				continue
			}
			idx, assigned := s.Live.Breakout.Assign[m.UserID]
			if (open && m.Room != nil && *m.Room == r.Index) || (!open && assigned && idx == r.Index) {
				rv.Members = append(rv.Members, m.UserID)
			}
		}
		st.Breakout.Rooms = append(st.Breakout.Rooms, rv)
	}
	return st
}

func sameRoom(a, b *int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// viewQuestions are questions as member u sees them.
func viewQuestions(qs []domain.Question, u domain.UserID) []questionView {
	out := make([]questionView, 0, len(qs))
	for _, q := range qs {
		out = append(out, questionView{seq: q.Seq, ID: q.ID, UserID: q.UserID, Name: q.Name, Text: q.Text, Votes: q.Votes,
			Voted: slices.Contains(q.Voters, u), Status: q.Status, AskedAt: q.AskedAt})
	}
	return out
}

// Sizes of the state and of a page of questions.
const (
	// MaxReplyBytes is what one reply may weigh: API Gateway takes 128 KiB
	// a message; a little is kept for the frame.
	MaxReplyBytes = 128<<10 - 1024
	// StateQuestions and PageQuestions are how many questions a state and
	// a qa.list page carry at most.
	StateQuestions = 20
	PageQuestions  = 20
)

// encoded is a reply already encoded, sent as it is.
type encoded []byte

// fitState cuts st to one message: at most StateQuestions questions, and
// fewer, with the oldest chat first, until it weighs at most
// MaxReplyBytes. Questions left out are listed from QuestionsCursor.
// Every member is always there: bounded names and the room's capacity
// keep them well within the limit (TestStateFitsWithTheLongestOfEverything).
// It returns the message encoded.
func fitState(st *stateMessage) (encoded, error) {
	all := st.Questions
	n := min(len(all), StateQuestions)
	for {
		st.Questions = all[:n]
		st.QuestionsCursor = nil
		if n < len(all) {
			c := ""
			if n > 0 {
				c = questionCursor(all[n-1])
			}
			st.QuestionsCursor = &c
		}
		b, err := marshal(st)
		if err != nil {
			return nil, err
		}
		if len(b) <= MaxReplyBytes {
			return b, nil
		}
		switch {
		case len(st.Chat) > 0:
			st.Chat = st.Chat[1:]
		case n > 0:
			n--
		default:
			return nil, fmt.Errorf("wsapi: the state of %s weighs %d bytes with no question and no chat", st.SessionID, len(b))
		}
	}
}

// questionCursor marks the place of q in the order of questions (votes,
// then asking order, then id): qa.list goes on after it.
func questionCursor(q questionView) string {
	return strconv.Itoa(q.Votes) + ":" + strconv.FormatInt(q.seq, 10) + ":" + q.ID
}

// cursor is a place in the order of questions.
type cursor struct {
	votes int
	seq   int64
	id    string
}

// parseCursor reads a cursor made by questionCursor; "" is the start.
func parseCursor(c string) (cursor, bool, error) {
	if c == "" {
		return cursor{}, false, nil
	}
	parts := strings.SplitN(c, ":", 3)
	if len(parts) != 3 {
		return cursor{}, false, errBadCursor
	}
	votes, err1 := strconv.Atoi(parts[0])
	seq, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || parts[2] == "" {
		return cursor{}, false, errBadCursor
	}
	return cursor{votes, seq, parts[2]}, true, nil
}

// after reports whether q comes after c in the order of questions.
func (c cursor) after(q questionView) bool {
	switch {
	case q.Votes != c.votes:
		return q.Votes < c.votes
	case q.seq != c.seq:
		return q.seq > c.seq
	}
	return q.ID > c.id
}

var errBadCursor = &wireError{code: CodeInvalid, message: "the message is not valid; see fields", fields: map[string]string{"cursor": "is not a cursor this server gave"}}

// questionPage is the reply to qa.list: the next questions after the
// cursor, and the cursor of the page after (null when there is none).
type questionPage struct {
	Type      string          `json:"type"`
	ID        json.RawMessage `json:"id,omitempty"`
	Questions []questionView  `json:"questions"`
	Cursor    *string         `json:"cursor"`
	// QuestionCount counts every question.
	QuestionCount int `json:"questionCount"`
}

// listQuestions answers qa.list with the page after its cursor, in the
// order of the state's questions, within one message.
func (h *Handler) listQuestions(ctx context.Context, rec store.Connection, msg message) (any, error) {
	from, set, err := parseCursor(msg.Body.(*listMsg).Cursor)
	if err != nil {
		return nil, err
	}
	s, err := h.store.ReadSession(ctx, rec.SessionID, store.Load{Members: []domain.UserID{rec.UserID}, AllQuestions: true, VotesOf: rec.UserID})
	if err != nil {
		return nil, err
	}
	if m, ok := s.Member(rec.UserID); !ok || m.Removed {
		return nil, domain.ErrNotMember
	}
	all := viewQuestions(s.SortedQuestions(), rec.UserID)
	if set {
		all = slices.DeleteFunc(all, func(q questionView) bool { return !from.after(q) })
	}
	page := questionPage{Type: "questions", ID: msg.ID, QuestionCount: len(s.Live.Questions)}
	for n := min(len(all), PageQuestions); ; n-- {
		page.Questions, page.Cursor = all[:n], nil
		if n < len(all) && n > 0 {
			c := questionCursor(all[n-1])
			page.Cursor = &c
		}
		b, err := marshal(page)
		if err != nil {
			return nil, err
		}
		if len(b) <= MaxReplyBytes || n <= 1 {
			return encoded(b), nil
		}
	}
}

// state answers state.get with the session as the member sees it, in one
// message: its own item, every member, the questions and the member's
// votes (eventually consistent), the newest chat of its room.
//
// The first state a connection asks for marks it as listening (Sync)
// before the state is read: from then on events reach it, and whatever
// changed before is in the state.
func (h *Handler) state(ctx context.Context, rec store.Connection, msg message, now time.Time) (any, error) {
	load := store.Load{AllMembers: true, AllQuestions: true, VotesOf: rec.UserID}
	s, err := h.store.ReadSession(ctx, rec.SessionID, load)
	if err != nil {
		return nil, err
	}
	m, ok := s.Member(rec.UserID)
	if !ok || m.Removed {
		return nil, domain.ErrNotMember
	}
	if !m.Synced && m.ConnectionID == rec.ID {
		_, err := h.store.Update(ctx, rec.SessionID, store.Load{Members: []domain.UserID{rec.UserID}}, func(s *domain.Session) error {
			_, err := s.Sync(rec.UserID, rec.ID)
			return err
		})
		if err != nil && !errors.Is(err, domain.ErrNoChange) {
			if errors.Is(err, domain.ErrConflict) {
				return nil, errReplaced
			}
			return nil, err
		}
		if s, err = h.store.ReadSession(ctx, rec.SessionID, load); err != nil {
			return nil, err
		}
		if m, ok = s.Member(rec.UserID); !ok || m.Removed {
			return nil, domain.ErrNotMember
		}
	}
	chat, err := h.store.RecentChat(ctx, s.ID, m.Room, chatHistory)
	if err != nil {
		return nil, err
	}
	st := viewState(s, m, chat, now)
	st.ID = msg.ID
	return fitState(&st)
}
