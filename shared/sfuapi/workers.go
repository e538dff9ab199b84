package sfuapi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// The registry: every worker writes its record (store.Worker) every
// Interval (sfuworker/registry's Heartbeat); a worker is live while its
// last heartbeat is less than LapseAfter intervals old. A session's room
// is assigned to the least loaded live worker with spare capacity by one
// conditional write of the session's own item (Assign), recorded in
// Session.Live.Media with a grown Epoch: of two handlers that assign at
// once, one wins and the other keeps what the winner chose.
const (
	// DefaultInterval is how often a worker writes its heartbeat.
	DefaultInterval = 5 * time.Second
	// LapseAfter is how many intervals without a heartbeat make a worker
	// lapsed (no longer live).
	LapseAfter = 3
	// DefaultCapacity is the members a worker takes when not told.
	DefaultCapacity = 500
)

// Live reports whether w's heartbeat, at interval, is recent enough at
// now: less than LapseAfter intervals old.
func Live(w store.Worker, now time.Time, interval time.Duration) bool {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return now.Sub(w.HeartbeatAt) < LapseAfter*interval
}

// Pick returns the live worker, not draining and with spare capacity,
// that carries the least load (then the fewest rooms, then the least
// id), or false when there is none.
func Pick(workers []store.Worker, now time.Time, interval time.Duration) (store.Worker, bool) {
	var ok []store.Worker
	for _, w := range workers {
		if Live(w, now, interval) && !w.Draining && (w.Capacity <= 0 || w.Load < w.Capacity) && w.ControlURL != "" {
			ok = append(ok, w)
		}
	}
	if len(ok) == 0 {
		return store.Worker{}, false
	}
	sort.Slice(ok, func(i, j int) bool {
		a, b := ok[i], ok[j]
		if a.Load != b.Load {
			return a.Load < b.Load
		}
		if len(a.Rooms) != len(b.Rooms) {
			return len(a.Rooms) < len(b.Rooms)
		}
		return a.ID < b.ID
	})
	return ok[0], true
}

// Find returns the worker with id, or false.
func Find(workers []store.Worker, id string) (store.Worker, bool) {
	for _, w := range workers {
		if w.ID == id {
			return w, true
		}
	}
	return store.Worker{}, false
}

// Sessions is the part of store.Store assignment uses.
type Sessions interface {
	Update(ctx context.Context, id domain.SessionID, load store.Load, fn func(*domain.Session) error) (domain.Session, error)
}

// Assignment is the outcome of Assign or Move.
type Assignment struct {
	// Session is the session's own item as stored: after the write when
	// Changed, else as last read.
	Session domain.Session
	// Worker is the worker the session is assigned to; zero when Move
	// found the session no longer on the worker it was to move from.
	Worker store.Worker
	// Previous is the assignment the session had before.
	Previous domain.MediaAssignment
	// Changed reports whether this call wrote the assignment.
	Changed bool
}

// Moved reports whether the session went from one worker to another, so
// that its members must reconnect their media.
func (a Assignment) Moved() bool { return a.Changed && a.Previous.WorkerID != "" }

// errKeep stops an Update that has nothing to write.
var errKeep = errors.New("sfuapi: keep the assignment")

// Assign makes sure session id has a live worker among workers: it keeps
// a live one already assigned, else records the worker Pick chooses with
// the epoch grown by one. It is one conditional write of the session's
// own item (no member is read): whatever the number of concurrent calls,
// the session ends with one worker.
func Assign(ctx context.Context, st Sessions, id domain.SessionID, workers []store.Worker, now time.Time, interval time.Duration) (Assignment, error) {
	return assign(ctx, st, id, workers, now, interval, nil)
}

// Move reassigns session id to the worker Pick chooses, but only while it
// is still assigned to from; otherwise it changes nothing and returns the
// session with a zero Worker.
func Move(ctx context.Context, st Sessions, id domain.SessionID, from string, workers []store.Worker, now time.Time, interval time.Duration) (Assignment, error) {
	return assign(ctx, st, id, workers, now, interval, &from)
}

func assign(ctx context.Context, st Sessions, id domain.SessionID, workers []store.Worker, now time.Time, interval time.Duration, from *string) (Assignment, error) {
	var a Assignment
	s, err := st.Update(ctx, id, store.Load{}, func(s *domain.Session) error {
		a = Assignment{Previous: s.Live.Media}
		cur := s.Live.Media.WorkerID
		if from != nil {
			if cur != *from {
				return errKeep
			}
		} else if w, ok := Find(workers, cur); ok && cur != "" && Live(w, now, interval) {
			a.Worker = w
			return errKeep
		}
		w, ok := Pick(workers, now, interval)
		if !ok {
			return ErrNoWorker
		}
		a.Worker = w
		s.Live.Media = domain.MediaAssignment{WorkerID: w.ID, Epoch: s.Live.Media.Epoch + 1}
		return nil
	})
	a.Session = s
	switch {
	case errors.Is(err, errKeep):
		return a, nil
	case err != nil:
		return a, fmt.Errorf("sfuapi: assign %s: %w", id, err)
	}
	a.Changed = true
	return a, nil
}
