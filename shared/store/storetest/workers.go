package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// newWorker returns a worker record with a fresh id and a heartbeat at.
func newWorker(at time.Time, rooms ...string) store.Worker {
	id := "worker-" + domain.NewID(8)
	return store.Worker{
		ID:          id,
		ControlURL:  "http://10.0.0.1:7000/" + id,
		Capacity:    50,
		Load:        3,
		Rooms:       rooms,
		HeartbeatAt: at,
	}
}

// sameWorker compares worker records with times in UTC and empty room
// lists equal to none.
func sameWorker(a, b store.Worker) bool {
	return a.ID == b.ID && a.ControlURL == b.ControlURL && a.Capacity == b.Capacity &&
		a.Load == b.Load && slices.Equal(a.Rooms, b.Rooms) && a.Draining == b.Draining &&
		a.HeartbeatAt.Equal(b.HeartbeatAt)
}

// wantWorkers polls ListWorkers, which may read an eventually consistent
// index, until it returns want (in order) or the deadline passes.
func wantWorkers(t *testing.T, s store.Store, want ...store.Worker) {
	t.Helper()
	eventually(t, func() string {
		got, err := s.ListWorkers(t.Context())
		if err != nil {
			return fmt.Sprintf("ListWorkers: %v", err)
		}
		if got == nil {
			return "ListWorkers returned nil, want an empty list"
		}
		if !slices.EqualFunc(got, want, sameWorker) {
			return fmt.Sprintf("ListWorkers = %+v, want %+v", got, want)
		}
		return ""
	})
}

func testWorkers(t *testing.T, open Opener) {
	t.Run("PutListDelete", func(t *testing.T) {
		s := open(t)
		wantWorkers(t, s)
		now := wallNow()
		a, b := newWorker(now, "s1", "s2"), newWorker(now)
		if b.ID < a.ID {
			a, b = b, a
		}
		b.Draining = true
		wantErr(t, "PutWorker", s.PutWorker(t.Context(), b), nil)
		wantErr(t, "PutWorker", s.PutWorker(t.Context(), a), nil)
		wantWorkers(t, s, a, b)

		wantErr(t, "DeleteWorker", s.DeleteWorker(t.Context(), a.ID), nil)
		wantWorkers(t, s, b)
		wantErr(t, "DeleteWorker again", s.DeleteWorker(t.Context(), a.ID), nil)
		wantErr(t, "DeleteWorker of an unknown worker", s.DeleteWorker(t.Context(), "worker-"+domain.NewID(8)), nil)
	})

	t.Run("PutReplaces", func(t *testing.T) {
		s := open(t)
		now := wallNow()
		w := newWorker(now, "s1")
		wantErr(t, "PutWorker", s.PutWorker(t.Context(), w), nil)
		w.Load, w.Rooms, w.HeartbeatAt, w.Draining = 7, []string{"s2", "s3"}, now.Add(5*time.Second), true
		wantErr(t, "PutWorker", s.PutWorker(t.Context(), w), nil)
		wantWorkers(t, s, w)
		w.Rooms, w.Load, w.Draining = nil, 0, false
		wantErr(t, "PutWorker", s.PutWorker(t.Context(), w), nil)
		wantWorkers(t, s, w)
	})

	t.Run("Expired", func(t *testing.T) {
		s := open(t)
		now := wallNow()
		old := newWorker(now.Add(-store.WorkerTTL - time.Second))
		fresh := newWorker(now.Add(-store.WorkerTTL + time.Minute))
		wantErr(t, "PutWorker", s.PutWorker(t.Context(), old), nil)
		wantErr(t, "PutWorker", s.PutWorker(t.Context(), fresh), nil)
		wantWorkers(t, s, fresh)
		// A new heartbeat brings an expired worker back.
		old.HeartbeatAt = now
		wantErr(t, "PutWorker", s.PutWorker(t.Context(), old), nil)
		want := []store.Worker{old, fresh}
		slices.SortFunc(want, func(a, b store.Worker) int {
			if a.ID < b.ID {
				return -1
			}
			return 1
		})
		wantWorkers(t, s, want...)
	})
}
