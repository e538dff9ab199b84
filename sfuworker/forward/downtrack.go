package forward

import (
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// probeInterval is how often a DownTrack waiting for a keyframe tries to
// start from the Receiver's cache (a variable for tests).
var probeInterval = 40 * time.Millisecond

// QueueSize bounds a subscriber's queue: past it, video is dropped up to
// the next keyframe and a keyframe is requested.
const QueueSize = 256

// Default bandwidth estimator bounds, in bit/s.
const (
	initialEstimate = 3_000_000
	minEstimate     = 100_000
	maxEstimate     = 20_000_000
)

// nominalRate is assumed for a simulcast layer before it is measured.
func nominalRate(i int) int64 {
	switch i {
	case 0:
		return 150_000
	case 1:
		return 500_000
	}
	return 1_500_000
}

// RTCPSource is where a DownTrack reads its subscriber's RTCP, a
// compound packet per Read; *webrtc.RTPSender satisfies it. Reading it
// also drives pion's interceptors.
type RTCPSource interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

type item struct {
	p      *packet
	resync bool
}

type binding struct {
	ssrc   uint32
	pt     uint8
	writer webrtc.TrackLocalWriter
}

// DownTrack is one subscriber's copy of a Receiver's track. It implements
// webrtc.TrackLocal. The Receiver's readers offer it packets; it rewrites
// SSRC, payload type, sequence numbers and timestamps so the subscriber
// sees one continuous stream across pauses, drops and simulcast layer
// switches, and writes them. A direct DownTrack (SetDirect: its
// connection runs over UDP, where a write only queues the packet for the
// worker's batched send and never blocks) is written by the reader that
// offers the packet, which saves a goroutine hand-off per packet and
// subscriber; any other one queues packets (bounded) to its own writer
// goroutine, so a slow subscriber (ICE over TCP) never holds the fan-out
// up.
// Life cycle: NewDownTrack, AddTrack to a PeerConnection (pion calls
// Bind), ReadRTCP(sender), Receiver.Subscribe; then Receiver.Unsubscribe,
// stop the sender (RemoveTrack or PeerConnection.Close), Close.
type DownTrack struct {
	recv     *Receiver
	id       string
	streamID string
	codec    webrtc.RTPCodecParameters
	video    bool

	queue chan item
	eval  chan struct{}
	// soon asks the writer to try the cache at its next wake (StartSoon).
	soon   atomic.Bool
	done   chan struct{}
	closed atomic.Bool
	wg     sync.WaitGroup

	bound   atomic.Pointer[binding]
	paused  atomic.Bool
	waitKey atomic.Bool
	cur     atomic.Int32 // Layer being forwarded, -1 before the first, starting while the cache replays.
	// smu orders the moves out of waiting for a keyframe: a keyframe
	// offered live and a start from the cache must not both start the
	// DownTrack (the subscriber would get the frames twice, renumbered).
	// The steady path does not take it.
	smu sync.Mutex
	// rmu serializes retransmissions (rtxHdr, rtxTwcc): NACKs come from
	// the reader below pion and from pion's RTCP path.
	rmu    sync.Mutex
	target atomic.Int32 // Layer wanted, switched to on its keyframe.

	estimate atomic.Int64
	forced   atomic.Int64

	packets atomic.Uint64
	bytes   atomic.Uint64
	dropped atomic.Uint64
	nacks   atomic.Uint64
	resent  atomic.Uint64
	replays atomic.Uint64
	plis    atomic.Uint64

	// sent maps the sequence numbers sent back to the source packets in
	// the Receiver's retransmission cache (video only).
	sent *sentMap
	// rtxHdr is the header of retransmissions, owned by the RTCP reader.
	rtxHdr rtp.Header

	direct atomic.Bool
	// levelExt is the subscriber's id of the RFC 6464 audio level header
	// extension, 0 while it has not negotiated it.
	levelExt atomic.Uint32
	// twccExt is the subscriber's id of the transport-wide sequence number
	// header extension, 0 while it has not negotiated it; tw numbers the
	// packets of the subscriber's connection and estimates its bandwidth.
	twccExt atomic.Uint32
	tw      atomic.Pointer[Transport]
	// twccBuf and rtxTwcc hold the transport-wide sequence number of the
	// packet being written and of the retransmission being written.
	twccBuf, rtxTwcc [2]byte

	// Layer choice hysteresis, owned by the writer goroutine: a layer up
	// is tried no earlier than upAt; upHold doubles when an up switch is
	// followed by congestion within upTrial, and resets otherwise.
	upAt, lastUp time.Time
	upHold       time.Duration

	// wmu guards the rewriting state below: the writer goroutine and, for
	// a direct DownTrack, the readers of the Receiver's layers take it.
	// It is uncontended but for the moment of a simulcast switch, when
	// two layers' readers offer.
	wmu      sync.Mutex
	hdr      rtp.Header
	started  bool
	curLayer int32
	seqOff   uint16
	tsOff    uint32
	lastSeq  uint16
	lastTS   uint32
	lastWall int64
	clock    int64
	// frameTS and frameWall are the timestamp of the last frame sent and
	// when its first packet went, for the sender reports (framed: once
	// one has gone).
	frameTS   uint32
	frameWall int64
	framed    bool
	// skipToKey: a video packet did not go out, so what follows is
	// undecodable until the next keyframe.
	skipToKey bool
}

// NewDownTrack makes a subscriber's track of r and starts its writer.
func NewDownTrack(r *Receiver, id, streamID string) *DownTrack {
	d := &DownTrack{
		recv:     r,
		id:       id,
		streamID: streamID,
		codec:    r.cfg.Codec,
		video:    r.kind == webrtc.RTPCodecTypeVideo,
		queue:    make(chan item, QueueSize),
		eval:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		clock:    int64(r.cfg.Codec.ClockRate),
	}
	if d.clock == 0 {
		d.clock = 90000
	}
	if d.video {
		d.sent = &sentMap{}
	}
	d.hdr.Extensions = make([]rtp.Extension, 0, 4)
	d.rtxHdr.Extensions = make([]rtp.Extension, 0, 2)
	d.cur.Store(-1)
	d.estimate.Store(initialEstimate)
	d.target.Store(int32(d.chooseLayer()))
	d.wg.Add(1)
	go d.writeLoop()
	return d
}

// Bind implements webrtc.TrackLocal: it picks the negotiated payload type
// of the source codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var match *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, d.codec.MimeType) {
			continue
		}
		if match == nil || c.SDPFmtpLine == d.codec.SDPFmtpLine {
			c := c
			match = &c
		}
	}
	if match == nil {
		return webrtc.RTPCodecParameters{}, ErrNoCodec
	}
	// The header extension ids come with SetHeaderExtensions: those of
	// the context may not be the ones negotiated.
	if d.video {
		// Packets offered before the binding were dropped, keyframe
		// included: start again at the next keyframe (or the cached one),
		// and ask for one now (the writer asks again until one arrives).
		d.smu.Lock()
		d.cur.Store(-1)
		d.smu.Unlock()
	}
	d.bound.Store(&binding{ssrc: uint32(ctx.SSRC()), pt: uint8(match.PayloadType), writer: ctx.WriteStream()})
	d.soon.Store(true)
	d.kick()
	if d.video {
		d.recv.RequestKeyframe(int(d.target.Load()))
	}
	return *match, nil
}

// SetHeaderExtensions takes the header extensions negotiated with the
// subscriber, which the connection's owner reads from the description
// after each negotiation (pion may bind a track, before its kind is
// negotiated, with ids the negotiation then changes). Until then no
// header extension is forwarded.
func (d *DownTrack) SetHeaderExtensions(exts []webrtc.RTPHeaderExtensionParameter) {
	var id, tw uint32
	for _, e := range exts {
		if e.ID <= 0 || e.ID >= 15 {
			continue
		}
		switch e.URI {
		case sdp.AudioLevelURI:
			id = uint32(e.ID)
		case sdp.TransportCCURI:
			tw = uint32(e.ID)
		}
	}
	d.levelExt.Store(id)
	d.twccExt.Store(tw)
}

// SetTransport makes the DownTrack number its packets on t, the
// congestion state of its subscriber's connection, and choose its layer
// from t's estimate once TWCC feedback arrives. Call it once, before the
// DownTrack is subscribed.
func (d *DownTrack) SetTransport(t *Transport) {
	old := d.tw.Swap(t)
	if old == t {
		return
	}
	if old != nil {
		old.detach(d)
	}
	if t != nil {
		t.attach(d)
	}
	if old == nil && t != nil && d.video {
		t.videos.Add(1)
	}
}

// Bound reports whether a connection has bound the track (pion calls Bind
// once the subscriber's answer is applied).
func (d *DownTrack) Bound() bool { return d.bound.Load() != nil }

// WaitingKeyframe reports whether a bound, unpaused video DownTrack is
// waiting for a keyframe before it forwards.
func (d *DownTrack) WaitingKeyframe() bool {
	return d.video && d.bound.Load() != nil && !d.paused.Load() && (d.cur.Load() < 0 || d.waitKey.Load())
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// ID implements webrtc.TrackLocal.
func (d *DownTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal: toward a subscriber there is one layer.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.recv.kind }

// Codec is the source codec.
func (d *DownTrack) Codec() webrtc.RTPCodecParameters { return d.codec }

// Receiver is the source.
func (d *DownTrack) Receiver() *Receiver { return d.recv }

// SetPaused stops (true) or resumes (false) forwarding; video resumes at
// the next keyframe, which is requested.
func (d *DownTrack) SetPaused(paused bool) {
	if d.paused.Swap(paused) == paused || paused {
		return
	}
	d.waitKey.Store(true)
	d.recv.RequestKeyframe(int(d.cur.Load()))
}

// SetDirect makes the Receiver's readers write the DownTrack's packets
// themselves (true), for a connection whose writes cannot block, or hand
// them to its writer goroutine (false).
func (d *DownTrack) SetDirect(direct bool) { d.direct.Store(direct) }

// Direct reports whether the Receiver's readers write the DownTrack's
// packets themselves.
func (d *DownTrack) Direct() bool { return d.direct.Load() }

// Paused reports whether forwarding is paused.
func (d *DownTrack) Paused() bool { return d.paused.Load() }

// Layer is the simulcast layer being forwarded (-1 before the first).
func (d *DownTrack) Layer() int { return int(max(d.cur.Load(), -1)) }

// TargetLayer is the layer the DownTrack switches to at its next keyframe.
func (d *DownTrack) TargetLayer() int { return int(d.target.Load()) }

// Estimate is the subscriber's bandwidth estimate for this track in
// bit/s: forced, else its share of its connection's TWCC estimate once
// the subscriber sends TWCC feedback, else the loss-based and REMB one.
func (d *DownTrack) Estimate() int64 {
	if f := d.forced.Load(); f > 0 {
		return f
	}
	if t := d.tw.Load(); t != nil {
		if e := t.share(); e > 0 {
			return e
		}
	}
	return d.estimate.Load()
}

// ForceEstimate overrides the bandwidth estimate (bps > 0) or returns to
// the estimator (0), and re-evaluates the layer at once. It is the test
// and operations hook for simulcast switching.
func (d *DownTrack) ForceEstimate(bps int64) {
	d.forced.Store(bps)
	select {
	case d.eval <- struct{}{}:
	default:
	}
}

// DownTrackStats are counters of one DownTrack. NACKs counts the
// sequence numbers the subscriber asked again for, Resent those answered
// from the Receiver's retransmission cache; Replays the times it started
// on a keyframe from that cache.
type DownTrackStats struct {
	Packets, Bytes, Dropped, NACKs, Resent, Replays, PLIs uint64
}

// Stats returns the counters.
func (d *DownTrack) Stats() DownTrackStats {
	return DownTrackStats{d.packets.Load(), d.bytes.Load(), d.dropped.Load(), d.nacks.Load(), d.resent.Load(), d.replays.Load(), d.plis.Load()}
}

// offer is called by the Receiver's layer readers on the packet path: no
// lock, no allocation, never blocks.
func (d *DownTrack) offer(p *packet) {
	if d.paused.Load() || d.bound.Load() == nil {
		// Nothing is forwarded before Bind: a keyframe taken then would
		// be lost, and the subscriber would start on inter frames.
		return
	}
	if p.layer == d.cur.Load() && !d.waitKey.Load() {
		d.enqueue(p, false)
		return
	}
	if !p.keyframe {
		return
	}
	// A keyframe that may start the DownTrack, or switch its layer.
	d.smu.Lock()
	cur := d.cur.Load()
	send, resync := false, false
	switch {
	case cur == starting:
		// The writer replays the cache; this packet comes after what it
		// replays, and is NACKed and resent from the cache.
	case p.layer != cur:
		if d.target.Load() == p.layer {
			d.cur.Store(p.layer)
			d.waitKey.Store(false)
			send, resync = true, true
		}
	case d.waitKey.Load():
		d.waitKey.Store(false)
		send, resync = true, true
	default:
		send = true // Started by another path since the first look.
	}
	d.smu.Unlock()
	if send {
		d.enqueue(p, resync)
	}
}

// starting is cur while the writer replays the cache (startFromCache).
const starting = -2

func (d *DownTrack) enqueue(p *packet, resync bool) {
	if d.closed.Load() {
		return
	}
	if d.direct.Load() {
		d.wmu.Lock()
		d.write(item{p, resync})
		d.wmu.Unlock()
		return
	}
	p.refs.Add(1)
	p.pending.Add(1)
	select {
	case d.queue <- item{p, resync}:
	default:
		p.refs.Add(-1) // The reader still holds its own reference.
		p.pending.Add(-1)
		d.dropped.Add(1)
		d.waitKey.Store(true)
		d.recv.RequestKeyframe(int(p.layer))
	}
}

// writeLoop owns the rewriting state and writes to the connection.
func (d *DownTrack) writeLoop() {
	defer d.wg.Done()
	var tick <-chan time.Time
	// probe, armed while the DownTrack waits for a keyframe, tries to
	// start it from the cache.
	probe := time.NewTimer(time.Hour)
	probe.Stop()
	armed := false
	if d.video {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	defer probe.Stop()
	for {
		if d.video && !armed && d.WaitingKeyframe() {
			probe.Reset(probeInterval)
			armed = true
		}
		select {
		case <-probe.C:
			armed = false
			d.tryCache()
		case it := <-d.queue:
			d.wmu.Lock()
			d.write(it)
			d.wmu.Unlock()
			d.recv.written(it.p)
			it.p.release()
		case <-tick:
			d.evaluate()
			if d.WaitingKeyframe() {
				// A keyframe request may be lost or coalesced away: ask
				// again until the subscriber has one.
				layer := d.cur.Load()
				if layer < 0 {
					layer = d.target.Load()
				}
				d.recv.RequestKeyframe(int(layer))
			}
		case <-d.eval:
			d.evaluate()
			if d.soon.Swap(false) {
				d.tryCache()
			}
		case <-d.done:
			for {
				select {
				case it := <-d.queue:
					d.recv.written(it.p)
					it.p.release()
				default:
					return
				}
			}
		}
	}
}

// tryCache starts a video DownTrack waiting for a keyframe from the
// cache, if it can (startFromCache); on the writer goroutine.
func (d *DownTrack) tryCache() {
	if !d.video || !d.WaitingKeyframe() || d.bound.Load() == nil {
		return
	}
	d.wmu.Lock()
	ok := d.startFromCache()
	d.wmu.Unlock()
	if f := d.recv.cfg.Flush; ok && f != nil {
		f()
	}
}

// write rewrites and sends one packet; it reports whether the packet
// went out.
func (d *DownTrack) write(it item) bool {
	p := it.p
	b := d.bound.Load()
	if b == nil {
		return false
	}
	now := time.Now().UnixNano()
	if it.resync || !d.started {
		if !d.started {
			// RFC 3550 section 5.1: random initial sequence number and
			// timestamp, so each subscriber has its own numbering.
			d.seqOff = uint16(rand.Uint32()) - p.hdr.SequenceNumber
			d.tsOff = rand.Uint32()
		} else {
			el := (now - d.lastWall) * d.clock / int64(time.Second)
			if el < 1 {
				el = 1
			}
			d.seqOff = d.lastSeq + 1 - p.hdr.SequenceNumber
			d.tsOff = d.lastTS + uint32(el) - p.hdr.Timestamp
		}
		d.started = true
		d.curLayer = p.layer
	} else if p.layer != d.curLayer || d.skipToKey {
		return false // A packet of the layer switched away from, or past a loss.
	}
	seq := p.hdr.SequenceNumber + d.seqOff
	if len(p.payload) == 0 {
		// Padding-only probes are not forwarded; close their gap.
		d.seqOff--
		return true
	}
	ts := p.hdr.Timestamp + d.tsOff
	inOrder := int16(seq-d.lastSeq) > 0 || it.resync
	if inOrder {
		d.lastSeq, d.lastTS, d.lastWall = seq, ts, now
	}
	h := &d.hdr
	h.Version = 2
	h.Padding = false
	h.Marker = p.hdr.Marker
	h.PayloadType = b.pt
	h.SequenceNumber = seq
	h.Timestamp = ts
	h.SSRC = b.ssrc
	h.CSRC = h.CSRC[:0]
	h.Extension = false
	h.ExtensionProfile = 0
	h.Extensions = h.Extensions[:0]
	if id := uint8(d.levelExt.Load()); id != 0 && d.recv.cfg.AudioLevelExt != 0 {
		// The audio level goes on (RFC 6464), under the subscriber's id,
		// so that it can show who speaks; the only other extension is the
		// connection's transport-wide sequence number, below.
		if lv := p.hdr.GetExtension(d.recv.cfg.AudioLevelExt); len(lv) == 1 {
			_ = h.SetExtension(id, lv)
		}
	}
	if id := uint8(d.twccExt.Load()); id != 0 {
		if t := d.tw.Load(); t != nil {
			s := t.next(now, len(p.payload)+wireOverhead)
			d.twccBuf[0], d.twccBuf[1] = byte(s>>8), byte(s)
			_ = h.SetExtension(id, d.twccBuf[:])
		}
	}
	// pion's writer returns 0 and no error for a packet it drops because
	// SRTP is not ready yet (DTLS still running after Bind): for video
	// that is a lost keyframe, and without another one the subscriber
	// would never decode. Wait for the next keyframe and ask for it.
	if n, err := d.writer(b).WriteRTP(h, p.payload); err == nil && n > 0 {
		d.packets.Add(1)
		d.bytes.Add(uint64(len(p.payload)) + 12)
		if inOrder && (!d.framed || ts != d.frameTS) {
			d.frameTS, d.frameWall, d.framed = ts, now, true
		}
		if d.sent != nil {
			d.sent.record(seq, p.hdr.SequenceNumber, d.tsOff, p.layer)
		}
		if it.resync {
			d.skipToKey = false
		}
		return true
	} else if d.video {
		d.skipToKey = true
		d.waitKey.Store(true)
		d.kick()
	}
	return false
}

// StartSoon makes a video DownTrack waiting for a keyframe try at once to
// start from the cache, rather than at its next probe: its owner calls it
// when the connection's SRTP comes up, and Bind does. A try that fails
// (SRTP not up yet) leaves the probes to it.
func (d *DownTrack) StartSoon() {
	d.soon.Store(true)
	d.kick()
}

// kick wakes the writer goroutine to look at the DownTrack's state.
func (d *DownTrack) kick() {
	select {
	case d.eval <- struct{}{}:
	default:
	}
}

// replayMax bounds how far back in the shared cache a subscriber may
// start: about 1.7 s of video at 175 packets/s.
const replayMax = 300

// startFromCache starts a video DownTrack waiting for a keyframe on the
// last keyframe still in its Receiver's cache, and the packets since,
// rather than on the next one, which the publisher sends only when asked
// and at most every keyframeInterval: a subscriber whose connection has
// just come up starts at once. It gives up (the DownTrack keeps waiting)
// if the cache has no keyframe within replayMax packets, or has a gap
// since, or a write does not go out (SRTP is not up yet). The caller
// holds wmu. Packets the layer's reader offers meanwhile are dropped,
// as the DownTrack still waits; the subscriber NACKs them, and they come
// from the same cache.
func (d *DownTrack) startFromCache() bool {
	layer := d.target.Load()
	l := d.recv.layers[layer].Load()
	if l == nil || l.cache == nil {
		return false
	}
	// Claim the start, so that a keyframe offered meanwhile does not
	// start the DownTrack too.
	d.smu.Lock()
	prev := d.cur.Load()
	if (prev >= 0 && (prev != layer || !d.waitKey.Load())) || prev == starting {
		d.smu.Unlock()
		return false
	}
	d.cur.Store(starting)
	d.smu.Unlock()
	ok := d.replay(l, layer)
	d.smu.Lock()
	if ok {
		d.cur.Store(layer)
		d.waitKey.Store(false)
		d.replays.Add(1)
	} else {
		d.cur.Store(prev)
	}
	d.smu.Unlock()
	return ok
}

// replay writes the cache from the last keyframe within replayMax
// packets to the newest packet, for startFromCache.
func (d *DownTrack) replay(l *layer, layer int32) bool {
	last := l.last.Load()
	if last&(1<<16) == 0 {
		return false
	}
	end := uint16(last)
	start, found := end, false
	for i := range uint16(replayMax) {
		p := l.cache.get(end-i, layer)
		if p == nil {
			return false
		}
		key := p.keyframe
		p.release()
		if key {
			start, found = end-i, true
			break
		}
	}
	if !found {
		return false
	}
	for seq := start; ; seq++ {
		p := l.cache.get(seq, layer)
		if p == nil {
			return false
		}
		ok := d.write(item{p, seq == start})
		p.release()
		if !ok {
			return false
		}
		if seq == end {
			return true
		}
	}
}

// Layer choice hysteresis: an estimate must carry a higher layer with a
// margin (upFit) and no earlier than upHold after a switch down; an up
// switch followed within upTrial by a switch down doubles upHold (up to
// maxUpHold), so that a subscriber at its limit does not swing between
// layers. A switch down happens at once.
const (
	downFit   = 0.9
	upFit     = 0.75
	upHold    = 3 * time.Second
	maxUpHold = 24 * time.Second
	upTrial   = 10 * time.Second
)

// wireOverhead approximates the bytes a packet takes on the wire beyond
// its payload: RTP header and extensions, SRTP tag, UDP and IP headers.
const wireOverhead = 12 + 12 + 16 + 8 + 20

// evaluate picks the simulcast layer the estimate carries; a change is
// applied at the next keyframe of that layer, which is requested. It runs
// on the writer goroutine (and in NewDownTrack, before it starts).
func (d *DownTrack) evaluate() {
	want := int32(d.chooseLayer())
	if want < 0 {
		return
	}
	prev := d.target.Swap(want)
	if d.forced.Load() == 0 && prev >= 0 && want != prev {
		now := time.Now()
		if want < prev {
			if d.upHold == 0 || now.Sub(d.lastUp) > upTrial {
				d.upHold = upHold
			} else {
				d.upHold = min(2*d.upHold, maxUpHold)
			}
			d.upAt = now.Add(d.upHold)
		} else {
			d.lastUp = now
		}
	}
	if d.cur.Load() != want {
		d.recv.RequestKeyframe(int(want))
	}
}

// chooseLayer is the highest existing layer whose rate fits in the
// estimate (90 % of it for the layer wanted now and those below, 75 %
// for a layer above, and only once upAt has passed, unless the estimate
// is forced), else the lowest existing layer.
func (d *DownTrack) chooseLayer() int {
	estimate := float64(d.Estimate())
	forced := d.forced.Load() > 0
	cur := int(d.target.Load())
	upOK := forced || time.Now().After(d.upAt)
	have := d.recv.Layers()
	lowest, best := -1, -1
	for i := 0; i < MaxLayers; i++ {
		if !have[i] {
			continue
		}
		if lowest < 0 {
			lowest = i
		}
		rate := d.recv.LayerRate(i)
		if rate == 0 {
			rate = nominalRate(i)
		}
		fit := downFit
		if i > cur && !forced {
			if !upOK {
				continue
			}
			fit = upFit
		}
		if float64(rate) <= fit*estimate {
			best = i
		}
	}
	if best < 0 {
		best = lowest
	}
	if best < 0 {
		return 0
	}
	return best
}

// ReadRTCP starts the goroutine that drains the subscriber's RTCP from
// src: PLI and FIR become keyframe requests toward the publisher
// (rate-limited), receiver reports and REMB feed the bandwidth estimate,
// NACKs are answered from the Receiver's retransmission cache. It ends when
// src fails, that is when the sender is stopped.
func (d *DownTrack) ReadRTCP(src RTCPSource) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		errs := 0
		// One buffer and one parsed feedback for the reader's life, where
		// pion's ReadRTCP would allocate a buffer per read. TWCC feedback
		// goes to the connection's Transport without pion's parser, which
		// allocates per packet reported; the rest is parsed as before.
		buf := make([]byte, 1500)
		var fb TWCCFeedback
		apply := func(fb *TWCCFeedback) {
			if t := d.tw.Load(); t != nil {
				t.OnFeedback(fb)
			}
		}
		for {
			n, _, err := src.Read(buf)
			if err == nil {
				if n = StripTWCC(buf[:n], &fb, apply); n == 0 {
					continue
				}
			}
			if err == nil && HandleFeedback(buf[:n], selfRouter{d}, &fb) {
				errs = 0
				continue
			}
			var pkts []rtcp.Packet
			if err == nil {
				pkts, err = rtcp.Unmarshal(buf[:n])
			}
			if err != nil {
				if errs++; d.closed.Load() || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errs > 100 {
					return
				}
				continue
			}
			errs = 0
			d.handleRTCP(pkts)
		}
	}()
}

// handleRTCP applies the subscriber's RTCP.
func (d *DownTrack) handleRTCP(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.onPLI()
		case *rtcp.TransportLayerNack:
			d.rmu.Lock()
			for i := range p.Nacks {
				p.Nacks[i].Range(d.retransmit)
			}
			d.rmu.Unlock()
			if f := d.recv.cfg.Flush; f != nil {
				f()
			}
		case *rtcp.ReceiverReport:
			for _, rep := range p.Reports {
				d.onLoss(rep.FractionLost)
			}
		case *rtcp.TransportLayerCC:
			if t := d.tw.Load(); t != nil {
				t.OnFeedbackRTCP(p)
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			d.onREMB(int64(p.Bitrate))
		}
	}
}

// retransmit answers a NACK (RFC 4585 section 6.2.1) for one sequence
// number sent to the subscriber: the source packet, still in the
// Receiver's shared cache, goes again with the subscriber's SSRC, payload
// type, sequence number and timestamp. It always returns true, to go on
// with the next sequence number of the NACK. The caller holds rmu.
func (d *DownTrack) retransmit(seq uint16) bool {
	d.nacks.Add(1)
	b := d.bound.Load()
	if d.sent == nil || b == nil {
		return true
	}
	src, tsOff, layer, ok := d.sent.lookup(seq)
	if !ok {
		return true
	}
	p := d.recv.cached(layer, src)
	if p == nil {
		return true
	}
	defer p.release()
	h := &d.rtxHdr
	h.Version = 2
	h.Marker = p.hdr.Marker
	h.PayloadType = b.pt
	h.SequenceNumber = seq
	h.Timestamp = p.hdr.Timestamp + tsOff
	h.SSRC = b.ssrc
	h.Extension = false
	h.ExtensionProfile = 0
	h.Extensions = h.Extensions[:0]
	if id := uint8(d.twccExt.Load()); id != 0 {
		if t := d.tw.Load(); t != nil {
			s := t.next(time.Now().UnixNano(), len(p.payload)+wireOverhead)
			d.rtxTwcc[0], d.rtxTwcc[1] = byte(s>>8), byte(s)
			_ = h.SetExtension(id, d.rtxTwcc[:])
		}
	}
	if _, err := d.writer(b).WriteRTP(h, p.payload); err == nil {
		d.resent.Add(1)
	}
	return true
}

// onLoss is a loss-based estimator in the manner of GCC's loss controller
// (draft-ietf-rmcat-gcc section 6): above 10 % loss the estimate shrinks
// by half the loss fraction, below 2 % it grows by 5 %.
func (d *DownTrack) onLoss(fraction uint8) {
	for {
		old := d.estimate.Load()
		est := old
		switch {
		case fraction > 26:
			est = est * (512 - int64(fraction)) / 512
		case fraction < 5:
			est = est * 105 / 100
		}
		if d.estimate.CompareAndSwap(old, clamp(est)) {
			return
		}
	}
}

func clamp(v int64) int64 {
	return min(max(v, minEstimate), maxEstimate)
}

// Close stops the writer and waits for it and for the RTCP reader (whose
// sender the caller has stopped). It is idempotent.
func (d *DownTrack) Close() {
	if d.closed.Swap(true) {
		d.wg.Wait()
		return
	}
	d.recv.Unsubscribe(d)
	if t := d.tw.Load(); t != nil {
		t.detach(d)
		if d.video {
			t.videos.Add(-1)
		}
	}
	close(d.done)
	d.wg.Wait()
}

var _ webrtc.TrackLocal = (*DownTrack)(nil)
