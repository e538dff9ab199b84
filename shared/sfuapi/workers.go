package sfuapi

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// The registry: every worker writes its record (store.Worker) every
// Interval (sfuworker/registry's Heartbeat); a worker is live while its
// last heartbeat is less than LapseAfter intervals old. A session's room
// is assigned to the less loaded of two live workers with spare capacity
// that a hash of its id ranks first (PickFor), by one
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
//
// Pick is right for one look at fresh records. Assignment uses PickFor:
// every handler that assigns during one heartbeat interval sees the same
// records, so Pick would send a whole rush to the same worker.
func Pick(workers []store.Worker, now time.Time, interval time.Duration) (store.Worker, bool) {
	ok := eligible(workers, now, interval)
	if len(ok) == 0 {
		return store.Worker{}, false
	}
	sort.Slice(ok, func(i, j int) bool { return less(ok[i], ok[j]) })
	return ok[0], true
}

// PickFor returns the worker for session id by the power of two choices:
// of the eligible workers (as Pick's: live, not draining, with spare
// capacity) the two that rank highest for id by rendezvous hashing (an
// FNV-1a hash of the session and worker ids) are its candidates, and the
// less loaded of the two is taken (the fewer rooms on equal load; the
// higher ranked on a tie). It returns false when no worker is eligible.
//
// Handlers that assign many sessions from the same records (a rush at
// the hour, between two heartbeats) spread them over the workers instead
// of all choosing the one that looked least loaded. A session's
// candidates depend neither on the order of the records nor on which
// handler looks, and stay the same while both candidates are eligible.
// It runs in one pass over the records.
func PickFor(id string, workers []store.Worker, now time.Time, interval time.Duration) (store.Worker, bool) {
	first, second := -1, -1
	var r1, r2 uint64
	for i, w := range workers {
		if !eligibleOne(w, now, interval) {
			continue
		}
		r := rank(id, w.ID)
		switch {
		case first < 0 || r > r1 || (r == r1 && w.ID < workers[first].ID):
			second, r2 = first, r1
			first, r1 = i, r
		case second < 0 || r > r2 || (r == r2 && w.ID < workers[second].ID):
			second, r2 = i, r
		}
	}
	if first < 0 {
		return store.Worker{}, false
	}
	a := workers[first]
	if second < 0 {
		return a, true
	}
	b := workers[second]
	if b.Load < a.Load || (b.Load == a.Load && len(b.Rooms) < len(a.Rooms)) {
		return b, true
	}
	return a, true
}

// rank is worker's rendezvous hash for session: FNV-1a, finished with
// MurmurHash3's fmix64 so that ids differing only in their last
// characters (w-0001, w-0002) rank in an order that looks random.
func rank(session, worker string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(session)) // hash writes never fail
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(worker))
	k := h.Sum64()
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// Claim returns workers with room counted against worker id, carrying
// members more, as if its next heartbeat already reported the room: an
// assignment claims its worker at once, so that the next pick from the
// same records sees it. A worker already listing the room is unchanged.
// The workers are copied, not changed.
func Claim(workers []store.Worker, id, room string, members int) []store.Worker {
	out := make([]store.Worker, len(workers))
	copy(out, workers)
	for i := range out {
		w := &out[i]
		if w.ID != id || containsRoom(w.Rooms, room) {
			continue
		}
		w.Load += members
		w.Rooms = append(append([]string(nil), w.Rooms...), room)
	}
	return out
}

func containsRoom(rooms []string, room string) bool {
	for _, r := range rooms {
		if r == room {
			return true
		}
	}
	return false
}

// eligible returns the workers a session may be assigned to.
func eligible(workers []store.Worker, now time.Time, interval time.Duration) []store.Worker {
	var ok []store.Worker
	for _, w := range workers {
		if eligibleOne(w, now, interval) {
			ok = append(ok, w)
		}
	}
	return ok
}

// eligibleOne reports whether a session may be assigned to w.
func eligibleOne(w store.Worker, now time.Time, interval time.Duration) bool {
	return Live(w, now, interval) && !w.Draining && (w.Capacity <= 0 || w.Load < w.Capacity) && w.ControlURL != ""
}

// less orders workers by load, then rooms, then id.
func less(a, b store.Worker) bool {
	if a.Load != b.Load {
		return a.Load < b.Load
	}
	if len(a.Rooms) != len(b.Rooms) {
		return len(a.Rooms) < len(b.Rooms)
	}
	return a.ID < b.ID
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
// a live one already assigned, else records the worker PickFor chooses with
// the epoch grown by one. It is one conditional write of the session's
// own item (no member is read): whatever the number of concurrent calls,
// the session ends with one worker.
func Assign(ctx context.Context, st Sessions, id domain.SessionID, workers []store.Worker, now time.Time, interval time.Duration) (Assignment, error) {
	return assign(ctx, st, id, workers, now, interval, nil)
}

// Move reassigns session id to the worker PickFor chooses, but only while it
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
		w, ok := PickFor(string(id), workers, now, interval)
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
