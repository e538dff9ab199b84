package forward

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// TestTWCCNumbersPacketsPerConnection: the DownTracks of one connection
// number their packets in one transport-wide sequence, and each number's
// send record is in the ring.
func TestTWCCNumbersPacketsPerConnection(t *testing.T) {
	f := newFixture(t, []string{""}, 2)
	f.r.HandlePacket(0, vp8Packet(1, 0, true, 0))
	for i := range 9 {
		f.r.HandlePacket(0, vp8Packet(uint16(2+i), uint32(3000*(i+1)), false, 0))
	}
	f.waitAll(t, 10)
	for i, w := range f.ws {
		if n := w.twcc.Load(); n != 10 {
			t.Fatalf("subscriber %d: %d of 10 packets carry a transport-wide sequence number", i, n)
		}
	}
	if n := f.tw.seq.Load(); n != 20 {
		t.Fatalf("transport-wide sequence at %d, want 20", n)
	}
	for s := range uint16(20) {
		if _, size, ok := f.tw.lookup(s); !ok || size < 1000 {
			t.Fatalf("no send record for %d (size %d)", s, size)
		}
	}
	if _, _, ok := f.tw.lookup(20); ok {
		t.Fatal("a send record for a number not sent")
	}
}

// link simulates a sender feeding a bottleneck and the receiver's TWCC
// feedback every 100 ms, on a simulated clock.
type link struct {
	tw       *Transport
	clock    time.Time // Simulated: the sender's now.
	lastArr  int64     // µs, when the bottleneck last delivered.
	pending  []pendingPkt
	lastFeed time.Time
}

type pendingPkt struct {
	seq uint16
	arr int64 // µs, 0 if dropped.
}

// run sends rate bit/s in 1,000-byte packets for d through a bottleneck
// of capacity bit/s (0: none).
func (l *link) run(d time.Duration, rate, capacity int64) {
	const size = 1000
	gap := time.Duration(size * 8 * int64(time.Second) / rate)
	for end := l.clock.Add(d); l.clock.Before(end); l.clock = l.clock.Add(gap) {
		now := l.clock.UnixNano()
		seq := l.tw.next(now, size)
		sent := (now - l.tw.epoch) / 1000
		arr := sent + 20_000 // 20 ms of propagation.
		if capacity > 0 {
			arr = max(arr, l.lastArr+size*8*1_000_000/capacity)
		}
		if arr-sent > 2_000_000 {
			arr = 0 // A 2 s queue overflows.
		} else {
			l.lastArr = arr
		}
		l.pending = append(l.pending, pendingPkt{seq, arr})
		if l.clock.Sub(l.lastFeed) >= 100*time.Millisecond {
			l.feedback()
			l.lastFeed = l.clock
		}
	}
}

// feedback builds one TWCC feedback packet of the pending packets that
// have arrived by now (the feedback's own trip is not simulated).
func (l *link) feedback() {
	nowUS := (l.clock.UnixNano() - l.tw.epoch) / 1000
	n := 0
	for n < len(l.pending) && l.pending[n].arr <= nowUS {
		n++
	}
	if n == 0 {
		return
	}
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: l.pending[0].seq, PacketStatusCount: uint16(n)}
	var ref, prev int64
	for i, p := range l.pending[:n] {
		sym := uint16(rtcp.TypeTCCPacketReceivedLargeDelta)
		if p.arr == 0 {
			sym = rtcp.TypeTCCPacketNotReceived
		} else {
			if ref == 0 {
				ref = p.arr / 64_000
				prev = ref * 64_000
			}
			fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: sym, Delta: p.arr - prev})
			prev = p.arr
		}
		_ = i
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.RunLengthChunk{PacketStatusSymbol: sym, RunLength: 1})
	}
	fb.ReferenceTime = uint32(ref)
	l.pending = l.pending[n:]
	l.tw.onFeedback(fb, l.clock)
}

// TestDelayEstimatorFollowsBottleneck: sending above a bottleneck's
// capacity builds a queue, which the delay-based estimator sees as
// overuse and answers with an estimate below the capacity; once the
// bottleneck is gone the estimate grows again.
func TestDelayEstimatorFollowsBottleneck(t *testing.T) {
	l := &link{tw: NewTransport(), clock: time.Now()}
	l.run(2*time.Second, 800_000, 0)
	if e := l.tw.Estimate(); e < initialEstimate {
		t.Fatalf("estimate %d without a bottleneck, want ≥ %d", e, initialEstimate)
	}
	if n := l.tw.Stats().Overuses; n != 0 {
		t.Fatalf("%d overuses without a bottleneck", n)
	}
	l.run(3*time.Second, 1_500_000, 1_000_000)
	if n := l.tw.Stats().Overuses; n == 0 {
		t.Fatal("no overuse above the bottleneck's capacity")
	}
	if e := l.tw.Estimate(); e >= 1_000_000 || e < 500_000 {
		t.Fatalf("estimate %d above a 1 Mbit/s bottleneck, want 0.5–1 Mbit/s", e)
	}
	// The sender follows the estimate down; the queue drains.
	l.run(3*time.Second, 600_000, 1_000_000)
	low := l.tw.Estimate()
	t.Logf("estimate %d after the bottleneck, %d overuses", low, l.tw.Stats().Overuses)
	l.run(10*time.Second, 600_000, 0)
	t.Logf("estimate %d after it lifted", l.tw.Estimate())
	if e := l.tw.Estimate(); e < low*3/2 {
		t.Fatalf("estimate %d after the bottleneck lifted, want above %d", e, low*3/2)
	}
}

func TestSlope(t *testing.T) {
	xs := []float64{0, 1, 2, 3}
	if s := slope(xs, []float64{1, 3, 5, 7}); s != 2 {
		t.Fatalf("slope %v, want 2", s)
	}
	if s := slope([]float64{1, 1}, []float64{0, 5}); s != 0 {
		t.Fatalf("slope %v of a vertical line, want 0", s)
	}
}
