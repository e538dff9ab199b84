package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
	"github.com/greenroom-live/greenroom/shared/store/storetest"
)

// open opens a fresh database file under t.TempDir and closes it when the
// test ends.
func open(t testing.TB) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "greenroom.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// TestReopen checks that every kind of item, and every counter, survives
// closing and reopening the file.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "data", "greenroom.db")
	db, err := boltstore.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	at := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	user := domain.User{ID: "u1", Name: "Ada", Device: domain.DeviceMobile, CreatedAt: at}
	org := domain.Organizer{ID: "o1", Name: "Fair Inc", CreatedAt: at}
	ev := domain.Event{
		ID: "e1", OrganizerID: org.ID, Name: "Fair",
		Windows:     []domain.Window{{Start: at, End: at.Add(2 * time.Hour)}},
		SlotMinutes: 30, Capacity: 2, MaxSessionsPerEmployer: 2, MaxSessions: 4, SessionsPerSlot: 1,
		Stage: domain.DefaultStage, CreatedAt: at,
	}
	emp := domain.Employer{ID: "m1", EventID: ev.ID, Name: "Acme", CreatedAt: at}
	booked, err := domain.NewScheduledSession(ev, emp.ID, at, "Meet us", nil, at)
	if err != nil {
		t.Fatalf("NewScheduledSession: %v", err)
	}
	instant, err := domain.NewHostedSession(domain.KindInstant, user.ID, "Now", "", at)
	if err != nil {
		t.Fatalf("NewHostedSession: %v", err)
	}
	reg := domain.Registration{SessionID: booked.ID, UserID: user.ID, CreatedAt: at}
	steps := []struct {
		name string
		do   func() error
	}{
		{"CreateUser", func() error { return db.CreateUser(ctx, user) }},
		{"CreateOrganizer", func() error { return db.CreateOrganizer(ctx, org) }},
		{"CreateEvent", func() error { return db.CreateEvent(ctx, ev) }},
		{"CreateEmployer", func() error { return db.CreateEmployer(ctx, emp) }},
		{"BookSession", func() error { return db.BookSession(ctx, booked, store.LimitsOf(ev)) }},
		{"CreateSession", func() error { return db.CreateSession(ctx, instant) }},
		{"Register", func() error { _, _, err := db.Register(ctx, reg); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = reopen(t, path)
	if got, err := db.GetUser(ctx, user.ID); err != nil || got != user {
		t.Errorf("GetUser after reopen = %+v, %v; want %+v", got, err, user)
	}
	if err := db.CreateOrganizer(ctx, org); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateOrganizer after reopen: %v, want ErrExists", err)
	}
	if got, err := db.GetEvent(ctx, ev.ID); err != nil || got.SessionsBooked != 1 || got.Name != ev.Name {
		t.Errorf("GetEvent after reopen = %+v, %v; want %q with 1 booked", got, err, ev.Name)
	}
	if got, err := db.GetEmployer(ctx, ev.ID, emp.ID); err != nil || got.SessionsBooked != 1 {
		t.Errorf("GetEmployer after reopen = %+v, %v; want 1 booked", got, err)
	}
	if got, err := db.GetSession(ctx, booked.ID); err != nil || got.Registered != 1 || got.Title != booked.Title {
		t.Errorf("GetSession after reopen = %+v, %v; want %q with 1 registered", got, err, booked.Title)
	}
	if got, err := db.GetSession(ctx, instant.ID); err != nil || got.Kind != domain.KindInstant {
		t.Errorf("GetSession of the instant session after reopen = %+v, %v", got, err)
	}
	if got, err := db.GetRegistration(ctx, reg.SessionID, reg.UserID); err != nil || got != reg {
		t.Errorf("GetRegistration after reopen = %+v, %v; want %+v", got, err, reg)
	}
	if got, err := db.SlotUsage(ctx, ev.ID); err != nil || len(got) != 1 || got[at] != 1 {
		t.Errorf("SlotUsage after reopen = %v, %v; want 1 session at %v", got, err, at)
	}
	if got, err := db.ListEventSessions(ctx, ev.ID); err != nil || len(got) != 1 || got[0].ID != booked.ID {
		t.Errorf("ListEventSessions after reopen = %+v, %v; want %s", got, err, booked.ID)
	}
	// The limits hold across the reopen: the slot is full.
	again, err := domain.NewScheduledSession(ev, emp.ID, at, "Again", nil, at)
	if err != nil {
		t.Fatalf("NewScheduledSession: %v", err)
	}
	if err := db.BookSession(ctx, again, store.LimitsOf(ev)); !errors.Is(err, store.ErrSlotFull) {
		t.Errorf("BookSession in the booked slot after reopen: %v, want ErrSlotFull", err)
	}
}

// reopen opens the file at path and closes it when the test ends.
func reopen(t *testing.T, path string) *boltstore.DB {
	t.Helper()
	db, err := boltstore.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestCloseIsIdempotent(t *testing.T) {
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "greenroom.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i := range 3 {
		if err := db.Close(); err != nil {
			t.Fatalf("Close %d: %v", i, err)
		}
	}
	if _, err := db.GetUser(t.Context(), "u1"); err == nil {
		t.Fatal("GetUser after Close: no error")
	}
}

func TestOpenLockedFileTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "greenroom.db")
	reopen(t, path)
	// bbolt locks the file per open descriptor, so a second Open in the
	// same process waits like another process would.
	if db, err := boltstore.Open(path, boltstore.WithLockTimeout(50*time.Millisecond)); err == nil {
		_ = db.Close()
		t.Fatal("second Open of a locked file: no error")
	}
}

func TestCreateSessionRefusesScheduled(t *testing.T) {
	db := open(t)
	s := domain.Session{ID: "s1", Kind: domain.KindScheduled, Status: domain.StatusScheduled, Capacity: 5}
	if err := db.CreateSession(t.Context(), s); !errors.Is(err, boltstore.ErrScheduled) {
		t.Fatalf("CreateSession of a scheduled session: %v, want ErrScheduled", err)
	}
	if _, err := db.GetSession(t.Context(), s.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetSession of a refused session: %v, want ErrNotFound", err)
	}
}

func TestCanceledContext(t *testing.T) {
	db := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	u := domain.User{ID: "u1", Name: "Ada"}
	if err := db.CreateUser(ctx, u); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateUser with a canceled context: %v, want context.Canceled", err)
	}
	if _, err := db.GetUser(t.Context(), u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser of a user refused by a canceled context: %v, want ErrNotFound", err)
	}
}

// BenchmarkContention reports registrations under contention on the
// embedded store: 200 users racing for 50 spots with 16 workers per
// iteration, as figures for `make bench`.
func BenchmarkContention(b *testing.B) {
	db := open(b)
	var last storetest.Result
	for b.Loop() {
		res, err := storetest.MeasureContention(b.Context(), db, 200, 50, 16)
		if err != nil {
			b.Fatal(err)
		}
		last = res
	}
	b.ReportMetric(last.PerSecond, "registers/s")
	b.ReportMetric(float64(last.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(last.P99.Microseconds()), "p99-µs")
}

// TestReopenLiveState checks that the live state, the due index,
// connections and chat survive closing and reopening (rate limiters are
// kept in memory).
func TestReopenLiveState(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "greenroom.db")
	db, err := boltstore.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	sess, err := domain.NewHostedSession(domain.KindInstant, "host", "Now", "", now)
	if err != nil {
		t.Fatalf("NewHostedSession: %v", err)
	}
	conn := store.Connection{ID: "c1", SessionID: sess.ID, UserID: "host", ConnectedAt: now, LastSeenAt: now}
	msg := store.ChatMessage{SessionID: sess.ID, ID: "m1", UserID: "host", Name: "Host", Text: "hi", At: now}
	tat := now.Add(time.Second)
	steps := []struct {
		name string
		do   func() error
	}{
		{"CreateSession", func() error { return db.CreateSession(ctx, sess) }},
		{"UpdateSession", func() error {
			_, err := db.UpdateSession(ctx, sess.ID, func(x *domain.Session) error {
				if _, err := x.Admit(domain.Joiner{UserID: "host", Name: "Host", Device: domain.DeviceMobile}, now); err != nil {
					return err
				}
				if _, err := x.Connect("host", conn.ID, now); err != nil {
					return err
				}
				// The host leaves the setup screen: the session is due
				// when the rejoin window closes.
				_, err := x.Disconnect(conn.ID, now)
				return err
			})
			return err
		}},
		{"PutConnection", func() error { return db.PutConnection(ctx, conn) }},
		{"AddChat", func() error { return db.AddChat(ctx, msg) }},
		{"SetLimit", func() error { return db.SetLimit(ctx, conn.ID, "k", time.Time{}, tat) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = reopen(t, path)
	if got, err := db.GetSession(ctx, sess.ID); err != nil || got.Version != 1 || len(got.Live.Members) != 1 {
		t.Errorf("GetSession after reopen = %+v, %v; want version 1 with the host", got, err)
	}
	if got, err := db.DueSessions(ctx, now.Add(domain.HostRejoinWindow), 10); err != nil || len(got) != 1 || got[0] != sess.ID {
		t.Errorf("DueSessions after reopen = %v, %v; want %s", got, err, sess.ID)
	}
	// Rate limiters live in memory: a restart closes the sockets anyway.
	if got, err := db.GetConnection(ctx, conn.ID); err != nil || got.ID != conn.ID || got.Limits != nil {
		t.Errorf("GetConnection after reopen = %+v, %v; want it without limiters", got, err)
	}
	if got, err := db.RecentChat(ctx, sess.ID, nil, 10); err != nil || len(got) != 1 || got[0].ID != msg.ID {
		t.Errorf("RecentChat after reopen = %+v, %v", got, err)
	}
}
