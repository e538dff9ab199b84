package sfu

import (
	"fmt"
	"testing"
	"time"
)

// TestSubscribersGetSenderReports: every track a subscriber receives
// comes with sender reports, about one a second, written by the worker
// itself (it has no sender-report interceptor): on the SSRC the
// subscriber receives, counting what it received, with an RTP time in
// the subscriber's own numbering that maps the wall clock onto the
// stream, so that it can play audio and video in sync. Three reports in
// a row per track, for two subscribers.
func TestSubscribersGetSenderReports(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true})
	subs := []*client{
		newClient(h, on("s1", false, MainGroup), clientOpts{senderReports: true}),
		newClient(h, on("s2", false, MainGroup), clientOpts{senderReports: true}),
	}
	clock := map[string]float64{"video": 90000, "audio": 48000}
	for _, s := range subs {
		for kind, rate := range clock {
			key := "p/" + kind
			var r received
			eventually(t, wait, fmt.Sprintf("%s: three sender reports for %s", s.id, key), func() bool {
				s.mu.Lock()
				defer s.mu.Unlock()
				if got := s.recv[key]; got != nil {
					r = *got
					r.srs = append([]gotSR(nil), got.srs...)
				}
				return len(r.srs) >= 3
			})
			for i, g := range r.srs {
				if g.sr.SSRC != r.ssrc {
					t.Fatalf("%s %s report %d: SSRC %d, the track comes on %d", s.id, key, i, g.sr.SSRC, r.ssrc)
				}
				if len(g.sr.Reports) != 0 {
					t.Fatalf("%s %s report %d: %d report blocks from a sender only", s.id, key, i, len(g.sr.Reports))
				}
				if g.packetsByThen == 0 {
					continue // Reported before the subscriber's first packet.
				}
				if d := int(g.sr.PacketCount) - g.packetsByThen; d < -2 || d > 20 {
					t.Fatalf("%s %s report %d: %d packets sent, %d received by then", s.id, key, i, g.sr.PacketCount, g.packetsByThen)
				}
				// The RTP time of the report against the last packet's
				// timestamp, advanced by the time since it arrived.
				want := float64(g.lastTS) + g.at.Sub(g.lastAt).Seconds()*rate
				if off := (float64(int32(g.sr.RTPTime-uint32(int64(want)))) / rate); off < -0.25 || off > 0.25 {
					t.Fatalf("%s %s report %d: RTP time %d is %.3f s off the stream (last packet %d, %v before)", s.id, key, i, g.sr.RTPTime, off, g.lastTS, g.at.Sub(g.lastAt))
				}
				if d := ntpToTime(g.sr.NTPTime).Sub(g.at); d < -time.Second || d > time.Second {
					t.Fatalf("%s %s report %d: NTP time %v off the clock", s.id, key, i, d)
				}
				if i > 0 {
					prev := r.srs[i-1].sr
					if g.sr.NTPTime <= prev.NTPTime || g.sr.PacketCount < prev.PacketCount || g.sr.OctetCount < prev.OctetCount {
						t.Fatalf("%s %s report %d goes back: %+v after %+v", s.id, key, i, g.sr, prev)
					}
				}
			}
		}
	}
}

// ntpToTime converts a 64-bit NTP timestamp.
func ntpToTime(v uint64) time.Time {
	const unixToNTP = 2_208_988_800
	sec := int64(v>>32) - unixToNTP
	frac := int64((v & 0xffffffff) * uint64(time.Second) >> 32)
	return time.Unix(sec, frac)
}
