package forward

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-
// extensions-01): every packet sent on a subscriber's connection carries a
// transport-wide sequence number, the subscriber reports when each one
// arrived (RTCP TransportLayerCC), and a delay-based estimator in the
// manner of GCC (draft-ietf-rmcat-gcc-02 section 5, and libwebrtc's
// trendline filter) turns the reports into a bandwidth estimate.

// twccRing is how many send records a Transport keeps: about 1 s of a
// subscriber receiving 1,000 packets/s; feedback comes every 100 ms.
const twccRing = 1024

// Send record layout, one atomic word: send time in µs since the
// Transport's epoch (36 bits, wraps after 19 hours, deltas taken modulo),
// size in bytes (12 bits), transport-wide sequence number (16 bits).
const (
	recTimeBits = 36
	recTimeMask = 1<<recTimeBits - 1
)

// Estimator parameters.
const (
	burstUS       = 5_000 // Packets sent within 5 ms form one group.
	trendWindow   = 20    // Groups in the trendline's regression.
	trendGain     = 4.0   // libwebrtc's threshold gain.
	thrInit       = 12.5  // ms, adaptive overuse threshold.
	thrMin        = 6.0
	thrMax        = 600.0
	overuseTimeUS = 10_000 // Trend above threshold this long is overuse.
	decreaseGap   = 300 * time.Millisecond
	ackWindowUS   = 300_000 // Received rate measured over ≥ 300 ms.
	increasePerS  = 1.08    // Multiplicative increase per second.
	backoff       = 0.85    // Estimate after overuse, × received rate.
)

// BandwidthState is what the delay-based detector concludes from a group.
type BandwidthState int

// The detector's states.
const (
	StateNormal BandwidthState = iota
	StateOveruse
	StateUnderuse
)

// Transport is the congestion state of one subscriber's connection,
// shared by all its DownTracks: it numbers the packets they write (lock
// free, no allocation), keeps their send times in a ring, and turns the
// subscriber's TWCC feedback into a bandwidth estimate, which the video
// DownTracks share to choose their simulcast layers.
// Life cycle: NewTransport per PeerConnection, SetTransport on each of its
// DownTracks before they are bound; nothing to close.
type Transport struct {
	epoch int64 // UnixNano.
	seq   atomic.Uint32
	sent  [twccRing]atomic.Uint64

	videos    atomic.Int32 // Video DownTracks sharing the estimate.
	estimate  atomic.Int64 // bit/s, 0 before the first feedback.
	feedbacks atomic.Uint64
	overuses  atomic.Uint64

	mu  sync.Mutex
	bwe delayEstimator

	direct atomic.Pointer[rtpWriterBox]

	// The sender reports (SendReports): the connection's DownTracks and
	// the compound being sent.
	repMu sync.Mutex
	downs []*DownTrack
	rep   [reportMax]byte
}

// NewTransport makes the congestion state of one connection.
func NewTransport() *Transport {
	t := &Transport{epoch: time.Now().UnixNano()}
	t.bwe.init(initialEstimate)
	return t
}

// next numbers a packet of size bytes sent at now (UnixNano) and records
// it; it returns its transport-wide sequence number. Called on the packet
// path, from any reader or writer goroutine.
func (t *Transport) next(now int64, size int) uint16 {
	s := uint16(t.seq.Add(1) - 1)
	us := uint64((now-t.epoch)/1000) & recTimeMask
	t.sent[s%twccRing].Store(us<<28 | uint64(min(size, 4095))<<16 | uint64(s))
	return s
}

// lookup returns the send time (µs, modulo 2^36) and size of a packet
// still in the ring.
func (t *Transport) lookup(seq uint16) (us int64, size int, ok bool) {
	r := t.sent[seq%twccRing].Load()
	if r == 0 || uint16(r) != seq {
		return 0, 0, false
	}
	return int64(r >> 28), int(r >> 16 & 0xfff), true
}

// Estimate is the connection's bandwidth estimate in bit/s, 0 while no
// TWCC feedback has arrived.
func (t *Transport) Estimate() int64 { return t.estimate.Load() }

// TransportStats are counters of a Transport: the TWCC feedback packets
// received and the times the detector found overuse.
type TransportStats struct {
	Feedbacks, Overuses uint64
}

// Stats returns the counters.
func (t *Transport) Stats() TransportStats {
	return TransportStats{t.feedbacks.Load(), t.overuses.Load()}
}

// share is one video DownTrack's part of the estimate, 0 without one.
func (t *Transport) share() int64 {
	e := t.estimate.Load()
	if e == 0 {
		return 0
	}
	return e / int64(max(t.videos.Load(), 1))
}

// TWCCFeedback is one parsed transport-wide congestion control feedback
// packet (draft-holmer-rmcat-transport-wide-cc-extensions-01 section
// 3.1): the arrival time in µs on the receiver's clock, or TWCCLost, of
// each packet from Base on. A parser reuses it from packet to packet.
type TWCCFeedback struct {
	MediaSSRC uint32
	Base      uint16
	Arrivals  []int64
}

// TWCCLost marks a packet the feedback reports not received.
const TWCCLost = math.MinInt64

// ParseTWCC parses one RTCP packet, b, if it is a TWCC feedback (RTPFB,
// FMT 15) into fb, reusing fb's storage; it reports whether it was one
// and well formed. It does not allocate once fb has held a feedback as
// long.
func ParseTWCC(b []byte, fb *TWCCFeedback) bool {
	if len(b) < 20 || b[0]>>6 != 2 || b[1] != 205 || b[0]&0x1f != 15 {
		return false
	}
	fb.MediaSSRC = uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
	fb.Base = uint16(b[12])<<8 | uint16(b[13])
	count := int(uint16(b[14])<<8 | uint16(b[15]))
	ref := int64(uint32(b[16])<<16|uint32(b[17])<<8|uint32(b[18])) * 64_000
	fb.Arrivals = fb.Arrivals[:0]
	// Status symbols first, in Arrivals: 0 not received, 1 small delta,
	// 2 large delta.
	pos := 20
	for len(fb.Arrivals) < count {
		if pos+2 > len(b) {
			return false
		}
		c := uint16(b[pos])<<8 | uint16(b[pos+1])
		pos += 2
		switch {
		case c&0x8000 == 0: // Run length chunk.
			sym, run := int64(c>>13&3), int(c&0x1fff)
			for range min(run, count-len(fb.Arrivals)) {
				fb.Arrivals = append(fb.Arrivals, sym)
			}
		case c&0x4000 == 0: // Status vector, 14 one-bit symbols.
			for i := 13; i >= 0 && len(fb.Arrivals) < count; i-- {
				fb.Arrivals = append(fb.Arrivals, int64(c>>i&1))
			}
		default: // Status vector, 7 two-bit symbols.
			for i := 12; i >= 0 && len(fb.Arrivals) < count; i -= 2 {
				fb.Arrivals = append(fb.Arrivals, int64(c>>i&3))
			}
		}
	}
	arr := ref
	for i, sym := range fb.Arrivals {
		switch sym {
		case 1:
			if pos+1 > len(b) {
				return false
			}
			arr += int64(b[pos]) * 250
			pos++
		case 2:
			if pos+2 > len(b) {
				return false
			}
			arr += int64(int16(uint16(b[pos])<<8|uint16(b[pos+1]))) * 250
			pos += 2
		default:
			fb.Arrivals[i] = TWCCLost
			continue
		}
		fb.Arrivals[i] = arr
	}
	return true
}

// StripTWCC hands the TWCC feedback packets of a compound RTCP packet b
// (RFC 3550 section 6.1) to apply, parsed into fb, removes them from b,
// and returns the length left. It does not allocate.
func StripTWCC(b []byte, fb *TWCCFeedback, apply func(*TWCCFeedback)) int {
	n := len(b)
	for pos := 0; pos+4 <= n; {
		l := (int(b[pos+2])<<8 | int(b[pos+3]) + 1) * 4
		if pos+l > n {
			break // Malformed: left to pion, which drops it.
		}
		if !ParseTWCC(b[pos:pos+l], fb) {
			pos += l
			continue
		}
		apply(fb)
		copy(b[pos:], b[pos+l:n])
		n -= l
	}
	return n
}

// OnFeedbackRTCP applies a TWCC feedback packet that pion has parsed
// already (the worker parses them itself, before pion, to spare the
// allocations: see OnFeedback).
func (t *Transport) OnFeedbackRTCP(p *rtcp.TransportLayerCC) {
	b, err := p.Marshal()
	if err != nil {
		return
	}
	var fb TWCCFeedback
	if ParseTWCC(b, &fb) {
		t.OnFeedback(&fb)
	}
}

// OnFeedback applies a TWCC feedback from the subscriber. It may be
// called from any goroutine; it takes the Transport's lock.
func (t *Transport) OnFeedback(fb *TWCCFeedback) { t.onFeedback(fb, time.Now()) }

func (t *Transport) onFeedback(fb *TWCCFeedback, now time.Time) {
	t.feedbacks.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	lost, got := 0, 0
	for i, arr := range fb.Arrivals {
		if arr == TWCCLost {
			lost++
			continue
		}
		got++
		if send, size, ok := t.lookup(fb.Base + uint16(i)); ok {
			t.bwe.packet(send, arr, size)
		}
	}
	if t.bwe.update(now, lost, got) {
		t.overuses.Add(1)
	}
	t.estimate.Store(int64(t.bwe.est))
}

// delayEstimator is the estimator behind a Transport: packets grouped by
// send time, the variation of one-way delay between groups accumulated
// and smoothed, its trend over the last groups (a least-squares slope)
// compared with an adaptive threshold (overuse, normal, underuse), and an
// AIMD rate controller: on overuse the estimate drops to 0.85 × the rate
// the subscriber received, in normal state it grows by 8 % per second,
// in underuse it holds. Heavy loss (over 10 % of a feedback) cuts it too.
type delayEstimator struct {
	est float64 // bit/s

	// The group being formed and the last complete one.
	gOpen                    bool
	gFirstSend, gSend, gArr  int64
	pSend, pArr              int64
	havePrev                 bool
	acc, smooth              float64
	firstArr                 int64
	xs, ys                   [trendWindow]float64
	n                        int // Groups seen.
	thr, prevTrend           float64
	lastThrArr               int64
	overUS, overCount        int64
	state                    BandwidthState
	ackBytes                 int
	ackFirst, ackLast        int64
	acked                    float64
	lastUpdate, lastDecrease time.Time
}

func (e *delayEstimator) init(est float64) {
	e.est = est
	e.thr = thrInit
}

// sendDiff is a-b for send times modulo 2^36 µs.
func sendDiff(a, b int64) int64 {
	d := (a - b) & recTimeMask
	if d >= 1<<(recTimeBits-1) {
		d -= 1 << recTimeBits
	}
	return d
}

// packet takes one packet reported received: send time (µs, modulo
// 2^36), arrival time (µs, the receiver's clock) and size.
func (e *delayEstimator) packet(send, arr int64, size int) {
	if e.ackBytes == 0 {
		e.ackFirst = arr
	}
	e.ackBytes += size
	e.ackLast = arr
	if e.ackLast-e.ackFirst >= ackWindowUS {
		r := float64(e.ackBytes) * 8e6 / float64(e.ackLast-e.ackFirst)
		if e.acked == 0 {
			e.acked = r
		} else {
			e.acked = (e.acked + r) / 2
		}
		e.ackBytes = 0
	}
	if !e.gOpen {
		e.gOpen, e.gFirstSend, e.gSend, e.gArr = true, send, send, arr
		return
	}
	if sendDiff(send, e.gFirstSend) < 0 {
		return // Reordered: older than the group.
	}
	if sendDiff(send, e.gFirstSend) <= burstUS {
		if sendDiff(send, e.gSend) > 0 {
			e.gSend = send
		}
		e.gArr = max(e.gArr, arr)
		return
	}
	e.group()
	e.gFirstSend, e.gSend, e.gArr = send, send, arr
}

// group closes the group being formed: the delay variation from the
// previous group feeds the trendline and the detector.
func (e *delayEstimator) group() {
	if !e.havePrev {
		e.pSend, e.pArr, e.havePrev, e.firstArr, e.lastThrArr = e.gSend, e.gArr, true, e.gArr, e.gArr
		return
	}
	sendDelta := sendDiff(e.gSend, e.pSend)
	arrDelta := e.gArr - e.pArr
	e.pSend, e.pArr = e.gSend, e.gArr
	if sendDelta <= 0 {
		return
	}
	d := float64(arrDelta-sendDelta) / 1000 // ms
	e.acc += d
	e.smooth = 0.9*e.smooth + 0.1*e.acc
	i := e.n % trendWindow
	e.xs[i] = float64(e.gArr-e.firstArr) / 1000
	e.ys[i] = e.smooth
	e.n++
	if e.n < trendWindow {
		return
	}
	trend := slope(e.xs[:], e.ys[:]) * float64(min(e.n, 60)) * trendGain
	e.detect(trend, sendDelta)
	// Adapt the threshold (libwebrtc's trendline estimator): it rises
	// slowly toward large trends and falls fast toward small ones, so that
	// a competing flow or a noisy link does not starve the estimate.
	dt := min(float64(e.gArr-e.lastThrArr)/1000, 100)
	e.lastThrArr = e.gArr
	if a := math.Abs(trend); a <= e.thr+15 {
		k := 0.0087
		if a < e.thr {
			k = 0.039
		}
		e.thr = min(max(e.thr+k*(a-e.thr)*dt, thrMin), thrMax)
	}
}

// detect is the overuse detector (draft-ietf-rmcat-gcc-02 section 5.4).
func (e *delayEstimator) detect(trend float64, sendDelta int64) {
	switch {
	case trend > e.thr:
		e.overUS += sendDelta
		e.overCount++
		if e.overUS > overuseTimeUS && e.overCount > 1 && trend >= e.prevTrend {
			e.overUS, e.overCount = 0, 0
			e.state = StateOveruse
		}
	case trend < -e.thr:
		e.overUS, e.overCount = 0, 0
		e.state = StateUnderuse
	default:
		e.overUS, e.overCount = 0, 0
		e.state = StateNormal
	}
	e.prevTrend = trend
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// update runs the rate controller once per feedback; it reports whether
// the estimate was cut for overuse.
func (e *delayEstimator) update(now time.Time, lost, got int) bool {
	dt := now.Sub(e.lastUpdate)
	if e.lastUpdate.IsZero() || dt > time.Second {
		dt = time.Second
	}
	e.lastUpdate = now
	cut := false
	canCut := now.Sub(e.lastDecrease) >= decreaseGap
	switch e.state {
	case StateOveruse:
		if canCut {
			base := e.acked
			if base == 0 {
				base = e.est
			}
			e.est = min(backoff*base, e.est)
			e.lastDecrease = now
			cut = true
			// Hold until the queue drains: the detector says so.
			e.state = StateUnderuse
		}
	case StateNormal:
		e.est *= math.Pow(increasePerS, dt.Seconds())
	}
	if total := lost + got; total >= 10 && canCut && !cut {
		if f := float64(lost) / float64(total); f > 0.1 {
			// Not below what gets through, less the same share: the loss
			// goes on while the layer switch waits for its keyframe.
			est := e.est * (1 - f/2)
			if floor := e.acked * (1 - f/2); est < floor {
				est = min(e.est, floor)
			}
			e.est = est
			e.lastDecrease = now
		}
	}
	e.est = float64(clamp(int64(e.est)))
	return cut
}

// RTPWriter writes one RTP packet of a connection: the worker's SRTP
// writer below pion's (sfu/srtpdirect.go).
type RTPWriter interface {
	WriteRTP(h *rtp.Header, payload []byte) (int, error)
}

type rtpWriterBox struct{ w RTPWriter }

// SetDirect makes w the writer of the connection's forwarded RTP, in
// place of pion's SRTP session (nil: pion's again).
func (t *Transport) SetDirect(w RTPWriter) {
	if w == nil {
		t.direct.Store(nil)
		return
	}
	t.direct.Store(&rtpWriterBox{w})
}

// Direct returns the connection's direct writer, or nil.
func (t *Transport) Direct() RTPWriter {
	if b := t.direct.Load(); b != nil {
		return b.w
	}
	return nil
}
