package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/forward"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// maxSDP bounds a session description: API Gateway caps a WebSocket
// message at 128 KiB anyway.
const maxSDP = 128 << 10

// maxQueuedCandidates bounds the remote candidates held until the remote
// description is set.
const maxQueuedCandidates = 64

// signalTimeout bounds one server-originated signaling message.
const signalTimeout = 5 * time.Second

// pubTrack is one track a member sends, read whether or not it may be
// forwarded.
type pubTrack struct {
	owner   *member
	rr      *webrtc.RTPReceiver
	trackID string
	recv    *forward.Receiver
}

// subscription is one track a member receives.
type subscription struct {
	dt     *forward.DownTrack
	sender *webrtc.RTPSender // Set and used on the member's queue.
}

// member is one member's connection. state, pubs, subs and closed are
// guarded by the worker's mu; the fields after ops belong to the ops
// goroutine.
type member struct {
	w     *Worker
	room  *room
	id    MemberID // state.ID, readable without the lock.
	state MemberState
	pubs  map[*webrtc.RTPReceiver]*pubTrack
	subs  map[*pubTrack]*subscription
	// retired subscriptions wait on the queue for their removal.
	retired map[*subscription]struct{}
	closed  bool
	wg      sync.WaitGroup // Publisher RTCP readers.

	ops       *opQueue
	pc        *webrtc.PeerConnection
	started   bool // The client's first offer was answered.
	needOffer bool
	negID     int64
	cands     []webrtc.ICECandidateInit
}

func newMember(w *Worker, r *room, st MemberState) *member {
	m := &member{
		w: w, room: r, id: st.ID, state: st,
		pubs:    map[*webrtc.RTPReceiver]*pubTrack{},
		subs:    map[*pubTrack]*subscription{},
		retired: map[*subscription]struct{}{},
		ops:     newOpQueue(),
	}
	m.ops.push(m.open)
	return m
}

// open creates the PeerConnection; it runs first on the queue.
func (m *member) open() {
	pc, err := m.w.api.NewPeerConnection(webrtc.Configuration{
		Certificates: []webrtc.Certificate{m.w.cert},
		BundlePolicy: webrtc.BundlePolicyMaxBundle,
	})
	if err != nil {
		m.w.log.Error("sfu: new peer connection", "member", m.id, "err", err)
		return
	}
	m.pc = pc
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		m.ops.push(func() { m.send("media.candidate", candidatePayload{Candidate: init}) })
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, rr *webrtc.RTPReceiver) { m.onTrack(pc, t, rr) })
}

type sdpPayload struct {
	SDP  string `json:"sdp"`
	Type string `json:"type,omitempty"`
	// NegotiationID numbers the worker's offers; an answer that carries
	// one not matching the pending offer is stale and dropped.
	NegotiationID *int64 `json:"negotiationId,omitempty"`
}

type candidatePayload struct {
	Candidate webrtc.ICECandidateInit `json:"candidate"`
}

func parseSDP(payload json.RawMessage, want string) (sdpPayload, error) {
	var p sdpPayload
	if len(payload) > maxSDP+1024 {
		return p, fmt.Errorf("%w: too large", ErrBadSDP)
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return p, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if p.SDP == "" || len(p.SDP) > maxSDP || (p.Type != "" && p.Type != want) {
		return p, fmt.Errorf("%w: empty, too large or not an %s", ErrBadSDP, want)
	}
	// Parse before pion does, so its errors never reach a half-applied
	// state.
	var s sdp.SessionDescription
	if err := s.UnmarshalString(p.SDP); err != nil {
		return p, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	return p, nil
}

// onOffer answers a client's offer. An offer arriving while the worker's
// own offer is pending (glare) wins: the worker is the polite peer, rolls
// back and offers again after answering.
func (m *member) onOffer(_ context.Context, payload json.RawMessage) error {
	p, err := parseSDP(payload, "offer")
	if err != nil {
		return err
	}
	if m.pc == nil {
		return ErrClosed
	}
	if m.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		if err := m.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}); err != nil {
			return fmt.Errorf("sfu: rollback: %w", err)
		}
		m.needOffer = true
	}
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: p.SDP}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	m.flushCandidates()
	ans, err := m.pc.CreateAnswer(nil)
	if err == nil {
		err = m.pc.SetLocalDescription(ans)
	}
	if err != nil {
		_ = m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	m.started = true
	m.send("media.answer", sdpPayload{SDP: ans.SDP, Type: "answer"})
	m.negotiate()
	return nil
}

// onAnswer applies the client's answer to the pending offer; a stale one
// (no offer pending, or another negotiation id) is dropped.
func (m *member) onAnswer(_ context.Context, payload json.RawMessage) error {
	p, err := parseSDP(payload, "answer")
	if err != nil {
		return err
	}
	if m.pc == nil {
		return ErrClosed
	}
	if m.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer ||
		(p.NegotiationID != nil && *p.NegotiationID != m.negID) {
		m.w.log.Debug("sfu: stale answer dropped", "member", m.id)
		return nil
	}
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.SDP}); err != nil {
		// Back to stable, and offer again.
		_ = m.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		m.needOffer = true
		m.negotiate()
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	m.flushCandidates()
	m.negotiate()
	return nil
}

// onCandidate adds a trickled candidate, or holds it until the remote
// description is set (signaling may reorder messages).
func (m *member) onCandidate(_ context.Context, payload json.RawMessage) error {
	var p struct {
		Candidate json.RawMessage `json:"candidate"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || len(p.Candidate) == 0 {
		return fmt.Errorf("%w: bad candidate", ErrBadMessage)
	}
	var init webrtc.ICECandidateInit
	if err := json.Unmarshal(p.Candidate, &init); err != nil {
		// A bare candidate line is accepted too.
		if err := json.Unmarshal(p.Candidate, &init.Candidate); err != nil {
			return fmt.Errorf("%w: bad candidate", ErrBadMessage)
		}
	}
	if m.pc == nil {
		return ErrClosed
	}
	if m.pc.RemoteDescription() == nil {
		if len(m.cands) < maxQueuedCandidates {
			m.cands = append(m.cands, init)
		}
		return nil
	}
	if err := m.pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return nil
}

func (m *member) flushCandidates() {
	for _, c := range m.cands {
		if err := m.pc.AddICECandidate(c); err != nil {
			m.w.log.Debug("sfu: queued candidate", "member", m.id, "err", err)
		}
	}
	m.cands = nil
}

// negotiate sends an offer when tracks changed, once the client's first
// offer was answered and no offer is pending.
func (m *member) negotiate() {
	if m.pc == nil || !m.started || !m.needOffer || m.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	offer, err := m.pc.CreateOffer(nil)
	if err == nil {
		err = m.pc.SetLocalDescription(offer)
	}
	if err != nil {
		m.w.log.Error("sfu: offer", "member", m.id, "err", err)
		return
	}
	m.needOffer = false
	m.negID++
	id := m.negID
	m.send("media.offer", sdpPayload{SDP: offer.SDP, Type: "offer", NegotiationID: &id})
}

// send delivers a server-originated message; it runs on the queue, never
// under the worker's lock.
func (m *member) send(msgType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	m.w.mu.Lock()
	conn := m.state.Connection
	m.w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
	defer cancel()
	if err := m.w.cfg.Signal(ctx, m.room.id, m.id, conn, msgType, b); err != nil {
		m.w.log.Warn("sfu: signal", "member", m.id, "type", msgType, "err", err)
	}
}

// onTrack starts reading a track (or a simulcast layer of one) the member
// sends, and rewires the room.
func (m *member) onTrack(pc *webrtc.PeerConnection, t *webrtc.TrackRemote, rr *webrtc.RTPReceiver) {
	w := m.w
	w.mu.Lock()
	if m.closed {
		w.mu.Unlock()
		return
	}
	pt := m.pubs[rr]
	created := pt == nil
	if created {
		var levelExt uint8
		for _, e := range rr.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				levelExt = uint8(e.ID)
			}
		}
		id := t.ID()
		if id == "" {
			id = t.Kind().String()
		}
		pt = &pubTrack{owner: m, rr: rr, trackID: id, recv: forward.NewReceiver(forward.ReceiverConfig{
			Codec: t.Codec(), TrackID: id, StreamID: string(m.state.ID),
			AudioLevelExt: levelExt, WriteRTCP: pc.WriteRTCP, Logger: w.log,
		})}
		m.pubs[rr] = pt
	}
	if err := pt.recv.AddLayer(t); err != nil {
		w.mu.Unlock()
		w.log.Warn("sfu: track layer", "member", m.id, "rid", t.RID(), "err", err)
		return
	}
	rid := t.RID()
	m.wg.Add(1)
	w.mu.Unlock()
	go func() {
		// Draining the publisher's RTCP lets the interceptors see its
		// sender reports; it ends when the connection closes.
		defer m.wg.Done()
		for {
			var err error
			if rid != "" {
				_, _, err = rr.ReadSimulcastRTCP(rid)
			} else {
				_, _, err = rr.ReadRTCP()
			}
			if err != nil {
				return
			}
		}
	}()
	if created {
		w.reconcile(m.room)
	}
}

// addSub attaches a subscription's DownTrack to the connection.
func (m *member) addSub(pt *pubTrack, s *subscription) {
	if m.pc == nil {
		return
	}
	sender, err := m.pc.AddTrack(s.dt)
	if err != nil {
		m.w.log.Warn("sfu: add track", "member", m.id, "err", err)
		return
	}
	s.sender = sender
	s.dt.ReadRTCP(sender)
	pt.recv.Subscribe(s.dt)
	m.needOffer = true
	m.negotiate()
}

// removeSub detaches a subscription and stops its DownTrack.
func (m *member) removeSub(pt *pubTrack, s *subscription) {
	pt.recv.Unsubscribe(s.dt)
	if s.sender != nil && m.pc != nil {
		if err := m.pc.RemoveTrack(s.sender); err != nil {
			_ = s.sender.Stop()
		}
		m.needOffer = true
	}
	s.dt.Close()
	m.w.mu.Lock()
	delete(m.retired, s)
	m.w.mu.Unlock()
	m.negotiate()
}

// close stops the member's queue, connection and tracks, and returns what
// it held for the counters.
func (m *member) close() ([]*pubTrack, []*subscription) {
	m.w.mu.Lock()
	m.closed = true
	m.w.mu.Unlock()
	m.ops.stop()
	if m.pc != nil {
		_ = m.pc.Close()
	}
	m.w.mu.Lock()
	pubs := make([]*pubTrack, 0, len(m.pubs))
	for _, p := range m.pubs {
		pubs = append(pubs, p)
	}
	subs := make([]*subscription, 0, len(m.subs))
	for _, s := range m.subs {
		subs = append(subs, s)
	}
	for s := range m.retired {
		subs = append(subs, s)
	}
	m.w.mu.Unlock()
	for _, p := range pubs {
		p.recv.Close()
	}
	for _, s := range subs {
		if s.sender != nil {
			_ = s.sender.Stop()
		}
		s.dt.Close()
	}
	m.wg.Wait()
	return pubs, subs
}
