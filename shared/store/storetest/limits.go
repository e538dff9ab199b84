package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

func testSetLimit(t *testing.T, open Opener) {
	t.Run("CompareAndSwapPerClass", func(t *testing.T) {
		s := open(t)
		now := wallNow()
		c := newConnection(now, now)
		mustPut(t, s, c)
		first, second := now.Add(time.Second), now.Add(2*time.Second)
		wantErr(t, "SetLimit from unused", s.SetLimit(t.Context(), c.ID, "chat", time.Time{}, first), nil)
		wantErr(t, "SetLimit from unused again", s.SetLimit(t.Context(), c.ID, "chat", time.Time{}, second), store.ErrStale)
		wantErr(t, "SetLimit from a stale time", s.SetLimit(t.Context(), c.ID, "chat", second, now), store.ErrStale)
		wantErr(t, "SetLimit from the time stored", s.SetLimit(t.Context(), c.ID, "chat", first, second), nil)
		// Classes count apart.
		wantErr(t, "SetLimit of another class", s.SetLimit(t.Context(), c.ID, "devices", time.Time{}, first), nil)
		c.Limits = map[string]time.Time{"chat": second, "devices": first}
		wantConnection(t, s, c)
		// A touch keeps the limiters.
		wantErr(t, "TouchConnection", s.TouchConnection(t.Context(), c.ID, now.Add(time.Minute)), nil)
		c.LastSeenAt = now.Add(time.Minute)
		wantConnection(t, s, c)
	})

	t.Run("GoneConnection", func(t *testing.T) {
		s := open(t)
		id := domain.ConnectionID(domain.NewID(16))
		wantErr(t, "SetLimit of an unknown connection", s.SetLimit(t.Context(), id, "chat", time.Time{}, wallNow()), store.ErrNotFound)
		now := wallNow()
		c := newConnection(now, now)
		mustPut(t, s, c)
		wantErr(t, "DeleteConnection", s.DeleteConnection(t.Context(), c.ID), nil)
		wantErr(t, "SetLimit of a deleted connection", s.SetLimit(t.Context(), c.ID, "chat", time.Time{}, now), store.ErrNotFound)
	})

	t.Run("ConcurrentSwapsOneWins", func(t *testing.T) {
		const n = 20
		s := open(t)
		now := wallNow()
		c := newConnection(now, now)
		mustPut(t, s, c)
		errs := race(n, func(i int) error {
			return s.SetLimit(t.Context(), c.ID, "hand", time.Time{}, now.Add(time.Duration(i+1)*time.Second))
		})
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrStale):
				t.Fatalf("SetLimit: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d swaps from the same time won, want 1", won, n)
		}
	})
}
