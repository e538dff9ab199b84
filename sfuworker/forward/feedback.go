package forward

import "encoding/binary"

// RTCP packet types and feedback formats a subscriber sends (RFC 3550,
// RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb,
// draft-holmer-rmcat-transport-wide-cc-extensions).
const (
	rtcpRR    = 201
	rtcpSDES  = 202
	rtcpRTPFB = 205
	rtcpPSFB  = 206

	fmtNACK = 1
	fmtTWCC = 15
	fmtPLI  = 1
	fmtFIR  = 4
	fmtAFB  = 15
)

// FeedbackRouter finds what a subscriber's feedback about one of the
// SSRCs the worker sends it goes to: the DownTrack that sends it, and
// the connection's congestion state. Either may be nil.
type FeedbackRouter interface {
	Route(ssrc uint32) (*DownTrack, *Transport)
}

// HandleFeedback applies a subscriber's compound RTCP packet b (RFC 3550
// section 6.1), decrypted, if it holds only what a receiving endpoint
// sends about what it receives: receiver reports, SDES, NACKs, TWCC
// feedback, PLIs, FIRs and REMB. It parses in place and does not
// allocate: pion's path parses every compound into new packets, the
// last allocations on the forwarding path. It returns false, and applies
// nothing, for anything else (a sender report from a connection that
// also publishes, BYE, APP, XR, a malformed packet): those go on to
// pion. fb is scratch for TWCC feedback, owned by the caller.
func HandleFeedback(b []byte, r FeedbackRouter, fb *TWCCFeedback) bool {
	if !feedbackOnly(b) {
		return false
	}
	for pos := 0; pos < len(b); {
		l := (int(binary.BigEndian.Uint16(b[pos+2:])) + 1) * 4
		applyFeedback(b[pos:pos+l], r, fb)
		pos += l
	}
	return true
}

// feedbackOnly reports whether the compound b is well formed and holds
// only packets HandleFeedback applies.
func feedbackOnly(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for pos := 0; pos < len(b); {
		if pos+4 > len(b) || b[pos]>>6 != 2 {
			return false
		}
		l := (int(binary.BigEndian.Uint16(b[pos+2:])) + 1) * 4
		if pos+l > len(b) {
			return false
		}
		p, count := b[pos:pos+l], int(b[pos]&0x1f)
		switch b[pos+1] {
		case rtcpRR:
			if 8+24*count > len(p) {
				return false
			}
		case rtcpSDES:
		case rtcpRTPFB:
			if len(p) < 12 || (count != fmtNACK && count != fmtTWCC) {
				return false
			}
		case rtcpPSFB:
			if len(p) < 12 {
				return false
			}
			switch count {
			case fmtPLI, fmtFIR:
			case fmtAFB:
				if !isREMB(p) {
					return false
				}
			default:
				return false
			}
		default:
			return false
		}
		pos += l
	}
	return true
}

// isREMB reports whether the application-layer feedback p is a
// well-formed REMB.
func isREMB(p []byte) bool {
	return len(p) >= 20 && string(p[12:16]) == "REMB" && len(p) >= 20+4*int(p[16])
}

// applyFeedback applies one packet of a compound feedbackOnly accepted.
func applyFeedback(p []byte, r FeedbackRouter, fb *TWCCFeedback) {
	count := int(p[0] & 0x1f)
	switch p[1] {
	case rtcpRR:
		for i := range count {
			blk := p[8+24*i:]
			if d, _ := r.Route(binary.BigEndian.Uint32(blk)); live(d) {
				d.onLoss(blk[4])
			}
		}
	case rtcpRTPFB:
		media := binary.BigEndian.Uint32(p[8:])
		switch count {
		case fmtNACK:
			if d, _ := r.Route(media); live(d) {
				d.onNACK(p[12:])
			}
		case fmtTWCC:
			if ParseTWCC(p, fb) {
				if _, t := r.Route(fb.MediaSSRC); t != nil {
					t.OnFeedback(fb)
				}
			}
		}
	case rtcpPSFB:
		switch count {
		case fmtPLI:
			if d, _ := r.Route(binary.BigEndian.Uint32(p[8:])); live(d) {
				d.onPLI()
			}
		case fmtFIR:
			for fci := p[12:]; len(fci) >= 8; fci = fci[8:] {
				if d, _ := r.Route(binary.BigEndian.Uint32(fci)); live(d) {
					d.onPLI()
				}
			}
		case fmtAFB:
			v := binary.BigEndian.Uint32(p[16:])
			bps := int64(v&0x3ffff) << (v >> 18 & 0x3f)
			for i := range int(p[16]) {
				if d, _ := r.Route(binary.BigEndian.Uint32(p[20+4*i:])); live(d) {
					d.onREMB(bps)
				}
			}
		}
	}
}

// selfRouter routes feedback about the DownTrack's own SSRC to it, for
// its reader of pion's path.
type selfRouter struct{ d *DownTrack }

func (s selfRouter) Route(ssrc uint32) (*DownTrack, *Transport) {
	if b := s.d.bound.Load(); b == nil || b.ssrc != ssrc {
		return nil, nil
	}
	return s.d, s.d.tw.Load()
}

// onPLI asks the publisher for a keyframe for the subscriber (PLI, FIR).
func (d *DownTrack) onPLI() {
	d.plis.Add(1)
	d.recv.RequestKeyframe(int(d.cur.Load()))
}

// onNACK answers a generic NACK's entries (RFC 4585 section 6.2.1): a
// packet id and a bitmask of the 16 following.
func (d *DownTrack) onNACK(fci []byte) {
	d.rmu.Lock()
	for ; len(fci) >= 4; fci = fci[4:] {
		pid, blp := binary.BigEndian.Uint16(fci), binary.BigEndian.Uint16(fci[2:])
		d.retransmit(pid)
		for i := range uint16(16) {
			if blp&(1<<i) != 0 {
				d.retransmit(pid + i + 1)
			}
		}
	}
	d.rmu.Unlock()
	if f := d.recv.cfg.Flush; f != nil {
		f()
	}
}

// onREMB takes the subscriber's receiver-estimated maximum bitrate.
func (d *DownTrack) onREMB(bps int64) {
	if bps > 0 {
		d.estimate.Store(clamp(bps))
	}
}

// live reports whether feedback may go to d: a route may outlive its
// DownTrack until the connection's next negotiation.
func live(d *DownTrack) bool { return d != nil && !d.closed.Load() }
