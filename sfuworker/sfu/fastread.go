package sfu

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/greenroom-live/greenroom/sfuworker/forward"
)

// Reading publishers' media below pion.
//
// pion hands an incoming packet from goroutine to goroutine: the UDP
// mux's reader, the ICE candidate's, the DTLS/SRTP mux's, the SRTP
// session's, and the track's reader, each through a buffer and a wake-up.
// With two processors that was about four context switches per incoming
// packet, more CPU than decrypting and fanning it out. So the worker takes
// its publishers' RTP off the socket itself, in the UDP mux's reader
// (udpbatch.Conn's intercept), and does all of it there:
//
//  1. the packet's source address names the publisher's connection (its
//     selected pair), and its SSRC one of the connection's tracks whose
//     Receiver is already reading (pion has made the track: RIDs, mids and
//     probing stay pion's);
//  2. the connection's own SRTP context, made from the keys of its DTLS
//     handshake as the writer's is (srtpdirect.go), authenticates and
//     decrypts it;
//  3. pion's interceptor chain for the stream reads it (NACK generator,
//     receiver reports, TWCC feedback see every packet as before): the
//     outermost interceptor (fastTap) keeps each stream's chain, and the
//     innermost (headerCache) returns the packet already in the buffer
//     instead of reading pion's SRTP session;
//  4. the Receiver fans it out (forward.Receiver.HandlePacket).
//
// Anything else, and any packet this context cannot decrypt (a rollover
// counter it cannot know, say), goes on to pion as before, which
// also reads every track until the Receiver exists. A stream whose
// packets keep failing is left to pion.
type fastPath struct {
	mu    sync.RWMutex
	conns map[netip.AddrPort]*fastConn
	// routes lead subscribers' feedback to their DownTracks and
	// connections.
	routes *feedbackRoutes

	packets, feedbacks atomic.Uint64
}

func newFastPath(routes *feedbackRoutes) *fastPath {
	return &fastPath{conns: map[netip.AddrPort]*fastConn{}, routes: routes}
}

// intercept is the udpbatch.Intercept of the worker's socket.
func (f *fastPath) intercept(b []byte, from netip.AddrPort) bool {
	key := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	f.mu.RLock()
	c := f.conns[key]
	f.mu.RUnlock()
	if c == nil {
		return false
	}
	if b[1] >= 192 && b[1] <= 223 { // RTCP (RFC 5761 section 4).
		if !c.readRTCP(b, f.routes) {
			return false
		}
		f.feedbacks.Add(1)
		return true
	}
	if len(b) < 12 || !c.read(b) {
		return false
	}
	f.packets.Add(1)
	return true
}

// follow registers c under the UDP address of its connection's selected
// pair, as pair() returns it now, and unregisters its previous one. The
// selected pair and DTLS change on different goroutines, and each calls
// this after its change: under the lock, the last call sees the latest
// pair.
func (f *fastPath) follow(c *fastConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.registered && f.conns[c.addr] == c {
		delete(f.conns, c.addr)
	}
	c.registered = false
	if c.gone {
		return
	}
	if a := udpAddr(c.pair()); a != nil {
		c.addr = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
		f.conns[c.addr] = c
		c.registered = true
	}
}

// drop unregisters c for good.
func (f *fastPath) drop(c *fastConn) {
	f.mu.Lock()
	c.gone = true
	f.mu.Unlock()
	f.follow(c)
}

// fastConn is one publisher connection's read side below pion.
type fastConn struct {
	tap  *fastTap
	pair func() *webrtc.ICECandidatePair
	// Under fastPath.mu.
	addr       netip.AddrPort
	registered bool
	gone       bool

	streams atomic.Pointer[map[uint32]*fastStream] // Copy on write, under smu.
	smu     sync.Mutex

	// The read in progress: one at a time (the mux has one reader).
	mu   sync.Mutex
	ctx  *srtp.Context
	hdr  rtp.Header
	rhdr rtcp.Header
	fb   forward.TWCCFeedback
	buf  [maxRTPSize]byte
}

// fastStream is one incoming track layer read below pion.
type fastStream struct {
	chain interceptor.RTPReader
	recv  *forward.Receiver
	layer int
	// attrs carries fastMark to headerCache and the header it parses in
	// place (see headerCache.BindRemoteStream).
	attrs interceptor.Attributes
	hdr   *rtp.Header
	n     int
	// fails counts authentication failures in a row; past maxFails the
	// stream is pion's again.
	fails int
}

// maxFails is how many packets of a stream in a row may fail to
// authenticate before the stream is left to pion.
const maxFails = 32

// fastMarkKey is the Attributes key under which a read below pion hands
// headerCache its *fastStream.
type fastMarkKey struct{}

func newFastConn(tap *fastTap, ctx *srtp.Context, pair func() *webrtc.ICECandidatePair) *fastConn {
	c := &fastConn{tap: tap, ctx: ctx, pair: pair}
	empty := map[uint32]*fastStream{}
	c.streams.Store(&empty)
	return c
}

// add reads the layer of recv with SSRC ssrc below pion from now on, if
// pion has bound the stream's interceptors.
func (c *fastConn) add(ssrc uint32, recv *forward.Receiver) bool {
	chain := c.tap.reader(ssrc)
	layer := recv.LayerOf(ssrc)
	if chain == nil || layer < 0 {
		return false
	}
	s := &fastStream{chain: chain, recv: recv, layer: layer}
	s.attrs = interceptor.Attributes{fastMarkKey{}: s}
	c.smu.Lock()
	defer c.smu.Unlock()
	next := make(map[uint32]*fastStream, len(*c.streams.Load())+1)
	for k, v := range *c.streams.Load() {
		next[k] = v
	}
	next[ssrc] = s
	c.streams.Store(&next)
	return true
}

// remove stops reading recv's layers below pion.
func (c *fastConn) remove(recv *forward.Receiver) {
	c.smu.Lock()
	defer c.smu.Unlock()
	next := make(map[uint32]*fastStream, len(*c.streams.Load()))
	for k, v := range *c.streams.Load() {
		if v.recv != recv {
			next[k] = v
		}
	}
	c.streams.Store(&next)
}

// read takes one RTP packet of the connection, or returns false to leave
// it to pion.
func (c *fastConn) read(b []byte) bool {
	s := (*c.streams.Load())[binary.BigEndian.Uint32(b[8:12])]
	if s == nil || s.fails > maxFails {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.ctx.DecryptRTP(c.buf[:0], b, &c.hdr)
	if err != nil {
		// Perhaps a rollover counter this context cannot know, or a
		// setting it lacks: pion's session may read it. (A duplicate
		// the network made goes on too; pion forwards it once more, with
		// the same sequence number, which the subscriber's SRTP drops.)
		s.fails++
		return false
	}
	s.fails = 0
	if len(out) > len(c.buf) {
		return true // The context had to allocate: not ours to forward.
	}
	s.n = len(out)
	n, _, err := s.chain.Read(c.buf[:], s.attrs)
	if err != nil || n != s.n {
		return true
	}
	s.recv.HandlePacket(s.layer, c.buf[:n])
	return true
}

// readRTCP takes an SRTCP packet of the connection that carries only a
// receiver's feedback, all that subscribers send (TWCC feedback about ten
// times a second, receiver reports, NACKs, PLIs, REMB), and applies it
// in place through the worker's routes (forward.HandleFeedback), where
// pion would parse it into new packets twice, once in its report
// interceptor and once for the sender's reader. Anything else (a sender
// report of a connection that also publishes, BYE) goes on to pion,
// whose SRTCP context has its own replay window: it returns false.
func (c *fastConn) readRTCP(b []byte, routes *feedbackRoutes) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.ctx.DecryptRTCP(c.buf[:0], b, &c.rhdr)
	if err != nil || len(out) > len(c.buf) {
		return false
	}
	return forward.HandleFeedback(out, routes, &c.fb)
}

// fastTap is the outermost interceptor: it keeps each incoming stream's
// whole chain, which a read below pion calls (fastConn.read). One per
// PeerConnection.
type fastTap struct {
	interceptor.NoOp
	mu      sync.Mutex
	readers map[uint32]interceptor.RTPReader
}

// BindRemoteStream implements interceptor.Interceptor.
func (t *fastTap) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	t.mu.Lock()
	t.readers[info.SSRC] = r
	t.mu.Unlock()
	return r
}

// UnbindRemoteStream implements interceptor.Interceptor.
func (t *fastTap) UnbindRemoteStream(info *interceptor.StreamInfo) {
	t.mu.Lock()
	delete(t.readers, info.SSRC)
	t.mu.Unlock()
}

func (t *fastTap) reader(ssrc uint32) interceptor.RTPReader {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readers[ssrc]
}

// fastTaps makes the fastTap of every PeerConnection and hands it to the
// member that made the connection, by the connection's id (pion builds a
// connection's interceptors with its id). pion makes the id from the
// clock; should two connections ever get the same one, neither gets a
// tap, and both read through pion.
type fastTaps struct {
	mu   sync.Mutex
	byID map[string]*tapEntry
}

type tapEntry struct {
	tap    *fastTap
	n      int
	shared bool
}

func newFastTaps() *fastTaps { return &fastTaps{byID: map[string]*tapEntry{}} }

// NewInterceptor implements interceptor.Factory.
func (f *fastTaps) NewInterceptor(id string) (interceptor.Interceptor, error) {
	t := &fastTap{readers: map[uint32]interceptor.RTPReader{}}
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.byID[id]
	if e == nil {
		e = &tapEntry{tap: t}
		f.byID[id] = e
	} else {
		e.shared = true
	}
	e.n++
	return t, nil
}

// take returns the tap of the connection with this id, once, or nil.
func (f *fastTaps) take(id string) *fastTap {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.byID[id]
	if e == nil {
		return nil
	}
	if e.n--; e.n <= 0 {
		delete(f.byID, id)
	}
	if e.shared {
		return nil
	}
	return e.tap
}

var _ interceptor.Factory = (*fastTaps)(nil)
