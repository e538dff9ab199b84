package forward

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// MaxLayers is the number of simulcast layers a Receiver takes.
const MaxLayers = 3

// keyframeInterval rate-limits keyframe requests toward a publisher, per
// layer.
const keyframeInterval = 500 * time.Millisecond

// TrackReader is what a Receiver reads one layer from; *webrtc.TrackRemote
// satisfies it, tests may feed their own.
type TrackReader interface {
	Read(b []byte) (int, interceptor.Attributes, error)
	SSRC() webrtc.SSRC
	RID() string
}

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// Codec is the incoming track's codec.
	Codec webrtc.RTPCodecParameters
	// TrackID and StreamID name the track toward subscribers.
	TrackID, StreamID string
	// AudioLevelExt is the negotiated id of the RFC 6464 header
	// extension, 0 when absent.
	AudioLevelExt uint8
	// WriteRTCP sends RTCP toward the publisher (keyframe requests).
	WriteRTCP func([]rtcp.Packet) error
	// Flush, if set, is called at the end of the fan-out of each packet,
	// once every subscriber it was queued to has written it, and after a
	// retransmission: the moment to send what writers may have batched.
	Flush  func()
	Logger *slog.Logger
}

// Receiver is one incoming track, with up to three simulcast layers. Each
// layer has one reader goroutine that owns the packet path: it reads,
// parses and fans each packet out to the subscribed DownTracks without a
// lock (the subscriber list is an atomic copy-on-write slice). Life cycle:
// NewReceiver, AddLayer as layers arrive, Subscribe/Unsubscribe any time,
// Close once (it waits for the readers, which end when their tracks do).
type Receiver struct {
	cfg    ReceiverConfig
	family int
	kind   webrtc.RTPCodecType
	pool   sync.Pool

	subs   atomic.Pointer[[]*DownTrack]
	subsMu sync.Mutex // Serializes copy-on-write updates of subs.

	layers  [MaxLayers]atomic.Pointer[layer]
	lastKey [MaxLayers]atomic.Int64
	// pendingKey marks a keyframe request that came within
	// keyframeInterval of the last one: the layer's reader sends it when
	// the interval ends, so requests are coalesced, never dropped.
	pendingKey [MaxLayers]atomic.Bool
	level      atomic.Int32 // Smoothed loudness, 0 (silence) to 127×16.

	packets atomic.Uint64
	bytes   atomic.Uint64
	plis    atomic.Uint64
	bad     atomic.Uint64

	closed atomic.Bool
	wg     sync.WaitGroup
}

type layer struct {
	// mu serializes the layer's fan-outs: its reader's and HandlePacket's
	// (the worker reads most packets below pion, sfu/fastread.go, and the
	// rest through the track).
	mu    sync.Mutex
	index int32
	track TrackReader
	ssrc  uint32
	// Measured bitrate of the layer in bit/s, updated every second.
	rate     atomic.Int64
	winStart int64
	winBytes int64
	// cache keeps the layer's last packets for retransmission to any
	// subscriber (video only; nil for audio, which negotiates no NACK).
	cache *rtxCache
	// last is the sequence number of the packet cached last, with bit 16
	// set once there is one.
	last atomic.Uint32
}

// NewReceiver makes a Receiver for one incoming track.
func NewReceiver(cfg ReceiverConfig) *Receiver {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{cfg: cfg, family: codecFamily(cfg.Codec.MimeType)}
	r.kind = webrtc.RTPCodecTypeVideo
	if r.family == codecAudio {
		r.kind = webrtc.RTPCodecTypeAudio
	}
	r.pool.New = func() any { return &packet{pool: &r.pool} }
	empty := []*DownTrack{}
	r.subs.Store(&empty)
	return r
}

// Kind is audio or video.
func (r *Receiver) Kind() webrtc.RTPCodecType { return r.kind }

// Codec is the incoming codec.
func (r *Receiver) Codec() webrtc.RTPCodecParameters { return r.cfg.Codec }

// LayerIndex maps a simulcast RID to a quality index: q/l/low lowest, h/m
// middle, f/high highest (the q/h/f convention of pion's and LiveKit's
// clients); an unknown RID takes the first free index.
func LayerIndex(rid string) int {
	switch strings.ToLower(rid) {
	case "", "q", "l", "low", "0":
		return 0
	case "h", "m", "mid", "1":
		return 1
	case "f", "high", "2":
		return 2
	}
	return -1
}

// AddLayer starts reading one layer (the whole track without simulcast).
func (r *Receiver) AddLayer(t TrackReader) error {
	if r.closed.Load() {
		return ErrClosed
	}
	idx := LayerIndex(t.RID())
	if idx < 0 {
		for i := range r.layers {
			if r.layers[i].Load() == nil {
				idx = i
				break
			}
		}
	}
	if idx < 0 {
		return ErrTooManyLayers
	}
	l := &layer{index: int32(idx), track: t, ssrc: uint32(t.SSRC())}
	if r.kind == webrtc.RTPCodecTypeVideo {
		l.cache = &rtxCache{}
	}
	if !r.layers[idx].CompareAndSwap(nil, l) {
		return ErrTooManyLayers
	}
	r.wg.Add(1)
	go r.readLoop(l)
	return nil
}

// Layers reports which layers exist.
func (r *Receiver) Layers() (have [MaxLayers]bool) {
	for i := range r.layers {
		have[i] = r.layers[i].Load() != nil
	}
	return have
}

// LayerRate is the measured bitrate of a layer in bit/s (0 if unknown).
func (r *Receiver) LayerRate(i int) int64 {
	if l := r.layers[i].Load(); l != nil {
		return l.rate.Load()
	}
	return 0
}

// Subscribe adds a DownTrack to the fan-out. A video DownTrack asks for a
// keyframe when it is bound (at once if it already is).
func (r *Receiver) Subscribe(d *DownTrack) {
	r.subsMu.Lock()
	old := *r.subs.Load()
	next := make([]*DownTrack, 0, len(old)+1)
	for _, s := range old {
		if s != d {
			next = append(next, s)
		}
	}
	next = append(next, d)
	r.subs.Store(&next)
	r.subsMu.Unlock()
	if r.kind == webrtc.RTPCodecTypeVideo && d.Bound() {
		r.RequestKeyframe(int(d.target.Load()))
	}
}

// Unsubscribe removes a DownTrack from the fan-out.
func (r *Receiver) Unsubscribe(d *DownTrack) {
	r.subsMu.Lock()
	old := *r.subs.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, s := range old {
		if s != d {
			next = append(next, s)
		}
	}
	r.subs.Store(&next)
	r.subsMu.Unlock()
}

// Subscribers is the number of subscribed DownTracks.
func (r *Receiver) Subscribers() int { return len(*r.subs.Load()) }

// RequestKeyframe sends a PLI for a layer toward the publisher, at most
// once per keyframeInterval (RFC 4585 section 6.3.1). A request within the
// interval is not dropped but coalesced: it is sent when the interval
// ends, by the layer's reader.
func (r *Receiver) RequestKeyframe(layerIdx int) {
	if r.kind != webrtc.RTPCodecTypeVideo || layerIdx < 0 || layerIdx >= MaxLayers {
		return
	}
	l := r.layers[layerIdx].Load()
	if l == nil || r.cfg.WriteRTCP == nil {
		return
	}
	now := time.Now().UnixNano()
	last := r.lastKey[layerIdx].Load()
	if now-last < int64(keyframeInterval) || !r.lastKey[layerIdx].CompareAndSwap(last, now) {
		r.pendingKey[layerIdx].Store(true)
		return
	}
	r.pendingKey[layerIdx].Store(false)
	r.plis.Add(1)
	_ = r.cfg.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
}

// AudioLevel is the smoothed loudness of an audio track from RFC 6464
// levels: 0 for silence up to 127 for the loudest.
func (r *Receiver) AudioLevel() int { return int(r.level.Load() / 16) }

// ReceiverStats are counters of one Receiver.
type ReceiverStats struct {
	Packets, Bytes, PLIs, Malformed uint64
}

// Stats returns the counters.
func (r *Receiver) Stats() ReceiverStats {
	return ReceiverStats{r.packets.Load(), r.bytes.Load(), r.plis.Load(), r.bad.Load()}
}

// Close marks the Receiver closed and waits for its readers, which end
// when their tracks end (the caller stops the RTPReceiver or closes the
// PeerConnection first).
func (r *Receiver) Close() {
	r.closed.Store(true)
	r.wg.Wait()
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil && l.cache != nil {
			l.mu.Lock()
			l.cache.clear()
			l.mu.Unlock()
		}
	}
	r.subsMu.Lock()
	empty := []*DownTrack{}
	r.subs.Store(&empty)
	r.subsMu.Unlock()
}

// readLoop is the packet path of one layer: no lock, no allocation.
func (r *Receiver) readLoop(l *layer) {
	defer r.wg.Done()
	errs := 0
	for {
		p := r.pool.Get().(*packet)
		n, _, err := l.track.Read(p.buf[:])
		if err != nil {
			r.pool.Put(p)
			if errors.Is(err, io.EOF) || r.closed.Load() {
				return
			}
			if errs++; errs > 1000 {
				r.cfg.Logger.Warn("forward: giving up on a failing track", "err", err)
				return
			}
			continue
		}
		errs = 0
		l.mu.Lock()
		r.handle(l, p, p.buf[:n])
		l.mu.Unlock()
	}
}

// handle parses and fans out one packet; it owns p's first reference.
// The caller holds l.mu.
func (r *Receiver) handle(l *layer, p *packet, b []byte) {
	payload, err := ParseRTP(&p.hdr, b)
	if err != nil {
		r.bad.Add(1)
		r.pool.Put(p)
		return
	}
	p.payload = payload
	p.layer = l.index
	p.keyframe = isKeyframe(r.family, payload)
	p.refs.Store(1)
	p.pending.Store(1)
	r.packets.Add(1)
	r.bytes.Add(uint64(len(b)))
	r.measure(l, len(b))
	if r.pendingKey[l.index].Load() {
		r.RequestKeyframe(int(l.index))
	}
	if r.cfg.AudioLevelExt != 0 {
		if ext := p.hdr.GetExtension(r.cfg.AudioLevelExt); len(ext) > 0 {
			loud := int32(127-ext[0]&0x7f) * 16
			old := r.level.Load()
			r.level.Store(old + (loud-old)/4)
		}
	}
	for _, d := range *r.subs.Load() {
		d.offer(p)
	}
	if l.cache != nil && !r.closed.Load() {
		l.cache.put(p)
		l.last.Store(1<<16 | uint32(p.hdr.SequenceNumber))
	}
	r.written(p)
	p.release()
}

// written counts one write of p's fan-out done, and flushes after the
// last one.
func (r *Receiver) written(p *packet) {
	if p.pending.Add(-1) == 0 && r.cfg.Flush != nil {
		r.cfg.Flush()
	}
}

// cached returns the packet of a layer with source sequence number seq
// from the retransmission cache, with a reference the caller releases, or
// nil.
func (r *Receiver) cached(layerIdx int32, seq uint16) *packet {
	if layerIdx < 0 || layerIdx >= MaxLayers {
		return nil
	}
	l := r.layers[layerIdx].Load()
	if l == nil || l.cache == nil {
		return nil
	}
	return l.cache.get(seq, layerIdx)
}

// measure keeps the layer's bitrate over one-second windows.
func (r *Receiver) measure(l *layer, n int) {
	now := time.Now().UnixNano()
	if l.winStart == 0 {
		l.winStart = now
	}
	l.winBytes += int64(n)
	if el := now - l.winStart; el >= int64(time.Second) {
		l.rate.Store(l.winBytes * 8 * int64(time.Second) / el)
		l.winStart, l.winBytes = now, 0
	}
}

// HandlePacket feeds one RTP packet of a layer, read and decrypted
// elsewhere, as if read from its track: the worker's reads below pion
// (sfu/fastread.go) and tests and benchmarks use it. It may run
// concurrently with the layer's reader, and it does nothing once the
// Receiver is closed.
func (r *Receiver) HandlePacket(layerIdx int, b []byte) {
	if layerIdx < 0 || layerIdx >= MaxLayers {
		return
	}
	l := r.layers[layerIdx].Load()
	if l == nil || len(b) > maxPacket {
		return
	}
	p := r.pool.Get().(*packet)
	n := copy(p.buf[:], b)
	l.mu.Lock()
	if r.closed.Load() {
		l.mu.Unlock()
		r.pool.Put(p)
		return
	}
	r.handle(l, p, p.buf[:n])
	l.mu.Unlock()
}

// LayerOf is the index of the layer with SSRC ssrc, or -1.
func (r *Receiver) LayerOf(ssrc uint32) int {
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil && l.ssrc == ssrc {
			return i
		}
	}
	return -1
}

var _ TrackReader = (*webrtc.TrackRemote)(nil)
