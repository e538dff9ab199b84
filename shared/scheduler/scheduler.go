// Package scheduler runs Greenroom's rules of time: every minute in AWS
// (EventBridge) and every few seconds in the local runner. One Sweep
// opens scheduled sessions five minutes before their slot, ends them at
// its end, expires instant sessions whose host has been gone over thirty
// minutes, frees the stage seats of members long gone, and reaps
// connections API Gateway closed without telling. Sweeps are idempotent.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Sessions is the part of the WebSocket handler a sweep drives.
type Sessions interface {
	Tick(ctx context.Context, id domain.SessionID) error
	Reap(ctx context.Context, conns []store.Connection)
	// MediaMoved tells a session's members that its media moved to
	// another worker, so they reconnect their media.
	MediaMoved(ctx context.Context, s domain.Session)
}

// Media moves the rooms of SFU workers whose heartbeat lapsed to live
// workers and returns the sessions it moved.
type Media interface {
	Reassign(ctx context.Context) ([]domain.Session, error)
}

// Config configures a Scheduler.
type Config struct {
	Store    store.Store
	Sessions Sessions
	// Media is optional: without it no rooms are moved.
	Media  Media
	Clock  domain.Clock
	Logger *slog.Logger
	// Batch is how many sessions or connections one query takes (100 when
	// zero); MaxBatches bounds a sweep (50 when zero).
	Batch      int
	MaxBatches int
}

// ErrIncomplete is returned by New without a store or sessions.
var ErrIncomplete = errors.New("scheduler: store and sessions are required")

// Scheduler sweeps. It is safe for concurrent use, though sweeps need not
// overlap.
type Scheduler struct {
	cfg Config
}

// New returns a Scheduler for cfg.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Store == nil || cfg.Sessions == nil {
		return nil, ErrIncomplete
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.MaxBatches <= 0 {
		cfg.MaxBatches = 50
	}
	return &Scheduler{cfg: cfg}, nil
}

// Result counts what one sweep did.
type Result struct {
	Sessions    int `json:"sessions"`
	Connections int `json:"connections"`
	Moved       int `json:"moved"`
	Failed      int `json:"failed"`
}

// Sweep runs the rules of time once over everything due.
func (s *Scheduler) Sweep(ctx context.Context) (Result, error) {
	var res Result
	ctx = store.WithLabel(ctx, "sweep")
	now := s.cfg.Clock.Now()
	seen := map[domain.SessionID]bool{}
	for range s.cfg.MaxBatches {
		due, err := s.cfg.Store.DueSessions(ctx, now, s.cfg.Batch)
		if err != nil {
			return res, fmt.Errorf("scheduler: due sessions: %w", err)
		}
		fresh := 0
		for _, id := range due {
			if seen[id] {
				continue
			}
			seen[id], fresh = true, fresh+1
			if err := s.cfg.Sessions.Tick(ctx, id); err != nil {
				res.Failed++
				s.cfg.Logger.WarnContext(ctx, "tick", "sessionId", id, "err", err)
				continue
			}
			res.Sessions++
		}
		if fresh == 0 || len(due) < s.cfg.Batch {
			break
		}
	}
	for range s.cfg.MaxBatches {
		stale, err := s.cfg.Store.StaleConnections(ctx, now, s.cfg.Batch)
		if err != nil {
			return res, fmt.Errorf("scheduler: stale connections: %w", err)
		}
		if len(stale) == 0 {
			break
		}
		s.cfg.Sessions.Reap(ctx, stale)
		res.Connections += len(stale)
		if len(stale) < s.cfg.Batch {
			break
		}
	}
	if s.cfg.Media != nil {
		moved, err := s.cfg.Media.Reassign(ctx)
		if err != nil {
			res.Failed++
			s.cfg.Logger.WarnContext(ctx, "reassign media", "err", err)
		}
		for _, m := range moved {
			s.cfg.Sessions.MediaMoved(ctx, m)
		}
		res.Moved = len(moved)
	}
	s.cfg.Logger.InfoContext(ctx, "sweep", "sessions", res.Sessions, "connections", res.Connections, "moved", res.Moved, "failed", res.Failed)
	return res, nil
}

// Every sweeps every interval until ctx ends; the caller owns the
// goroutine that runs it.
func (s *Scheduler) Every(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Logger.WarnContext(ctx, "sweep", "err", err)
			}
		}
	}
}
