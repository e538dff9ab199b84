package wsapi

import (
	"context"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// breakoutOp returns the rule for a breakout message and what it reads,
// or nil. Configuring, opening and closing rooms moves everyone: they read
// every member.
func (h *Handler) breakoutOp(u domain.UserID, msg message, now time.Time) (op, store.Load) {
	all := store.Load{AllMembers: true}
	switch b := msg.Body.(type) {
	case *breakoutConfigureMsg:
		cfg := domain.BreakoutConfig{Auto: b.Auto, Assign: make(map[domain.UserID]int, len(b.Assign))}
		for _, r := range b.Rooms {
			cfg.Rooms = append(cfg.Rooms, r.Name)
		}
		for id, idx := range b.Assign {
			cfg.Assign[domain.UserID(id)] = idx
		}
		return func(s *domain.Session) ([]domain.Change, error) { return s.ConfigureBreakout(u, cfg) }, all
	case *breakoutMoveMsg:
		target, room := domain.UserID(b.UserID), b.Room
		return func(s *domain.Session) ([]domain.Change, error) { return s.MoveToRoom(u, target, room) },
			store.Load{Members: []domain.UserID{u, target}}
	case *breakoutTimerMsg:
		minutes, warn := b.Minutes, time.Duration(0)
		if b.WarnSeconds != nil {
			warn = time.Duration(*b.WarnSeconds) * time.Second
		}
		return func(s *domain.Session) ([]domain.Change, error) { return s.SetBreakoutTimer(u, minutes, warn, now) },
			store.Load{Members: []domain.UserID{u}}
	}
	switch msg.Type {
	case "breakout.open":
		return func(s *domain.Session) ([]domain.Change, error) { return s.OpenBreakout(u, now) }, all
	case "breakout.close":
		return func(s *domain.Session) ([]domain.Change, error) { return s.CloseBreakout(u, now) }, all
	}
	return nil, store.Load{}
}

// broadcast sends a host's or speaker's message to every room at once.
func (h *Handler) broadcast(ctx context.Context, rec store.Connection, msg message, now time.Time) (any, error) {
	s, m, err := h.liveMember(ctx, rec)
	if err != nil {
		return nil, err
	}
	if !m.Role.Moderates() {
		return nil, domain.ErrForbidden
	}
	h.ack(ctx, rec.ID, msg.ID)
	data := map[string]any{"name": m.Name, "text": msg.Body.(*textMsg).Text, "at": now}
	h.publish(ctx, s, []domain.Change{{Event: "breakout.broadcast", UserID: m.UserID, Data: data}}, "")
	return acked, nil
}
