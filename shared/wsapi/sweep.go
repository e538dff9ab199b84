package wsapi

import (
	"context"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// maxTicks bounds the rounds of one Tick: each frees or prunes at most
// domain.MaxMembersPerTick members.
const maxTicks = 10

// Tick applies the rules of time to one session (open before the slot,
// end after it, expire an abandoned instant session, free the seats of
// members long gone, prune members gone past their hold) and tells its
// members what changed. It reads every member; the items whose place in
// the due list moved are moved even when nothing else changes. It is
// idempotent: a session with nothing due is left alone.
func (h *Handler) Tick(ctx context.Context, id domain.SessionID) error {
	for range maxTicks {
		now := h.clock.Now()
		s, changes, err := h.apply(ctx, id, store.Load{AllMembers: true}, func(s *domain.Session) ([]domain.Change, error) {
			return s.Prune(now), nil
		})
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			return nil
		}
		h.publish(ctx, s, changes, "")
	}
	return nil
}

// Reap forgets connections API Gateway has closed without a $disconnect
// (idle or too old): each is marked gone in its session, closed for good
// measure, and removed.
func (h *Handler) Reap(ctx context.Context, conns []store.Connection) {
	bySession := map[domain.SessionID][]gone{}
	for _, c := range conns {
		if c.GroupID != "" {
			if err := h.sender.Close(ctx, c.ID); err != nil {
				h.log.DebugContext(ctx, "reap: close", "connectionId", c.ID, "err", err)
			}
			h.dropGroupConnection(ctx, c)
			continue
		}
		bySession[c.SessionID] = append(bySession[c.SessionID], gone{c.ID, c.UserID})
		if err := h.sender.Close(ctx, c.ID); err != nil {
			h.log.DebugContext(ctx, "reap: close", "connectionId", c.ID, "err", err)
		}
	}
	for id, list := range bySession {
		h.dropConnections(ctx, id, list)
	}
}
