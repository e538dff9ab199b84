package boltstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// openAt opens a fresh database whose clock stands at now.
func openAt(t *testing.T, now time.Time) (*DB, *domain.ManualClock) {
	t.Helper()
	clock := domain.NewManualClock(now)
	db, err := Open(filepath.Join(t.TempDir(), "greenroom.db"), WithClock(clock))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, clock
}

// count returns the number of keys in bucket b.
func count(t *testing.T, db *DB, b []byte) int {
	t.Helper()
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(b).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatalf("count %s: %v", b, err)
	}
	return n
}

func TestAddChatPrunesExpired(t *testing.T) {
	now := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	db, clock := openAt(t, now)
	ctx := t.Context()
	for i := range 10 {
		m := store.ChatMessage{SessionID: "s", ID: domain.NewID(8), Text: "hi", At: now.Add(time.Duration(i) * time.Second)}
		if err := db.AddChat(ctx, m); err != nil {
			t.Fatalf("AddChat: %v", err)
		}
	}
	clock.Set(now.Add(store.ChatTTL + 5*time.Second))
	got, err := db.RecentChat(ctx, "s", nil, 100)
	if err != nil || len(got) != 4 {
		t.Fatalf("RecentChat past the TTL of 6 of 10 messages = %d messages, %v; want 4", len(got), err)
	}
	if err := db.AddChat(ctx, store.ChatMessage{SessionID: "s", ID: "new", At: clock.Now()}); err != nil {
		t.Fatalf("AddChat: %v", err)
	}
	if n := count(t, db, bucketChat); n != 5 {
		t.Fatalf("%d messages kept, want the 5 that have not expired", n)
	}
}

func TestConnectionExpiresByTheClock(t *testing.T) {
	now := time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC)
	db, clock := openAt(t, now)
	ctx := t.Context()
	c := store.Connection{ID: "c1", SessionID: "s", UserID: "u", ConnectedAt: now, LastSeenAt: now}
	if err := db.PutConnection(ctx, c); err != nil {
		t.Fatalf("PutConnection: %v", err)
	}
	clock.Set(now.Add(store.ConnectionTTL - time.Second))
	if _, err := db.GetConnection(ctx, c.ID); err != nil {
		t.Fatalf("GetConnection a second before its TTL: %v", err)
	}
	clock.Set(now.Add(store.ConnectionTTL))
	if _, err := db.GetConnection(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConnection at its TTL: %v, want ErrNotFound", err)
	}
	if err := db.TouchConnection(ctx, c.ID, clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TouchConnection at its TTL: %v, want ErrNotFound", err)
	}
	// An expired record is still stale, so that the scheduler removes it.
	stale, err := db.StaleConnections(ctx, clock.Now(), 10)
	if err != nil || len(stale) != 1 || stale[0].ID != c.ID {
		t.Fatalf("StaleConnections = %+v, %v; want the expired c1", stale, err)
	}
	if err := db.DeleteConnection(ctx, c.ID); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if n := count(t, db, bucketStale); n != 0 {
		t.Fatalf("%d stale index entries after the delete, want 0", n)
	}
}
