package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// Plan is what a rule changed of a session, item by item: what Update
// writes. Diff makes it the same way for every store.
type Plan struct {
	// Fields: the session item's own fields changed (status, presenter,
	// the stage's seats, breakout rooms, media assignment, the times of
	// the life cycle). They are written on condition that the session
	// item's version is the one read, and the version grows.
	Fields bool
	// Spots and QuestionCount are how far those counters moved. A counter
	// that grows is written on condition that it stays within its limit
	// (Session.SpotLimit, domain.MaxQuestions), not on the version, so
	// that members joining or asking at once do not conflict.
	Spots, QuestionCount int
	// Pruned is how far Live.Pruned moved (members pruned); it is added,
	// never compared.
	Pruned int64
	// Seq is how far the hand and question counter moved. A store that
	// cannot hold the session while fn runs allocates that many numbers
	// atomically and renumbers (Renumber).
	Seq int64
	// Members are the members written, added or pruned.
	Members []MemberWrite
	// Questions are the questions added or changed, Votes the votes cast.
	Questions []QuestionWrite
	Votes     []Vote
}

// MemberWrite is one member's item to write: Before is what was read
// (nil for a new member), After what to store (nil to delete it).
type MemberWrite struct {
	Before, After *domain.Member
}

// QuestionWrite is one question's item to write.
type QuestionWrite struct {
	// Question is the question as fn left it.
	Question domain.Question
	// New: the question was asked; it is stored if its id is free.
	New bool
	// Votes is how many votes it gained (only while open); Status that
	// its status changed.
	Votes  int
	Status bool
}

// Vote is one member's vote for a question; it is stored only if that
// member has not voted for it already.
type Vote struct {
	QuestionID string
	UserID     domain.UserID
}

// HeadWritten reports whether the session item is written (its fields or
// its counters of spots and questions). Seq alone does not count: it is
// handed out, not decided.
func (p Plan) HeadWritten() bool {
	return p.Fields || p.Spots != 0 || p.QuestionCount != 0 || p.Pruned != 0
}

// Empty reports whether fn changed nothing.
func (p Plan) Empty() bool {
	return !p.HeadWritten() && p.Seq == 0 && len(p.Members) == 0 && len(p.Questions) == 0 && len(p.Votes) == 0
}

// Items counts the items the plan writes.
func (p Plan) Items() int {
	n := len(p.Members) + len(p.Questions) + len(p.Votes)
	if p.HeadWritten() {
		n++
	}
	return n
}

// Diff returns what after changed of before, the session as read. What fn
// may not change (the fields a session was created with, Registered,
// Version, the members' and questions' ids) is not looked at.
func Diff(before, after *domain.Session) Plan {
	var p Plan
	p.Fields = !bytes.Equal(headJSON(before), headJSON(after))
	p.Spots = after.Live.Spots - before.Live.Spots
	p.QuestionCount = after.Live.QuestionCount - before.Live.QuestionCount
	p.Seq = after.Live.Seq - before.Live.Seq
	p.Pruned = after.Live.Pruned - before.Live.Pruned

	was := make(map[domain.UserID]*domain.Member, len(before.Live.Members))
	for i := range before.Live.Members {
		was[before.Live.Members[i].UserID] = &before.Live.Members[i]
	}
	seen := make(map[domain.UserID]bool, len(after.Live.Members))
	for i := range after.Live.Members {
		m := &after.Live.Members[i]
		seen[m.UserID] = true
		old := was[m.UserID]
		if old == nil || !SameMember(*old, *m) {
			p.Members = append(p.Members, MemberWrite{Before: old, After: m})
		}
	}
	for i := range before.Live.Members {
		if m := &before.Live.Members[i]; !seen[m.UserID] {
			p.Members = append(p.Members, MemberWrite{Before: m})
		}
	}

	asked := make(map[string]*domain.Question, len(before.Live.Questions))
	for i := range before.Live.Questions {
		asked[before.Live.Questions[i].ID] = &before.Live.Questions[i]
	}
	for _, q := range after.Live.Questions {
		old := asked[q.ID]
		w := QuestionWrite{Question: q, New: old == nil}
		if old != nil {
			w.Votes = q.Votes - old.Votes
			w.Status = q.Status != old.Status
		}
		voted := map[domain.UserID]bool{}
		if old != nil {
			for _, u := range old.Voters {
				voted[u] = true
			}
		}
		for _, u := range q.Voters {
			if !voted[u] {
				p.Votes = append(p.Votes, Vote{QuestionID: q.ID, UserID: u})
			}
		}
		if w.New || w.Votes != 0 || w.Status {
			p.Questions = append(p.Questions, w)
		}
	}
	return p
}

// Renumber moves the numbers fn handed out of Seq above from (the Seq
// read: hands, questions, members joining) so that they start above base
// instead: a store that allocated
// the range (base, base+p.Seq] atomically calls it before writing, and
// after.Live.Seq becomes base+p.Seq.
func (p Plan) Renumber(after *domain.Session, from, base int64) {
	shift := base - from
	if shift == 0 {
		return
	}
	for _, w := range p.Members {
		if w.After != nil && w.After.HandSeq > from {
			w.After.HandSeq += shift
		}
		if w.After != nil && w.After.JoinSeq > from {
			w.After.JoinSeq += shift
		}
	}
	for i := range p.Questions {
		if w := &p.Questions[i]; w.New && w.Question.Seq > from {
			w.Question.Seq += shift
		}
	}
	for i := range after.Live.Questions {
		if q := &after.Live.Questions[i]; q.Seq > from {
			q.Seq += shift
		}
	}
	after.Live.Seq += shift
}

// SameMember reports whether a and b store the same item: OnStage and
// Room mirror the session item and Version is the store's own, so none of
// them counts.
func SameMember(a, b domain.Member) bool {
	return reflect.DeepEqual(StoredMember(a), StoredMember(b))
}

// StoredMember is m as its item keeps it: without what mirrors the session
// item (OnStage, Room), without the version, with times in UTC.
func StoredMember(m domain.Member) domain.Member {
	m.OnStage, m.Room, m.Version = false, nil, 0
	m.AdmittedAt, m.ConnectedAt, m.LastSeenAt, m.LeftAt = utc(m.AdmittedAt), utc(m.ConnectedAt), utc(m.LastSeenAt), utc(m.LeftAt)
	if m.HandRaisedAt != nil {
		t := utc(*m.HandRaisedAt)
		m.HandRaisedAt = &t
	}
	return m
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// HeadFields is the part of a session its own item keeps and rules
// change: what Plan.Fields compares. A store keeps it as one value.
type HeadFields struct {
	Status      domain.Status          `json:"status"`
	PresenterID domain.UserID          `json:"presenterId,omitempty"`
	Stage       []domain.Seat          `json:"stage,omitempty"`
	Breakout    domain.Breakout        `json:"breakout"`
	Media       domain.MediaAssignment `json:"media,omitzero"`
	StartedAt   time.Time              `json:"startedAt,omitzero"`
	EndedAt     time.Time              `json:"endedAt,omitzero"`
	HostLeftAt  time.Time              `json:"hostLeftAt,omitzero"`
}

// HeadOf returns the fields of s's own item that rules change.
func HeadOf(s *domain.Session) HeadFields {
	b := s.Live.Breakout
	if len(b.Assign) == 0 {
		b.Assign = nil
	}
	if len(b.Rooms) == 0 {
		b.Rooms = nil
	}
	if b.Status == domain.BreakoutNone {
		b.Status = ""
	}
	stage := s.Live.Stage
	if len(stage) == 0 {
		stage = nil
	}
	return HeadFields{
		Status: s.Status, PresenterID: s.PresenterID, Stage: stage, Breakout: b, Media: s.Live.Media,
		StartedAt: utc(s.Live.StartedAt), EndedAt: utc(s.Live.EndedAt), HostLeftAt: utc(s.Live.HostLeftAt),
	}
}

// Apply sets the fields of s's own item from h.
func (h HeadFields) Apply(s *domain.Session) {
	s.Status, s.PresenterID = h.Status, h.PresenterID
	s.Live.Stage, s.Live.Breakout, s.Live.Media = h.Stage, h.Breakout, h.Media
	s.Live.StartedAt, s.Live.EndedAt, s.Live.HostLeftAt = h.StartedAt, h.EndedAt, h.HostLeftAt
}

func headJSON(s *domain.Session) []byte {
	b, _ := json.Marshal(HeadOf(s)) // plain data: never fails
	return b
}
