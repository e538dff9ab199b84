// Package registry keeps the SFU workers' records in the store and
// assigns sessions to them.
//
// Every worker runs a Heartbeat: every Interval it writes its id, control
// URL, capacity, load (members) and rooms. A worker is live while its
// last heartbeat is less than LapseAfter intervals old. A session's room
// is assigned to the least loaded live worker with spare capacity by one
// compare-and-swap on the session (store.UpdateSession), recorded in
// Session.Live.Media with a grown Epoch: of two handlers that assign at
// once, one wins and the other keeps what the winner chose.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

const (
	// DefaultInterval is how often a worker writes its heartbeat.
	DefaultInterval = 5 * time.Second
	// LapseAfter is how many intervals without a heartbeat make a worker
	// lapsed (no longer live).
	LapseAfter = 3
	// DefaultCapacity is the members a worker takes when not told.
	DefaultCapacity = 500
)

var (
	// ErrNoWorker is returned by Assign and Move when no live worker has
	// spare capacity.
	ErrNoWorker = errors.New("registry: no live worker with spare capacity")
	// ErrIncomplete is returned by NewHeartbeat without a store, a source
	// or an id, or with a control URL missing.
	ErrIncomplete = errors.New("registry: store, source, id and control URL are required")
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
	UpdateSession(ctx context.Context, id domain.SessionID, fn func(*domain.Session) error) (domain.Session, error)
}

// Assignment is the outcome of Assign or Move.
type Assignment struct {
	// Session is the session as stored: after the write when Changed,
	// else as last read.
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

// errKeep stops an UpdateSession that has nothing to write.
var errKeep = errors.New("registry: keep the assignment")

// Assign makes sure session id has a live worker among workers: it keeps
// a live one already assigned, else records the worker Pick chooses with
// the epoch grown by one. It is one compare-and-swap: whatever the
// number of concurrent calls, the session ends with one worker.
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
	s, err := st.UpdateSession(ctx, id, func(s *domain.Session) error {
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
		return a, fmt.Errorf("registry: assign %s: %w", id, err)
	}
	a.Changed = true
	return a, nil
}

// Source is the worker a heartbeat reports on; *sfu.Worker is one.
type Source interface {
	Stats() sfu.Stats
	Rooms() []sfu.RoomID
}

// Workers is the part of store.Store a Heartbeat uses.
type Workers interface {
	PutWorker(ctx context.Context, w store.Worker) error
	DeleteWorker(ctx context.Context, id string) error
}

// Config configures a Heartbeat.
type Config struct {
	Store  Workers
	Source Source
	// ID names the worker; ControlURL is where its control API listens.
	ID         string
	ControlURL string
	// Capacity is the members the worker takes (DefaultCapacity when
	// zero).
	Capacity int
	// Interval is the time between heartbeats (DefaultInterval when
	// zero).
	Interval time.Duration
	Clock    domain.Clock
	Logger   *slog.Logger
}

// Heartbeat writes one worker's record. Its life cycle: NewHeartbeat,
// then Run in a goroutine that its owner stops by cancelling the context
// and waits for; Deregister when the worker leaves for good.
type Heartbeat struct {
	cfg      Config
	draining atomic.Bool
}

// NewHeartbeat returns a Heartbeat for cfg, or ErrIncomplete.
func NewHeartbeat(cfg Config) (*Heartbeat, error) {
	if cfg.Store == nil || cfg.Source == nil || cfg.ID == "" || cfg.ControlURL == "" {
		return nil, ErrIncomplete
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Heartbeat{cfg: cfg}, nil
}

// SetDraining marks the worker as draining: from the next heartbeat on,
// it is assigned no new sessions.
func (h *Heartbeat) SetDraining(d bool) { h.draining.Store(d) }

// Record returns the record a heartbeat at now writes.
func (h *Heartbeat) Record(now time.Time) store.Worker {
	st := h.cfg.Source.Stats()
	var rooms []string
	for _, r := range h.cfg.Source.Rooms() {
		rooms = append(rooms, string(r))
	}
	sort.Strings(rooms)
	return store.Worker{
		ID:          h.cfg.ID,
		ControlURL:  h.cfg.ControlURL,
		Capacity:    h.cfg.Capacity,
		Load:        st.Members,
		Rooms:       rooms,
		Draining:    h.draining.Load(),
		HeartbeatAt: now.UTC(),
	}
}

// Beat writes the worker's record once.
func (h *Heartbeat) Beat(ctx context.Context) error {
	if err := h.cfg.Store.PutWorker(ctx, h.Record(h.cfg.Clock.Now())); err != nil {
		return fmt.Errorf("registry: heartbeat %s: %w", h.cfg.ID, err)
	}
	return nil
}

// Run beats now and then every interval until ctx is done. A failed beat
// is logged and the next one tried on time.
func (h *Heartbeat) Run(ctx context.Context) {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		if err := h.Beat(ctx); err != nil && ctx.Err() == nil {
			h.cfg.Logger.WarnContext(ctx, "heartbeat failed", "workerId", h.cfg.ID, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Deregister removes the worker's record, for a worker that leaves with
// no rooms left. A worker that leaves with rooms keeps its record, which
// lapses, so that a sweep (media.Reassign) moves its rooms.
func (h *Heartbeat) Deregister(ctx context.Context) error {
	if err := h.cfg.Store.DeleteWorker(ctx, h.cfg.ID); err != nil {
		return fmt.Errorf("registry: deregister %s: %w", h.cfg.ID, err)
	}
	return nil
}
