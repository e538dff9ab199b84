package domain_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

const idAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

func checkID(t *testing.T, id string, n int) {
	t.Helper()
	if len(id) != n {
		t.Errorf("id %q has %d characters, want %d", id, len(id), n)
	}
	for _, r := range id {
		if !strings.ContainsRune(idAlphabet, r) {
			t.Errorf("id %q holds %q, outside the alphabet", id, r)
		}
	}
}

func TestNewScheduledSession(t *testing.T) {
	ev := validEvent() // slots of 30 minutes from 09:00 to 19:00, then the next day
	ev.Capacity = 20
	ev.Stage = domain.StageLimits{MaxSpeakers: 4, MaxParticipants: 2}
	const emp = domain.EmployerID("emp1")
	now := at(-7 * 24 * 60)
	cest := time.FixedZone("CEST", 2*60*60)

	tests := []struct {
		name         string
		start        time.Time
		title        string
		speakers     []domain.UserID
		wantSpeakers []domain.UserID
		wantStart    time.Time
		wantFields   []string
	}{
		{name: "no listed speakers", start: at(60), title: "Meet us", wantSpeakers: []domain.UserID{"emp1"}, wantStart: at(60)},
		{
			name: "listed speakers follow the employer", start: at(60), title: "Meet us",
			speakers:     []domain.UserID{"u1", "u2", "u3"},
			wantSpeakers: []domain.UserID{"emp1", "u1", "u2", "u3"}, wantStart: at(60),
		},
		{
			name: "duplicates and the employer itself are listed once", start: at(60), title: "Meet us",
			speakers:     []domain.UserID{"u1", "emp1", "u1"},
			wantSpeakers: []domain.UserID{"emp1", "u1"}, wantStart: at(60),
		},
		{name: "last slot of the first window", start: at(570), title: "t", wantSpeakers: []domain.UserID{"emp1"}, wantStart: at(570)},
		{name: "first slot of the second window", start: at(1440), title: "t", wantSpeakers: []domain.UserID{"emp1"}, wantStart: at(1440)},
		{name: "start in another zone", start: at(90).In(cest), title: "t", wantSpeakers: []domain.UserID{"emp1"}, wantStart: at(90)},
		{name: "title of 120 characters in a multi-byte script", start: at(60), title: strings.Repeat("é", 120), wantSpeakers: []domain.UserID{"emp1"}, wantStart: at(60)},

		{name: "empty title", start: at(60), title: "", wantFields: []string{"title"}},
		{name: "title of 121 characters", start: at(60), title: strings.Repeat("a", 121), wantFields: []string{"title"}},
		{name: "start off the grid", start: at(45), title: "t", wantFields: []string{"start"}},
		{name: "start outside the windows", start: at(600), title: "t", wantFields: []string{"start"}},
		{name: "zero start", title: "t", wantFields: []string{"start"}},
		{name: "four listed speakers", start: at(60), title: "t", speakers: []domain.UserID{"u1", "u2", "u3", "u4"}, wantFields: []string{"speakers"}},
		{name: "empty speaker id", start: at(60), title: "t", speakers: []domain.UserID{"u1", ""}, wantFields: []string{"speakers[1]"}},
		{
			name: "every bad field is named", start: at(45), title: "",
			speakers:   []domain.UserID{"", "u1", "", "u2"},
			wantFields: []string{"title", "start", "speakers", "speakers[0]", "speakers[2]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := domain.NewScheduledSession(ev, emp, tt.start, tt.title, tt.speakers, now)
			if len(tt.wantFields) > 0 {
				checkFields(t, err, tt.wantFields...)
				if s.ID != "" {
					t.Errorf("a failed booking returned session %+v", s)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewScheduledSession: %v", err)
			}
			checkID(t, string(s.ID), 12)
			if s.Kind != domain.KindScheduled || s.Status != domain.StatusScheduled {
				t.Errorf("kind/status = %s/%s, want scheduled/scheduled", s.Kind, s.Status)
			}
			if s.Title != tt.title || s.EventID != ev.ID || s.EmployerID != emp {
				t.Errorf("title/event/employer = %q/%q/%q", s.Title, s.EventID, s.EmployerID)
			}
			if !slices.Equal(s.Speakers, tt.wantSpeakers) {
				t.Errorf("Speakers = %v, want %v", s.Speakers, tt.wantSpeakers)
			}
			if !s.IsSpeaker(domain.UserID(emp)) {
				t.Errorf("the employer is not a speaker")
			}
			if !s.Start.Equal(tt.wantStart) || !s.End.Equal(tt.wantStart.Add(30*time.Minute)) {
				t.Errorf("slot = %v..%v, want %v..%v", s.Start, s.End, tt.wantStart, tt.wantStart.Add(30*time.Minute))
			}
			if s.Start.Location() != time.UTC {
				t.Errorf("Start %v not in UTC", s.Start)
			}
			if s.Capacity != 20 || s.Registered != 0 || s.SpotsLeft() != 20 {
				t.Errorf("capacity/registered/spotsLeft = %d/%d/%d, want 20/0/20", s.Capacity, s.Registered, s.SpotsLeft())
			}
			if s.Stage != ev.Stage {
				t.Errorf("Stage = %+v, want the event's %+v", s.Stage, ev.Stage)
			}
			if !s.CreatedAt.Equal(now) {
				t.Errorf("CreatedAt = %v, want %v", s.CreatedAt, now)
			}
			if s.HostID != "" || s.PresenterID != "" || s.Version != 0 {
				t.Errorf("unexpected host/presenter/version: %+v", s)
			}
		})
	}
}

func TestNewScheduledSessionOwnsItsSpeakers(t *testing.T) {
	in := []domain.UserID{"u1", "u2"}
	s, err := domain.NewScheduledSession(validEvent(), "emp1", at(0), "t", in, t0)
	if err != nil {
		t.Fatal(err)
	}
	in[0] = "intruder"
	if s.IsSpeaker("intruder") || !s.IsSpeaker("u1") {
		t.Fatalf("session speakers follow the caller's slice: %v", s.Speakers)
	}
}

func TestNewScheduledSessionIDsDiffer(t *testing.T) {
	seen := map[domain.SessionID]bool{}
	for range 200 {
		s, err := domain.NewScheduledSession(validEvent(), "emp1", at(0), "t", nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		if seen[s.ID] {
			t.Fatalf("id %q given twice", s.ID)
		}
		seen[s.ID] = true
	}
}

func TestNewHostedSession(t *testing.T) {
	now := at(0)
	tests := []struct {
		name       string
		kind       domain.Kind
		title      string
		groupID    string
		wantStage  domain.StageLimits
		wantFields []string
	}{
		{name: "instant", kind: domain.KindInstant, title: "Stand-up", wantStage: domain.StageLimits{MaxSpeakers: 1, MaxParticipants: 1}},
		{name: "primetime in a group", kind: domain.KindPrimetime, title: "Marketing Analysis", groupID: "g1", wantStage: domain.StageLimits{MaxSpeakers: 1, MaxParticipants: 1}},
		{name: "title of 120 characters", kind: domain.KindInstant, title: strings.Repeat("a", 120), wantStage: domain.InstantStage},
		{name: "title of 120 characters in a multi-byte script", kind: domain.KindInstant, title: strings.Repeat("ж", 120), wantStage: domain.InstantStage},
		{name: "groupId of 64 characters", kind: domain.KindPrimetime, title: "t", groupID: strings.Repeat("g", 64), wantStage: domain.PrimetimeStage},

		{name: "empty kind", kind: "", title: "t", wantFields: []string{"kind"}},
		{name: "scheduled kind", kind: domain.KindScheduled, title: "t", wantFields: []string{"kind"}},
		{name: "unknown kind", kind: "webinar", title: "t", wantFields: []string{"kind"}},
		{name: "kind in the wrong case", kind: "Instant", title: "t", wantFields: []string{"kind"}},
		{name: "empty title", kind: domain.KindInstant, title: "", wantFields: []string{"title"}},
		{name: "title of 121 characters", kind: domain.KindPrimetime, title: strings.Repeat("a", 121), wantFields: []string{"title"}},
		{name: "groupId of 65 characters", kind: domain.KindPrimetime, title: "t", groupID: strings.Repeat("g", 65), wantFields: []string{"groupId"}},
		{name: "every bad field is named", kind: "x", title: "", groupID: strings.Repeat("g", 65), wantFields: []string{"kind", "title", "groupId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := domain.NewHostedSession(tt.kind, "host1", tt.title, tt.groupID, now)
			if len(tt.wantFields) > 0 {
				checkFields(t, err, tt.wantFields...)
				return
			}
			if err != nil {
				t.Fatalf("NewHostedSession: %v", err)
			}
			checkID(t, string(s.ID), 10)
			if s.Kind != tt.kind || s.Status != domain.StatusOpen {
				t.Errorf("kind/status = %s/%s, want %s/open", s.Kind, s.Status, tt.kind)
			}
			if s.HostID != "host1" || s.Title != tt.title || s.GroupID != tt.groupID {
				t.Errorf("host/title/group = %q/%q/%q", s.HostID, s.Title, s.GroupID)
			}
			capacity := domain.MaxCapacity
			if tt.kind == domain.KindPrimetime {
				capacity = domain.PrimetimeCapacity
			}
			if s.Capacity != capacity || s.SpotsLeft() != capacity {
				t.Errorf("capacity/spotsLeft = %d/%d, want %d", s.Capacity, s.SpotsLeft(), capacity)
			}
			if s.Stage != tt.wantStage {
				t.Errorf("Stage = %+v, want %+v", s.Stage, tt.wantStage)
			}
			if !s.Start.IsZero() || !s.End.IsZero() || s.EventID != "" || s.EmployerID != "" || len(s.Speakers) != 0 {
				t.Errorf("a hosted session carries scheduled fields: %+v", s)
			}
			if !s.CreatedAt.Equal(now) {
				t.Errorf("CreatedAt = %v, want %v", s.CreatedAt, now)
			}
		})
	}
}

func TestSessionSpotsLeft(t *testing.T) {
	tests := []struct {
		capacity, registered, want int
	}{
		{50, 0, 50},
		{50, 49, 1},
		{50, 50, 0},
		{50, 51, 0},
		{1, 100, 0},
		{0, 0, 0},
		{0, 3, 0},
	}
	for _, tt := range tests {
		s := domain.Session{Capacity: tt.capacity, Registered: tt.registered}
		if got := s.SpotsLeft(); got != tt.want {
			t.Errorf("capacity %d, registered %d: SpotsLeft() = %d, want %d", tt.capacity, tt.registered, got, tt.want)
		}
	}
}

func TestStatusOver(t *testing.T) {
	tests := []struct {
		status domain.Status
		want   bool
	}{
		{domain.StatusScheduled, false},
		{domain.StatusOpen, false},
		{domain.StatusLive, false},
		{domain.StatusEnded, true},
		{domain.StatusExpired, true},
		{"", false},
	}
	for _, tt := range tests {
		if got := tt.status.Over(); got != tt.want {
			t.Errorf("Status(%q).Over() = %v, want %v", tt.status, got, tt.want)
		}
	}
}

func TestSessionIsSpeaker(t *testing.T) {
	s := domain.Session{Speakers: []domain.UserID{"emp1", "u1"}}
	tests := []struct {
		user domain.UserID
		want bool
	}{{"emp1", true}, {"u1", true}, {"u2", false}, {"", false}}
	for _, tt := range tests {
		if got := s.IsSpeaker(tt.user); got != tt.want {
			t.Errorf("IsSpeaker(%q) = %v, want %v", tt.user, got, tt.want)
		}
	}
}

func TestNewID(t *testing.T) {
	if len(idAlphabet) != 32 {
		t.Fatalf("test alphabet has %d characters", len(idAlphabet))
	}
	for _, c := range "01lo" {
		if strings.ContainsRune(idAlphabet, c) {
			t.Fatalf("alphabet holds the ambiguous %q", c)
		}
	}
	for _, n := range []int{0, 1, 10, 12, 16, 64} {
		t.Run("", func(t *testing.T) { checkID(t, domain.NewID(n), n) })
	}

	// Every character of the alphabet turns up; ids do not repeat.
	seenChar := map[rune]bool{}
	seenID := map[string]bool{}
	for range 1000 {
		id := domain.NewID(16)
		checkID(t, id, 16)
		if seenID[id] {
			t.Fatalf("NewID(16) repeated %q", id)
		}
		seenID[id] = true
		for _, r := range id {
			seenChar[r] = true
		}
	}
	if len(seenChar) != len(idAlphabet) {
		t.Errorf("16000 characters used only %d of the %d letters", len(seenChar), len(idAlphabet))
	}
}
