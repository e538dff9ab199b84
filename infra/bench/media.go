package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// runMedia measures approve -> first decodable video frame at a viewer:
// in a primetime session two members take turns on the stage (hand.raise,
// the host's hand.approve, then stage.leave); a viewer's real pion
// PeerConnection, signaled through its WebSocket as a browser is,
// records when the first VP8 keyframe of the approved member arrives. The
// publishers send keyframes only when asked (PLI/FIR), as browsers do, so
// the figure includes the worker's renegotiation, ICE/DTLS already up,
// and its keyframe request.
func runMedia(ctx context.Context, out io.Writer, args []string) (err error) {
	fs := flag.NewFlagSet("media", flag.ContinueOnError)
	rounds := fs.Int("rounds", 20, "approvals measured, alternating between two members")
	wait := fs.Duration("wait", 5*time.Second, "how long one approval may take to reach the viewer before it counts as lost")
	timeout := fs.Duration("timeout", 3*time.Minute, "bound on the whole measurement")
	if err = fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	peers := &peerSet{byMember: map[*member]*mediaPeer{}}
	l, err := startLiveWith(ctx, 4, hooks{other: peers.route})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, peers.close(), l.Close()) }()
	host, viewer, speakers := l.members[0], l.members[1], l.members[2:4]
	if _, err := host.call(ctx, "session.start", nil); err != nil {
		return err
	}
	v, err := peers.add(ctx, viewer, false)
	if err != nil {
		return err
	}
	for _, s := range speakers {
		if _, err := peers.add(ctx, s, true); err != nil {
			return err
		}
		if _, err := s.call(ctx, "devices.set", map[string]any{"mic": true, "cam": true}); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "== media: approve -> first keyframe of the speaker at a viewer (pion peers through the local runner's WebSocket and SFU worker), %d rounds\n", *rounds)
	var first time.Duration
	var lat []time.Duration
	failed := 0
	for r := range *rounds {
		s := speakers[r%len(speakers)]
		if _, err := s.call(ctx, "hand.raise", nil); err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		keyframe := v.expect(s.id)
		start := time.Now()
		if _, err := host.call(ctx, "hand.approve", map[string]any{"userId": s.id}); err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		select {
		case at := <-keyframe:
			d := at.Sub(start)
			if r == 0 {
				first = d
			}
			lat = append(lat, d)
		case <-time.After(*wait):
			// A figure, not a verdict: the round counts as lost.
			failed++
			fmt.Fprintf(out, "round %d: the viewer decoded nothing of the speaker within %v\n", r, *wait)
		case <-ctx.Done():
			return fmt.Errorf("round %d: %w", r, ctx.Err())
		}
		if _, err := s.call(ctx, "stage.leave", nil); err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		if err := v.quiet(ctx, s.id); err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
	}
	if len(lat) == 0 {
		return fmt.Errorf("no approval reached the viewer in %d rounds", *rounds)
	}
	p50, p99 := spread(lat)
	fmt.Fprintf(out, "media approve -> first frame at a viewer  first %s  p50 %s  p99 %s  max %s  (%d approvals, %d never arrived)\n",
		ms(first), ms(p50), ms(p99), ms(lat[len(lat)-1]), len(lat), failed)
	return nil
}

// peerSet routes each member's media frames to its peer.
type peerSet struct {
	mu       sync.Mutex
	byMember map[*member]*mediaPeer
	all      []*mediaPeer
}

func (s *peerSet) route(m *member, data []byte, _ time.Time) {
	s.mu.Lock()
	p := s.byMember[m]
	s.mu.Unlock()
	if p != nil {
		p.inbox(data)
	}
}

func (s *peerSet) close() error {
	s.mu.Lock()
	all := s.all
	s.all = nil
	s.mu.Unlock()
	for _, p := range all {
		p.close()
	}
	return nil
}

// mediaPeer is a member's pion PeerConnection: a publisher sends VP8 and
// Opus (keyframes on request), a viewer receives only. Its goroutines
// (signaling, sending, RTCP and track readers) stop with close.
type mediaPeer struct {
	m    *member
	pc   *webrtc.PeerConnection
	msgs chan []byte
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	key  chan struct{} // A keyframe was asked for.

	mu      sync.Mutex
	packets map[string]int            // By stream id, video.
	waiters map[string]chan time.Time // First keyframe wanted, by stream id.
}

func (s *peerSet) add(ctx context.Context, m *member, publish bool) (*mediaPeer, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	// ICE reports its sockets closing at the end as errors: not figures.
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	se.LoggerFactory = lf
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &mediaPeer{m: m, pc: pc, msgs: make(chan []byte, 256), done: make(chan struct{}), key: make(chan struct{}, 1),
		packets: map[string]int{}, waiters: map[string]chan time.Time{}}
	s.mu.Lock()
	s.byMember[m] = p
	s.all = append(s.all, p)
	s.mu.Unlock()
	var video, audio *webrtc.TrackLocalStaticRTP
	if publish {
		video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", m.id)
		audio, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", m.id)
		for _, tr := range []*webrtc.TrackLocalStaticRTP{video, audio} {
			sender, err := pc.AddTrack(tr)
			if err != nil {
				return nil, err
			}
			p.wg.Go(func() { p.readRTCP(sender) })
		}
	} else {
		for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return nil, err
			}
		}
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			_, _ = m.call(context.Background(), "media.candidate", map[string]any{"candidate": c.ToJSON()})
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeVideo {
			return
		}
		p.wg.Go(func() { p.readVideo(tr) })
	})
	p.wg.Go(p.signaling)
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, err
	}
	if _, err := m.call(ctx, "media.offer", map[string]any{"sdp": offer.SDP}); err != nil {
		return nil, err
	}
	if publish {
		p.wg.Go(func() { p.send(video, audio) })
	}
	return p, nil
}

func (p *mediaPeer) inbox(data []byte) {
	select {
	case p.msgs <- data:
	case <-p.done:
	}
}

// signaling applies the worker's answer, offers and candidates in order.
func (p *mediaPeer) signaling() {
	for {
		var data []byte
		select {
		case <-p.done:
			return
		case data = <-p.msgs:
		}
		var f struct {
			Type          string                  `json:"type"`
			SDP           string                  `json:"sdp"`
			NegotiationID json.RawMessage         `json:"negotiationId"`
			Candidate     webrtc.ICECandidateInit `json:"candidate"`
		}
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Type {
		case "media.answer":
			_ = p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: f.SDP})
		case "media.offer":
			if p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: f.SDP}) != nil {
				continue
			}
			ans, err := p.pc.CreateAnswer(nil)
			if err != nil || p.pc.SetLocalDescription(ans) != nil {
				continue
			}
			body := map[string]any{"sdp": ans.SDP}
			if len(f.NegotiationID) > 0 {
				body["negotiationId"] = f.NegotiationID
			}
			_, _ = p.m.call(context.Background(), "media.answer", body)
		case "media.candidate":
			_ = p.pc.AddICECandidate(f.Candidate)
		}
	}
}

// readRTCP drains a sender's RTCP; a PLI or FIR asks for a keyframe.
func (p *mediaPeer) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, k := range pkts {
			switch k.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				select {
				case p.key <- struct{}{}:
				default:
				}
			}
		}
	}
}

// send writes 30 frames a second of synthetic VP8 (one 1000-byte packet
// each, a keyframe first and when asked) and 50 Opus packets a second.
func (p *mediaPeer) send(video, audio *webrtc.TrackLocalStaticRTP) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	vp8 := make([]byte, 1000)
	var vseq, aseq uint16
	var next time.Time
	for i := 0; ; i++ {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			aseq++
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: uint32(i) * 960}, Payload: []byte{0xf8, 0xff, 0xfe}})
			if now.Before(next) {
				continue
			}
			next = now.Add(33 * time.Millisecond)
		}
		key := i == 0
		select {
		case <-p.key:
			key = true
		default:
		}
		vp8[0], vp8[1] = 0x10, 0x01 // Start of a partition; an interframe.
		if key {
			vp8[1] = 0x00
		}
		vseq++
		_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: vseq, Timestamp: uint32(i) * 1800}, Payload: vp8})
	}
}

// readVideo counts a remote video track's packets and reports its first
// keyframe to whoever waits for its stream.
func (p *mediaPeer) readVideo(tr *webrtc.TrackRemote) {
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		at := time.Now()
		key := len(pkt.Payload) > 1 && pkt.Payload[0]&0x90 == 0x10 && pkt.Payload[1]&0x01 == 0
		p.mu.Lock()
		p.packets[tr.StreamID()]++
		if ch := p.waiters[tr.StreamID()]; ch != nil && key {
			ch <- at
			delete(p.waiters, tr.StreamID())
		}
		p.mu.Unlock()
	}
}

// expect returns a channel that receives the arrival time of the next
// keyframe from stream.
func (p *mediaPeer) expect(stream string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	p.mu.Lock()
	p.waiters[stream] = ch
	p.mu.Unlock()
	return ch
}

// quiet waits until no video of stream arrived for 300 ms (at most
// waitFor).
func (p *mediaPeer) quiet(ctx context.Context, stream string) error {
	count := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.packets[stream]
	}
	deadline := time.Now().Add(waitFor)
	last, since := count(), time.Now()
	for time.Since(since) < 300*time.Millisecond {
		if time.Now().After(deadline) {
			return fmt.Errorf("video of %s still flows %v after it left the stage", stream, waitFor)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if n := count(); n != last {
			last, since = n, time.Now()
		}
	}
	return nil
}

func (p *mediaPeer) close() {
	p.once.Do(func() {
		close(p.done)
		_ = p.pc.Close()
		p.wg.Wait()
	})
}
