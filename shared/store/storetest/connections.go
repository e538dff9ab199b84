package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// newConnection returns a connection with a fresh id, opened at connected
// and last seen at seen.
func newConnection(connected, seen time.Time) store.Connection {
	return store.Connection{
		ID:          domain.ConnectionID(domain.NewID(16)),
		SessionID:   domain.SessionID(domain.NewID(12)),
		UserID:      newUser(),
		Device:      domain.DeviceWeb,
		ConnectedAt: connected,
		LastSeenAt:  seen,
	}
}

// mustPut stores connections or fails.
func mustPut(t *testing.T, s store.Store, cs ...store.Connection) {
	t.Helper()
	for _, c := range cs {
		wantErr(t, "PutConnection", s.PutConnection(t.Context(), c), nil)
	}
}

// wantConnection fails unless GetConnection returns want.
func wantConnection(t *testing.T, s store.Store, want store.Connection) {
	t.Helper()
	got, err := s.GetConnection(t.Context(), want.ID)
	wantErr(t, "GetConnection", err, nil)
	if !equal(got, want) {
		t.Fatalf("GetConnection = %+v, want %+v", got, want)
	}
}

func testConnections(t *testing.T, open Opener) {
	t.Run("PutGetTouchDelete", func(t *testing.T) {
		s := open(t)
		now := wallNow()
		c := newConnection(now, now)
		mustPut(t, s, c)
		wantConnection(t, s, c)

		wantErr(t, "TouchConnection", s.TouchConnection(t.Context(), c.ID, now.Add(time.Minute)), nil)
		c.LastSeenAt = now.Add(time.Minute)
		wantConnection(t, s, c)

		wantErr(t, "DeleteConnection", s.DeleteConnection(t.Context(), c.ID), nil)
		_, err := s.GetConnection(t.Context(), c.ID)
		wantErr(t, "GetConnection after DeleteConnection", err, store.ErrNotFound)
		wantErr(t, "DeleteConnection again", s.DeleteConnection(t.Context(), c.ID), nil)
		wantErr(t, "TouchConnection after DeleteConnection", s.TouchConnection(t.Context(), c.ID, now), store.ErrNotFound)
	})

	t.Run("PutReplaces", func(t *testing.T) {
		s := open(t)
		now := wallNow()
		c := newConnection(now, now)
		mustPut(t, s, c)
		c.SessionID, c.UserID, c.Device = domain.SessionID(domain.NewID(12)), newUser(), domain.DeviceMobile
		c.ConnectedAt, c.LastSeenAt = now.Add(time.Second), now.Add(2*time.Second)
		mustPut(t, s, c)
		wantConnection(t, s, c)
	})

	t.Run("Unknown", func(t *testing.T) {
		s := open(t)
		id := domain.ConnectionID(domain.NewID(16))
		_, err := s.GetConnection(t.Context(), id)
		wantErr(t, "GetConnection of an unknown connection", err, store.ErrNotFound)
		wantErr(t, "TouchConnection of an unknown connection", s.TouchConnection(t.Context(), id, wallNow()), store.ErrNotFound)
		wantErr(t, "DeleteConnection of an unknown connection", s.DeleteConnection(t.Context(), id), nil)
	})

	t.Run("Expires", func(t *testing.T) {
		s := open(t)
		now := wallNow()
		// One record a minute past its TTL, one a minute short of it.
		gone := newConnection(now.Add(-store.ConnectionTTL-time.Minute), now.Add(-time.Hour))
		kept := newConnection(now.Add(-store.ConnectionTTL+time.Minute), now.Add(-time.Hour))
		mustPut(t, s, gone, kept)
		_, err := s.GetConnection(t.Context(), gone.ID)
		wantErr(t, "GetConnection past its TTL", err, store.ErrNotFound)
		wantErr(t, "TouchConnection past its TTL", s.TouchConnection(t.Context(), gone.ID, now), store.ErrNotFound)
		wantConnection(t, s, kept)
	})
}

// wantStale fails unless StaleConnections(now, limit) settles on want,
// compared as sets: the contract does not order them.
func wantStale(t *testing.T, s store.Store, now time.Time, limit int, want ...store.Connection) {
	t.Helper()
	byID := func(a, b store.Connection) int { return strings.Compare(string(a.ID), string(b.ID)) }
	want = slices.SortedFunc(slices.Values(want), byID)
	eventually(t, func() string {
		got, err := s.StaleConnections(t.Context(), now, limit)
		if err != nil {
			return fmt.Sprintf("StaleConnections: %v", err)
		}
		slices.SortFunc(got, byID)
		if !equal(got, want) {
			return fmt.Sprintf("StaleConnections(%v, %d) = %+v,\nwant %+v", now, limit, got, want)
		}
		return ""
	})
}

func testStaleConnections(t *testing.T, open Opener) {
	t.Run("IdleOrOld", func(t *testing.T) {
		s := open(t)
		now := wallNow()
		// idle: silent for longer than MaxIdle, stale 5 minutes ago.
		idle := newConnection(now.Add(-time.Hour), now.Add(-domain.MaxIdle-5*time.Minute))
		// fresh: seen a minute ago, stale in 9 minutes.
		fresh := newConnection(now.Add(-time.Hour), now.Add(-time.Minute))
		// old: seen just now but open longer than MaxConnectionAge, stale
		// a minute ago.
		old := newConnection(now.Add(-domain.MaxConnectionAge-time.Minute), now)
		mustPut(t, s, idle, fresh, old)

		wantStale(t, s, now, 10, idle, old)
		wantStale(t, s, now.Add(9*time.Minute), 10, idle, old, fresh)
		wantStale(t, s, now.Add(-5*time.Minute), 10, idle)
		wantStale(t, s, now.Add(-5*time.Minute-time.Second), 10)

		// Limited to one, the one is among the stale.
		eventually(t, func() string {
			got, err := s.StaleConnections(t.Context(), now, 1)
			if err != nil {
				return fmt.Sprintf("StaleConnections: %v", err)
			}
			if len(got) != 1 || (got[0].ID != idle.ID && got[0].ID != old.ID) {
				return fmt.Sprintf("StaleConnections(now, 1) = %+v, want idle or old", got)
			}
			return ""
		})
	})

	t.Run("TouchAndDelete", func(t *testing.T) {
		s := open(t)
		now := wallNow()
		idle := newConnection(now.Add(-time.Hour), now.Add(-domain.MaxIdle-5*time.Minute))
		other := newConnection(now.Add(-time.Hour), now.Add(-domain.MaxIdle-time.Minute))
		mustPut(t, s, idle, other)
		wantStale(t, s, now, 10, idle, other)

		// A touch makes the connection fresh again.
		wantErr(t, "TouchConnection", s.TouchConnection(t.Context(), idle.ID, now), nil)
		idle.LastSeenAt = now
		wantStale(t, s, now, 10, other)
		wantStale(t, s, now.Add(domain.MaxIdle), 10, idle, other)

		// A touch cannot keep a connection past MaxConnectionAge.
		wantErr(t, "TouchConnection", s.TouchConnection(t.Context(), idle.ID, now.Add(2*time.Hour)), nil)
		idle.LastSeenAt = now.Add(2 * time.Hour)
		wantStale(t, s, idle.ConnectedAt.Add(domain.MaxConnectionAge), 10, idle, other)

		// A replaced connection is stale by its new times.
		other.LastSeenAt = now
		mustPut(t, s, other)
		wantStale(t, s, now, 10)

		wantErr(t, "DeleteConnection", s.DeleteConnection(t.Context(), other.ID), nil)
		wantStale(t, s, now.Add(time.Hour), 10, idle)
	})
}
