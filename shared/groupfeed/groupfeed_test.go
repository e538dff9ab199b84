package groupfeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/groupfeed"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
)

// sender records what it posts and answers 410 for the connections in
// gone, as API Gateway does for a connection that is gone or still inside
// its $connect.
type sender struct {
	mu     sync.Mutex
	gone   map[domain.ConnectionID]bool
	posted map[domain.ConnectionID][]byte
}

func (s *sender) Send(_ context.Context, conns []domain.ConnectionID, payload []byte) []domain.ConnectionID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []domain.ConnectionID
	for _, c := range conns {
		if s.gone[c] {
			gone = append(gone, c)
			continue
		}
		s.posted[c] = payload
	}
	return gone
}

func TestNewValidates(t *testing.T) {
	if _, err := groupfeed.New(groupfeed.Config{Sender: &sender{}}); !errors.Is(err, groupfeed.ErrNoStore) {
		t.Fatalf("no store: %v", err)
	}
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := groupfeed.New(groupfeed.Config{Store: db}); !errors.Is(err, groupfeed.ErrNoSender) {
		t.Fatalf("no sender: %v", err)
	}
}

// TestPublish: every socket of the group gets the event; a 410 removes a
// socket only once it connected more than domain.ConnectGrace ago.
func TestPublish(t *testing.T) {
	clock := domain.NewManualClock(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "db"), boltstore.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := t.Context()
	const group = domain.GroupID("g1")
	put := func(id domain.ConnectionID, at time.Time) {
		t.Helper()
		c := store.Connection{ID: id, GroupID: group, UserID: domain.UserID("u-" + id), ConnectedAt: at, LastSeenAt: at}
		if err := db.PutGroupConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	now := clock.Now()
	put("live", now.Add(-time.Minute))
	put("old-gone", now.Add(-domain.ConnectGrace-time.Second))
	put("new-gone", now.Add(-domain.ConnectGrace+time.Second))
	snd := &sender{gone: map[domain.ConnectionID]bool{"old-gone": true, "new-gone": true}, posted: map[domain.ConnectionID][]byte{}}
	f, err := groupfeed.New(groupfeed.Config{Store: db, Sender: snd, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.Publish(ctx, group, groupfeed.Message{ID: "m1", Kind: domain.GroupMessageText, UserID: "u1", Name: "Ryan", Text: "a<b", At: now})

	var ev struct {
		Type, Event, GroupID string
		Message              groupfeed.Message
	}
	if err := json.Unmarshal(snd.posted["live"], &ev); err != nil {
		t.Fatalf("posted %q: %v", snd.posted["live"], err)
	}
	if ev.Type != "event" || ev.Event != "group.message" || ev.GroupID != string(group) || ev.Message.ID != "m1" || ev.Message.Text != "a<b" {
		t.Fatalf("event %+v", ev)
	}
	conns, err := db.ListGroupConnections(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var ids []domain.ConnectionID
	for _, c := range conns {
		ids = append(ids, c.ID)
	}
	if want := []domain.ConnectionID{"live", "new-gone"}; !slices.Equal(ids, want) {
		t.Fatalf("connections after the 410s = %v, want %v (the one still in its grace kept)", ids, want)
	}
}
