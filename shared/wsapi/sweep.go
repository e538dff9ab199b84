package wsapi

import (
	"context"
	"errors"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Tick applies the rules of time to one session (open before the slot,
// end after it, expire an abandoned instant session, free the seats of
// members long gone) and tells its members what changed. It is idempotent:
// a session with nothing due is left alone.
func (h *Handler) Tick(ctx context.Context, id domain.SessionID) error {
	_, _, err := h.apply(ctx, id, func(*domain.Session) ([]domain.Change, error) {
		return nil, domain.ErrNoChange
	})
	if errors.Is(err, domain.ErrNoChange) {
		return nil
	}
	return err
}

// Reap forgets connections API Gateway has closed without a $disconnect
// (idle or too old): each is marked gone in its session, closed for good
// measure, and removed.
func (h *Handler) Reap(ctx context.Context, conns []store.Connection) {
	bySession := map[domain.SessionID][]domain.ConnectionID{}
	for _, c := range conns {
		bySession[c.SessionID] = append(bySession[c.SessionID], c.ID)
		if err := h.sender.Close(ctx, c.ID); err != nil {
			h.log.DebugContext(ctx, "reap: close", "connectionId", c.ID, "err", err)
		}
	}
	for id, list := range bySession {
		h.dropConnections(ctx, id, list)
	}
}
