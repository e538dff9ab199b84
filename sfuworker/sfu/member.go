package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

	ops     *opQueue
	pc      *webrtc.PeerConnection
	started bool // The client's first offer was answered.
	// pending is the worker's offer sent and not yet answered; it is
	// applied only with its answer.
	pending *webrtc.SessionDescription
	negID   int64 // The last offer's negotiation id.
	mids    int   // Mids "s1"… handed out.
	cands   []webrtc.ICECandidateInit
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

// parseSDP reads a description and checks what pion would otherwise find
// only after changing its signaling state, which it cannot roll back:
// every media section has a mid, and ICE credentials and a DTLS
// fingerprint are present.
func parseSDP(payload json.RawMessage, want string) (sdpPayload, *sdp.SessionDescription, error) {
	var p sdpPayload
	if len(payload) > maxSDP+1024 {
		return p, nil, fmt.Errorf("%w: too large", ErrBadSDP)
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return p, nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if p.SDP == "" || len(p.SDP) > maxSDP || (p.Type != "" && p.Type != want) {
		return p, nil, fmt.Errorf("%w: empty, too large or not an %s", ErrBadSDP, want)
	}
	s := &sdp.SessionDescription{}
	if err := s.UnmarshalString(p.SDP); err != nil {
		return p, nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if len(s.MediaDescriptions) == 0 {
		return p, nil, fmt.Errorf("%w: no media", ErrBadSDP)
	}
	for _, md := range s.MediaDescriptions {
		if mid(md) == "" {
			return p, nil, fmt.Errorf("%w: a media section without a mid", ErrBadSDP)
		}
		if attr(s, md, "ice-ufrag") == "" || attr(s, md, "ice-pwd") == "" {
			return p, nil, fmt.Errorf("%w: no ICE credentials", ErrBadSDP)
		}
		if attr(s, md, "fingerprint") == "" {
			return p, nil, fmt.Errorf("%w: no DTLS fingerprint", ErrBadSDP)
		}
	}
	return p, s, nil
}

func mid(md *sdp.MediaDescription) string {
	v, _ := md.Attribute(sdp.AttrKeyMID)
	return v
}

// attr is a media section's attribute, or the session's.
func attr(s *sdp.SessionDescription, md *sdp.MediaDescription, key string) string {
	if v, ok := md.Attribute(key); ok && v != "" {
		return v
	}
	v, _ := s.Attribute(key)
	return v
}

// fingerprint is the DTLS fingerprint of a description's first media
// section: a new one means a new RTCPeerConnection at the client.
func fingerprint(s *sdp.SessionDescription) string {
	if s == nil || len(s.MediaDescriptions) == 0 {
		return ""
	}
	return strings.ToLower(attr(s, s.MediaDescriptions[0], "fingerprint"))
}

// errFresh tells Worker.Signal that a client's offer needs a new
// PeerConnection: the member's is failed or closed, stuck in a signaling
// state pion cannot roll back, or the offer comes from a new connection
// at the client (another DTLS fingerprint).
var errFresh = errors.New("sfu: the offer needs a new connection")

// needsFresh reports whether an offer cannot go to the member's
// PeerConnection and must start a new one.
func (m *member) needsFresh(offer *sdp.SessionDescription) bool {
	if m.pc == nil {
		return true
	}
	switch m.pc.ConnectionState() {
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		return true
	}
	switch m.pc.ICEConnectionState() {
	case webrtc.ICEConnectionStateFailed, webrtc.ICEConnectionStateClosed:
		return true
	}
	if m.pc.SignalingState() != webrtc.SignalingStateStable {
		// Only a failed SetRemoteDescription or SetLocalDescription
		// leaves it there (the worker's own offers are applied only with
		// their answer), and pion cannot roll back.
		return true
	}
	if rd := m.pc.RemoteDescription(); rd != nil {
		cur, err := rd.Unmarshal()
		if err == nil && fingerprint(cur) != "" && fingerprint(cur) != fingerprint(offer) {
			return true
		}
	}
	return false
}

// onOffer answers a client's offer. The worker is the polite peer: an
// offer arriving while its own is pending (glare) wins. pion v4 cannot
// roll a local offer back, so the worker never applies its offer before
// the answer arrives (see negotiate): dropping the pending offer is the
// rollback. It offers again after answering.
func (m *member) onOffer(_ context.Context, payload json.RawMessage) error {
	p, parsed, err := parseSDP(payload, "offer")
	if err != nil {
		return err
	}
	if m.needsFresh(parsed) {
		return errFresh
	}
	if m.pending != nil {
		m.w.log.Debug("sfu: glare, the client's offer wins", "member", m.id, "negotiationId", m.negID)
		m.pending = nil
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
		// pion leaves have-remote-offer behind; the next offer starts a
		// new connection.
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
	p, parsed, err := parseSDP(payload, "answer")
	if err != nil {
		return err
	}
	if m.pc == nil {
		return ErrClosed
	}
	if m.pending == nil || (p.NegotiationID != nil && *p.NegotiationID != m.negID) {
		m.w.log.Debug("sfu: stale answer dropped", "member", m.id, "negotiationId", p.NegotiationID, "pending", m.negID)
		return nil
	}
	offer := *m.pending
	m.pending = nil
	if err := matchesOffer(offer, parsed); err != nil {
		// Nothing was applied: offer again.
		m.negotiate()
		return err
	}
	if err := m.pc.SetLocalDescription(offer); err != nil {
		m.w.log.Warn("sfu: apply own offer", "member", m.id, "err", err)
		m.negotiate()
		return fmt.Errorf("sfu: apply own offer: %w", err)
	}
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.SDP}); err != nil {
		// Left in have-local-offer, pion cannot roll back: the client's
		// next offer starts a new connection.
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	m.flushCandidates()
	m.negotiate()
	return nil
}

// matchesOffer checks that an answer has the offer's media sections, in
// order.
func matchesOffer(offer webrtc.SessionDescription, ans *sdp.SessionDescription) error {
	o, err := offer.Unmarshal()
	if err != nil {
		return fmt.Errorf("sfu: own offer: %w", err)
	}
	if len(o.MediaDescriptions) != len(ans.MediaDescriptions) {
		return fmt.Errorf("%w: %d media sections answer %d", ErrBadSDP, len(ans.MediaDescriptions), len(o.MediaDescriptions))
	}
	for i, md := range o.MediaDescriptions {
		if mid(md) != mid(ans.MediaDescriptions[i]) {
			return fmt.Errorf("%w: media section %d is %q, not %q", ErrBadSDP, i, mid(ans.MediaDescriptions[i]), mid(md))
		}
	}
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

// negotiate sends an offer when the tracks the member should receive
// differ from the last negotiated description, once the client's first
// offer was answered and no offer is pending.
//
// The offer is created but not applied (SetLocalDescription waits for the
// answer, in onAnswer), so that on glare it can be dropped: pion v4 cannot
// roll back. The worker's new media sections get mids "s1", "s2"… that no
// browser picks, so that an offer of the client crossing this one never
// reuses one of them for another track.
func (m *member) negotiate() {
	if m.pc == nil || !m.started || m.pending != nil || m.pc.SignalingState() != webrtc.SignalingStateStable || !m.dirty() {
		return
	}
	for _, t := range m.pc.GetTransceivers() {
		if t.Mid() == "" {
			m.mids++
			if err := t.SetMid(fmt.Sprintf("s%d", m.mids)); err != nil {
				m.w.log.Warn("sfu: set mid", "member", m.id, "err", err)
			}
		}
	}
	offer, err := m.pc.CreateOffer(nil)
	if err != nil {
		m.w.log.Error("sfu: offer", "member", m.id, "err", err)
		return
	}
	m.pending = &offer
	m.negID++
	id := m.negID
	m.send("media.offer", sdpPayload{SDP: offer.SDP, Type: "offer", NegotiationID: &id})
}

// dirty reports whether the tracks the member's senders carry differ from
// those the current local description sends (by msid: "stream track").
func (m *member) dirty() bool {
	sending := map[string]string{}
	if ld := m.pc.CurrentLocalDescription(); ld != nil {
		s, err := ld.Unmarshal()
		if err != nil {
			return true
		}
		for _, md := range s.MediaDescriptions {
			_, send := md.Attribute("sendonly")
			_, sendrecv := md.Attribute("sendrecv")
			if msid, ok := md.Attribute("msid"); ok && (send || sendrecv) && md.MediaName.Port.Value != 0 {
				sending[mid(md)] = msid
			}
		}
	}
	for _, t := range m.pc.GetTransceivers() {
		var want string
		if s := t.Sender(); s != nil && s.Track() != nil {
			want = s.Track().StreamID() + " " + s.Track().ID()
		}
		var got string
		if t.Mid() != "" {
			got = sending[t.Mid()]
		}
		if want != got {
			return true
		}
	}
	return false
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
	m.negotiate()
}

// removeSub detaches a subscription and stops its DownTrack.
func (m *member) removeSub(pt *pubTrack, s *subscription) {
	pt.recv.Unsubscribe(s.dt)
	if s.sender != nil && m.pc != nil {
		if err := m.pc.RemoveTrack(s.sender); err != nil {
			_ = s.sender.Stop()
		}
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
