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
	fb       TWCCFeedback
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

// feedback sends one TWCC feedback packet of the pending packets that
// have arrived by now (the feedback's own trip is not simulated), through
// pion's marshalling and the worker's parser.
func (l *link) feedback() {
	nowUS := (l.clock.UnixNano() - l.tw.epoch) / 1000
	n := 0
	for n < len(l.pending) && l.pending[n].arr <= nowUS {
		n++
	}
	if n == 0 {
		return
	}
	fb := &rtcp.TransportLayerCC{MediaSSRC: 9, BaseSequenceNumber: l.pending[0].seq, PacketStatusCount: uint16(n)}
	var ref, prev int64
	for _, p := range l.pending[:n] {
		sym := uint16(rtcp.TypeTCCPacketReceivedLargeDelta)
		if p.arr == 0 {
			sym = rtcp.TypeTCCPacketNotReceived
		} else {
			if prev == 0 {
				ref = p.arr / 64_000
				prev = ref * 64_000
			}
			d := (p.arr - prev) / 250 * 250
			fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: sym, Delta: d})
			prev += d
		}
		fb.PacketChunks = append(fb.PacketChunks, &rtcp.RunLengthChunk{PacketStatusSymbol: sym, RunLength: 1})
	}
	fb.ReferenceTime = uint32(ref)
	l.pending = l.pending[n:]
	b := marshalTWCC(fb)
	if !ParseTWCC(b, &l.fb) {
		panic("feedback not parsed")
	}
	l.tw.onFeedback(&l.fb, l.clock)
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

// TestParseTWCCMatchesPion: the worker's parser reads what pion writes,
// in all three chunk kinds, and allocates nothing once warm.
func TestParseTWCCMatchesPion(t *testing.T) {
	fb := &rtcp.TransportLayerCC{
		MediaSSRC: 0xdeadbeef, BaseSequenceNumber: 65530, PacketStatusCount: 12, ReferenceTime: 100,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{0, 2, 1, 0, 1, 2, 1}},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: []uint16{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		},
		RecvDeltas: []*rtcp.RecvDelta{
			{Type: 1, Delta: 250}, {Type: 1, Delta: 500}, {Type: 1, Delta: 0},
			{Type: 2, Delta: -1000}, {Type: 1, Delta: 63750}, {Type: 1, Delta: 250}, {Type: 2, Delta: 100000}, {Type: 1, Delta: 750},
			{Type: 1, Delta: 1000},
		},
	}
	b := marshalTWCC(fb)
	var got TWCCFeedback
	if !ParseTWCC(b, &got) {
		t.Fatal("not parsed")
	}
	if got.MediaSSRC != 0xdeadbeef || got.Base != 65530 || len(got.Arrivals) != 12 {
		t.Fatalf("parsed %+v", got)
	}
	want := []int64{}
	arr := int64(100 * 64_000)
	d := 0
	syms := []int{1, 1, 1, 0, 2, 1, 0, 1, 2, 1, 1, 0}
	for _, s := range syms {
		if s == 0 {
			want = append(want, TWCCLost)
			continue
		}
		arr += fb.RecvDeltas[d].Delta
		d++
		want = append(want, arr)
	}
	for i := range want {
		if got.Arrivals[i] != want[i] {
			t.Fatalf("arrival %d: %d, want %d (all %v)", i, got.Arrivals[i], want[i], got.Arrivals)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ParseTWCC(b, &got) }); n != 0 {
		t.Fatalf("%.1f allocations per parse", n)
	}
	// Header 20, 3 chunks, 7 small and 2 large deltas; padding after.
	for i := range 20 + 3*2 + 7 + 2*2 {
		if ParseTWCC(b[:i], &got) {
			t.Fatalf("a truncated packet (%d of %d bytes) parsed", i, len(b))
		}
	}
}

func FuzzParseTWCC(f *testing.F) {
	fb := &rtcp.TransportLayerCC{MediaSSRC: 1, BaseSequenceNumber: 1, PacketStatusCount: 2,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: 1, RunLength: 2}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: 1, Delta: 250}, {Type: 1, Delta: 500}}}
	f.Add(marshalTWCC(fb))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fb TWCCFeedback
		if ParseTWCC(b, &fb) && len(fb.Arrivals) != int(uint16(b[14])<<8|uint16(b[15])) {
			t.Fatalf("%d arrivals for a count of %d", len(fb.Arrivals), uint16(b[14])<<8|uint16(b[15]))
		}
	})
}

// marshalTWCC is pion's marshalling with the header pion's TWCC
// interceptor sets.
func marshalTWCC(fb *rtcp.TransportLayerCC) []byte {
	b, err := fb.Marshal()
	if err != nil {
		panic(err)
	}
	b[0] = b[0]&0xe0 | rtcp.FormatTCC
	b[1] = byte(rtcp.TypeTransportSpecificFeedback)
	l := len(b)/4 - 1
	b[2], b[3] = byte(l>>8), byte(l)
	return b
}

// TestLayerChoiceHysteresis: the TWCC estimate moves a subscriber down at
// once, and back up only with a margin and after a hold.
func TestLayerChoiceHysteresis(t *testing.T) {
	f := newFixture(t, []string{"q", "h", "f"}, 1)
	d := f.dts[0]
	// Nominal layer rates: 0.15, 0.5 and 1.5 Mbit/s.
	set := func(bps int64) {
		f.tw.estimate.Store(bps)
		d.kick()
	}
	until := func(msg string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: target layer %d, estimate %d", msg, d.TargetLayer(), d.Estimate())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	stays := func(msg string, dur time.Duration, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(dur); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			if !cond() {
				t.Fatalf("%s: target layer %d, estimate %d", msg, d.TargetLayer(), d.Estimate())
			}
		}
	}
	onLayer := func(l int) func() bool { return func() bool { return d.TargetLayer() == l } }
	set(3_000_000)
	until("top layer at 3 Mbit/s", onLayer(2))
	set(1_000_000)
	until("down at once at 1 Mbit/s", onLayer(1))
	// 1.8 Mbit/s carries the top layer at 90 % but not at the 75 % an up
	// move needs: no move up, hold or not.
	set(1_800_000)
	stays("up at 1.8 Mbit/s", upHold+time.Second, onLayer(1))
	set(2_100_000)
	until("up once the estimate carries the top layer with the margin", onLayer(2))
	// Down again soon after moving up: the hold doubles, and 2.1 Mbit/s
	// does not move it up within it.
	set(1_000_000)
	until("down at once at 1 Mbit/s", onLayer(1))
	set(2_100_000)
	stays("up within the hold", time.Second, onLayer(1))
}
