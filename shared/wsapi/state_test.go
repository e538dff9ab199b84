package wsapi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// longest returns n characters of the widest kind a text may hold.
func longest(chars, maxBytes int) string {
	s := strings.Repeat("🙂", chars)
	for len(s) > maxBytes {
		s = strings.Repeat("會", chars) // three bytes
		if len(s) > maxBytes {
			s = strings.Repeat("é", chars)
		}
	}
	return s
}

// fullestSession is a PrimeTime session at the largest it may grow: 200
// participants and the host, every name as long as names go in bytes,
// every hand raised, breakout rooms with everyone assigned, and 200
// questions of the longest text, each voted.
func fullestSession(t *testing.T) (domain.Session, domain.Member) {
	t.Helper()
	at := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	s, err := domain.NewHostedSession(domain.KindPrimetime, "host", longest(domain.MaxTitleLen, domain.MaxTitleBytes), "", at)
	if err != nil {
		t.Fatal(err)
	}
	name := longest(domain.MaxNameLen, domain.MaxNameBytes)
	s.Live.Breakout = domain.Breakout{Status: domain.BreakoutOpen, Assign: map[domain.UserID]int{}}
	for i := range domain.MaxBreakoutRooms {
		s.Live.Breakout.Rooms = append(s.Live.Breakout.Rooms, domain.BreakoutRoom{Index: i, Name: longest(domain.MaxBreakoutNameLen, domain.MaxBreakoutNameBytes)})
	}
	for i := range domain.PrimetimeCapacity + 1 {
		u := domain.UserID(fmt.Sprintf("u%015d", i))
		if i == 0 {
			u = "host"
		}
		raised := at
		s.Live.Members = append(s.Live.Members, domain.Member{
			UserID: u, Name: name, Device: domain.DeviceMobile, Role: domain.RoleParticipant, Mic: true, Cam: true,
			HandRaisedAt: &raised, HandSeq: int64(i + 1), Connected: true, ConnectionID: domain.ConnectionID(fmt.Sprintf("c%015d=", i)),
			AdmittedAt: at, ConnectedAt: at, Version: 1000,
		})
		s.Live.Breakout.Assign[u] = i % domain.MaxBreakoutRooms
	}
	s.Mirror()
	text := longest(domain.MaxQuestionLen, domain.MaxQuestionBytes)
	for i := range domain.MaxQuestions {
		s.Live.Questions = append(s.Live.Questions, domain.Question{
			ID: domain.NewID(10), UserID: s.Live.Members[i+1].UserID, Name: name, Text: text,
			Votes: i % 7, Voters: []domain.UserID{"host"}, Status: domain.QuestionOpen, AskedAt: at, Seq: int64(1000 + i),
		})
	}
	s.Live.QuestionCount = domain.MaxQuestions
	return s, s.Live.Members[5]
}

// TestStateFitsWithTheLongestOfEverything: the state of the fullest
// session a member can see, with the longest chat, fits in one API
// Gateway message, with every member; the questions it leaves out are
// listed, each once, by the pages after its cursor.
func TestStateFitsWithTheLongestOfEverything(t *testing.T) {
	s, self := fullestSession(t)
	var chat []store.ChatMessage
	for i := range chatHistory {
		chat = append(chat, store.ChatMessage{SessionID: s.ID, ID: domain.NewID(12), UserID: self.UserID, Name: self.Name,
			Text: longest(domain.MaxChatLen, domain.MaxChatBytes), At: time.Unix(int64(i), 0).UTC()})
	}
	st := viewState(s, self, chat, time.Now())
	b, err := fitState(&st)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxReplyBytes || len(b) > 128<<10 {
		t.Fatalf("the state weighs %d bytes, more than one message", len(b))
	}
	if len(st.Members) != len(s.Live.Members) {
		t.Fatalf("%d members in the state, want all %d", len(st.Members), len(s.Live.Members))
	}
	if st.QuestionsCursor == nil || st.QuestionCount != domain.MaxQuestions {
		t.Fatalf("cursor %v, count %d: the questions left out are not listed", st.QuestionsCursor, st.QuestionCount)
	}
	t.Logf("state of %d members, %d questions of %d, %d chat lines: %d bytes", len(st.Members), len(st.Questions), st.QuestionCount, len(st.Chat), len(b))

	// Page through the rest as qa.list does: every question once, in
	// order.
	all := viewQuestions(s.SortedQuestions(), self.UserID)
	seen := map[string]bool{}
	for _, q := range st.Questions {
		seen[q.ID] = true
	}
	cursor := *st.QuestionsCursor
	for pages := 0; cursor != ""; pages++ {
		if pages > domain.MaxQuestions {
			t.Fatal("paging never ends")
		}
		from, set, err := parseCursor(cursor)
		if err != nil || !set {
			t.Fatalf("cursor %q: %v", cursor, err)
		}
		var page []questionView
		for _, q := range all {
			if from.after(q) {
				page = append(page, q)
			}
		}
		page = page[:min(len(page), PageQuestions)]
		for _, q := range page {
			if seen[q.ID] {
				t.Fatalf("question %s listed twice", q.ID)
			}
			seen[q.ID] = true
		}
		cursor = ""
		if len(page) == PageQuestions && len(seen) < len(all) {
			cursor = questionCursor(page[len(page)-1])
		}
	}
	if len(seen) != domain.MaxQuestions {
		t.Fatalf("%d questions listed, want %d", len(seen), domain.MaxQuestions)
	}
}

func TestCursorRefusesWhatItDidNotGive(t *testing.T) {
	for _, c := range []string{"x", "1:2", "a:1:q", "1:b:q", "1:2:"} {
		if _, _, err := parseCursor(c); err == nil {
			t.Errorf("parseCursor(%q) took it", c)
		} else if we := toWire(err); we.code != CodeInvalid || we.fields["cursor"] == "" {
			t.Errorf("parseCursor(%q): %v, want invalid naming cursor", c, we)
		}
	}
}
