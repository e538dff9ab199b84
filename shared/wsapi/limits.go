package wsapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// limit is the rate limit of one class of messages, per connection.
type limit struct {
	class string
	rate  domain.Rate
}

// Rate limits per connection and class of message (docs/protocol.md,
// "Rate limits"): a burst, then one message every so often. A class's
// limiter is a time kept on the connection's own record (SetLimit), so a
// member who floods spends only its own budget and writes only its own
// item; its refused messages write nothing at all.
var (
	limitState    = limit{"state", domain.Rate{Burst: 20, Every: 50 * time.Millisecond}}
	limitList     = limit{"list", domain.Rate{Burst: 10, Every: 200 * time.Millisecond}}
	limitDevices  = limit{"devices", domain.Rate{Burst: 10, Every: 500 * time.Millisecond}}
	limitHand     = limit{"hand", domain.Rate{Burst: 5, Every: time.Second}}
	limitChat     = limit{"chat", domain.Rate{Burst: ChatBurst, Every: ChatEvery}}
	limitBroadcat = limit{"broadcast", domain.Rate{Burst: ChatBurst, Every: ChatEvery}}
	limitAsk      = limit{"ask", domain.Rate{Burst: 3, Every: 5 * time.Second}}
	limitVote     = limit{"vote", domain.Rate{Burst: 20, Every: 250 * time.Millisecond}}
	limitModerate = limit{"moderate", domain.Rate{Burst: 20, Every: 200 * time.Millisecond}}
	limitSDP      = limit{"sdp", domain.Rate{Burst: 10, Every: 500 * time.Millisecond}}
	limitICE      = limit{"ice", domain.Rate{Burst: 50, Every: 50 * time.Millisecond}}
)

// limits maps every message type to its limit.
var limits = map[string]limit{
	"state.get":          limitState,
	"qa.list":            limitList,
	"devices.set":        limitDevices,
	"hand.raise":         limitHand,
	"hand.lower":         limitHand,
	"stage.leave":        limitHand,
	"chat.send":          limitChat,
	"breakout.broadcast": limitBroadcat,
	"qa.ask":             limitAsk,
	"qa.upvote":          limitVote,
	"presenter.assign":   limitModerate,
	"session.start":      limitModerate,
	"session.end":        limitModerate,
	"hand.approve":       limitModerate,
	"hand.decline":       limitModerate,
	"stage.remove":       limitModerate,
	"member.remove":      limitModerate,
	"qa.answer":          limitModerate,
	"qa.dismiss":         limitModerate,
	"breakout.configure": limitModerate,
	"breakout.open":      limitModerate,
	"breakout.close":     limitModerate,
	"breakout.move":      limitModerate,
	"breakout.timer":     limitModerate,
	"media.offer":        limitSDP,
	"media.answer":       limitSDP,
	"media.candidate":    limitICE,
}

// Chat limits: bursts of ChatBurst messages, then one every ChatEvery, so
// at most 10 in any 10 seconds (domain.Rate.Window).
const (
	ChatBurst = 5
	ChatEvery = 2 * time.Second
)

// maxLimitAttempts bounds the compare-and-swaps of one limiter that one
// message tries while the connection's other messages move it.
const maxLimitAttempts = 32

// rateLimitedError is the contract's rate_limited, naming when to retry.
type rateLimitedError struct {
	retryAfter time.Duration
}

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("wsapi: rate limited for %v", e.retryAfter)
}

// throttle spends one message of rec's limiter for msgType at now, by
// the rate clock. It returns a *rateLimitedError when the connection has
// used up its budget.
func (h *Handler) throttle(ctx context.Context, rec store.Connection, msgType string) error {
	l, ok := limits[msgType]
	if !ok {
		return nil
	}
	for range maxLimitAttempts {
		now := h.rateClock.Now()
		prev := rec.Limits[l.class]
		next, ok, wait := l.rate.Take(prev, now)
		if !ok {
			return &rateLimitedError{retryAfter: wait}
		}
		err := h.store.SetLimit(ctx, rec.ID, l.class, prev, next)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrStale) {
			return err
		}
		// Another message of the same connection moved the limiter.
		if rec, err = h.store.GetConnection(ctx, rec.ID); err != nil {
			return err
		}
	}
	return &rateLimitedError{retryAfter: l.rate.Every}
}
