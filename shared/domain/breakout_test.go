package domain_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

var bt0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// breakoutSession is a live primetime session with a host and n connected
// participants p00..p(n-1).
func breakoutSession(t *testing.T, n int) *domain.Session {
	t.Helper()
	s, err := domain.NewHostedSession(domain.KindPrimetime, "host", "Workshop", "", bt0)
	if err != nil {
		t.Fatal(err)
	}
	admit := func(u domain.UserID) {
		if _, err := s.Admit(domain.Joiner{UserID: u, Name: string(u), Device: domain.DeviceWeb}, bt0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Connect(u, domain.ConnectionID("c-"+u), bt0); err != nil {
			t.Fatal(err)
		}
	}
	admit("host")
	for i := range n {
		admit(domain.UserID(fmt.Sprintf("p%02d", i)))
	}
	if _, err := s.StartSession("host", bt0); err != nil {
		t.Fatal(err)
	}
	return &s
}

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Room %d", i+1)
	}
	return out
}

func snapshot(s *domain.Session) domain.Session {
	c := *s
	c.Live.Members = append([]domain.Member(nil), s.Live.Members...)
	return c
}

func TestConfigureBreakoutRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		actor domain.UserID
		cfg   domain.BreakoutConfig
		err   error
		field string
	}{
		"eleven rooms":        {"host", domain.BreakoutConfig{Rooms: names(11)}, nil, "rooms"},
		"no rooms":            {"host", domain.BreakoutConfig{}, nil, "rooms"},
		"31 characters":       {"host", domain.BreakoutConfig{Rooms: []string{strings.Repeat("a", 31)}}, nil, "rooms[0].name"},
		"empty name":          {"host", domain.BreakoutConfig{Rooms: []string{"A", "  "}}, nil, "rooms[1].name"},
		"duplicate name":      {"host", domain.BreakoutConfig{Rooms: []string{"Team", "team "}}, nil, "rooms[1].name"},
		"unknown member":      {"host", domain.BreakoutConfig{Rooms: names(2), Assign: map[domain.UserID]int{"ghost": 0}}, nil, "assign.ghost"},
		"room out of range":   {"host", domain.BreakoutConfig{Rooms: names(2), Assign: map[domain.UserID]int{"p00": 2}}, nil, "assign.p00"},
		"participant refused": {"p00", domain.BreakoutConfig{Rooms: names(2)}, domain.ErrForbidden, ""},
	} {
		t.Run(name, func(t *testing.T) {
			s := breakoutSession(t, 4)
			before := snapshot(s)
			ch, err := s.ConfigureBreakout(tc.actor, tc.cfg)
			if ch != nil {
				t.Fatalf("changes %v", ch)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
			} else {
				var fe domain.FieldErrors
				if !errors.As(err, &fe) || fe[tc.field] == "" {
					t.Fatalf("got %v, want a field error on %s", err, tc.field)
				}
			}
			if !reflect.DeepEqual(before, *s) {
				t.Fatal("a refused configure changed the session")
			}
		})
	}
	t.Run("30 characters in a multi-byte script", func(t *testing.T) {
		s := breakoutSession(t, 1)
		if _, err := s.ConfigureBreakout("host", domain.BreakoutConfig{Rooms: []string{strings.Repeat("會", 30), strings.Repeat("🙂", 30)}}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAutoAssignIsBalancedAndStable(t *testing.T) {
	run := func() map[domain.UserID]int {
		s := breakoutSession(t, 47)
		if _, err := s.ConfigureBreakout("host", domain.BreakoutConfig{Rooms: names(10), Auto: true}); err != nil {
			t.Fatal(err)
		}
		return s.Live.Breakout.Assign
	}
	a := run()
	sizes := make([]int, 10)
	for u, i := range a {
		if u == "host" {
			t.Fatal("the host was placed automatically")
		}
		sizes[i]++
	}
	for i, n := range sizes {
		if n != 4 && n != 5 {
			t.Fatalf("room %d holds %d (sizes %v)", i, n, sizes)
		}
	}
	if len(a) != 47 {
		t.Fatalf("%d placed, want 47", len(a))
	}
	if b := run(); !reflect.DeepEqual(a, b) {
		t.Fatal("automatic assignment differs on the same input")
	}
}

func TestAutoFillsAroundHandPlacements(t *testing.T) {
	s := breakoutSession(t, 6)
	hand := map[domain.UserID]int{"p00": 0, "p01": 0, "p02": 0, "host": 1}
	if _, err := s.ConfigureBreakout("host", domain.BreakoutConfig{Rooms: names(2), Assign: hand, Auto: true}); err != nil {
		t.Fatal(err)
	}
	a := s.Live.Breakout.Assign
	for u, i := range hand {
		if a[u] != i {
			t.Fatalf("hand placement of %s moved to %d", u, a[u])
		}
	}
	sizes := make([]int, 2)
	for _, i := range a {
		sizes[i]++
	}
	if d := sizes[0] - sizes[1]; d > 1 || d < -1 || len(a) != 7 {
		t.Fatalf("sizes %v after filling around hand placements: %v", sizes, a)
	}
}

func TestOpenMoveCloseAndTimer(t *testing.T) {
	s := breakoutSession(t, 4)
	if _, err := s.OpenBreakout("host", bt0); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("open before configure: %v", err)
	}
	if _, err := s.ConfigureBreakout("host", domain.BreakoutConfig{Rooms: names(2), Assign: map[domain.UserID]int{"p00": 0, "p01": 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenBreakout("p00", bt0); !errors.Is(err, domain.ErrForbidden) {
		t.Fatalf("participant open: %v", err)
	}
	ch, err := s.OpenBreakout("host", bt0)
	if err != nil || ch[0].Event != "breakout.opened" || len(ch) != 3 {
		t.Fatalf("open: %v %v", ch, err)
	}
	if m, _ := s.Member("p00"); m.Room == nil || *m.Room != 0 {
		t.Fatal("p00 not in room 0")
	}
	if m, _ := s.Member("p02"); m.Room != nil {
		t.Fatal("unassigned p02 left the main room")
	}
	// Publishing: the main stage in the main room, everyone in a room.
	pub := s.Publishers()
	if !pub["host"] || !pub["p00"] || !pub["p01"] || pub["p02"] {
		t.Fatalf("publishers %v", pub)
	}
	one := 1
	if _, err := s.MoveToRoom("host", "p00", &one); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MoveToRoom("host", "p00", &one); !errors.Is(err, domain.ErrNoChange) {
		t.Fatalf("repeat move: %v", err)
	}
	// Hosts visit any room.
	if _, err := s.MoveToRoom("host", "host", &one); err != nil {
		t.Fatal(err)
	}
	if got := s.ConnectionsIn(&one); len(got) != 3 {
		t.Fatalf("room 1 connections %v", got)
	}
	if got := s.ConnectionsIn(nil); len(got) != 2 {
		t.Fatalf("main room connections %v", got)
	}
	if _, err := s.SetBreakoutTimer("host", 10, 0, bt0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetBreakoutTimer("host", 5, 0, bt0.Add(time.Minute)); err != nil { // extends
		t.Fatal(err)
	}
	var fe domain.FieldErrors
	if _, err := s.SetBreakoutTimer("host", 5, time.Hour, bt0); !errors.As(err, &fe) || fe["warnSeconds"] == "" {
		t.Fatalf("an hour's warning: %v", err)
	}
	end := bt0.Add(15 * time.Minute)
	if !s.Live.Breakout.EndsAt.Equal(end) || !s.NextDue().Equal(end.Add(-domain.BreakoutWarning)) {
		t.Fatalf("ends %v, due %v", s.Live.Breakout.EndsAt, s.NextDue())
	}
	if ch := s.Tick(end.Add(-domain.BreakoutWarning)); len(ch) != 1 || ch[0].Event != "breakout.closing" {
		t.Fatalf("warning: %v", ch)
	}
	if ch := s.Tick(end.Add(-domain.BreakoutWarning / 2)); len(ch) != 0 {
		t.Fatalf("warned twice: %v", ch)
	}
	ch = s.Tick(end)
	if len(ch) == 0 || ch[0].Event != "breakout.closed" {
		t.Fatalf("timer end: %v", ch)
	}
	for _, m := range s.Live.Members {
		if m.Room != nil {
			t.Fatalf("%s still in room %d", m.UserID, *m.Room)
		}
	}
	if _, err := s.CloseBreakout("host", end); !errors.Is(err, domain.ErrNoChange) {
		t.Fatalf("closing twice: %v", err)
	}
	// Reopening uses the last assignment, including moves.
	if _, err := s.OpenBreakout("host", end); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Member("p00"); m.Room == nil || *m.Room != 1 {
		t.Fatal("p00 did not return to room 1")
	}
	// A member removed from the session leaves its room too.
	if _, err := s.RemoveMember("host", "p00"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Live.Breakout.Assign["p00"]; ok {
		t.Fatal("removed member still assigned")
	}
}

func TestBreakoutWarningIsConfigurable(t *testing.T) {
	s := breakoutSession(t, 2)
	if _, err := s.ConfigureBreakout("host", domain.BreakoutConfig{Rooms: names(1), Auto: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenBreakout("host", bt0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetBreakoutTimer("host", 10, 5*time.Minute, bt0); err != nil {
		t.Fatal(err)
	}
	end := bt0.Add(10 * time.Minute)
	if due := s.NextDue(); !due.Equal(end.Add(-5 * time.Minute)) {
		t.Fatalf("due %v", due)
	}
	if ch := s.Tick(end.Add(-5*time.Minute - time.Second)); len(ch) != 0 {
		t.Fatalf("warned early: %v", ch)
	}
	if ch := s.Tick(end.Add(-5 * time.Minute)); len(ch) != 1 || ch[0].Event != "breakout.closing" {
		t.Fatalf("warning: %v", ch)
	}
}
