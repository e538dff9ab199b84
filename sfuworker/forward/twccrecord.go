package forward

import "encoding/binary"

// TWCCRecorder gathers the arrivals of a publisher connection's packets
// by transport-wide sequence number and builds the feedback that tells
// the publisher which arrived when
// (draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1), in
// place: pion's recorder builds each feedback from new chunk and delta
// objects, about forty allocations ten times a second per publisher.
// It does not allocate once its scratch has grown to a feedback's size.
// It is not safe for concurrent use.
type TWCCRecorder struct {
	sender, media uint32
	count         uint8 // Feedback packet count.
	// Sequence numbers are unwrapped (last is the last one seen); lo is
	// the first not yet reported, hi one past the highest recorded.
	last    uint16
	started bool
	ext     int64
	lo, hi  int64
	ring    [arrivalRing]twccArrival

	syms   []uint8
	deltas []int32
}

// arrivalRing bounds the sequence numbers held between two feedbacks
// (100 ms apart): 2 s of a 1,000-packet/s publisher, in 32 KiB.
const arrivalRing = 1 << 11

// twccMaxStatus bounds the packets one feedback reports on, so that it
// fits in one datagram; the rest go in the next.
const twccMaxStatus = 600

type twccArrival struct {
	seq int64 // Unwrapped; slot empty if not the one asked for.
	us  int64 // Arrival, µs on the caller's clock.
}

// NewTWCCRecorder makes a recorder whose feedback comes from sender.
func NewTWCCRecorder(sender uint32) *TWCCRecorder {
	r := &TWCCRecorder{sender: sender}
	for i := range r.ring {
		r.ring[i].seq = -1
	}
	return r
}

// Record notes that the packet with transport-wide sequence number seq,
// of the stream media, arrived at arrival (µs).
func (r *TWCCRecorder) Record(media uint32, seq uint16, arrival int64) {
	r.media = media
	if !r.started {
		r.started, r.last, r.ext = true, seq, int64(seq)
		r.lo, r.hi = r.ext, r.ext
	}
	diff := int64(int16(seq - r.last))
	e := r.ext + diff // seq, unwrapped.
	if diff > 0 {
		r.last, r.ext = seq, e
	}
	if e < r.lo {
		return // Reported as lost already.
	}
	if e >= r.lo+arrivalRing {
		r.lo = e - arrivalRing + 1 // Too long since the last feedback.
	}
	r.ring[e&(arrivalRing-1)] = twccArrival{e, arrival}
	r.hi = max(r.hi, e+1)
}

// Pending reports whether there is anything to report.
func (r *TWCCRecorder) Pending() bool { return r.hi > r.lo }

// Build writes the next feedback packet into buf (at least 1,500 bytes)
// and returns its length, 0 if there is nothing to report. It reports
// from the first sequence number not yet reported to the highest
// received, the gaps as not received; a packet that arrives after the
// feedback that reported it lost is not reported again. Call it until it
// returns 0 to report everything.
func (r *TWCCRecorder) Build(buf []byte) int {
	if r.lo >= r.hi {
		return 0
	}
	// The reference time is that of the first packet received from lo on
	// (hi-1 was received).
	f := r.lo
	for r.ring[f&(arrivalRing-1)].seq != f {
		f++
	}
	first := r.ring[f&(arrivalRing-1)].us
	ref := first / 64_000 // Reference time, in 64 ms units.
	prev := ref * 64_000
	r.syms, r.deltas = r.syms[:0], r.deltas[:0]
	size := 20 // Header, then 2 bytes per chunk and the deltas.
	end := r.lo
	for ; end < r.hi && end-r.lo < twccMaxStatus; end++ {
		a := r.ring[end&(arrivalRing-1)]
		if a.seq != end {
			r.syms = append(r.syms, 0)
			continue
		}
		d := (a.us - prev) / 250
		if d < -32768 || d > 32767 {
			break // Not expressible: the next feedback starts here.
		}
		prev += d * 250
		if d >= 0 && d <= 255 {
			r.syms = append(r.syms, 1)
			size++
		} else {
			r.syms = append(r.syms, 2)
			size += 2
		}
		r.deltas = append(r.deltas, int32(d))
		if size+2*len(r.syms)/7+2 > 1200 {
			end++
			break
		}
	}
	// Chunks: a run of 14 or more equal symbols in one run-length chunk,
	// else 14 one-bit symbols if none is a large delta, else 7 two-bit.
	pos := 20
	syms := r.syms
	for len(syms) > 0 {
		run := 1
		for run < len(syms) && run < 8191 && syms[run] == syms[0] {
			run++
		}
		var c uint16
		switch {
		case run >= 14 || run == len(syms):
			c = uint16(syms[0])<<13 | uint16(run)
			syms = syms[run:]
		case !hasLarge(syms, 14):
			c = 0x8000
			for i := range min(14, len(syms)) {
				c |= uint16(syms[i]) << (13 - i)
			}
			syms = syms[min(14, len(syms)):]
		default:
			c = 0xc000
			for i := range min(7, len(syms)) {
				c |= uint16(syms[i]) << (12 - 2*i)
			}
			syms = syms[min(7, len(syms)):]
		}
		binary.BigEndian.PutUint16(buf[pos:], c)
		pos += 2
	}
	for _, d := range r.deltas {
		if d >= 0 && d <= 255 {
			buf[pos] = byte(d)
			pos++
		} else {
			binary.BigEndian.PutUint16(buf[pos:], uint16(int16(d)))
			pos += 2
		}
	}
	pad := (4 - pos%4) % 4
	for i := range pad {
		buf[pos+i] = 0
	}
	if pad > 0 {
		pos += pad
		buf[pos-1] = byte(pad) // RFC 3550 section 6.4.1: the padding's length.
	}
	buf[0] = 0x80 | 15 // V=2, FMT 15.
	if pad > 0 {
		buf[0] |= 0x20
	}
	buf[1] = 205
	binary.BigEndian.PutUint16(buf[2:], uint16(pos/4-1))
	binary.BigEndian.PutUint32(buf[4:], r.sender)
	binary.BigEndian.PutUint32(buf[8:], r.media)
	binary.BigEndian.PutUint16(buf[12:], uint16(r.lo))
	binary.BigEndian.PutUint16(buf[14:], uint16(len(r.syms)))
	buf[16], buf[17], buf[18] = byte(ref>>16), byte(ref>>8), byte(ref)
	buf[19] = r.count
	r.count++
	r.lo = end
	return pos
}

// hasLarge reports whether any of the first n symbols is a large delta.
func hasLarge(syms []uint8, n int) bool {
	for _, s := range syms[:min(n, len(syms))] {
		if s == 2 {
			return true
		}
	}
	return false
}
