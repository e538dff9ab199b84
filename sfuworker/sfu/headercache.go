package sfu

import (
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"

	"github.com/greenroom-live/greenroom/sfuworker/forward"
)

// headerCache is the innermost interceptor of every incoming RTP stream.
// pion's interceptors that read incoming packets (receiver reports, NACK
// generator, TWCC feedback) each take the packet's header from its
// Attributes, which otherwise costs a new map and a new rtp.Header per
// packet. This one hands them, for each stream, one Attributes map whose
// header it parses again in place for every packet, so receiving
// allocates nothing. The interceptors after it use the header only while
// they handle the packet, and the stream is read by one goroutine at a
// time (pion's, then the track's reader), so reusing it is safe.
//
// It is also where a read below pion (fastread.go) enters the chain.
//
// On the RTCP side it takes the subscribers' TWCC feedback out before
// pion parses it (twccroute.go).
type headerCache struct {
	interceptor.NoOp
	routes *feedbackRoutes
}

type headerCacheFactory struct{ routes *feedbackRoutes }

func (f headerCacheFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &headerCache{routes: f.routes}, nil
}

// BindRemoteStream implements interceptor.Interceptor.
func (*headerCache) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	var (
		attrs interceptor.Attributes
		hdr   *rtp.Header
	)
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		if s, ok := a[fastMarkKey{}].(*fastStream); ok {
			return s.readBelow(b, a)
		}
		n, a, err := r.Read(b, a)
		if err != nil || len(a) != 0 {
			return n, a, err
		}
		if hdr == nil {
			attrs = interceptor.Attributes{}
			// The first parse stores the header in the map, under
			// pion's own key; later ones overwrite it in place.
			if hdr, err = attrs.GetRTPHeader(b[:n]); err != nil {
				hdr = nil
				return n, nil, nil
			}
			return n, attrs, nil
		}
		if _, err := hdr.Unmarshal(b[:n]); err != nil {
			// A malformed packet: the interceptors after this one
			// parse it themselves and drop it.
			return n, nil, nil
		}
		return n, attrs, nil
	})
}

// readBelow is the innermost read of a packet the worker read below pion
// (fastread.go): it is in b already, decrypted. The stream's own
// Attributes carry its header, parsed again in place, as above.
func (s *fastStream) readBelow(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	if s.hdr == nil {
		h, err := a.GetRTPHeader(b[:s.n])
		if err != nil {
			return s.n, nil, nil
		}
		s.hdr = h
		return s.n, a, nil
	}
	if _, err := s.hdr.Unmarshal(b[:s.n]); err != nil {
		return s.n, nil, nil
	}
	return s.n, a, nil
}

// BindLocalStream implements interceptor.Interceptor: once the
// connection the stream's sender belongs to has its own SRTP writer
// (srtpdirect.go), the packets go there instead of into pion's SRTP
// session. As the innermost interceptor, it sees them after every other
// one (the sender reports count them).
func (c *headerCache) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if c.routes == nil {
		return w
	}
	ssrc := info.SSRC
	var route atomic.Pointer[forward.Transport]
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		t := route.Load()
		if t == nil {
			if _, t = c.routes.Route(ssrc); t != nil {
				route.Store(t)
			}
		}
		if t != nil {
			if d := t.Direct(); d != nil {
				return d.WriteRTP(h, payload)
			}
		}
		return w.Write(h, payload, a)
	})
}

var _ interceptor.Factory = headerCacheFactory{}
