package sfu

import (
	"testing"
	"time"
)

// TestTWCCMovesSubscriberBetweenLayers: a subscriber whose receive path
// is limited below the top simulcast layer is moved down a layer by the
// delay-based estimate from its TWCC feedback, and back up when the limit
// lifts. Layers: about 0.13, 0.41 and 0.89 Mbit/s; the limit 0.7 Mbit/s.
func TestTWCCMovesSubscriberBetweenLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("takes tens of seconds")
	}
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true, simulcast: true, layerBytes: [3]int{150, 500, 1100}})
	sh := &shaper{maxQueue: 500 * time.Millisecond}
	s := newClient(h, on("s", false, MainGroup), clientOpts{shape: sh})
	layer := func() byte {
		_, _, pl := s.got("p", "video")
		if len(pl) < 3 {
			return 255
		}
		return pl[2]
	}
	const long = 60 * time.Second
	eventually(t, wait, "video arrives", func() bool { return s.count("p", "video") > 5 })
	eventually(t, long, "the top layer, unlimited", func() bool { return layer() == 2 })
	eventually(t, wait, "TWCC feedback reaches the worker", func() bool { return h.w.Stats().TWCCFeedbacks > 0 })
	if n := h.w.Stats().Overuses; n != 0 {
		t.Logf("%d overuses before the limit", n)
	}

	sh.rate.Store(700_000)
	eventually(t, long, "down a layer under the limit", func() bool { return layer() < 2 })
	st := h.w.Stats()
	if st.Overuses == 0 {
		t.Fatalf("moved down without the delay-based estimator finding overuse: %+v", st)
	}
	t.Logf("under the limit: layer %d, estimates %v, %d overuses", layer(), st.Estimates, st.Overuses)

	sh.rate.Store(0)
	eventually(t, long, "back up to the top layer once the limit lifts", func() bool { return layer() == 2 })
	t.Logf("limit lifted: estimates %v", h.w.Stats().Estimates)
}

// TestPublisherGetsTWCCFeedback: a publisher that numbers its packets
// (as browsers do) is told, about every 100 ms, that they arrived.
func TestPublisherGetsTWCCFeedback(t *testing.T) {
	h := newHarness(t)
	p := newClient(h, on("p", true, MainGroup), clientOpts{video: true})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "video arrives", func() bool { return s.count("p", "video") > 5 })
	before, start := p.twccReported.Load(), time.Now()
	time.Sleep(2 * time.Second)
	reported := p.twccReported.Load() - before
	sent := 2 * time.Second / (10 * time.Millisecond) // The client's video and audio period.
	if reported < int64(sent)/2 {
		t.Fatalf("TWCC feedback reported %d packets in %v, of about %d+ sent", reported, time.Since(start), sent)
	}
}
