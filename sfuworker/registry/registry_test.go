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
	"github.com/greenroom-live/greenroom/shared/sfuapi"
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
		if got := sfuapi.Live(w, start.Add(tt.after), 0); got != tt.live {
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
