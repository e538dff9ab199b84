package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/sfu/sdpcheck"
	"github.com/greenroom-live/greenroom/sfuworker/udpbatch"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// never checks that cond stays false for d.
func never(t testing.TB, d time.Duration, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("unexpected: %s", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type harness struct {
	t       testing.TB
	applyMu sync.Mutex // Members join from several goroutines at once.
	w       *Worker
	udp     net.PacketConn
	room    RoomID
	mu      sync.Mutex
	clients map[MemberID]*client
	version int64
	members map[MemberID]MemberState
	order   []MemberID
	spoken  []MemberID // Config.ActiveSpeaker events, under mu.
	// conns is the connection each member's last message went to.
	conns map[MemberID]ConnectionID
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith is newHarness with the worker's Config tuned.
func newHarnessWith(t testing.TB, tune func(*Config)) *harness {
	t.Helper()
	base := runtime.NumGoroutine()
	udp, err := udpbatch.Listen(t.Context(), "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, udp: udp, room: "room-1", clients: map[MemberID]*client{}, members: map[MemberID]MemberState{}, conns: map[MemberID]ConnectionID{}}
	cfg := Config{UDP: udp, Signal: h.signal, ActiveSpeaker: func(_ RoomID, _ int, m MemberID) {
		h.mu.Lock()
		h.spoken = append(h.spoken, m)
		h.mu.Unlock()
	}}
	if tune != nil {
		tune(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	t.Cleanup(func() {
		h.mu.Lock()
		cs := h.clients
		h.mu.Unlock()
		for _, c := range cs {
			c.close()
		}
		if err := w.Close(); err != nil {
			t.Error(err)
		}
		if err := w.Close(); err != nil {
			t.Error("second close:", err)
		}
		_ = udp.Close()
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > base+2 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines leak: %d > %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return h
}

// signal routes the worker's messages to the test clients.
func (h *harness) signal(_ context.Context, _ RoomID, member MemberID, conn ConnectionID, msgType string, payload json.RawMessage) error {
	h.mu.Lock()
	c := h.clients[member]
	h.conns[member] = conn
	h.mu.Unlock()
	if c != nil {
		c.inbox.push(msgType, payload)
	}
	return nil
}

// apply sends the room state with a new version.
func (h *harness) apply(ms ...MemberState) {
	h.t.Helper()
	h.applyMu.Lock()
	defer h.applyMu.Unlock()
	for _, m := range ms {
		if _, ok := h.members[m.ID]; !ok {
			h.order = append(h.order, m.ID)
		}
		h.members[m.ID] = m
	}
	h.version++
	st := RoomState{Room: h.room, Version: h.version}
	for _, id := range h.order {
		if m, ok := h.members[id]; ok {
			st.Members = append(st.Members, m)
		}
	}
	if err := h.w.Apply(context.Background(), st); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) remove(id MemberID) {
	h.applyMu.Lock()
	delete(h.members, id)
	h.applyMu.Unlock()
	h.apply()
}

type clientOpts struct {
	video, audio bool
	simulcast    bool
	dropSeqs     func(seq uint16) bool // Dropped once on arrival.
	// skipSend, when not nil, names the sequence numbers of the first
	// video layer the client never sends (a loss before the worker).
	skipSend func(seq uint16) bool
	// bench sends ~1.6 Mbit/s of video (30 frames of 6 packets a
	// second) and 50 pkt/s audio.
	bench bool
	// keyOnRequest sends video keyframes as a browser does: the first
	// frame and on PLI/FIR only, never periodically.
	keyOnRequest bool
	// level, when not nil, is the RFC 6464 level (0 loudest to 127
	// silence, in -dBov) each audio packet carries.
	level func() uint8
	// tcpOnly limits the client's ICE to TCP candidates.
	tcpOnly bool
	// recvVideo adds a receive-only video transceiver to the receive-only
	// audio one of a client that publishes nothing.
	recvVideo bool
	// screen adds a second video track, the screen share (track id
	// ScreenTrackID), on its own transceiver.
	screen bool
	// layerBytes, when set, are the payload sizes of the simulcast
	// layers' packets (100, 200, 300 otherwise; 100 packets/s each).
	layerBytes [3]int
	// shape, when not nil, limits the rate the client receives RTP at.
	shape *shaper
	// senderReports reads the RTCP of each track received and keeps its
	// sender reports (received.srs).
	senderReports bool
	// udp, when not nil, is the socket the client's ICE runs on (its UDP
	// mux), so that a test can also write from the client's address and
	// hold its reads (path_test.go). client.keys then gets the client's
	// SRTP keys once DTLS is up.
	udp *gatedConn
	// noSend publishes tracks but sends nothing on them.
	noSend bool
}

// client is a pion peer standing for a browser. out carries its
// signaling to the worker: Worker.Signal in process, a pipe from the
// benchmark's load-generator process.
type client struct {
	t      testing.TB
	out    func(msgType string, payload json.RawMessage) error
	opts   clientOpts
	id     MemberID
	pc     *webrtc.PeerConnection
	inbox  *inbox
	wg     sync.WaitGroup
	done   chan struct{}
	closed atomic.Bool

	video []rtpWriter
	audio *levelTrack
	plis  atomic.Int64
	// twccReported counts the packets TWCC feedback to this publisher
	// reported on.
	twccReported atomic.Int64
	// nacked are the sequence numbers the worker asked again for, and
	// reported the highest extended sequence number a receiver report
	// from the worker gave (0 before one).
	nacked   sync.Map
	reported atomic.Uint32
	// simSender's transceiver gives the mid the simulcast layers carry.
	simSender *webrtc.RTPSender
	keyReq    atomic.Bool
	// keys gets the client's SRTP keys (clientOpts.udp).
	keys chan srtp.Config
	mux  ice.UDPMux // pion does not close a UDP mux it was given.

	// offers counts the worker's offers; while holdOffers is set they
	// are kept in held, unanswered.
	offers     atomic.Int64
	holdOffers atomic.Bool

	mu       sync.Mutex
	recv     map[string]*received // By publisher id and kind.
	speakers []MemberID           // active.speaker messages received.
	held     []msg
	// byRR counts packets per receiver: pion gives a transceiver a new
	// RTPReceiver for each new remote track, so the current receiver of
	// a mid says whether that media section's track flows.
	byRR map[*webrtc.RTPReceiver]*atomic.Int64
	// voidUpTo is the negotiationId of the worker's last answer: its
	// offers up to that id were dropped.
	voidUpTo int64
	// offerIDs are the negotiation ids of the worker's offers applied.
	offerIDs []int64
	// offeredAt is when the first offer left, in Unix µs.
	offeredAt atomic.Int64
	// frames counts the worker's frames by type.
	frames map[string]int
	// notices are the media.publishing frames received.
	notices []json.RawMessage
	// stopped are the transceivers stopSending took the tracks off;
	// gen numbers republished tracks.
	stopped []*webrtc.RTPTransceiver
	gen     int
	api     *webrtc.API
}

type received struct {
	// firstKey is when the first keyframe arrived; startedOnKey that the
	// first packet was one.
	firstKey     time.Time
	startedOnKey bool
	packets      int
	seqs         map[uint16]int
	first        time.Time
	ssrc         uint32
	payload      []byte
	// level is the last RFC 6464 audio level received, -1 for none.
	level int
	// lastTS is the timestamp of the last packet, lastAt when it came.
	lastTS uint32
	lastAt time.Time
	// srs are the sender reports received (clientOpts.senderReports),
	// each with the last packet's timestamp and arrival when it came.
	srs []gotSR
}

type gotSR struct {
	sr            rtcp.SenderReport
	at            time.Time
	lastTS        uint32
	lastAt        time.Time
	packetsByThen int
}

type inbox struct {
	mu   sync.Mutex
	msgs []msg
	wake chan struct{}
}

type msg struct {
	typ     string
	payload json.RawMessage
	fn      func() // A step of the client itself, run in order with the messages.
}

func (b *inbox) push(typ string, p json.RawMessage) {
	b.mu.Lock()
	b.msgs = append(b.msgs, msg{typ: typ, payload: append(json.RawMessage(nil), p...)})
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func newClient(h *harness, st MemberState, o clientOpts) *client {
	h.t.Helper()
	out := func(msgType string, payload json.RawMessage) error {
		return h.w.Signal(context.Background(), h.room, st.ID, msgType, payload)
	}
	c := newPeer(h.t, st.ID, out, o)
	h.mu.Lock()
	h.clients[st.ID] = c
	h.mu.Unlock()
	h.apply(st)
	c.start()
	return c
}

// newPeer makes a client's PeerConnection and tracks; start offers.
func newPeer(t testing.TB, id MemberID, out func(string, json.RawMessage) error, o clientOpts) *client {
	t.Helper()
	st := MemberState{ID: id}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if o.dropSeqs != nil {
		ir.Add(&dropFactory{drop: o.dropSeqs})
	}
	if o.shape != nil {
		// Innermost, so that TWCC feedback sees the shaped arrivals.
		ir.Add(o.shape)
	}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	// Number outgoing packets for TWCC, as browsers do.
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
		t.Fatal(err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	if os.Getenv("GREENROOM_PION_DEBUG") != "" {
		lf := logging.NewDefaultLoggerFactory()
		lf.DefaultLogLevel = logging.LogLevelDebug
		lf.ScopeLevels["ice"] = logging.LogLevelWarn
		lf.ScopeLevels["dtls"] = logging.LogLevelWarn
		lf.ScopeLevels["sctp"] = logging.LogLevelWarn
		lf.ScopeLevels["pc"] = logging.LogLevelDebug
		se.LoggerFactory = lf
	}
	se.SetIncludeLoopbackCandidate(true)
	if o.dropSeqs != nil {
		// The dropped packets were decrypted before the drop: without
		// this, SRTP would reject their retransmissions as replays, as
		// it would not for packets lost on the wire.
		se.DisableSRTPReplayProtection(true)
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if o.tcpOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	var mux ice.UDPMux
	if o.udp != nil {
		mux = webrtc.NewICEUDPMux(nil, o.udp)
		se.SetICEUDPMux(mux)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, out: out, opts: o, id: st.ID, pc: pc, inbox: &inbox{wake: make(chan struct{}, 1)}, done: make(chan struct{}),
		recv: map[string]*received{}, frames: map[string]int{}, byRR: map[*webrtc.RTPReceiver]*atomic.Int64{}, api: api, mux: mux}
	if o.udp != nil {
		c.keys = make(chan srtp.Config, 1)
		dt := pc.SCTP().Transport()
		dt.OnStateChange(func(s webrtc.DTLSTransportState) {
			if s != webrtc.DTLSTransportStateConnected {
				return
			}
			// In the handler, as the worker reads its own (dtlsSRTP).
			if cfg, _, err := dtlsSRTP(dt); err == nil {
				select {
				case c.keys <- cfg:
				default:
				}
			}
		})
	}
	if o.video {
		vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		if o.simulcast {
			var sender *webrtc.RTPSender
			for _, rid := range []string{"q", "h", "f"} {
				tr := &ridTrack{rid: rid, streamID: string(st.ID), codec: vp8}
				c.video = append(c.video, tr)
				if sender == nil {
					if sender, err = pc.AddTrack(tr); err != nil {
						t.Fatal(err)
					}
				} else if err := sender.AddEncoding(tr); err != nil {
					t.Fatal(err)
				}
			}
			c.drainRTCP(sender)
			c.simSender = sender
		} else {
			tr, err := webrtc.NewTrackLocalStaticRTP(vp8, "video", string(st.ID))
			if err != nil {
				t.Fatal(err)
			}
			c.video = append(c.video, tr)
			sender, err := pc.AddTrack(tr)
			if err != nil {
				t.Fatal(err)
			}
			c.drainRTCP(sender)
		}
	}
	if o.screen {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, ScreenTrackID, string(st.ID)+"-share")
		if err != nil {
			t.Fatal(err)
		}
		c.video = append(c.video, tr)
		sender, err := pc.AddTrack(tr)
		if err != nil {
			t.Fatal(err)
		}
		c.drainRTCP(sender)
	}
	if o.audio {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", string(st.ID))
		if err != nil {
			t.Fatal(err)
		}
		c.audio = &levelTrack{TrackLocalStaticRTP: tr}
		sender, err := pc.AddTrack(c.audio)
		if err != nil {
			t.Fatal(err)
		}
		c.drainRTCP(sender)
	}
	if !o.video && !o.audio {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
		if o.recvVideo {
			if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		b, _ := json.Marshal(map[string]any{"candidate": cand.ToJSON()})
		_ = c.out("media.candidate", b)
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, rr *webrtc.RTPReceiver) {
		key := tr.StreamID() + "/" + tr.Kind().String()
		c.mu.Lock()
		n := c.byRR[rr]
		if n == nil {
			n = &atomic.Int64{}
			c.byRR[rr] = n
		}
		c.mu.Unlock()
		var levelExt uint8
		for _, e := range rr.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				levelExt = uint8(e.ID)
			}
		}
		if c.opts.senderReports {
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				for {
					pkts, _, err := rr.ReadRTCP()
					if err != nil {
						return
					}
					for _, p := range pkts {
						sr, ok := p.(*rtcp.SenderReport)
						if !ok {
							continue
						}
						c.mu.Lock()
						if r := c.recv[key]; r != nil {
							r.srs = append(r.srs, gotSR{*sr, time.Now(), r.lastTS, r.lastAt, r.packets})
						}
						c.mu.Unlock()
					}
				}
			}()
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				n.Add(1)
				key0 := tr.Kind() == webrtc.RTPCodecTypeVideo && len(p.Payload) > 1 && p.Payload[0]&0x10 != 0 && p.Payload[1]&0x01 == 0
				c.mu.Lock()
				r := c.recv[key]
				if r == nil {
					r = &received{seqs: map[uint16]int{}, first: time.Now(), startedOnKey: key0, level: -1}
					c.recv[key] = r
				}
				if lv := p.GetExtension(levelExt); levelExt != 0 && len(lv) == 1 {
					r.level = int(lv[0] & 0x7f)
				}
				if key0 && r.firstKey.IsZero() {
					r.firstKey = time.Now()
				}
				r.packets++
				r.lastTS, r.lastAt = p.Timestamp, time.Now()
				r.seqs[p.SequenceNumber]++
				r.ssrc = p.SSRC
				r.payload = p.Payload
				c.mu.Unlock()
			}
		}()
	})
	c.wg.Add(1)
	go c.signaling()
	return c
}

// start sends the client's first offer and starts its media.
func (c *client) start() {
	c.t.Helper()
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"sdp": offer.SDP, "type": "offer"})
	if err := c.out("media.offer", b); err != nil {
		c.t.Fatal(err)
	}
	c.offeredAt.CompareAndSwap(0, time.Now().UnixMicro())
	if (len(c.video) > 0 || c.audio != nil) && !c.opts.noSend {
		c.wg.Add(1)
		go c.send(c.opts.bench)
	}
}

// signaling applies the worker's messages in order.
func (c *client) signaling() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case <-c.inbox.wake:
		}
		c.inbox.mu.Lock()
		msgs := c.inbox.msgs
		c.inbox.msgs = nil
		c.inbox.mu.Unlock()
		for _, m := range msgs {
			c.handle(m)
		}
	}
}

func (c *client) handle(m msg) {
	if m.fn != nil {
		m.fn()
		return
	}
	var p struct {
		UserID        MemberID                `json:"userId"`
		SDP           string                  `json:"sdp"`
		NegotiationID *int64                  `json:"negotiationId"`
		Candidate     webrtc.ICECandidateInit `json:"candidate"`
	}
	if err := json.Unmarshal(m.payload, &p); err != nil {
		c.t.Error(err)
		return
	}
	c.mu.Lock()
	c.frames[m.typ]++
	if m.typ == "media.answer" && strings.Contains(p.SDP, "a=candidate:") {
		c.frames["candidates in the answer"]++
	}
	c.mu.Unlock()
	switch m.typ {
	case "media.answer":
		// The answer must match our offer's media sections, in order.
		if lo := c.pc.PendingLocalDescription(); lo != nil {
			if err := sdpcheck.Next(lo.SDP, p.SDP, false); err != nil {
				c.t.Errorf("%s: the worker's answer fails the check: %v\n%s", c.id, err, p.SDP)
			}
		}
		if p.NegotiationID != nil {
			c.mu.Lock()
			c.voidUpTo = max(c.voidUpTo, *p.NegotiationID)
			c.mu.Unlock()
		}
		_ = c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.SDP})
	case "media.publishing":
		c.mu.Lock()
		c.notices = append(c.notices, m.payload)
		c.mu.Unlock()
	case "media.offer":
		c.offers.Add(1)
		if c.holdOffers.Load() {
			c.mu.Lock()
			c.held = append(c.held, m)
			c.mu.Unlock()
			return
		}
		c.applyOffer(p.SDP, p.NegotiationID)
	case "media.candidate":
		_ = c.pc.AddICECandidate(p.Candidate)
	case "active.speaker":
		c.mu.Lock()
		c.speakers = append(c.speakers, p.UserID)
		c.mu.Unlock()
	}
}

// applyOffer applies a worker offer and answers it, as the protocol
// asks: an offer the worker has since dropped (its id at most the last
// answer's negotiationId) is ignored, and so is one crossing our own (we
// are the impolite peer). Every offer applied is first checked as Chrome
// would check it, against our current local description.
func (c *client) applyOffer(sdp string, id *int64) {
	c.mu.Lock()
	void := id != nil && *id <= c.voidUpTo
	c.mu.Unlock()
	if void || c.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	prev := ""
	if ld := c.pc.CurrentLocalDescription(); ld != nil {
		prev = ld.SDP
	}
	if err := sdpcheck.Next(prev, sdp, true); err != nil {
		c.t.Errorf("%s: a worker offer (negotiationId %v) fails the check: %v\n%s", c.id, deref(id), err, sdp)
	}
	if os.Getenv("GREENROOM_PION_DEBUG") != "" {
		c.t.Logf("%s applies offer %v: %s", c.id, deref(id), summary(sdp))
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: c.likeABrowser(sdp)}); err != nil {
		return
	}
	ans, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return
	}
	if err := c.pc.SetLocalDescription(ans); err != nil {
		return
	}
	if id != nil {
		c.mu.Lock()
		c.offerIDs = append(c.offerIDs, *id)
		c.mu.Unlock()
	}
	b, _ := json.Marshal(map[string]any{"sdp": ans.SDP, "type": "answer", "negotiationId": id})
	_ = c.out("media.answer", b)
}

// likeABrowser keeps a test client, which stands for a browser, from a
// pion behaviour browsers do not have: pion changes a transceiver's own
// direction with each remote offer (a recvonly one becomes inactive when
// the offer says "recvonly"; a sendrecv one becomes sendonly; one the
// offer makes inactive is stopped, and a stopped transceiver whose
// receiver has no track never receives again), and then offers those
// directions itself, which makes the worker's pion stop its transceivers
// too. A browser keeps the direction its application set. So where the
// worker's offer does not send (recvonly, inactive: a media section it
// idles), the pion client is shown "sendrecv" if it sends there and
// "sendonly" if not, which leaves its direction as it was; it then answers
// recvonly or sendrecv where a browser answers inactive or sendonly, which
// the worker takes alike. The worker's offers are checked (sdpcheck)
// before this.
func (c *client) likeABrowser(sdp string) string {
	sends := map[string]bool{}
	for _, t := range c.pc.GetTransceivers() {
		if s := t.Sender(); s != nil && s.Track() != nil {
			sends[t.Mid()] = true
		}
	}
	lines := strings.Split(sdp, "\r\n")
	mid := ""
	dirAt := -1
	fix := func() {
		if dirAt < 0 {
			return
		}
		if d := lines[dirAt]; d == "a=recvonly" || d == "a=inactive" {
			lines[dirAt] = "a=sendonly"
			if sends[mid] {
				lines[dirAt] = "a=sendrecv"
			}
		}
	}
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "m="):
			fix()
			mid, dirAt = "", -1
		case strings.HasPrefix(l, "a=mid:"):
			mid = strings.TrimPrefix(l, "a=mid:")
		case l == "a=sendrecv" || l == "a=sendonly" || l == "a=recvonly" || l == "a=inactive":
			dirAt = i
		}
	}
	fix()
	return strings.Join(lines, "\r\n")
}

// summary lists a description's media sections: mid, direction, msids
// and SSRCs.
func summary(text string) string {
	d, err := sdpcheck.Parse(text)
	if err != nil {
		return err.Error()
	}
	var b []string
	for _, s := range d.Sections {
		b = append(b, fmt.Sprintf("[%s %s %s %v %v]", s.Mid, s.Kind, s.Direction, s.Msids, s.SSRCs))
	}
	return strings.Join(b, " ")
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// drainRTCP reads the publisher's RTCP: a PLI or FIR asks for a keyframe.
func (c *client) drainRTCP(s *webrtc.RTPSender) {
	for _, enc := range s.GetParameters().Encodings {
		rid := enc.RID
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				var pkts []rtcp.Packet
				var err error
				if rid != "" {
					pkts, _, err = s.ReadSimulcastRTCP(rid)
				} else {
					pkts, _, err = s.ReadRTCP()
				}
				if err != nil {
					return
				}
				for _, p := range pkts {
					switch p := p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						c.plis.Add(1)
						c.keyReq.Store(true)
					case *rtcp.TransportLayerCC:
						c.twccReported.Add(int64(p.PacketStatusCount))
					case *rtcp.TransportLayerNack:
						for _, pair := range p.Nacks {
							for _, seq := range pair.PacketList() {
								c.nacked.Store(seq, true)
							}
						}
					case *rtcp.ReceiverReport:
						for _, r := range p.Reports {
							if r.SSRC == uint32(s.GetParameters().Encodings[0].SSRC) && s.Track() != nil && s.Track().Kind() == webrtc.RTPCodecTypeVideo {
								c.reported.Store(r.LastSequenceNumber)
							}
						}
					}
				}
			}
		}()
	}
}

// send writes synthetic VP8 (a keyframe every second and on request) and
// Opus with an audio level, until closed. In tests every 10 ms brings a
// one-packet video frame and every other one an audio packet. For the
// benchmark the shape is a camera's, and the load LiveKit's load tester
// sends (docs/sfu.md): 30 frames a second of 6 packets of 1,150 bytes
// written back to back, as an encoder hands a frame over, and an audio
// packet every 20 ms.
func (c *client) send(bench bool) {
	defer c.wg.Done()
	size, perFrame, framePeriod := 100, 1, 10*time.Millisecond
	if bench {
		size, perFrame, framePeriod = 1150, 6, time.Second/30
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var seq [3]uint16
	var aseq uint16
	var ts uint32
	sizes := [3]int{size, 2 * size, 3 * size}
	if c.opts.layerBytes[0] > 0 {
		sizes = c.opts.layerBytes
	}
	payload := make([]byte, max(sizes[0], sizes[1], sizes[2]))
	start := time.Now()
	frames := 0
	for i := 0; ; i++ {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		// Tracks may be replaced while sending (republishing).
		c.mu.Lock()
		video, audio := c.video, c.audio
		c.mu.Unlock()
		if c.simSender != nil {
			for _, tr := range c.pc.GetTransceivers() {
				if tr.Sender() == c.simSender {
					for _, v := range video {
						v.(*ridTrack).mid.Store(tr.Mid())
					}
				}
			}
		}
		for time.Since(start) >= time.Duration(frames)*framePeriod {
			key := c.keyReq.Swap(false) || frames == 0 || (frames%100 == 0 && !c.opts.keyOnRequest)
			frames++
			ts += uint32(framePeriod * 90000 / time.Second)
			for l, tr := range video {
				for k := range perFrame {
					payload[0] = 0x00 // A continuation: S=0, PID=0.
					if k == 0 {
						payload[0] = 0x10 // S=1: the frame's first packet.
					}
					payload[1] = 0x01 // Inter frame.
					if key {
						payload[1] = 0x00
					}
					payload[2] = byte(l)
					seq[l]++
					if l == 0 && c.opts.skipSend != nil && c.opts.skipSend(seq[l]) {
						continue
					}
					_ = tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: k == perFrame-1, SequenceNumber: seq[l], Timestamp: ts}, Payload: payload[:sizes[min(l, 2)]]})
				}
			}
		}
		if audio != nil && i%2 == 0 {
			aseq++
			level := uint8(127)
			if c.opts.level != nil {
				level = c.opts.level()
			}
			_ = audio.writeLevel(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: uint32(i) * 480}, Payload: []byte{0xf8, 0xff, 0xfe}}, level)
		}
	}
}

func (c *client) close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.done)
	_ = c.pc.Close()
	if c.mux != nil {
		c.opts.udp.release()
		_ = c.mux.Close()
	}
	c.wg.Wait()
}

// firstKey is when the first keyframe of a publisher's video arrived and
// whether the stream started on it.
func (c *client) firstKey(from MemberID) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.recv[string(from)+"/video"]
	if r == nil {
		return time.Time{}, false
	}
	return r.firstKey, r.startedOnKey
}

// firstPacket is when the first packet of a publisher's track kind
// arrived (zero if none has).
func (c *client) firstPacket(from MemberID, kind string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.recv[string(from)+"/"+kind]; r != nil {
		return r.first
	}
	return time.Time{}
}

// level is the last audio level (RFC 6464, -dBov) received from a
// publisher, -1 if none.
func (c *client) level(from MemberID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.recv[string(from)+"/audio"]; r != nil {
		return r.level
	}
	return -1
}

// got returns what the client received from a publisher's track kind.
func (c *client) got(from MemberID, kind string) (packets int, seqs map[uint16]int, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.recv[string(from)+"/"+kind]
	if r == nil {
		return 0, nil, nil
	}
	cp := make(map[uint16]int, len(r.seqs))
	for k, v := range r.seqs {
		cp[k] = v
	}
	return r.packets, cp, append([]byte(nil), r.payload...)
}

func (c *client) count(from MemberID, kind string) int {
	n, _, _ := c.got(from, kind)
	return n
}

// dropFactory builds an interceptor that drops incoming RTP packets the
// first time their sequence number is seen, to exercise NACK.
type dropFactory struct{ drop func(uint16) bool }

func (f *dropFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &dropInterceptor{drop: f.drop, seen: map[uint32]map[uint16]bool{}}, nil
}

type dropInterceptor struct {
	interceptor.NoOp
	drop func(uint16) bool
	mu   sync.Mutex
	seen map[uint32]map[uint16]bool
}

func (d *dropInterceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if info.MimeType != webrtc.MimeTypeVP8 {
		return r
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, a, err := r.Read(b, a)
			if err != nil || n < 12 {
				return n, a, err
			}
			seq := uint16(b[2])<<8 | uint16(b[3])
			ssrc := uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
			d.mu.Lock()
			s := d.seen[ssrc]
			if s == nil {
				s = map[uint16]bool{}
				d.seen[ssrc] = s
			}
			first := !s[seq]
			s[seq] = true
			d.mu.Unlock()
			if first && d.drop(seq) {
				continue
			}
			return n, a, nil
		}
	})
}

type rtpWriter interface {
	WriteRTP(*rtp.Packet) error
}

// ridTrack is one simulcast layer that writes the RFC 8852 rid and the
// mid header extensions, which pion's static tracks leave to the caller.
type ridTrack struct {
	rid, streamID string
	codec         webrtc.RTPCodecCapability
	mid           atomic.Value
	mu            sync.Mutex
	w             webrtc.TrackLocalWriter
	ssrc          webrtc.SSRC
	pt            webrtc.PayloadType
	midID, ridID  uint8
}

func (r *ridTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case "urn:ietf:params:rtp-hdrext:sdes:mid":
			r.midID = uint8(e.ID)
		case "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id":
			r.ridID = uint8(e.ID)
		}
	}
	for _, c := range ctx.CodecParameters() {
		if c.MimeType == r.codec.MimeType {
			r.w, r.ssrc, r.pt = ctx.WriteStream(), ctx.SSRC(), c.PayloadType
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (r *ridTrack) Unbind(webrtc.TrackLocalContext) error {
	r.mu.Lock()
	r.w = nil
	r.mu.Unlock()
	return nil
}

func (r *ridTrack) ID() string                { return "video" }
func (r *ridTrack) RID() string               { return r.rid }
func (r *ridTrack) StreamID() string          { return r.streamID }
func (r *ridTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }

func (r *ridTrack) WriteRTP(p *rtp.Packet) error {
	r.mu.Lock()
	w, ssrc, pt, midID, ridID := r.w, r.ssrc, r.pt, r.midID, r.ridID
	r.mu.Unlock()
	mid, _ := r.mid.Load().(string)
	if w == nil || mid == "" {
		return nil
	}
	h := p.Header
	h.SSRC, h.PayloadType = uint32(ssrc), uint8(pt)
	if midID != 0 {
		_ = h.SetExtension(midID, []byte(mid))
	}
	if ridID != 0 {
		_ = h.SetExtension(ridID, []byte(r.rid))
	}
	_, err := w.WriteRTP(&h, p.Payload)
	return err
}

// levelTrack is an Opus track whose packets carry the RFC 6464 audio
// level header extension, as browsers send it.
type levelTrack struct {
	*webrtc.TrackLocalStaticRTP
	extID atomic.Uint32
}

func (l *levelTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, e := range ctx.HeaderExtensions() {
		if e.URI == sdp.AudioLevelURI {
			l.extID.Store(uint32(e.ID))
		}
	}
	return l.TrackLocalStaticRTP.Bind(ctx)
}

// writeLevel writes p with the level (0 loudest, 127 silence; the voice
// activity bit set when louder than -127 dBov).
func (l *levelTrack) writeLevel(p *rtp.Packet, level uint8) error {
	if id := uint8(l.extID.Load()); id != 0 {
		v := level & 0x7f
		if v < 127 {
			v |= 0x80
		}
		_ = p.Header.SetExtension(id, []byte{v})
	}
	return l.WriteRTP(p)
}

// shaper is a bottleneck on a client's receive path: RTP packets (all
// streams) leave it in arrival order at most at rate bit/s, queued up to
// maxQueue and dropped beyond; rate 0 lets everything through at once.
type shaper struct {
	rate     atomic.Int64
	maxQueue time.Duration
	mu       sync.Mutex
	free     time.Time // When the bottleneck has sent what it holds.
}

func (s *shaper) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &shapeInterceptor{s: s}, nil
}

type shapeInterceptor struct {
	interceptor.NoOp
	s *shaper
}

func (i *shapeInterceptor) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, a, err := r.Read(b, a)
			if err != nil {
				return n, a, err
			}
			rate := i.s.rate.Load()
			if rate <= 0 {
				return n, a, nil
			}
			now := time.Now()
			i.s.mu.Lock()
			start := now
			if i.s.free.After(now) {
				start = i.s.free
			}
			if start.Sub(now) > i.s.maxQueue {
				i.s.mu.Unlock()
				continue // The queue is full: dropped.
			}
			i.s.free = start.Add(time.Duration(int64(n+28) * 8 * int64(time.Second) / rate))
			at := i.s.free
			i.s.mu.Unlock()
			time.Sleep(time.Until(at))
			return n, a, nil
		}
	})
}
