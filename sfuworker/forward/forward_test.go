package forward

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// stubTrack is a layer whose reader waits until the test ends; packets
// are fed with HandlePacket.
type stubTrack struct {
	rid  string
	done chan struct{}
}

func (s *stubTrack) Read([]byte) (int, interceptor.Attributes, error) {
	<-s.done
	return 0, nil, io.EOF
}
func (s *stubTrack) SSRC() webrtc.SSRC { return 1 }
func (s *stubTrack) RID() string       { return s.rid }

// countWriter counts and remembers what a DownTrack writes.
type countWriter struct {
	n       atomic.Int64
	lastSeq atomic.Uint32
	gaps    atomic.Int64
	twcc    atomic.Int64 // Packets with a transport-wide sequence number.
}

// testTWCCExt is the transport-wide sequence number's extension id.
const testTWCCExt = 5

// WriteRTP counts the packet last, so that a test which waits for the
// count also sees everything else recorded about the packet.
func (c *countWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if c.n.Load() > 0 && uint16(c.lastSeq.Load())+1 != h.SequenceNumber {
		c.gaps.Add(1)
	}
	c.lastSeq.Store(uint32(h.SequenceNumber))
	if tw := h.GetExtension(testTWCCExt); len(tw) == 2 {
		c.twcc.Add(1)
	}
	c.n.Add(1)
	return h.MarshalSize() + len(payload), nil
}
func (c *countWriter) Write(b []byte) (int, error) { return len(b), nil }

type stubContext struct{ w webrtc.TrackLocalWriter }

func (s stubContext) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}}
}
func (s stubContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (s stubContext) SSRC() webrtc.SSRC                                      { return 42 }
func (s stubContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (s stubContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (s stubContext) WriteStream() webrtc.TrackLocalWriter                   { return s.w }
func (s stubContext) ID() string                                             { return "ctx" }
func (s stubContext) RTCPReader() interceptor.RTCPReader                     { return nil }

func vp8Packet(seq uint16, ts uint32, key bool, layer byte) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 7}, Payload: make([]byte, 1000)}
	p.Payload[0] = 0x10
	p.Payload[1] = 0x01
	if key {
		p.Payload[1] = 0x00
	}
	p.Payload[2] = layer
	b, _ := p.Marshal()
	return b
}

type fixture struct {
	tw   *Transport
	r    *Receiver
	done chan struct{}
	dts  []*DownTrack
	ws   []*countWriter
}

func newFixture(tb testing.TB, layers []string, subs int) *fixture {
	f := &fixture{done: make(chan struct{})}
	f.r = NewReceiver(ReceiverConfig{Codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}}})
	for _, l := range layers {
		if err := f.r.AddLayer(&stubTrack{rid: l, done: f.done}); err != nil {
			tb.Fatal(err)
		}
	}
	f.tw = NewTransport()
	for i := 0; i < subs; i++ {
		d := NewDownTrack(f.r, "v", "s")
		d.SetTransport(f.tw)
		d.SetHeaderExtensions([]webrtc.RTPHeaderExtensionParameter{{URI: sdp.TransportCCURI, ID: testTWCCExt}})
		w := &countWriter{}
		if _, err := d.Bind(stubContext{w}); err != nil {
			tb.Fatal(err)
		}
		f.r.Subscribe(d)
		f.dts = append(f.dts, d)
		f.ws = append(f.ws, w)
	}
	tb.Cleanup(func() {
		for _, d := range f.dts {
			d.Close()
		}
		close(f.done)
		f.r.Close()
	})
	return f
}

func (f *fixture) waitAll(tb testing.TB, n int64) {
	deadline := time.Now().Add(5 * time.Second)
	for _, w := range f.ws {
		for w.n.Load() < n {
			if time.Now().After(deadline) {
				tb.Fatalf("wrote %d of %d", w.n.Load(), n)
			}
			runtime.Gosched()
		}
	}
}

func TestPauseResumeKeepsSequenceContinuous(t *testing.T) {
	f := newFixture(t, []string{""}, 1)
	seq := uint16(65000) // Crosses the wrap.
	send := func(n int, keyFirst bool) {
		for i := 0; i < n; i++ {
			seq++
			f.r.HandlePacket(0, vp8Packet(seq, uint32(seq)*3000, keyFirst && i == 0, 0))
		}
	}
	send(10, true)
	f.waitAll(t, 10)
	f.dts[0].SetPaused(true)
	send(50, false)
	f.dts[0].SetPaused(false)
	send(5, false) // Dropped: no keyframe yet.
	send(10, true)
	f.waitAll(t, 20)
	if g := f.ws[0].gaps.Load(); g != 0 {
		t.Fatalf("%d gaps", g)
	}
	if n := f.ws[0].n.Load(); n != 20 {
		t.Fatalf("wrote %d, want 20", n)
	}
}

func TestSimulcastSwitchOnKeyframe(t *testing.T) {
	f := newFixture(t, []string{"q", "h", "f"}, 1)
	d := f.dts[0]
	d.ForceEstimate(100_000)
	eventually(t, func() bool { return d.TargetLayer() == 0 })
	var seq [3]uint16
	send := func(key bool) {
		for l := 0; l < 3; l++ {
			seq[l]++
			f.r.HandlePacket(l, vp8Packet(seq[l]+uint16(l)*10000, uint32(seq[l])*3000, key, byte(l)))
		}
	}
	send(true)
	send(false)
	eventually(t, func() bool { return d.Layer() == 0 })
	d.ForceEstimate(10_000_000)
	eventually(t, func() bool { return d.TargetLayer() == 2 })
	send(false)
	if d.Layer() != 0 {
		t.Fatal("switched before a keyframe")
	}
	send(true)
	send(false)
	if d.Layer() != 2 {
		t.Fatalf("layer %d after the keyframe", d.Layer())
	}
	f.waitAll(t, 6)
	if g := f.ws[0].gaps.Load(); g != 0 {
		t.Fatalf("%d gaps across the switch", g)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMalformedPacketsAreDropped(t *testing.T) {
	f := newFixture(t, []string{""}, 1)
	for _, b := range [][]byte{
		{},
		{0x80},
		{0xa0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff},
		{0xa0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x00},
		{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9},
		make([]byte, 4000),
	} {
		f.r.HandlePacket(0, b)
	}
	f.r.HandlePacket(0, vp8Packet(1, 1, true, 0))
	f.waitAll(t, 1)
	if f.r.Stats().Malformed < 5 {
		t.Fatalf("stats %+v", f.r.Stats())
	}
}

func FuzzParseRTP(f *testing.F) {
	f.Add(vp8Packet(1, 1, true, 0))
	f.Add([]byte{0xa0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff})
	f.Add([]byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h rtp.Header
		payload, err := ParseRTP(&h, b)
		if err == nil && len(payload) > len(b) {
			t.Fatal("payload longer than the packet")
		}
		for _, fam := range []int{codecVP8, codecVP9, codecH264, codecAudio, codecOther} {
			_ = isKeyframe(fam, b)
			_ = isKeyframe(fam, payload)
		}
	})
}

// BenchmarkFanout measures the forwarding layer alone (no SRTP, no
// socket): one video packet fanned out to N subscribers and rewritten by
// each writer. Allocations are per forwarded packet (target 0).
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{10, 25, 50} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			f := newFixture(b, []string{""}, n)
			pkts := [2][]byte{vp8Packet(0, 0, true, 0), vp8Packet(0, 0, false, 0)}
			f.r.HandlePacket(0, pkts[0])
			f.waitAll(b, 1)
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				p := pkts[1]
				p[2], p[3] = byte(i>>8), byte(i)
				f.r.HandlePacket(0, p)
				if i%64 == 0 {
					f.waitAll(b, int64(i+1))
				}
			}
			f.waitAll(b, int64(b.N+1))
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			fwd := float64(b.N) * float64(n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/fwd, "ns/fwd-pkt")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/fwd, "allocs/fwd-pkt")
		})
	}
}

// recordWriter remembers the headers a DownTrack writes.
type recordWriter struct {
	mu   sync.Mutex
	hdrs []rtp.Header
}

func (w *recordWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hdrs = append(w.hdrs, *h)
	return h.MarshalSize() + len(payload), nil
}
func (w *recordWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *recordWriter) written() []rtp.Header {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.hdrs)
}

// TestNACKServedFromSharedCache: a NACK in one subscriber's numbering is
// answered from the Receiver's cache with that subscriber's sequence
// number, timestamp and SSRC, and to that subscriber only.
func TestNACKServedFromSharedCache(t *testing.T) {
	f := newFixture(t, []string{""}, 0)
	const n = 20
	dts, ws := recordingSubscribers(t, f, 2, n)
	orig := ws[0].written()[7]
	dts[0].handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: orig.SSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{orig.SequenceNumber})}})
	got := ws[0].written()
	if len(got) != n+1 {
		t.Fatalf("%d packets written after the NACK, want %d", len(got), n+1)
	}
	rtx := got[n]
	if rtx.SequenceNumber != orig.SequenceNumber || rtx.Timestamp != orig.Timestamp || rtx.SSRC != orig.SSRC || rtx.PayloadType != orig.PayloadType {
		t.Fatalf("retransmission %+v, want the header of %+v", rtx, orig)
	}
	if len(ws[1].written()) != n {
		t.Fatal("the other subscriber got the retransmission too")
	}
	if st := dts[0].Stats(); st.NACKs != 1 || st.Resent != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A sequence number never sent, or gone from the cache, is not
	// answered.
	dts[0].handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{orig.SequenceNumber + 100})}})
	if st := dts[0].Stats(); st.NACKs != 2 || st.Resent != 1 {
		t.Fatalf("stats %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := range cacheSize {
		f.r.HandlePacket(0, vp8Packet(uint16(2000+i), uint32(3000*(n+i)), false, 0))
		// Within the subscriber's queue.
		for len(ws[0].written()) < n+1+i-QueueSize/2 {
			if time.Now().After(deadline) {
				t.Fatal("packets not written")
			}
			runtime.Gosched()
		}
	}
	for len(ws[0].written()) < n+1+cacheSize {
		if time.Now().After(deadline) {
			t.Fatal("packets not written")
		}
		runtime.Gosched()
	}
	dts[0].handleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{orig.SequenceNumber})}})
	if st := dts[0].Stats(); st.Resent != 1 {
		t.Fatalf("a packet evicted from the cache was resent: %+v", st)
	}
}

// TestPacketPathAllocatesNothing: receiving, caching, fanning out and
// rewriting a packet for every subscriber allocate nothing once the
// packet pool is warm.
func TestPacketPathAllocatesNothing(t *testing.T) {
	const subs = 8
	f := newFixture(t, []string{""}, subs)
	pkt := vp8Packet(0, 0, true, 0)
	f.r.HandlePacket(0, pkt)
	f.waitAll(t, 1)
	pkt = vp8Packet(0, 0, false, 0)
	sent := int64(1)
	run := func() {
		sent++
		pkt[2], pkt[3] = byte(sent>>8), byte(sent)
		f.r.HandlePacket(0, pkt)
		f.waitAll(t, sent)
	}
	// Warm up past the retransmission cache, whose packets leave the
	// pool.
	for range 2 * cacheSize {
		run()
	}
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Fatalf("%.2f allocations per packet fanned out to %d subscribers", n, subs)
	}
	// The same, written by the reader itself.
	for _, d := range f.dts {
		d.SetDirect(true)
	}
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Fatalf("direct: %.2f allocations per packet fanned out to %d subscribers", n, subs)
	}
}

// TestDirectWritesInTheReader: a direct DownTrack's packet is written
// before the reader's offer returns, and the fan-out's end is flushed
// once per packet.
func TestDirectWritesInTheReader(t *testing.T) {
	var flushes atomic.Int64
	f := newFixture(t, []string{""}, 0)
	f.r.cfg.Flush = func() { flushes.Add(1) }
	for range 3 {
		d := NewDownTrack(f.r, "v", "s")
		w := &countWriter{}
		if _, err := d.Bind(stubContext{w}); err != nil {
			t.Fatal(err)
		}
		d.SetDirect(true)
		f.r.Subscribe(d)
		f.dts = append(f.dts, d)
		f.ws = append(f.ws, w)
	}
	for i := range 10 {
		f.r.HandlePacket(0, vp8Packet(uint16(i), uint32(i*3000), i == 0, 0))
		for j, w := range f.ws {
			if w.n.Load() != int64(i+1) {
				t.Fatalf("packet %d: subscriber %d wrote %d", i, j, w.n.Load())
			}
		}
		if flushes.Load() != int64(i+1) {
			t.Fatalf("packet %d: %d flushes", i, flushes.Load())
		}
	}
	for _, w := range f.ws {
		if w.gaps.Load() != 0 {
			t.Fatal("gaps in a direct DownTrack's sequence numbers")
		}
	}
}

// TestNewSubscriberStartsFromCachedKeyframe: a subscriber bound after
// the last keyframe went by starts on it from the shared cache, with the
// packets since and then the live ones, without a new keyframe.
func TestNewSubscriberStartsFromCachedKeyframe(t *testing.T) {
	f := newFixture(t, []string{""}, 0)
	for i := range 12 {
		f.r.HandlePacket(0, vp8Packet(uint16(100+i), uint32(i*3000), i == 2, 0))
	}
	d := NewDownTrack(f.r, "v", "s")
	w := &recordWriter{}
	if _, err := d.Bind(stubContext{w}); err != nil {
		t.Fatal(err)
	}
	f.r.Subscribe(d)
	t.Cleanup(d.Close)
	deadline := time.Now().Add(5 * time.Second)
	for len(w.written()) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d packets from the cache, want 10", len(w.written()))
		}
		time.Sleep(time.Millisecond)
	}
	d.SetDirect(true)
	f.r.HandlePacket(0, vp8Packet(112, 12*3000, false, 0))
	got := w.written()
	if len(got) != 11 {
		t.Fatalf("%d packets, want 10 from the cache and 1 live", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].SequenceNumber != got[i-1].SequenceNumber+1 || got[i].Timestamp != got[i-1].Timestamp+3000 {
			t.Fatalf("packet %d: seq %d ts %d after seq %d ts %d", i, got[i].SequenceNumber, got[i].Timestamp, got[i-1].SequenceNumber, got[i-1].Timestamp)
		}
	}
	if st := d.Stats(); st.Replays != 1 || st.Packets != 11 {
		t.Fatalf("stats %+v", st)
	}
}

// recordingSubscribers subscribes n DownTracks that record what they
// write to f's Receiver, feeds it count packets from sequence number
// 1000, a keyframe first, and waits until each has written them all.
func recordingSubscribers(t *testing.T, f *fixture, n, count int) ([]*DownTrack, []*recordWriter) {
	t.Helper()
	dts, ws := make([]*DownTrack, n), make([]*recordWriter, n)
	for i := range dts {
		ws[i] = &recordWriter{}
		dts[i] = NewDownTrack(f.r, "v", "s")
		if _, err := dts[i].Bind(stubContext{ws[i]}); err != nil {
			t.Fatal(err)
		}
		f.r.Subscribe(dts[i])
		t.Cleanup(dts[i].Close)
	}
	for i := range count {
		f.r.HandlePacket(0, vp8Packet(uint16(1000+i), uint32(3000*i), i == 0, 0))
	}
	for i, w := range ws {
		deadline := time.Now().Add(5 * time.Second)
		for len(w.written()) < count {
			if time.Now().After(deadline) {
				t.Fatalf("subscriber %d: %d of %d packets", i, len(w.written()), count)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return dts, ws
}

// gatedWriter drops what it is given, as pion's writer does before SRTP
// is up, until it is opened.
type gatedWriter struct {
	recordWriter
	open atomic.Bool
}

func (w *gatedWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if !w.open.Load() {
		return 0, nil
	}
	return w.recordWriter.WriteRTP(h, payload)
}

// TestStartSoonStartsWhenSRTPComesUp: a subscriber bound before its
// connection's SRTP is up cannot start from the cache then; when its
// owner says SRTP is up (StartSoon) it starts at once, not at its next
// probe (an hour away here).
func TestStartSoonStartsWhenSRTPComesUp(t *testing.T) {
	old := probeInterval
	t.Cleanup(func() { probeInterval = old }) // Last: after the writers stop.
	probeInterval = time.Hour
	f := newFixture(t, []string{""}, 0)
	for i := range 5 {
		f.r.HandlePacket(0, vp8Packet(uint16(100+i), uint32(i*3000), i == 1, 0))
	}
	d := NewDownTrack(f.r, "v", "s")
	w := &gatedWriter{}
	if _, err := d.Bind(stubContext{w}); err != nil {
		t.Fatal(err)
	}
	f.r.Subscribe(d)
	t.Cleanup(d.Close)
	time.Sleep(50 * time.Millisecond) // The try at binding fails.
	if n := len(w.written()); n != 0 || !d.WaitingKeyframe() {
		t.Fatalf("%d packets before SRTP was up", n)
	}
	w.open.Store(true)
	d.StartSoon()
	deadline := time.Now().Add(5 * time.Second)
	for len(w.written()) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d packets from the cache after StartSoon, want 4", len(w.written()))
		}
		time.Sleep(time.Millisecond)
	}
	if st := d.Stats(); st.Replays != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// origWriter remembers which publisher packet each written packet was,
// by the number tagPacket puts at the end of its payload.
type origWriter struct {
	mu    sync.Mutex
	origs []uint16
}

func (w *origWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.origs = append(w.origs, uint16(payload[len(payload)-2])<<8|uint16(payload[len(payload)-1]))
	return h.MarshalSize() + len(payload), nil
}
func (w *origWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *origWriter) written() []uint16 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.origs)
}

// TestEachSubscriberStartsOnce: 200 subscribers in a row join a stream
// whose keyframes keep arriving, so that a start from the cache and a
// start on a live keyframe race; each starts once, and no publisher
// packet reaches a subscriber twice (a second start would send its
// frames again, renumbered as new ones).
func TestEachSubscriberStartsOnce(t *testing.T) {
	f := newFixture(t, []string{""}, 0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b := vp8Packet(uint16(i), uint32(i*3000), i%5 == 0, 0)
			b[len(b)-2], b[len(b)-1] = byte(i>>8), byte(i)
			f.r.HandlePacket(0, b)
			if i%10 == 0 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() }) // Before the fixture's.
	var replays uint64
	for round := range 200 {
		d := NewDownTrack(f.r, "v", "s")
		w := &origWriter{}
		if _, err := d.Bind(stubContext{w}); err != nil {
			t.Fatal(err)
		}
		f.r.Subscribe(d)
		d.StartSoon()
		deadline := time.Now().Add(5 * time.Second)
		for len(w.written()) < 30 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d packets", round, len(w.written()))
			}
			time.Sleep(100 * time.Microsecond)
		}
		f.r.Unsubscribe(d)
		d.Close()
		seen := map[uint16]bool{}
		for _, o := range w.written() {
			if seen[o] {
				t.Fatalf("round %d: publisher packet %d sent twice: %v", round, o, w.written())
			}
			seen[o] = true
		}
		replays += d.Stats().Replays
	}
	t.Logf("%d of 200 started from the cache", replays)
}
