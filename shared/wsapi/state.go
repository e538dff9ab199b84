package wsapi

import (
	"encoding/json"
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

// stateMessage is the whole session as one member may see it.
type stateMessage struct {
	Type        string              `json:"type"`
	ID          json.RawMessage     `json:"id,omitempty"`
	SessionID   domain.SessionID    `json:"sessionId"`
	Kind        domain.Kind         `json:"kind"`
	Status      domain.Status       `json:"status"`
	Title       string              `json:"title"`
	HostID      *domain.UserID      `json:"hostId"`
	PresenterID *domain.UserID      `json:"presenterId"`
	Speakers    []domain.UserID     `json:"speakers"`
	Start       *time.Time          `json:"start,omitempty"`
	End         *time.Time          `json:"end,omitempty"`
	StartsFrom  *time.Time          `json:"startableAt,omitempty"`
	Capacity    int                 `json:"capacity"`
	Stage       stageView           `json:"stage"`
	Members     []memberView        `json:"members"`
	Hands       []domain.UserID     `json:"hands"`
	Questions   []questionView      `json:"questions"`
	Breakout    breakoutView        `json:"breakout"`
	Chat        []store.ChatMessage `json:"chat"`
	Self        memberView          `json:"self"`
	Version     int64               `json:"version"`
	ServerTime  time.Time           `json:"serverTime"`
}

func optionalUser(u domain.UserID) *domain.UserID {
	if u == "" {
		return nil
	}
	return &u
}

// viewState builds the state message for member self.
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
		Version:    s.Version,
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
	for _, q := range s.SortedQuestions() {
		voted := false
		for _, v := range q.Voters {
			voted = voted || v == self.UserID
		}
		st.Questions = append(st.Questions, questionView{ID: q.ID, UserID: q.UserID, Name: q.Name, Text: q.Text, Votes: q.Votes, Voted: voted, Status: q.Status, AskedAt: q.AskedAt})
	}
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
