package sfu

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// The forwarding path, counted allocation by allocation, through real
// sockets: a publisher's SRTP packet sent to the worker's UDP port, read
// below pion, decrypted, passed through the stream's interceptors, fanned
// out, rewritten and encrypted for every subscriber and sent in one
// sendmmsg. The publisher and subscribers are pion peers, connected as
// any other (ICE, DTLS); the publisher's packets are then encrypted
// beforehand with its own SRTP keys and written from its own socket, and
// every peer's reads are held, so that what testing.AllocsPerRun counts
// in the process is the worker's.

// gatedConn is a client's ICE socket whose reads a test can hold.
type gatedConn struct {
	net.PacketConn // Only ReadFrom, so that pion's mux reads through it.
	raw            *net.UDPConn
	gate           atomic.Pointer[chan struct{}]
}

func newGatedConn(t testing.TB) *gatedConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return &gatedConn{PacketConn: c, raw: c}
}

func (g *gatedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if ch := g.gate.Load(); ch != nil {
		<-*ch
	}
	return g.PacketConn.ReadFrom(b)
}

// hold stops reads after the one in progress; release resumes them.
func (g *gatedConn) hold() {
	ch := make(chan struct{})
	g.gate.Store(&ch)
}

func (g *gatedConn) release() {
	if ch := g.gate.Swap(nil); ch != nil {
		close(*ch)
	}
}

// warmPackets are forwarded after the reads are held, before a
// measurement: more than twice the packets a track's retransmission
// cache holds (forward's cacheSize, 512).
const warmPackets = 1200

// pathRig is a worker with one publisher whose video the test writes
// itself and n subscribers.
type pathRig struct {
	t     testing.TB
	h     *harness
	subs  []*client
	conns []*gatedConn // The publisher's first.
	to    netip.AddrPort
	pkts  [][]byte // Encrypted, in order: frames of six, a keyframe every 30.
	next  int

	// While held (hold): the last subscriber's packets, as the test reads
	// them, and the reader's end.
	arrived chan struct{}
	watched chan struct{}
	timeout *time.Timer
}

func newPathRig(t testing.TB, n, packets int) *pathRig {
	t.Helper()
	h := newHarness(t)
	r := &pathRig{t: t, h: h}
	pc := newGatedConn(t)
	r.conns = append(r.conns, pc)
	pub := newClient(h, on("pub", true, MainGroup), clientOpts{video: true, udp: pc, noSend: true})
	for i := range n {
		g := newGatedConn(t)
		r.conns = append(r.conns, g)
		r.subs = append(r.subs, newClient(h, on(MemberID(fmt.Sprintf("s%02d", i)), false, MainGroup), clientOpts{udp: g}))
	}
	var keys srtp.Config
	select {
	case keys = <-pub.keys:
	case <-time.After(wait):
		t.Fatal("the publisher's DTLS did not connect")
	}
	var ssrc uint32
	var pt uint8
	var twcc uint8
	for _, s := range pub.pc.GetSenders() {
		if s.Track() == nil || s.Track().Kind() != webrtc.RTPCodecTypeVideo {
			continue
		}
		p := s.GetParameters()
		ssrc = uint32(p.Encodings[0].SSRC)
		for _, c := range p.Codecs {
			if strings.EqualFold(c.MimeType, webrtc.MimeTypeVP8) {
				pt = uint8(c.PayloadType)
				break
			}
		}
		for _, e := range p.HeaderExtensions {
			if e.URI == sdp.TransportCCURI {
				twcc = uint8(e.ID)
			}
		}
	}
	if ssrc == 0 || pt == 0 || twcc == 0 {
		t.Fatalf("publisher's video: ssrc %d, payload type %d, transport-cc id %d", ssrc, pt, twcc)
	}
	ctx, err := srtp.CreateContext(keys.Keys.LocalMasterKey, keys.Keys.LocalMasterSalt, keys.Profile, keys.LocalOptions...)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1150)
	for i := range packets {
		frame, k := i/6, i%6
		payload[0] = 0x00 // A continuation: S=0, PID=0.
		if k == 0 {
			payload[0] = 0x10 // S=1: the frame's first packet.
		}
		payload[1] = 0x01 // Inter frame.
		if frame%30 == 0 {
			payload[1] = 0x00
		}
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SSRC: ssrc, Marker: k == 5,
			SequenceNumber: uint16(1000 + i), Timestamp: uint32(frame * 3000)}, Payload: payload}
		tw := uint16(i)
		if err := p.SetExtension(twcc, []byte{byte(tw >> 8), byte(tw)}); err != nil {
			t.Fatal(err)
		}
		plain, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		enc, err := ctx.EncryptRTP(nil, plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.pkts = append(r.pkts, enc)
	}
	a := h.udp.LocalAddr().(*net.UDPAddr)
	r.to = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a.IP.To4())), uint16(a.Port))

	// Frames every 10 ms until every subscriber has decoded 60 packets.
	deadline := time.Now().Add(2 * wait)
	for {
		ready := true
		for _, s := range r.subs {
			if s.count("pub", "video") < 60 {
				ready = false
				break
			}
		}
		if ready {
			return r
		}
		if time.Now().After(deadline) || r.next+6 > len(r.pkts)/2 {
			for _, s := range r.subs {
				t.Logf("%s: %d video packets", s.id, s.count("pub", "video"))
			}
			t.Fatalf("after %d packets, not every subscriber has 60", r.next)
		}
		for range 6 {
			r.send()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send writes the next packet from the publisher's socket.
func (r *pathRig) send() {
	if r.next >= len(r.pkts) {
		return
	}
	_, _ = r.conns[0].raw.WriteToUDPAddrPort(r.pkts[r.next], r.to)
	r.next++
}

// forwardOne sends the next packet and waits until the last subscriber
// has it (the worker sends to all in one sendmmsg), or 5 s. It blocks on
// a channel rather than spinning: testing.AllocsPerRun runs it with one
// processor, where a spinning goroutine would leave the network poller
// to the runtime's monitor, every 10 ms.
func (r *pathRig) forwardOne() bool {
	r.send()
	r.timeout.Reset(5 * time.Second)
	defer r.timeout.Stop()
	select {
	case <-r.arrived:
		return true
	case <-r.timeout.C:
		return false
	}
}

// hold stops every peer's reads, and has the last subscriber's socket
// read by the test instead: each RTP packet it gets is signalled on
// arrived. Then the track's retransmission cache fills, so that the
// packets it lets go come back to the pool before a measurement.
func (r *pathRig) hold() {
	for _, g := range r.conns {
		g.hold()
	}
	// A datagram each, so that a pion reader inside a read returns and
	// stops at the gate (pion drops it: it is not STUN, from nowhere).
	bait, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, g := range r.conns {
		_, _ = bait.WriteToUDPAddrPort([]byte{0}, g.raw.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	time.Sleep(100 * time.Millisecond)
	_ = bait.Close()
	r.timeout = time.NewTimer(time.Hour)
	r.timeout.Stop()
	r.arrived = make(chan struct{}, 1<<16)
	r.watched = make(chan struct{})
	g := r.conns[len(r.conns)-1]
	go func() {
		defer close(r.watched)
		buf := make([]byte, 2048)
		for {
			n, _, err := g.raw.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n >= 12 && buf[0]>>6 == 2 && (buf[1] < 192 || buf[1] > 223) {
				r.arrived <- struct{}{}
			}
		}
	}()
	for range warmPackets {
		if !r.forwardOne() {
			r.t.Fatal("a packet did not reach the last subscriber within 5 s")
		}
	}
}

// release stops the test's reader and lets the peers read again.
func (r *pathRig) release() {
	if r.watched != nil {
		g := r.conns[len(r.conns)-1]
		_ = g.raw.SetReadDeadline(time.Now())
		<-r.watched
		_ = g.raw.SetReadDeadline(time.Time{})
		r.watched = nil
	}
	for _, g := range r.conns {
		g.release()
	}
}

// measure forwards runs packets timed, with as many processors as the
// process has, and then runs more under testing.AllocsPerRun. It returns
// the wall time per incoming packet, AllocsPerRun's figure (allocations
// per incoming packet, rounded down) and the exact allocations per
// forwarded packet of that second part, everything the process
// allocated. GREENROOM_PATH_ALLOCS=PREFIX, with -test.memprofilerate=1,
// writes allocation profiles at the second part's ends (go tool pprof
// -sample_index=alloc_objects -diff_base PREFIX.start BIN PREFIX.end).
func (r *pathRig) measure(runs int) (wall time.Duration, perRun, perForwarded float64, ok bool) {
	if r.next+2*runs+1 > len(r.pkts) {
		r.t.Fatalf("%d packets left for 2 × %d runs", len(r.pkts)-r.next, runs)
	}
	ok = true
	start := time.Now()
	for range runs {
		ok = r.forwardOne() && ok
	}
	wall = time.Since(start) / time.Duration(runs)
	profile := os.Getenv("GREENROOM_PATH_ALLOCS")
	writeProfile := func(suffix string) {
		if profile == "" {
			return
		}
		runtime.GC()
		f, err := os.Create(profile + suffix)
		if err != nil {
			r.t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			r.t.Fatal(err)
		}
	}
	writeProfile(".start")
	defer writeProfile(".end")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	perRun = testing.AllocsPerRun(runs, func() {
		if !r.forwardOne() {
			ok = false
		}
	})
	runtime.ReadMemStats(&after)
	perForwarded = float64(after.Mallocs-before.Mallocs) / float64((runs+1)*len(r.subs))
	return wall, perRun, perForwarded, ok
}

func TestForwardingPathAllocatesNothing(t *testing.T) {
	r := newPathRig(t, 5, 10000)
	r.hold()
	fast := r.h.w.fast.packets.Load()
	before := make([]int, len(r.subs))
	for i, s := range r.subs {
		before[i] = s.count("pub", "video")
	}
	const runs = 1000
	wall, allocs, exact, ok := r.measure(runs)
	r.release()
	if !ok {
		t.Fatal("a packet did not reach the last subscriber within 5 s")
	}
	if got := r.h.w.fast.packets.Load() - fast; got < 2*runs+1 {
		t.Fatalf("the read below pion took %d of %d packets", got, 2*runs+1)
	}
	t.Logf("%v allocations per incoming packet (AllocsPerRun), %.4f per forwarded packet, all the process's; %v per incoming packet", allocs, exact, wall)
	// (Under the race detector, as make test runs, sync.Pool drops a
	// quarter of what is put back, so about half an allocation per
	// incoming packet shows there: a packet and its header's extensions;
	// AllocsPerRun rounds down, and one allocation more fails.)
	if allocs != 0 {
		t.Fatalf("%v allocations per packet forwarded to %d subscribers", allocs, len(r.subs))
	}
	// What the worker sent while the subscribers' reads were held was
	// real SRTP in their numbering: read now, it counts.
	// (The last one's were read by the test: it counts what follows.)
	for range 30 {
		for range 6 {
			r.send()
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, s := range r.subs {
		eventually(t, wait, string(s.id)+" decodes what was sent", func() bool {
			return s.count("pub", "video") >= before[i]+150
		})
	}
}

// BenchmarkForwardingPath prints the forwarding path's allocations and
// latency, 1 video publisher → n subscribers:
//
//   - allocs/in-pkt: testing.AllocsPerRun's figure per incoming packet,
//     and allocs/fwd-pkt, the exact count per forwarded packet, both of
//     everything the process allocated meanwhile: periodic work too, the
//     peers' ICE checks and the worker's answers above all, which at 50
//     subscribers reach one allocation per incoming packet;
//   - path-allocs/fwd-pkt: the allocations made with the read below pion
//     (fastPath.intercept: read, decrypt, interceptors, fan-out, rewrite,
//     encrypt) or the batch's send (udpbatch.Conn.Flush) on the stack,
//     from the memory profile at a rate of 1, per forwarded packet;
//   - µs/in-pkt: the wall time from a publisher's send to the last
//     subscriber's receipt. Packets go one at a time, each after the
//     previous one's fan-out arrived, so this is latency, not throughput
//     (BenchmarkWorker has the CPU).
func BenchmarkForwardingPath(b *testing.B) {
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = rate }()
	for _, n := range []int{20, 50} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			const runs = 3000
			r := newPathRig(b, n, 20000)
			r.hold()
			defer r.release()
			b.ResetTimer()
			path := pathAllocs(b)
			wall, allocs, exact, ok := r.measure(runs)
			path = pathAllocs(b) - path
			if !ok {
				b.Fatal("a packet did not reach the last subscriber within 5 s")
			}
			b.ReportMetric(allocs, "allocs/in-pkt")
			b.ReportMetric(exact, "allocs/fwd-pkt")
			b.ReportMetric(float64(path)/float64((2*runs+1)*n), "path-allocs/fwd-pkt")
			b.ReportMetric(float64(wall.Nanoseconds())/1e3, "µs/in-pkt")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// pathAllocs returns how many objects the memory profile has seen
// allocated with the forwarding path on the stack (see
// BenchmarkForwardingPath).
func pathAllocs(t testing.TB) int64 {
	runtime.GC() // The profile is as of the last completed cycle.
	var recs []runtime.MemProfileRecord
	for {
		n, ok := runtime.MemProfile(recs, true)
		if ok {
			recs = recs[:n]
			break
		}
		recs = make([]runtime.MemProfileRecord, n+n/4+16)
	}
	var total int64
	for _, rec := range recs {
		frames := runtime.CallersFrames(rec.Stack())
		for {
			f, more := frames.Next()
			if strings.HasSuffix(f.Function, "sfu.(*fastPath).intercept") || strings.HasSuffix(f.Function, "udpbatch.(*Conn).Flush") {
				total += rec.AllocObjects
				break
			}
			if !more {
				break
			}
		}
	}
	if total < 0 {
		t.Fatal("memory profile")
	}
	return total
}
