package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// partial keeps of s only the members named, as a store hands a rule the
// few items it reads.
func partial(t testing.TB, s *domain.Session, keep ...domain.UserID) *domain.Session {
	t.Helper()
	c := clone(t, s)
	c.Live.Members = slices.DeleteFunc(c.Live.Members, func(m domain.Member) bool { return !slices.Contains(keep, m.UserID) })
	c.Live.Partial = true
	return &c
}

// TestCountsLiveOnTheSession: the facts that count members (seats, spots,
// questions) are the session's own, so a rule handed a few members
// decides as it would with all of them.
func TestCountsLiveOnTheSession(t *testing.T) {
	t.Run("a full stage is full without its members", func(t *testing.T) {
		full := with(scheduledLive, seated("emp", "u1", "u2", "u3", "u4", "u5", "u6"), raised("u7"))(t)
		p := partial(t, full, "emp", "u7")
		refused(t, p, domain.ErrStageFull, func(s *domain.Session) ([]domain.Change, error) { return s.Approve("emp", "u7") })
	})
	t.Run("primetime sends back a speaker it did not read", func(t *testing.T) {
		s := with(primetimeLive, seated("host", "a"), raised("b"))(t)
		p := partial(t, s, "host", "b")
		ch, err := p.Approve("host", "b")
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(ch); !slices.Equal(got, []string{"stage.changed a off", "hand.approved b", "stage.changed b on"}) {
			t.Fatalf("changes %q", got)
		}
		if got := p.OnStage(); !slices.Equal(got, []domain.UserID{"host", "b"}) {
			t.Fatalf("stage %v", got)
		}
	})
	t.Run("the presenter takes the seat of a member not read", func(t *testing.T) {
		s := with(instantOpen, raised("w1"), func(t testing.TB, s *domain.Session) { must(t)(s.Approve("host", "w1")) })(t)
		p := partial(t, s, "host", "p1")
		if ch, err := p.AssignPresenter("host", "p1"); err != nil || !slices.Equal(summary(ch), []string{"stage.changed w1 off", "presenter.assigned p1", "stage.changed p1 on"}) {
			t.Fatalf("AssignPresenter = %q, %v", summary(ch), err)
		}
	})
	t.Run("questions are counted, not listed", func(t *testing.T) {
		s := primetimeOpen(t)
		s.Live.QuestionCount = domain.MaxQuestions
		refused(t, s, domain.ErrQuestionsFull, func(s *domain.Session) ([]domain.Change, error) { return s.Ask("a", "q1", "Why?", at(1)) })
		if !errors.Is(domain.ErrQuestionsFull, domain.ErrConflict) {
			t.Fatal("a full Q&A is not a conflict")
		}
	})
	t.Run("spots are counted: a full room asks for every member", func(t *testing.T) {
		s := with(instantOpen, func(_ testing.TB, s *domain.Session) { s.Capacity = 3 })(t)
		p := partial(t, s, "host")
		refused(t, p, domain.ErrPartial, func(s *domain.Session) ([]domain.Change, error) {
			return s.Admit(domain.Joiner{UserID: "p9", Name: "New", Device: web}, at(1))
		})
		// With room to spare, a partial session admits on the count.
		s.Capacity = 4
		p = partial(t, s, "host")
		must(t)(p.Admit(domain.Joiner{UserID: "p9", Name: "New", Device: web}, at(1)))
		if p.Live.Spots != 4 {
			t.Fatalf("spots %d, want 4", p.Live.Spots)
		}
	})
	t.Run("the counts follow the rules", func(t *testing.T) {
		s := with(scheduledLive, seated("emp", "u1"))(t)
		// emp and sp2 took speaker seats, u1 a participant seat; r1 and r2
		// hold their registration's spots, u1…u7 one spot each.
		if got, want := s.Live.Stage, []domain.Seat{{UserID: "emp", Speaker: true}, {UserID: "sp2", Speaker: true}, {UserID: "u1"}}; !slices.Equal(got, want) {
			t.Fatalf("seats %v, want %v", got, want)
		}
		if s.Live.Spots != 7 {
			t.Fatalf("spots %d, want 7", s.Live.Spots)
		}
		must(t)(s.RemoveMember("emp", "u1"))
		if s.Live.Spots != 6 || s.Seated("u1") {
			t.Fatalf("after removing u1: spots %d, seated %v", s.Live.Spots, s.Seated("u1"))
		}
	})
}

// TestPrune: a member gone past PruneAfter, holding nothing, leaves the
// list and its spot; host, presenter and removed members stay; the state
// version never goes back.
func TestPrune(t *testing.T) {
	s := with(instantReady, func(t testing.TB, s *domain.Session) {
		for i := range s.Live.Members {
			s.Live.Members[i].Version = 3 // as a store keeps them
		}
		s.Version = 5
	}, dropped(at(10), "host", "p1", "p2"))(t)
	before := s.StateVersion()
	due := s.MemberDue(member(t, s, "p2"))
	if !due.Equal(at(10).Add(domain.PruneAfter)) {
		t.Fatalf("p2 due %v, want %v", due, at(10).Add(domain.PruneAfter))
	}
	if d := s.MemberDue(member(t, s, "host")); !d.IsZero() {
		t.Fatalf("the away host is due at %v, want never", d)
	}
	if d := s.MemberDue(member(t, s, "w1")); !d.IsZero() {
		t.Fatalf("the connected w1 is due at %v, want never (its connection is)", d)
	}
	if ch := s.Prune(due.Add(-time.Second)); ch != nil {
		t.Fatalf("Prune before the hold ended: %q", summary(ch))
	}
	ch := s.Prune(due)
	if got := summary(ch); !slices.Equal(got, []string{"member.pruned p2"}) {
		t.Fatalf("Prune = %q, want p2 alone (the host and the presenter keep their seats)", got)
	}
	if _, ok := s.Member("p2"); ok || s.Live.Spots != 2 {
		t.Fatalf("p2 still listed or its spot kept: spots %d", s.Live.Spots)
	}
	if after := s.StateVersion(); after < before {
		t.Fatalf("StateVersion went back from %d to %d", before, after)
	}
	// Back later, p2 is admitted as a newcomer.
	must(t)(s.Admit(domain.Joiner{UserID: "p2", Name: "Again", Device: mobile}, at(20)))
	if m := member(t, s, "p2"); m.Name != "Again" || !m.Spot || s.Live.Spots != 3 {
		t.Fatalf("p2 back: %+v, spots %d", m, s.Live.Spots)
	}
	// A partial session prunes nothing.
	p := partial(t, s, "w1")
	if ch := p.Prune(at(100)); ch != nil {
		t.Fatalf("a partial session pruned %q", summary(ch))
	}
}

// TestPruneIsBounded: one call prunes at most MaxMembersPerTick members.
func TestPruneIsBounded(t *testing.T) {
	s, err := domain.NewHostedSession(domain.KindPrimetime, "host", "Crowd", "", at(-1))
	if err != nil {
		t.Fatal(err)
	}
	join(t, &s, "host", web, false, at(0))
	const n = domain.MaxMembersPerTick + 5
	for i := range n {
		u := domain.UserID(string(rune('A'+i%26)) + string(rune('a'+i/26)))
		join(t, &s, u, web, false, at(0))
		must(t)(s.Disconnect(conn(u), at(1)))
	}
	if got := len(s.Prune(at(10))); got != domain.MaxMembersPerTick {
		t.Fatalf("first Prune pruned %d, want %d", got, domain.MaxMembersPerTick)
	}
	if got := len(s.Prune(at(10))); got != 5 {
		t.Fatalf("second Prune pruned %d, want 5", got)
	}
}

// TestRate: a burst, then one use every Every; a burst straddling any
// boundary passes no more than Window says (no fixed windows).
func TestRate(t *testing.T) {
	r := domain.Rate{Burst: 5, Every: 2 * time.Second}
	t0 := at(0)
	var tat time.Time
	for i := range 5 {
		next, ok, _ := r.Take(tat, t0)
		if !ok {
			t.Fatalf("use %d of the burst refused", i+1)
		}
		tat = next
	}
	if _, ok, wait := r.Take(tat, t0); ok || wait != 2*time.Second {
		t.Fatalf("sixth use at once: ok %v, retry after %v; want refused for 2s", ok, wait)
	}
	if _, ok, _ := r.Take(tat, t0.Add(2*time.Second)); !ok {
		t.Fatal("refused after waiting the retry time")
	}
	// Flood every 100 ms for a minute: no 10-second window holds more
	// than Window(10 s) uses.
	tat = time.Time{}
	var passed []time.Time
	for i := range 600 {
		now := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		if next, ok, _ := r.Take(tat, now); ok {
			tat = next
			passed = append(passed, now)
		}
	}
	limit := r.Window(10 * time.Second)
	if limit != 10 {
		t.Fatalf("Window(10 s) = %d, want 10", limit)
	}
	for i := range passed {
		in := 0
		for _, p := range passed[i:] {
			if p.Sub(passed[i]) < 10*time.Second {
				in++
			}
		}
		if in > limit {
			t.Fatalf("%d uses within 10 s from %v, more than %d", in, passed[i], limit)
		}
	}
}

func TestTextFits(t *testing.T) {
	for _, tc := range []struct {
		s     string
		chars int
		bytes int
		want  bool
	}{
		{"hello", 5, 15, true},
		{"hello!", 5, 15, false},
		{"ééé", 3, 6, true},
		{"ééé", 3, 5, false},
		{"🙂🙂", 2, 6, false},
		{string([]byte{0xff}), 5, 5, false},
	} {
		if got := domain.TextFits(tc.s, tc.chars, tc.bytes); got != tc.want {
			t.Errorf("TextFits(%q, %d, %d) = %v, want %v", tc.s, tc.chars, tc.bytes, got, tc.want)
		}
	}
	if domain.Printable("a\u0001b") || !domain.Printable("Zoë 🙂") {
		t.Error("Printable is wrong about control characters")
	}
}

// TestListeners: events go to connections that asked for the state, or
// that connected ConnectGrace ago; one that only just connected reads
// them in the state it asks for (Sync marks it first).
func TestListeners(t *testing.T) {
	s := primetimeOpen(t) // everyone connected at t0
	now := at(0).Add(time.Second)
	if got := s.Listeners(now); len(got) != 0 {
		t.Fatalf("listeners %v a second after connecting, before any state", got)
	}
	must(t)(s.Sync("a", conn("a")))
	if got := s.Listeners(now); !slices.Equal(got, []domain.ConnectionID{conn("a")}) {
		t.Fatalf("listeners %v, want a's alone", got)
	}
	if _, err := s.Sync("a", conn("a")); !errors.Is(err, domain.ErrNoChange) {
		t.Fatalf("second Sync: %v, want ErrNoChange", err)
	}
	if _, err := s.Sync("b", "c-old"); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Sync of a replaced connection: %v, want ErrConflict", err)
	}
	if got := s.Listeners(at(0).Add(domain.ConnectGrace)); len(got) != 4 {
		t.Fatalf("listeners %v after the grace, want every connection", got)
	}
	// A new connection asks again.
	must(t)(s.Connect("a", "c-a2", at(1)))
	if got := s.Listeners(at(1)); slices.Contains(got, "c-a2") {
		t.Fatalf("a's new connection listens before asking: %v", got)
	}
}
