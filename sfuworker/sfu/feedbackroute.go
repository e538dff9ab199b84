package sfu

import (
	"sync"

	"github.com/greenroom-live/greenroom/sfuworker/forward"
	"github.com/pion/interceptor"
)

// feedbackRoutes maps the SSRC of every track the worker sends to the
// DownTrack that sends it and the congestion state of the connection it
// goes on, so that a subscriber's feedback, which names one of those
// SSRCs, reaches them. A plain map under a lock: a sync.Map would box the
// uint32 key, an allocation per lookup.
type feedbackRoutes struct {
	mu sync.RWMutex
	m  map[uint32]feedbackRoute
}

type feedbackRoute struct {
	tw *forward.Transport
	dt *forward.DownTrack
}

func newFeedbackRoutes() *feedbackRoutes {
	return &feedbackRoutes{m: map[uint32]feedbackRoute{}}
}

func (r *feedbackRoutes) add(ssrc uint32, t *forward.Transport, d *forward.DownTrack) {
	r.mu.Lock()
	r.m[ssrc] = feedbackRoute{t, d}
	r.mu.Unlock()
}

// remove forgets ssrc if it still routes to t.
func (r *feedbackRoutes) remove(ssrc uint32, t *forward.Transport) {
	r.mu.Lock()
	if r.m[ssrc].tw == t {
		delete(r.m, ssrc)
	}
	r.mu.Unlock()
}

// Route implements forward.FeedbackRouter.
func (r *feedbackRoutes) Route(ssrc uint32) (*forward.DownTrack, *forward.Transport) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e := r.m[ssrc]
	return e.dt, e.tw
}

// BindRTCPReader implements interceptor.Interceptor for headerCache, the
// innermost interceptor: it takes the TWCC feedback out of every RTCP
// batch a sender reads and hands it to its connection's Transport, parsed
// in place (forward.StripTWCC), before pion's receiver-report interceptor
// parses the batch, which for TWCC allocates per packet status and per
// delta (about three allocations per packet forwarded). A batch of
// feedback only is not returned at all: the read goes on to the next.
// (A reused transceiver's sender is made with the connection's own API,
// so it reads through this chain too; only if peerAPI had to fall back to
// the worker's shared API would it read outside it, and its DownTrack
// strips the feedback itself for that case.)
func (c *headerCache) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	if c.routes == nil {
		return r
	}
	var fb forward.TWCCFeedback // Owned by the reader's goroutine.
	apply := func(fb *forward.TWCCFeedback) {
		if _, t := c.routes.Route(fb.MediaSSRC); t != nil {
			t.OnFeedback(fb)
		}
	}
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, a, err := r.Read(b, a)
			if err != nil {
				return n, a, err
			}
			if n = forward.StripTWCC(b[:n], &fb, apply); n > 0 {
				return n, a, nil
			}
		}
	})
}
