package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/registry"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
)

var start = time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)

// source is a worker whose stats and rooms the test sets.
type source struct {
	mu    sync.Mutex
	stats sfu.Stats
	rooms []sfu.RoomID
}

func (s *source) Stats() sfu.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *source) Rooms() []sfu.RoomID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rooms)
}

func openStore(t *testing.T, clock domain.Clock) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "greenroom.db"), boltstore.WithClock(clock))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestHeartbeat(t *testing.T) {
	clock := domain.NewManualClock(start)
	db := openStore(t, clock)
	src := &source{stats: sfu.Stats{Rooms: 2, Members: 7}, rooms: []sfu.RoomID{"s2", "s1"}}
	hb, err := registry.NewHeartbeat(registry.Config{Store: db, Source: src, ID: "w1", ControlURL: "http://127.0.0.1:7000", Capacity: 50, Clock: clock})
	if err != nil {
		t.Fatalf("NewHeartbeat: %v", err)
	}
	if err := hb.Beat(t.Context()); err != nil {
		t.Fatalf("Beat: %v", err)
	}
	ws, err := db.ListWorkers(t.Context())
	if err != nil || len(ws) != 1 {
		t.Fatalf("ListWorkers = %v, %v", ws, err)
	}
	w := ws[0]
	if w.ID != "w1" || w.ControlURL != "http://127.0.0.1:7000" || w.Capacity != 50 || w.Load != 7 ||
		!slices.Equal(w.Rooms, []string{"s1", "s2"}) || w.Draining || !w.HeartbeatAt.Equal(start) {
		t.Fatalf("record = %+v", w)
	}
	for _, tt := range []struct {
		after time.Duration
		live  bool
	}{{0, true}, {registry.LapseAfter*registry.DefaultInterval - time.Second, true}, {registry.LapseAfter * registry.DefaultInterval, false}} {
		if got := registry.Live(w, start.Add(tt.after), 0); got != tt.live {
			t.Errorf("Live %v after the heartbeat = %v, want %v", tt.after, got, tt.live)
		}
	}

	clock.Advance(time.Minute)
	hb.SetDraining(true)
	src.mu.Lock()
	src.stats.Members, src.rooms = 1, []sfu.RoomID{"s1"}
	src.mu.Unlock()
	if err := hb.Beat(t.Context()); err != nil {
		t.Fatalf("Beat: %v", err)
	}
	ws, _ = db.ListWorkers(t.Context())
	if len(ws) != 1 || ws[0].Load != 1 || !ws[0].Draining || !slices.Equal(ws[0].Rooms, []string{"s1"}) || !ws[0].HeartbeatAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("record after the second beat = %+v", ws)
	}
	if err := hb.Deregister(t.Context()); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	if ws, _ = db.ListWorkers(t.Context()); len(ws) != 0 {
		t.Fatalf("ListWorkers after Deregister = %+v", ws)
	}
	if _, err := registry.NewHeartbeat(registry.Config{Store: db, Source: src, ID: "w1"}); !errors.Is(err, registry.ErrIncomplete) {
		t.Errorf("NewHeartbeat without a URL = %v, want ErrIncomplete", err)
	}
}

func TestRunBeatsUntilStopped(t *testing.T) {
	db := openStore(t, domain.SystemClock{})
	hb, err := registry.NewHeartbeat(registry.Config{Store: db, Source: &source{}, ID: "w1", ControlURL: "http://127.0.0.1:7000", Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		hb.Run(ctx)
	}()
	var first time.Time
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, _ := db.ListWorkers(t.Context())
		if len(ws) == 1 {
			if first.IsZero() {
				first = ws[0].HeartbeatAt
			} else if ws[0].HeartbeatAt.After(first) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the heartbeat was not written twice")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestPick(t *testing.T) {
	now := start
	w := func(id string, load, capacity int, age time.Duration, draining bool) store.Worker {
		return store.Worker{ID: id, ControlURL: "http://" + id, Load: load, Capacity: capacity, HeartbeatAt: now.Add(-age), Draining: draining}
	}
	tests := []struct {
		name    string
		workers []store.Worker
		want    string
	}{
		{"none", nil, ""},
		{"least loaded", []store.Worker{w("a", 5, 10, 0, false), w("b", 2, 10, 0, false), w("c", 3, 10, 0, false)}, "b"},
		{"tie by id", []store.Worker{w("b", 2, 10, 0, false), w("a", 2, 10, 0, false)}, "a"},
		{"lapsed skipped", []store.Worker{w("a", 0, 10, 15*time.Second, false), w("b", 9, 10, 14*time.Second, false)}, "b"},
		{"full skipped", []store.Worker{w("a", 10, 10, 0, false), w("b", 11, 20, 0, false)}, "b"},
		{"draining skipped", []store.Worker{w("a", 0, 10, 0, true)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := registry.Pick(tt.workers, now, registry.DefaultInterval)
			if got.ID != tt.want || ok != (tt.want != "") {
				t.Errorf("Pick = %q, %v; want %q", got.ID, ok, tt.want)
			}
		})
	}
}

// newSession stores a hosted session and returns it.
func newSession(t *testing.T, db store.Store) domain.Session {
	t.Helper()
	s, err := domain.NewHostedSession(domain.KindInstant, domain.UserID("host-"+domain.NewID(6)), "Now", "", start)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAssignRace(t *testing.T) {
	clock := domain.NewManualClock(start)
	db := openStore(t, clock)
	s := newSession(t, db)
	// Each caller has its own view of the loads, as two Lambda instances
	// with caches of different ages would: alone, each picks another
	// worker.
	views := [][]store.Worker{
		{{ID: "w1", ControlURL: "http://w1", Capacity: 10, Load: 0, HeartbeatAt: start}, {ID: "w2", ControlURL: "http://w2", Capacity: 10, Load: 5, HeartbeatAt: start}},
		{{ID: "w1", ControlURL: "http://w1", Capacity: 10, Load: 5, HeartbeatAt: start}, {ID: "w2", ControlURL: "http://w2", Capacity: 10, Load: 0, HeartbeatAt: start}},
	}
	for round := range 20 {
		id := s.ID
		if round > 0 {
			id = newSession(t, db).ID
		}
		var wg sync.WaitGroup
		got := make([]registry.Assignment, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { got[i], errs[i] = registry.Assign(t.Context(), db, id, views[i], start, 0) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Assign %d: %v", i, err)
			}
		}
		if got[0].Worker.ID != got[1].Worker.ID {
			t.Fatalf("round %d: the callers were told %q and %q", round, got[0].Worker.ID, got[1].Worker.ID)
		}
		if got[0].Changed == got[1].Changed {
			t.Fatalf("round %d: Changed = %v and %v, want exactly one writer", round, got[0].Changed, got[1].Changed)
		}
		stored, err := db.GetSession(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Live.Media != (domain.MediaAssignment{WorkerID: got[0].Worker.ID, Epoch: 1}) {
			t.Fatalf("stored assignment %+v, want %s at epoch 1", stored.Live.Media, got[0].Worker.ID)
		}
	}
}

func TestAssignKeepsLiveAndReplacesLapsed(t *testing.T) {
	clock := domain.NewManualClock(start)
	db := openStore(t, clock)
	s := newSession(t, db)
	workers := []store.Worker{{ID: "w1", ControlURL: "http://w1", HeartbeatAt: start}}
	a, err := registry.Assign(t.Context(), db, s.ID, workers, start, 0)
	if err != nil || !a.Changed || a.Moved() || a.Session.Live.Media.WorkerID != "w1" {
		t.Fatalf("first Assign = %+v, %v", a, err)
	}
	a, err = registry.Assign(t.Context(), db, s.ID, workers, start.Add(time.Second), 0)
	if err != nil || a.Changed || a.Worker.ID != "w1" {
		t.Fatalf("Assign with a live worker = %+v, %v; want kept", a, err)
	}
	later := start.Add(time.Minute)
	workers = append(workers, store.Worker{ID: "w2", ControlURL: "http://w2", HeartbeatAt: later})
	a, err = registry.Assign(t.Context(), db, s.ID, workers, later, 0)
	if err != nil || !a.Moved() || a.Worker.ID != "w2" || a.Session.Live.Media != (domain.MediaAssignment{WorkerID: "w2", Epoch: 2}) {
		t.Fatalf("Assign with a lapsed worker = %+v, %v; want moved to w2 at epoch 2", a, err)
	}
	if a, err := registry.Move(t.Context(), db, s.ID, "w1", workers, later, 0); err != nil || a.Changed || a.Worker.ID != "" {
		t.Fatalf("Move from a worker the session left = %+v, %v; want no change", a, err)
	}
	if _, err := registry.Assign(t.Context(), db, s.ID, workers[:1], later, 0); !errors.Is(err, registry.ErrNoWorker) {
		t.Fatalf("Assign without a live worker = %v, want ErrNoWorker", err)
	}
}
