// Package registry keeps an SFU worker's record in the store.
//
// Every worker runs a Heartbeat: every Interval it writes its id, control
// URL, capacity, load (members) and rooms. A worker is live while its
// last heartbeat is less than LapseAfter intervals old. The session
// handlers read the records and assign sessions to workers
// (shared/sfuapi: Pick, Assign, Move), without linking the worker.
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
	"github.com/greenroom-live/greenroom/shared/sfuapi"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Defaults of the registry, shared with the session handlers' side
// (shared/sfuapi), which judges liveness by them.
const (
	// DefaultInterval is how often a worker writes its heartbeat.
	DefaultInterval = sfuapi.DefaultInterval
	// LapseAfter is how many intervals without a heartbeat make a worker
	// lapsed (no longer live).
	LapseAfter = sfuapi.LapseAfter
	// DefaultCapacity is the members a worker takes when not told.
	DefaultCapacity = sfuapi.DefaultCapacity
)

// ErrIncomplete is returned by NewHeartbeat without a store, a source or
// an id, or with a control URL missing.
var ErrIncomplete = errors.New("registry: store, source, id and control URL are required")

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
