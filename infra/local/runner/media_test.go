package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/turncred"
)

// peer is a real pion PeerConnection of one member, signaled through the
// member's WebSocket exactly as a browser is.
type peer struct {
	t       *testing.T
	m       *member
	pc      *webrtc.PeerConnection
	publish bool
	done    chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool
	// ctx ends when the peer closes; callbacks pion runs (candidates)
	// register in callbacks under cbMu so close can wait for them.
	ctx       context.Context
	cancel    context.CancelFunc
	cbMu      sync.Mutex
	callbacks sync.WaitGroup

	mu   sync.Mutex
	recv map[string]int // packets by "<publisher>/<kind>"
	// reconnect is signalled when the server says the media moved.
	reconnect chan struct{}
}

type peerOpts struct {
	publish   bool
	relayOnly bool
	// ice replaces the join reply's ICE servers.
	ice []webrtc.ICEServer
}

// iceServers reads the join reply's TURN servers.
func iceServers(m *member) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	list, _ := m.JoinReply["iceServers"].([]any)
	for _, x := range list {
		s := x.(map[string]any)
		out = append(out, webrtc.ICEServer{URLs: ids(s["urls"]), Username: fmt.Sprint(s["username"]), Credential: fmt.Sprint(s["credential"])})
	}
	return out
}

func newPeer(t *testing.T, m *member, o peerOpts) *peer {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	if o.relayOnly {
		// pion's relay policy still gathers ICE-TCP host candidates: keep
		// to UDP so that the TURN relay is the only path.
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	} else {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	}
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	cfg := webrtc.Configuration{ICEServers: iceServers(m)}
	if o.ice != nil {
		cfg.ICEServers = o.ice
	}
	if o.relayOnly {
		cfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, m: m, pc: pc, publish: o.publish, done: make(chan struct{}), recv: map[string]int{}, reconnect: make(chan struct{}, 1)}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	t.Cleanup(p.close)
	var video, audio *webrtc.TrackLocalStaticRTP
	if o.publish {
		video, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", m.id.ID)
		audio, _ = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", m.id.ID)
		for _, tr := range []*webrtc.TrackLocalStaticRTP{video, audio} {
			sender, err := pc.AddTrack(tr)
			if err != nil {
				t.Fatal(err)
			}
			p.wg.Go(func() {
				for {
					if _, _, err := sender.ReadRTCP(); err != nil {
						return
					}
				}
			})
		}
	} else if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil || !p.enterCallback() {
			return
		}
		defer p.callbacks.Done()
		r, err := m.trySend(p.ctx, "media.candidate", map[string]any{"candidate": c.ToJSON()})
		if err == nil && r["type"] != "ack" {
			t.Logf("%s: media.candidate refused: %v", m.id.ID, r)
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		key := tr.StreamID() + "/" + tr.Kind().String()
		p.wg.Go(func() {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				p.mu.Lock()
				p.recv[key]++
				p.mu.Unlock()
			}
		})
	})
	p.wg.Go(p.signaling)
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	if r := m.send("media.offer", map[string]any{"sdp": offer.SDP}); r["type"] != "ack" {
		t.Fatalf("media.offer: %v", r)
	}
	if o.publish {
		// A camera and microphone that are on, as a browser reports them.
		m.ok("devices.set", map[string]any{"mic": true, "cam": true})
		p.wg.Go(func() { p.send(video, audio) })
	}
	return p
}

// signaling applies the worker's messages in order.
func (p *peer) signaling() {
	for {
		select {
		case <-p.done:
			return
		case msg := <-p.m.media:
			p.handle(msg)
		}
	}
}

func (p *peer) handle(msg map[string]any) {
	if msg["event"] == "media.reconnect" {
		select {
		case p.reconnect <- struct{}{}:
		default:
		}
		return
	}
	switch msg["type"] {
	case "media.answer":
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: fmt.Sprint(msg["sdp"])}); err != nil {
			p.t.Logf("%s: answer: %v", p.m.id.ID, err)
		}
	case "media.offer":
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: fmt.Sprint(msg["sdp"])}); err != nil {
			p.t.Logf("%s: offer: %v", p.m.id.ID, err)
			return
		}
		ans, err := p.pc.CreateAnswer(nil)
		if err != nil {
			p.t.Logf("%s: create answer: %v", p.m.id.ID, err)
			return
		}
		if err := p.pc.SetLocalDescription(ans); err != nil {
			p.t.Logf("%s: set answer: %v", p.m.id.ID, err)
			return
		}
		r, err := p.m.trySend(p.ctx, "media.answer", map[string]any{"sdp": ans.SDP, "negotiationId": msg["negotiationId"]})
		if err == nil && r["type"] != "ack" {
			p.t.Logf("%s: media.answer refused: %v", p.m.id.ID, r)
		}
	case "media.candidate":
		b, _ := json.Marshal(msg["candidate"])
		var c webrtc.ICECandidateInit
		if json.Unmarshal(b, &c) == nil {
			_ = p.pc.AddICECandidate(c)
		}
	}
}

// send writes VP8 keyframes and Opus until closed, as a camera and a
// microphone would (every frame a keyframe keeps the test simple).
func (p *peer) send(video, audio *webrtc.TrackLocalStaticRTP) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 600)
	payload[0], payload[1] = 0x10, 0x00 // VP8: start of partition; a keyframe
	var seq uint16
	for i := uint32(0); ; i++ {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		seq++
		_ = video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: seq, Timestamp: i * 1800}, Payload: payload})
		_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: i * 960}, Payload: []byte{0xf8, 0xff, 0xfe}})
	}
}

// enterCallback registers a running callback unless the peer is closed.
func (p *peer) enterCallback() bool {
	p.cbMu.Lock()
	defer p.cbMu.Unlock()
	if p.closed.Load() {
		return false
	}
	p.callbacks.Add(1)
	return true
}

func (p *peer) close() {
	p.cbMu.Lock()
	wasClosed := p.closed.Swap(true)
	p.cbMu.Unlock()
	if wasClosed {
		return
	}
	p.cancel()
	p.callbacks.Wait()
	close(p.done)
	_ = p.pc.Close()
	p.wg.Wait()
}

// got returns how many packets of kind from publisher arrived.
func (p *peer) got(from, kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recv[from+"/"+kind]
}

// waitMedia waits until the peer has received at least n packets of kind
// from publisher.
func (p *peer) waitMedia(from, kind string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.got(from, kind) < n {
		if time.Now().After(deadline) {
			p.mu.Lock()
			all := fmt.Sprint(p.recv)
			p.mu.Unlock()
			p.t.Fatalf("%s received %d %s packets from %s, want %d (all: %s; ice %s)", p.m.id.ID, p.got(from, kind), kind, from, n, all, p.pc.ICEConnectionState())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quiet fails if the peer receives any more packets of kind from
// publisher over d (after a moment for packets in flight).
func (p *peer) quiet(from, kind string, d time.Duration) {
	p.t.Helper()
	time.Sleep(300 * time.Millisecond)
	before := p.got(from, kind)
	time.Sleep(d)
	if after := p.got(from, kind); after != before {
		p.t.Fatalf("%s still receives %s from %s: %d -> %d packets", p.m.id.ID, kind, from, before, after)
	}
}

func TestMediaPresenterReachesEveryMember(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	hostID, presID, aID, bID := newUser(t, c, "Host"), newUser(t, c, "Presenter"), newUser(t, c, "A"), newUser(t, c, "B")
	id := hosted(t, c, hostID, "instant")
	host := connect(t, c, hostID, id, "mobile")
	pres := connect(t, c, presID, id, "mobile")
	a := connect(t, c, aID, id, "web")
	b := connect(t, c, bID, id, "mobile")
	host.ok("presenter.assign", map[string]any{"userId": presID.ID})
	host.ok("session.start", nil)

	newPeer(t, pres, peerOpts{publish: true})
	pa := newPeer(t, a, peerOpts{})
	pb := newPeer(t, b, peerOpts{})
	ph := newPeer(t, host, peerOpts{})
	for _, p := range []*peer{pa, pb, ph} {
		p.waitMedia(presID.ID, "video", 50)
		p.waitMedia(presID.ID, "audio", 50)
	}
}

func TestMediaStageGatesPublishing(t *testing.T) {
	r := primetime(t, true, "A", "B")
	host, a, b := r.host, r.members[0], r.members[1]
	hostID, aID := host.id, a.id

	// A publishes while off stage: its packets reach no one.
	newPeer(t, a, peerOpts{publish: true})
	pb := newPeer(t, b, peerOpts{})
	newPeer(t, host, peerOpts{publish: true})
	pb.waitMedia(hostID.ID, "video", 20) // b's media works
	pb.quiet(aID.ID, "video", time.Second)
	if n := pb.got(aID.ID, "video") + pb.got(aID.ID, "audio"); n != 0 {
		t.Fatalf("an off-stage member's packets reached b: %d", n)
	}

	// Approval makes A's tracks reach everyone, without a new connection.
	a.ok("hand.raise", nil)
	host.ok("hand.approve", map[string]any{"userId": aID.ID})
	pb.waitMedia(aID.ID, "video", 30)
	pb.waitMedia(aID.ID, "audio", 30)

	// Leaving the stage stops them.
	a.ok("stage.leave", nil)
	pb.quiet(aID.ID, "video", 1500*time.Millisecond)
}

func TestMediaRelayOnlyThroughTURN(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	hostID, goodID, tamperedID, expiredID := newUser(t, c, "Host"), newUser(t, c, "Good"), newUser(t, c, "Tampered"), newUser(t, c, "Expired")
	id := hosted(t, c, hostID, "primetime")
	host := connect(t, c, hostID, id, "web")
	host.ok("session.start", nil)
	newPeer(t, host, peerOpts{publish: true})

	good := connect(t, c, goodID, id, "web")
	ice := iceServers(good)
	if len(ice) == 0 || !strings.HasPrefix(ice[0].Username, fmt.Sprint(clock.Now().Unix())[:3]) || !strings.HasSuffix(ice[0].Username, ":"+goodID.ID) {
		t.Fatalf("TURN credentials: %+v", ice)
	}
	pg := newPeer(t, good, peerOpts{relayOnly: true})
	pg.waitMedia(hostID.ID, "video", 30)

	tm := connect(t, c, tamperedID, id, "web")
	bad := iceServers(tm)
	bad[0].Credential = "x" + fmt.Sprint(bad[0].Credential)[1:]
	pt := newPeer(t, tm, peerOpts{relayOnly: true, ice: bad})

	secret, err := os.ReadFile(filepath.Join(s.DataDir, "turn.key"))
	if err != nil {
		t.Fatal(err)
	}
	ex := connect(t, c, expiredID, id, "web")
	user, pass := turncred.Mint(strings.TrimSpace(string(secret)), expiredID.ID, clock.Now().Add(-time.Minute))
	expired := iceServers(ex)
	expired[0].Username, expired[0].Credential = user, pass
	pe := newPeer(t, ex, peerOpts{relayOnly: true, ice: expired})

	// The good peer's media shows the path works; the others get none.
	pg.waitMedia(hostID.ID, "video", 100)
	for _, p := range []*peer{pt, pe} {
		if n := p.got(hostID.ID, "video"); n != 0 {
			t.Fatalf("%s received %d packets through TURN with bad credentials", p.m.id.ID, n)
		}
		if st := p.pc.ICEConnectionState(); st == webrtc.ICEConnectionStateConnected || st == webrtc.ICEConnectionStateCompleted {
			t.Fatalf("%s connected with bad TURN credentials", p.m.id.ID)
		}
	}
}

func TestMediaComesBackAfterAWorkerDies(t *testing.T) {
	s, clock := stackWith(t, func(c *runner.Config) { c.Workers = 2 })
	c := newClient(t, s.URL)
	hostID, aID := newUser(t, c, "Host"), newUser(t, c, "A")
	id := hosted(t, c, hostID, "primetime")
	host := connect(t, c, hostID, id, "web")
	host.ok("session.start", nil)
	a := connect(t, c, aID, id, "web")
	ph := newPeer(t, host, peerOpts{publish: true})
	pa := newPeer(t, a, peerOpts{})
	pa.waitMedia(hostID.ID, "video", 20)

	sess, err := s.Store.GetSession(t.Context(), domain.SessionID(id))
	if err != nil {
		t.Fatal(err)
	}
	dead := sess.Live.Media.WorkerID
	// A worker reports its rooms with each heartbeat; kill it once it has.
	deadline := time.Now().Add(waitFor)
	for !reports(t, s, dead, id) {
		if time.Now().After(deadline) {
			t.Fatalf("worker %s never reported room %s", dead, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.KillWorker(dead); err != nil {
		t.Fatal(err)
	}
	// Its heartbeat lapses; the scheduler moves the room and tells the
	// members, who reconnect their media without leaving the session.
	clock.Advance(10 * time.Second)
	for _, p := range []*peer{ph, pa} {
		select {
		case <-p.reconnect:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s was never told to reconnect its media", p.m.id.ID)
		}
		p.close()
	}
	newPeer(t, host, peerOpts{publish: true})
	pa = newPeer(t, a, peerOpts{})
	pa.waitMedia(hostID.ID, "video", 20)
	sess, err = s.Store.GetSession(t.Context(), domain.SessionID(id))
	if err != nil {
		t.Fatal(err)
	}
	if sess.Live.Media.WorkerID == dead || sess.Live.Media.Epoch < 2 {
		t.Fatalf("media still on %s (epoch %d)", sess.Live.Media.WorkerID, sess.Live.Media.Epoch)
	}
	if st := a.state(); st["status"] != "live" {
		t.Fatalf("the session did not survive: %v", st["status"])
	}
}

// reports tells whether worker's last heartbeat lists room.
func reports(t *testing.T, s *runner.Stack, worker, room string) bool {
	t.Helper()
	ws, err := s.Store.ListWorkers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.ID == worker && slices.Contains(w.Rooms, room) {
			return true
		}
	}
	return false
}

// In open breakout rooms each room is its own forwarding group: members
// hear and see only their room, a move switches what they receive on the
// same connection, and closing returns everyone to the main stage.
func TestBreakoutRoomsCarryTheirOwnMedia(t *testing.T) {
	r := primetime(t, true, "P0", "P1", "P2", "P3")
	host, ms, hostID := r.host, r.members, r.host.id
	ids := make([]identity, len(ms))
	ps := make([]*peer, len(ms))
	for i, m := range ms {
		ids[i] = m.id
	}
	newPeer(t, host, peerOpts{publish: true})
	for i := range ms {
		ps[i] = newPeer(t, ms[i], peerOpts{publish: true})
	}
	// Before rooms open, only the main stage (the host) reaches anyone.
	ps[0].waitMedia(hostID.ID, "video", 20)
	ps[0].quiet(ids[1].ID, "video", 500*time.Millisecond)

	host.ok("breakout.configure", map[string]any{
		"rooms":  rooms("One", "Two"),
		"assign": map[string]any{ids[0].ID: 0, ids[1].ID: 0, ids[2].ID: 1, ids[3].ID: 1},
	})
	host.ok("breakout.open", nil)
	// Room One talks among itself and hears nothing of room Two or the
	// main room.
	ps[0].waitMedia(ids[1].ID, "video", 30)
	ps[1].waitMedia(ids[0].ID, "audio", 30)
	ps[2].waitMedia(ids[3].ID, "video", 30)
	ps[0].quiet(ids[2].ID, "video", time.Second)
	ps[0].quiet(hostID.ID, "video", 500*time.Millisecond)

	// A move switches what P0 receives, without a new connection.
	host.ok("breakout.move", map[string]any{"userId": ids[0].ID, "room": 1})
	ps[0].waitMedia(ids[2].ID, "video", ps[0].got(ids[2].ID, "video")+30)
	ps[0].quiet(ids[1].ID, "video", time.Second)

	// Closing brings everyone back to the main stage: the host again, and
	// no participant, who is off stage.
	host.ok("breakout.close", nil)
	ps[3].waitMedia(hostID.ID, "video", ps[3].got(hostID.ID, "video")+30)
	ps[3].quiet(ids[2].ID, "video", time.Second)
}
