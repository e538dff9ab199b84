package forward

import (
	"encoding/binary"
	"time"
)

// ReportInterval is how often a DownTrack sends a sender report, as
// pion's sender-report interceptor does.
var ReportInterval = time.Second

// RTCPWriter sends an RTCP packet on a subscriber's connection. A
// connection's direct writer (Transport.SetDirect) that is also an
// RTCPWriter gets the DownTracks' sender reports.
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

// sendReport sends the subscriber a sender report (RFC 3550 section
// 6.4.1) for what the DownTrack has sent, through the connection's
// direct writer, so that it can map the stream's timestamps to wall
// clock time and play audio and video in sync. The RTP time is the last
// frame's timestamp advanced by the time since its first packet went,
// as pion's interceptor reckons it. It does not allocate. It runs on
// the writer goroutine.
func (d *DownTrack) sendReport(now time.Time) {
	b := d.bound.Load()
	t := d.tw.Load()
	if b == nil || t == nil {
		return
	}
	w, ok := t.Direct().(RTCPWriter)
	if !ok {
		return
	}
	d.wmu.Lock()
	framed, ts, wall := d.framed, d.frameTS, d.frameWall
	d.wmu.Unlock()
	if !framed {
		return // RFC 3550 section 6.4: no SR before the first packet.
	}
	packets := d.packets.Load()
	octets := d.bytes.Load() - 12*packets
	sr := d.sr[:]
	sr[0], sr[1] = 0x80, 200 // V=2, no report blocks; SR.
	binary.BigEndian.PutUint16(sr[2:], uint16(len(sr)/4-1))
	binary.BigEndian.PutUint32(sr[4:], b.ssrc)
	binary.BigEndian.PutUint64(sr[8:], ntpTime(now))
	binary.BigEndian.PutUint32(sr[16:], ts+uint32((now.UnixNano()-wall)*d.clock/int64(time.Second)))
	binary.BigEndian.PutUint32(sr[20:], uint32(packets))
	binary.BigEndian.PutUint32(sr[24:], uint32(octets))
	_ = w.WriteRTCP(sr)
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
