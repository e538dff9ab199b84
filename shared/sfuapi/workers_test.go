package sfuapi_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
)

var start = time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)

func openStore(t *testing.T, clock domain.Clock) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "greenroom.db"), boltstore.WithClock(clock))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
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
			got, ok := sfuapi.Pick(tt.workers, now, sfuapi.DefaultInterval)
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
		got := make([]sfuapi.Assignment, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { got[i], errs[i] = sfuapi.Assign(t.Context(), db, id, views[i], start, 0) })
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
	a, err := sfuapi.Assign(t.Context(), db, s.ID, workers, start, 0)
	if err != nil || !a.Changed || a.Moved() || a.Session.Live.Media.WorkerID != "w1" {
		t.Fatalf("first Assign = %+v, %v", a, err)
	}
	a, err = sfuapi.Assign(t.Context(), db, s.ID, workers, start.Add(time.Second), 0)
	if err != nil || a.Changed || a.Worker.ID != "w1" {
		t.Fatalf("Assign with a live worker = %+v, %v; want kept", a, err)
	}
	later := start.Add(time.Minute)
	workers = append(workers, store.Worker{ID: "w2", ControlURL: "http://w2", HeartbeatAt: later})
	a, err = sfuapi.Assign(t.Context(), db, s.ID, workers, later, 0)
	if err != nil || !a.Moved() || a.Worker.ID != "w2" || a.Session.Live.Media != (domain.MediaAssignment{WorkerID: "w2", Epoch: 2}) {
		t.Fatalf("Assign with a lapsed worker = %+v, %v; want moved to w2 at epoch 2", a, err)
	}
	if a, err := sfuapi.Move(t.Context(), db, s.ID, "w1", workers, later, 0); err != nil || a.Changed || a.Worker.ID != "" {
		t.Fatalf("Move from a worker the session left = %+v, %v; want no change", a, err)
	}
	if _, err := sfuapi.Assign(t.Context(), db, s.ID, workers[:1], later, 0); !errors.Is(err, sfuapi.ErrNoWorker) {
		t.Fatalf("Assign without a live worker = %v, want ErrNoWorker", err)
	}
}

// A rush assigned from one list of workers, as every handler sees between
// two heartbeats, spreads over the workers: Pick would send it all to
// the one that looked least loaded.
func TestPickForSpreadsARush(t *testing.T) {
	now := start
	// Ids alike but for their last characters, as a fleet's are.
	var workers []store.Worker
	for i := range 50 {
		id := fmt.Sprintf("c0-w%04d", i)
		workers = append(workers, store.Worker{ID: id, ControlURL: "http://" + id, Capacity: 100, HeartbeatAt: now})
	}
	got := map[string]int{}
	for i := range 5000 {
		w, ok := sfuapi.PickFor(fmt.Sprintf("scheduled-%06d", i), workers, now, sfuapi.DefaultInterval)
		if !ok {
			t.Fatal("PickFor found no worker")
		}
		got[w.ID]++
	}
	// About 100 each; a hash that ranked by the ids' common prefix would
	// pile hundreds on a few.
	for _, w := range workers {
		if n := got[w.ID]; n < 40 || n > 200 {
			t.Errorf("PickFor gave %s %d of 5000 sessions, want about 100", w.ID, n)
		}
	}
	// The same session always has the same candidates, whatever the
	// order of the records.
	a, _ := sfuapi.PickFor("s7", workers, now, sfuapi.DefaultInterval)
	rev := slices.Clone(workers)
	slices.Reverse(rev)
	b, _ := sfuapi.PickFor("s7", rev, now, sfuapi.DefaultInterval)
	if a.ID != b.ID {
		t.Errorf("PickFor depends on the order of the records: %s, %s", a.ID, b.ID)
	}
}

func TestPickForTakesTheLessLoaded(t *testing.T) {
	now := start
	w := func(id string, load int, age time.Duration) store.Worker {
		return store.Worker{ID: id, ControlURL: "http://" + id, Capacity: 10, Load: load, HeartbeatAt: now.Add(-age)}
	}
	if _, ok := sfuapi.PickFor("s", nil, now, sfuapi.DefaultInterval); ok {
		t.Error("PickFor with no workers found one")
	}
	if got, _ := sfuapi.PickFor("s", []store.Worker{w("a", 9, 0), w("b", 0, time.Minute), w("c", 10, 0)}, now, sfuapi.DefaultInterval); got.ID != "a" {
		t.Errorf("PickFor = %s, want the only eligible worker a", got.ID)
	}
	// With two workers both are candidates: the less loaded wins.
	for i := range 20 {
		id := fmt.Sprintf("s%d", i)
		if got, _ := sfuapi.PickFor(id, []store.Worker{w("a", 5, 0), w("b", 2, 0)}, now, sfuapi.DefaultInterval); got.ID != "b" {
			t.Errorf("PickFor(%s) = %s, want the less loaded b", id, got.ID)
		}
	}
}

func TestClaim(t *testing.T) {
	ws := []store.Worker{{ID: "a", Load: 2, Rooms: []string{"r1"}}, {ID: "b"}}
	got := sfuapi.Claim(ws, "a", "r2", 3)
	if got[0].Load != 5 || len(got[0].Rooms) != 2 || got[1].Load != 0 {
		t.Errorf("Claim = %+v, want a with 5 members in 2 rooms", got)
	}
	if ws[0].Load != 2 || len(ws[0].Rooms) != 1 {
		t.Errorf("Claim changed its input: %+v", ws)
	}
	if again := sfuapi.Claim(got, "a", "r2", 3); again[0].Load != 5 {
		t.Errorf("Claim of a listed room counted it again: %+v", again[0])
	}
}
