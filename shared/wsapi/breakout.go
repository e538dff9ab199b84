package wsapi

import (
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// breakoutOp returns the rule for a breakout message, or nil.
func (h *Handler) breakoutOp(u domain.UserID, msg message, now time.Time) op {
	return nil
}
