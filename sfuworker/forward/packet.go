package forward

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
)

// maxPacket is the size of a packet buffer: the receive MTU pion uses.
const maxPacket = 1500

// packet is one received RTP packet shared by every subscriber it is
// queued to. It is reference counted: the reader holds one reference while
// it fans the packet out, each queue entry one more, and the last release
// returns it to its pool. A packet is read-only once fanned out.
type packet struct {
	refs atomic.Int32
	// pending counts the writes of the packet still to come in its
	// fan-out, plus one for the reader while it offers the packet.
	pending  atomic.Int32
	buf      [maxPacket]byte
	hdr      rtp.Header
	payload  []byte
	layer    int32
	keyframe bool
	pool     *sync.Pool
}

// release drops one reference and recycles the packet on the last one.
func (p *packet) release() {
	if p.refs.Add(-1) == 0 {
		p.pool.Put(p)
	}
}

// acquire takes a reference on a packet found through the retransmission
// cache, unless it has already gone back to its pool.
func (p *packet) acquire() bool {
	for {
		n := p.refs.Load()
		if n <= 0 {
			return false
		}
		if p.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// ParseRTP parses one RTP packet from b into hdr without allocating
// (hdr's extension slice is reused) and returns its payload without the
// padding. It is the one decoder of untrusted RTP bytes in this package.
func ParseRTP(hdr *rtp.Header, b []byte) ([]byte, error) {
	n, err := hdr.Unmarshal(b)
	if err != nil {
		return nil, ErrBadPacket
	}
	end := len(b)
	if hdr.Padding {
		if end <= n {
			return nil, ErrBadPacket
		}
		pad := int(b[end-1])
		// RFC 3550 section 5.1: the last octet counts itself, so zero is
		// malformed, and padding may not run into the header.
		if pad == 0 || n+pad > end {
			return nil, ErrBadPacket
		}
		end -= pad
	}
	return b[n:end], nil
}

// Codec families whose keyframes the forwarding layer recognizes.
const (
	codecOther = iota
	codecVP8
	codecVP9
	codecH264
	codecAudio
)

func codecFamily(mime string) int {
	switch {
	case strings.EqualFold(mime, "video/VP8"):
		return codecVP8
	case strings.EqualFold(mime, "video/VP9"):
		return codecVP9
	case strings.EqualFold(mime, "video/H264"):
		return codecH264
	case strings.HasPrefix(strings.ToLower(mime), "audio/"):
		return codecAudio
	}
	return codecOther
}

// IsKeyframe reports whether payload starts a keyframe of the codec
// family: VP8 (RFC 7741), VP9 (RFC 9628) and H.264 (RFC 6184). Audio
// packets are all "keyframes": any of them may start a stream.
func isKeyframe(family int, payload []byte) bool {
	switch family {
	case codecAudio:
		return true
	case codecVP8:
		return vp8Keyframe(payload)
	case codecVP9:
		// RFC 9628 section 4.2: P=0 (not inter-predicted) on the first
		// packet of a frame (B=1).
		return len(payload) > 0 && payload[0]&0x40 == 0 && payload[0]&0x08 != 0
	case codecH264:
		return h264Keyframe(payload)
	}
	return false
}

// vp8Keyframe reads the RFC 7741 payload descriptor and the VP8 payload
// header's inverse keyframe bit.
func vp8Keyframe(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	// S=1 and PID=0: the start of the first partition.
	if b[0]&0x10 == 0 || b[0]&0x07 != 0 {
		return false
	}
	i := 1
	if b[0]&0x80 != 0 {
		if len(b) <= i {
			return false
		}
		x := b[i]
		i++
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits.
			if len(b) <= i {
				return false
			}
			if b[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX.
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX.
			i++
		}
	}
	return len(b) > i && b[i]&0x01 == 0
}

// h264Keyframe looks for an IDR slice or an SPS (RFC 6184 section 5).
func h264Keyframe(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	switch t := b[0] & 0x1f; {
	case t == 5 || t == 7:
		return true
	case t == 24: // STAP-A: 16-bit sizes then NAL units.
		for i := 1; i+2 < len(b); {
			size := int(b[i])<<8 | int(b[i+1])
			i += 2
			if size == 0 || i+size > len(b) {
				return false
			}
			if nt := b[i] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			i += size
		}
	case t == 28: // FU-A: start bit and the fragmented unit's type.
		return len(b) > 1 && b[1]&0x80 != 0 && (b[1]&0x1f == 5 || b[1]&0x1f == 7)
	}
	return false
}
