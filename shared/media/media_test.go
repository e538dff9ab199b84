package media_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/control"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/media"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
)

const secret = "0123456789abcdef-test-secret"

var start = time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)

// call is one call a fake worker received.
type call struct {
	Op     string
	Room   sfu.RoomID
	State  sfu.RoomState
	Member sfu.MemberID
	Type   string
}

// fakeWorker records the calls its control server passes on. While
// missing is set, Signal answers sfu.ErrNoRoom once per room until the
// room's state is applied.
type fakeWorker struct {
	mu      sync.Mutex
	calls   []call
	rooms   map[sfu.RoomID]bool
	missing bool
	refuse  error // Signal's answer, when set.
}

func (f *fakeWorker) Apply(_ context.Context, st sfu.RoomState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{Op: "apply", Room: st.Room, State: st})
	f.rooms[st.Room] = true
	return nil
}

func (f *fakeWorker) Signal(_ context.Context, room sfu.RoomID, member sfu.MemberID, msgType string, _ json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.missing && !f.rooms[room] {
		return sfu.ErrNoRoom
	}
	f.calls = append(f.calls, call{Op: "signal", Room: room, Member: member, Type: msgType})
	return f.refuse
}

func (f *fakeWorker) CloseRoom(_ context.Context, room sfu.RoomID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{Op: "close", Room: room})
	delete(f.rooms, room)
	return nil
}

func (f *fakeWorker) Rooms() []sfu.RoomID {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sfu.RoomID
	for r := range f.rooms {
		out = append(out, r)
	}
	return out
}

func (f *fakeWorker) Stats() sfu.Stats { return sfu.Stats{} }

func (f *fakeWorker) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// ops returns the operations of the calls, in order.
func ops(calls []call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Op)
	}
	return out
}

// env is a store, a clock and workers behind real control servers.
type env struct {
	t       *testing.T
	clock   *domain.ManualClock
	db      *boltstore.DB
	workers map[string]*fakeWorker
	servers map[string]*control.Server
	urls    map[string]string
}

func newEnv(t *testing.T, ids ...string) *env {
	t.Helper()
	clock := domain.NewManualClock(start)
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "greenroom.db"), boltstore.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e := &env{t: t, clock: clock, db: db, workers: map[string]*fakeWorker{}, servers: map[string]*control.Server{}, urls: map[string]string{}}
	for _, id := range ids {
		w := &fakeWorker{rooms: map[sfu.RoomID]bool{}}
		s, err := control.New(control.Config{Worker: w, Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		e.workers[id], e.servers[id], e.urls[id] = w, s, srv.URL
		e.beat(id, 0, clock.Now())
	}
	return e
}

// beat writes worker id's record with load, as of at.
func (e *env) beat(id string, load int, at time.Time, rooms ...string) {
	e.t.Helper()
	err := e.db.PutWorker(e.t.Context(), store.Worker{ID: id, ControlURL: e.urls[id], Capacity: 100, Load: load, Rooms: rooms, HeartbeatAt: at})
	if err != nil {
		e.t.Fatal(err)
	}
}

// media returns a Media on st (the env's store when nil).
func (e *env) media(st media.Store) *media.Media {
	e.t.Helper()
	if st == nil {
		st = e.db
	}
	m, err := media.New(media.Config{Store: st, Secret: secret, Clock: e.clock})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// session stores a live session with two connected members, the host on
// stage, and returns it as stored.
func (e *env) session(assigned domain.MediaAssignment) domain.Session {
	e.t.Helper()
	host := domain.UserID("host-" + domain.NewID(6))
	s, err := domain.NewHostedSession(domain.KindInstant, host, "Now", "", start)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.CreateSession(e.t.Context(), s); err != nil {
		e.t.Fatal(err)
	}
	s, err = e.db.UpdateSession(e.t.Context(), s.ID, func(s *domain.Session) error {
		s.Status = domain.StatusLive
		s.Live.Members = []domain.Member{
			{UserID: host, Role: domain.RoleHost, OnStage: true, Mic: true, Cam: true, Connected: true, ConnectionID: "c-host"},
			{UserID: "guest", Role: domain.RoleParticipant, Mic: true, Connected: true, ConnectionID: "c-guest"},
		}
		s.Live.Stage = []domain.Seat{{UserID: host, Speaker: true}}
		s.Live.Media = assigned
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) stored(id domain.SessionID) domain.Session {
	e.t.Helper()
	s, err := e.db.GetSession(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func TestRoomState(t *testing.T) {
	two := 2
	s := domain.Session{ID: "s1", Version: 42, Stage: domain.DefaultStage, Live: domain.Live{Members: []domain.Member{
		{UserID: "a", OnStage: true, Mic: true, Cam: true, Connected: true, ConnectionID: "ca", Room: &two},
		{UserID: "b", Mic: false, Cam: true, Connected: true, ConnectionID: "cb"},
		{UserID: "c", Connected: false, ConnectionID: "cc"},
		{UserID: "d", Connected: true, ConnectionID: "cd", Removed: true},
		{UserID: "e", Connected: true},
	}}}
	want := []sfuapi.MemberState{
		{ID: "a", Connection: "ca", Publish: true, Mic: true, Cam: true, Group: sfuapi.MainGroup},
		{ID: "b", Connection: "cb", Cam: true, Group: sfuapi.MainGroup},
	}
	for _, status := range []domain.BreakoutStatus{domain.BreakoutNone, domain.BreakoutConfigured, domain.BreakoutOpen} {
		s.Live.Breakout.Status = status
		st := media.RoomState(s)
		if status == domain.BreakoutOpen {
			want[0].Group = 2
		}
		if st.Room != "s1" || st.Version != 42 || !slices.Equal(st.Members, want) {
			t.Errorf("breakout %s: RoomState = %+v, want %+v", status, st, want)
		}
	}
	if st := media.RoomState(domain.Session{ID: "empty"}); st.Members == nil {
		t.Error("RoomState of an empty session has nil members, want []")
	}
}

func TestSyncAssignsAndPushes(t *testing.T) {
	e := newEnv(t, "w1")
	m := e.media(nil)
	s := e.session(domain.MediaAssignment{})
	if err := m.Sync(t.Context(), s); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	stored := e.stored(s.ID)
	if stored.Live.Media != (domain.MediaAssignment{WorkerID: "w1", Epoch: 1}) {
		t.Fatalf("assignment = %+v, want w1 at epoch 1", stored.Live.Media)
	}
	calls := e.workers["w1"].Calls()
	if len(calls) != 1 || calls[0].Op != "apply" || calls[0].State.Version != stored.StateVersion() || len(calls[0].State.Members) != 2 {
		t.Fatalf("w1 calls = %+v, want one apply at version %d", calls, stored.StateVersion())
	}
	if err := m.Sync(t.Context(), stored); err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if got := e.stored(s.ID); got.Version != stored.Version {
		t.Errorf("a second Sync wrote the session: version %d, want %d", got.Version, stored.Version)
	}
	if n := len(e.workers["w1"].Calls()); n != 2 {
		t.Errorf("w1 has %d calls, want 2", n)
	}
}

func TestSyncWithoutMembersAssignsNothing(t *testing.T) {
	e := newEnv(t, "w1")
	s := e.session(domain.MediaAssignment{})
	s.Live.Members = nil
	if err := e.media(nil).Sync(t.Context(), s); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got := e.stored(s.ID).Live.Media; got.WorkerID != "" {
		t.Errorf("assignment = %+v, want none", got)
	}
}

// viewStore is a store whose ListWorkers returns a fixed view of the
// workers, as an old cache would.
type viewStore struct {
	*boltstore.DB
	view []store.Worker
}

func (v viewStore) ListWorkers(context.Context) ([]store.Worker, error) { return v.view, nil }

func TestSyncRace(t *testing.T) {
	e := newEnv(t, "w1", "w2")
	rec := func(id string, load int) store.Worker {
		return store.Worker{ID: id, ControlURL: e.urls[id], Capacity: 100, Load: load, HeartbeatAt: start}
	}
	// Alone, the first picks w1 and the second w2.
	m1 := e.media(viewStore{e.db, []store.Worker{rec("w1", 0), rec("w2", 5)}})
	m2 := e.media(viewStore{e.db, []store.Worker{rec("w1", 5), rec("w2", 0)}})
	for range 10 {
		s := e.session(domain.MediaAssignment{})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, m := range []*media.Media{m1, m2} {
			wg.Go(func() { errs[i] = m.Sync(t.Context(), s) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Sync %d: %v", i, err)
			}
		}
		got := e.stored(s.ID).Live.Media
		if got.Epoch != 1 || got.WorkerID == "" {
			t.Fatalf("assignment = %+v, want one worker at epoch 1", got)
		}
		for id, w := range e.workers {
			n := 0
			for _, c := range w.Calls() {
				if c.Room == sfu.RoomID(s.ID) {
					n++
				}
			}
			if id == got.WorkerID && n != 2 {
				t.Errorf("%s (assigned) got %d applies, want both", id, n)
			}
			if id != got.WorkerID && n != 0 {
				t.Errorf("%s (not assigned) got %d applies, want none", id, n)
			}
		}
	}
}

func TestSyncMovesFromLapsedWorker(t *testing.T) {
	e := newEnv(t, "w1", "w2")
	s := e.session(domain.MediaAssignment{WorkerID: "w1", Epoch: 1})
	e.clock.Advance(time.Minute)
	e.beat("w2", 0, e.clock.Now())
	err := e.media(nil).Sync(t.Context(), s)
	var re *media.ReassignedError
	if !errors.As(err, &re) || !errors.Is(err, media.ErrReassigned) {
		t.Fatalf("Sync = %v, want a ReassignedError", err)
	}
	if re.Previous.WorkerID != "w1" || re.Session.Live.Media != (domain.MediaAssignment{WorkerID: "w2", Epoch: 2}) {
		t.Fatalf("ReassignedError = %+v", re)
	}
	if calls := e.workers["w2"].Calls(); len(calls) != 1 || calls[0].Op != "apply" || calls[0].State.Version != e.stored(s.ID).StateVersion() {
		t.Fatalf("w2 calls = %+v, want the room's state", calls)
	}
	if calls := e.workers["w1"].Calls(); len(calls) != 0 {
		t.Fatalf("w1 calls = %+v, want none", calls)
	}
	// A second handler with the old session hears nothing new.
	if err := e.media(nil).Sync(t.Context(), s); err != nil {
		t.Fatalf("Sync of the stale session = %v, want nil", err)
	}
}

func TestSyncMovesFromDrainingWorker(t *testing.T) {
	e := newEnv(t, "w1", "w2")
	s := e.session(domain.MediaAssignment{WorkerID: "w1", Epoch: 1})
	e.servers["w1"].SetDraining(true) // It restarted and lost the room.
	err := e.media(nil).Sync(t.Context(), s)
	var re *media.ReassignedError
	if !errors.As(err, &re) || re.Session.Live.Media != (domain.MediaAssignment{WorkerID: "w2", Epoch: 2}) {
		t.Fatalf("Sync = %v, want a move to w2", err)
	}
	if calls := e.workers["w2"].Calls(); len(calls) != 1 {
		t.Fatalf("w2 calls = %+v", calls)
	}
}

func TestSyncClosesOverSession(t *testing.T) {
	e := newEnv(t, "w1")
	s := e.session(domain.MediaAssignment{WorkerID: "w1", Epoch: 1})
	s.Status = domain.StatusEnded
	if err := e.media(nil).Sync(t.Context(), s); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if calls := e.workers["w1"].Calls(); !slices.Equal(ops(calls), []string{"close"}) || calls[0].Room != sfu.RoomID(s.ID) {
		t.Fatalf("w1 calls = %+v, want close", calls)
	}
	if got := e.stored(s.ID).Version; got != s.Version {
		t.Errorf("the session was written")
	}
}

func TestSignal(t *testing.T) {
	e := newEnv(t, "w1")
	m := e.media(nil)
	s := e.session(domain.MediaAssignment{})
	guest, _ := s.Member("guest")
	if err := m.Signal(t.Context(), s, guest, "media.offer", json.RawMessage(`{"sdp":"v=0"}`)); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	calls := e.workers["w1"].Calls()
	if !slices.Equal(ops(calls), []string{"apply", "signal"}) || calls[1].Member != "guest" || calls[1].Type != "media.offer" {
		t.Fatalf("w1 calls = %+v, want apply then signal", calls)
	}
	if got := e.stored(s.ID).Live.Media.WorkerID; got != "w1" {
		t.Fatalf("assigned to %q, want w1", got)
	}

	// A worker that lost the room gets the state again, then the message.
	e2 := newEnv(t, "w1")
	e2.workers["w1"].missing = true
	s = e2.session(domain.MediaAssignment{WorkerID: "w1", Epoch: 1})
	if err := e2.media(nil).Signal(t.Context(), s, guest, "media.candidate", json.RawMessage(`{"candidate":"x"}`)); err != nil {
		t.Fatalf("Signal to a worker without the room: %v", err)
	}
	if got := ops(e2.workers["w1"].Calls()); !slices.Equal(got, []string{"apply", "signal"}) {
		t.Fatalf("calls = %v, want apply then signal", got)
	}

	s.Status = domain.StatusEnded
	if err := e2.media(nil).Signal(t.Context(), s, guest, "media.offer", json.RawMessage(`{}`)); !errors.Is(err, domain.ErrSessionOver) {
		t.Errorf("Signal in an ended session = %v, want ErrSessionOver", err)
	}
}

// The worker's refusals of a member's signaling come back as the
// domain's errors, which the socket's edge maps to the contract's codes:
// a stale answer is a conflict, a description or candidate the worker
// cannot use is invalid, with the field named.
func TestSignalRefusals(t *testing.T) {
	e := newEnv(t, "w1")
	m := e.media(nil)
	s := e.session(domain.MediaAssignment{})
	guest, _ := s.Member("guest")
	for _, tc := range []struct {
		refuse   error // what the worker says
		want     error // what it is on this side of the control API
		conflict bool
		field    string
	}{
		{sfu.ErrStaleAnswer, sfuapi.ErrStaleAnswer, true, ""},
		{sfu.ErrBadSDP, sfuapi.ErrBadSDP, false, "sdp"},
		{sfu.ErrBadMessage, sfuapi.ErrBadMessage, false, "candidate"},
	} {
		e.workers["w1"].refuse = tc.refuse
		err := m.Signal(t.Context(), s, guest, "media.answer", json.RawMessage(`{"sdp":"v=0"}`))
		if got := errors.Is(err, domain.ErrConflict); got != tc.conflict {
			t.Errorf("%v: Signal = %v, conflict %v, want %v", tc.refuse, err, got, tc.conflict)
		}
		var fe domain.FieldErrors
		if errors.As(err, &fe) != (tc.field != "") || (tc.field != "" && fe[tc.field] == "") {
			t.Errorf("%v: Signal = %v, want field errors on %q", tc.refuse, err, tc.field)
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: Signal = %v lost the worker's error", tc.refuse, err)
		}
	}
}

func TestReassign(t *testing.T) {
	e := newEnv(t, "w1", "w2")
	onDead := e.session(domain.MediaAssignment{WorkerID: "w1", Epoch: 3})
	movedAlready := e.session(domain.MediaAssignment{WorkerID: "w2", Epoch: 2})
	ended := e.session(domain.MediaAssignment{WorkerID: "w1", Epoch: 1})
	if _, err := e.db.UpdateSession(t.Context(), ended.ID, func(s *domain.Session) error { s.Status = domain.StatusEnded; return nil }); err != nil {
		t.Fatal(err)
	}
	e.beat("w1", 4, start, string(onDead.ID), string(movedAlready.ID), string(ended.ID), "no-such-session")
	m := e.media(nil)

	moved, err := m.Reassign(t.Context())
	if err != nil || len(moved) != 0 {
		t.Fatalf("Reassign with every worker live = %v, %v; want nothing", moved, err)
	}
	e.clock.Advance(time.Minute)
	e.beat("w2", 0, e.clock.Now())
	moved, err = m.Reassign(t.Context())
	if err != nil {
		t.Fatalf("Reassign: %v", err)
	}
	if len(moved) != 1 || moved[0].ID != onDead.ID || moved[0].Live.Media != (domain.MediaAssignment{WorkerID: "w2", Epoch: 4}) {
		t.Fatalf("moved = %+v, want %s on w2 at epoch 4", moved, onDead.ID)
	}
	if got := e.stored(movedAlready.ID).Live.Media; got != (domain.MediaAssignment{WorkerID: "w2", Epoch: 2}) {
		t.Errorf("a session on another worker was touched: %+v", got)
	}
	calls := e.workers["w2"].Calls()
	if len(calls) != 1 || calls[0].Room != sfu.RoomID(onDead.ID) || calls[0].State.Version != e.stored(onDead.ID).StateVersion() {
		t.Errorf("w2 calls = %+v, want the moved room's state", calls)
	}
	ws, err := e.db.ListWorkers(t.Context())
	if err != nil || len(ws) != 1 || ws[0].ID != "w2" {
		t.Errorf("workers after Reassign = %+v, %v; want w2 alone", ws, err)
	}
	if moved, err = m.Reassign(t.Context()); err != nil || len(moved) != 0 {
		t.Errorf("second Reassign = %v, %v; want nothing", moved, err)
	}
}

// roomsPerWorker counts the stored assignments of sessions by worker.
func (e *env) roomsPerWorker(ids []domain.SessionID) map[string]int {
	e.t.Helper()
	got := map[string]int{}
	for _, id := range ids {
		got[e.stored(id).Live.Media.WorkerID]++
	}
	return got
}

// A rush between two heartbeats: every assignment sees the workers as
// the last heartbeats left them (all empty). Each assignment claims its
// worker at once, so the rush spreads instead of piling onto the worker
// that looked least loaded.
func TestSyncSpreadsARush(t *testing.T) {
	e := newEnv(t, "w1", "w2", "w3", "w4")
	m := e.media(nil)
	var ids []domain.SessionID
	for range 8 {
		s := e.session(domain.MediaAssignment{})
		if err := m.Sync(t.Context(), s); err != nil {
			t.Fatalf("Sync: %v", err)
		}
		ids = append(ids, s.ID)
	}
	// A worker takes a room only when its other candidate carries at
	// least as much: with claims, none of four takes more than half of
	// eight equal rooms.
	got := e.roomsPerWorker(ids)
	for id, n := range got {
		if n > 4 {
			t.Errorf("%s took %d of 8 rooms between two heartbeats (all: %v)", id, n, got)
		}
	}
}

// A dead worker's rooms are spread over the live ones, in the order of
// their ids, each move claiming its worker.
func TestReassignSpreads(t *testing.T) {
	e := newEnv(t, "dead", "w1", "w2", "w3")
	var ids []domain.SessionID
	var rooms []string
	for range 6 {
		s := e.session(domain.MediaAssignment{WorkerID: "dead", Epoch: 1})
		ids = append(ids, s.ID)
		rooms = append(rooms, string(s.ID))
	}
	e.beat("dead", 12, start, rooms...)
	e.clock.Advance(time.Minute)
	for _, id := range []string{"w1", "w2", "w3"} {
		e.beat(id, 0, e.clock.Now())
	}
	moved, err := e.media(nil).Reassign(t.Context())
	if err != nil || len(moved) != 6 {
		t.Fatalf("Reassign = %d moved, %v; want 6", len(moved), err)
	}
	got := e.roomsPerWorker(ids)
	for id, n := range got {
		if n > 3 || id == "dead" {
			t.Errorf("%s took %d of the dead worker's 6 rooms (all: %v)", id, n, got)
		}
	}
}
