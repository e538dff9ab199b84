package forward

import (
	"encoding/binary"
	"slices"
	"time"
)

// RTCPWriter sends an RTCP packet on a subscriber's connection. A
// connection's direct writer (Transport.SetDirect) that is also an
// RTCPWriter gets the DownTracks' sender reports (SendReports).
type RTCPWriter interface {
	WriteRTCP(b []byte) error
}

// writer is where the DownTrack's RTP goes: the connection's direct
// writer once it has one, which is the innermost step of pion's chain
// anyway (the worker's interceptors act on what it receives, and the
// sender reports are the DownTrack's own), else pion's writer.
func (d *DownTrack) writer(b *binding) RTPWriter {
	if t := d.tw.Load(); t != nil {
		if w := t.Direct(); w != nil {
			return w
		}
	}
	return b.writer
}

// SendReports sends the subscriber, in one compound packet, a sender
// report (RFC 3550 section 6.4.1) for each DownTrack on the connection
// that has sent something, through the connection's direct writer, so
// that it can map each stream's timestamps to wall clock time and play
// audio and video in sync. The worker calls it about once a second for
// every connection. It does not allocate.
func (t *Transport) SendReports(now time.Time) {
	w, ok := t.Direct().(RTCPWriter)
	if !ok {
		return
	}
	t.repMu.Lock()
	defer t.repMu.Unlock()
	b := t.rep[:0]
	for _, d := range t.downs {
		if len(b)+srSize > len(t.rep) {
			_ = w.WriteRTCP(b)
			b = t.rep[:0]
		}
		b = d.appendReport(b, now)
	}
	if len(b) > 0 {
		_ = w.WriteRTCP(b)
	}
}

// srSize is a sender report's size without report blocks; reportMax
// bounds a compound, so that it fits a datagram with SRTCP's trailer.
const (
	srSize    = 28
	reportMax = 39 * srSize
)

// attach and detach keep the DownTracks the connection reports on.
func (t *Transport) attach(d *DownTrack) {
	t.repMu.Lock()
	t.downs = append(t.downs, d)
	t.repMu.Unlock()
}

func (t *Transport) detach(d *DownTrack) {
	t.repMu.Lock()
	if i := slices.Index(t.downs, d); i >= 0 {
		t.downs = slices.Delete(t.downs, i, i+1)
	}
	t.repMu.Unlock()
}

// appendReport appends the DownTrack's sender report to b: its SSRC,
// the packets and payload octets it sent, and an RTP time that is the
// last frame's timestamp advanced by the time since its first packet
// went, as pion's interceptor reckons it. Nothing before the first
// packet (RFC 3550 section 6.4: no SR then).
func (d *DownTrack) appendReport(b []byte, now time.Time) []byte {
	bnd := d.bound.Load()
	if bnd == nil || d.closed.Load() {
		return b
	}
	d.wmu.Lock()
	framed, ts, wall := d.framed, d.frameTS, d.frameWall
	d.wmu.Unlock()
	if !framed {
		return b
	}
	packets := d.packets.Load()
	octets := d.bytes.Load() - 12*packets
	b = append(b, 0x80, 200, 0, srSize/4-1) // V=2, no report blocks; SR.
	b = binary.BigEndian.AppendUint32(b, bnd.ssrc)
	b = binary.BigEndian.AppendUint64(b, ntpTime(now))
	b = binary.BigEndian.AppendUint32(b, ts+uint32((now.UnixNano()-wall)*d.clock/int64(time.Second)))
	b = binary.BigEndian.AppendUint32(b, uint32(packets))
	return binary.BigEndian.AppendUint32(b, uint32(octets))
}

// ntpTime is t as a 64-bit NTP timestamp: seconds since 1900 and the
// fraction of the second.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2_208_988_800
	ns := t.UnixNano()
	sec := uint64(ns/int64(time.Second)) + unixToNTP
	frac := uint64(ns%int64(time.Second)) << 32 / uint64(time.Second)
	return sec<<32 | frac
}
