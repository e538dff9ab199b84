package wsapi

import (
	"context"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// breakoutOp returns the rule for a breakout message, or nil.
func (h *Handler) breakoutOp(u domain.UserID, msg message, now time.Time) op {
	switch b := msg.Body.(type) {
	case *breakoutConfigureMsg:
		cfg := domain.BreakoutConfig{Auto: b.Auto, Assign: make(map[domain.UserID]int, len(b.Assign))}
		for _, r := range b.Rooms {
			cfg.Rooms = append(cfg.Rooms, r.Name)
		}
		for id, idx := range b.Assign {
			cfg.Assign[domain.UserID(id)] = idx
		}
		return func(s *domain.Session) ([]domain.Change, error) { return s.ConfigureBreakout(u, cfg) }
	case *breakoutMoveMsg:
		target, room := domain.UserID(b.UserID), b.Room
		return func(s *domain.Session) ([]domain.Change, error) { return s.MoveToRoom(u, target, room) }
	case *breakoutTimerMsg:
		minutes, warn := b.Minutes, time.Duration(0)
		if b.WarnSeconds != nil {
			warn = time.Duration(*b.WarnSeconds) * time.Second
		}
		return func(s *domain.Session) ([]domain.Change, error) { return s.SetBreakoutTimer(u, minutes, warn, now) }
	}
	switch msg.Type {
	case "breakout.open":
		return func(s *domain.Session) ([]domain.Change, error) { return s.OpenBreakout(u, now) }
	case "breakout.close":
		return func(s *domain.Session) ([]domain.Change, error) { return s.CloseBreakout(u, now) }
	}
	return nil
}

// broadcast sends a host's or speaker's message to every room at once.
func (h *Handler) broadcast(ctx context.Context, rec store.Connection, text string, now time.Time) error {
	s, m, err := h.liveMember(ctx, rec)
	if err != nil {
		return err
	}
	if !m.Role.Moderates() {
		return domain.ErrForbidden
	}
	allowed, err := h.store.Allow(ctx, "broadcast#"+string(s.ID)+"#"+string(m.UserID), now.Truncate(ChatWindow), ChatBurst)
	if err != nil {
		return err
	}
	if !allowed {
		return errChatLimit
	}
	data := map[string]any{"name": m.Name, "text": text, "at": now}
	h.publish(ctx, s, []domain.Change{{Event: "breakout.broadcast", UserID: m.UserID, Data: data}}, "")
	return nil
}
