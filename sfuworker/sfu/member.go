package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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
// forwarded. Its life follows the publisher's descriptions: it is active
// while the publisher's current description sends on its transceiver, and
// it ends when pion gives the transceiver a new receiver (the publisher
// stopped the track, restarted it or sent another one there) or the
// receiver stops. An ended track leaves every subscriber.
type pubTrack struct {
	owner   *member
	rr      *webrtc.RTPReceiver
	trackID string
	kind    webrtc.RTPCodecType
	seq     uint64 // Creation order in the worker.
	recv    *forward.Receiver
	// active is guarded by the worker's mu.
	active bool
}

// subscription is one track a member receives. tr and sender belong to
// the member's queue: a subscription is attached to a transceiver when
// the member's connection is next negotiated.
type subscription struct {
	pt     *pubTrack
	dt     *forward.DownTrack
	tr     *webrtc.RTPTransceiver
	sender *webrtc.RTPSender
}

// member is one member's connection. state, pubs, subs, retired, queued
// and closed are guarded by the worker's mu; the fields after ops belong
// to the ops goroutine.
type member struct {
	w     *Worker
	room  *room
	id    MemberID // state.ID, readable without the lock.
	state MemberState
	pubs  map[*webrtc.RTPReceiver]*pubTrack
	// subs are the tracks the member should receive.
	subs map[*pubTrack]*subscription
	// retired subscriptions wait on the queue for their removal.
	retired map[*subscription]struct{}
	queued  bool // An update is on the queue.
	closed  bool
	wg      sync.WaitGroup // Publisher RTCP readers.
	// tw is the congestion state of the connection, shared by the
	// DownTracks of its subscriptions (TWCC).
	tw *forward.Transport
	// udp is set while the connection's selected ICE candidate pair runs
	// over UDP: its DownTracks are then direct (forward.DownTrack).
	udp atomic.Bool

	ops      *opQueue
	pc       *webrtc.PeerConnection
	started  bool // The client's first offer was answered.
	attached map[*subscription]struct{}
	// pending is the worker's offer sent and not yet answered; it is
	// applied only with its answer (pion cannot roll a local offer back).
	pending   *webrtc.SessionDescription
	pendingID int64
	negID     int64 // The last offer's negotiation id.
	mids      int   // Mids "s1"… handed out.
	cands     []webrtc.ICECandidateInit
	// Retiring unanswered offers: the timer waits for an answer or a
	// backoff; failures counts the offers retired in a row.
	timer    *time.Timer
	timerGen uint64
	failures int
	retryAt  time.Time
	notice   publishing // The last media.publishing sent.
	// routed are the SSRCs of the member's senders in the worker's TWCC
	// routes.
	routed map[uint32]struct{}
	// pair is the selected candidate pair; srtp the connection's SRTP
	// writer below pion's, once DTLS has connected (srtpdirect.go).
	pair atomic.Pointer[webrtc.ICECandidatePair]
	srtp atomic.Pointer[directSRTP]
	// tap and fastc read what the member publishes below pion, once DTLS
	// has connected (fastread.go); nil where pion reads it.
	tap   *fastTap
	fastc atomic.Pointer[fastConn]
	// inlined are the candidates (a= lines' values) the last answer
	// carried; on the queue.
	inlined map[string]struct{}
}

func newMember(w *Worker, r *room, st MemberState) *member {
	m := &member{
		w: w, room: r, id: st.ID, state: st,
		pubs:     map[*webrtc.RTPReceiver]*pubTrack{},
		subs:     map[*pubTrack]*subscription{},
		retired:  map[*subscription]struct{}{},
		attached: map[*subscription]struct{}{},
		ops:      newOpQueue(),
		tw:       forward.NewTransport(),
		routed:   map[uint32]struct{}{},
		inlined:  map[string]struct{}{},
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
	if m.w.taps != nil {
		m.tap = m.w.taps.take(pc.ID())
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		m.ops.push(func() {
			if _, ok := m.inlined[init.Candidate]; ok {
				return // In the answer already (withCandidates).
			}
			m.send("media.candidate", candidatePayload{Candidate: init})
		})
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, rr *webrtc.RTPReceiver) { m.onTrack(pc, t, rr) })
	dtlsT := pc.SCTP().Transport()
	dtlsT.ICETransport().OnSelectedCandidatePairChange(func(p *webrtc.ICECandidatePair) {
		udp := p != nil && p.Local != nil && p.Local.Protocol == webrtc.ICEProtocolUDP
		m.pair.Store(p)
		if d := m.srtp.Load(); d != nil {
			d.setPair(p)
		}
		if c := m.fastc.Load(); c != nil {
			m.w.fast.follow(c)
		}
		m.w.mu.Lock()
		defer m.w.mu.Unlock()
		m.udp.Store(udp)
		for _, s := range m.subs {
			s.dt.SetDirect(udp)
		}
	})
	if m.w.batch != nil {
		// Called with the transport's lock held (see newDirectSRTP).
		dtlsT.OnStateChange(func(s webrtc.DTLSTransportState) {
			if s != webrtc.DTLSTransportStateConnected {
				return
			}
			keys, endpoint, err := dtlsSRTP(dtlsT)
			if err != nil {
				m.w.log.Warn("sfu: reading and forwarding through pion's SRTP", "member", m.id, "err", err)
				return
			}
			d, err := newDirectSRTP(keys, endpoint, m.w.batch)
			if err != nil {
				m.w.log.Warn("sfu: forwarding through pion's SRTP", "member", m.id, "err", err)
				return
			}
			d.setPair(m.pair.Load())
			m.srtp.Store(d)
			m.tw.SetDirect(d)
			// Subscriptions bound before SRTP was up start now, from the
			// cached keyframe.
			m.w.mu.Lock()
			for _, s := range m.subs {
				s.dt.StartSoon()
			}
			m.w.mu.Unlock()
			if m.tap == nil {
				return
			}
			ctx, err := newReadContext(keys)
			if err != nil {
				m.w.log.Warn("sfu: reading through pion's SRTP", "member", m.id, "err", err)
				return
			}
			c := newFastConn(m.tap, ctx, m.pair.Load)
			m.fastc.Store(c)
			m.w.fast.follow(c)
		})
	}
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
		// Parsed from the text: Unmarshal on the description pion returns
		// would write the cache pion's own goroutines read.
		var cur sdp.SessionDescription
		if cur.UnmarshalString(rd.SDP) == nil && fingerprint(&cur) != "" && fingerprint(&cur) != fingerprint(offer) {
			return true
		}
	}
	return false
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

// update runs on the queue after the room changed: it lets go of the
// subscriptions the member lost, offers what it should receive now, and
// says whether its own tracks are forwarded.
func (m *member) update() {
	m.w.mu.Lock()
	m.queued = false
	m.w.mu.Unlock()
	m.detachRetired()
	if m.failures >= maxOfferAttempts {
		// A change is a reason to try once more after giving up.
		m.failures = maxOfferAttempts - 1
	}
	m.negotiate()
	m.sendNotice()
}

// queueUpdateLocked puts one update on the member's queue.
func (m *member) queueUpdateLocked() {
	if m.queued || m.closed {
		return
	}
	m.queued = true
	m.ops.push(m.update)
}

// close stops the member's queue, connection and tracks, and returns what
// it held for the counters.
func (m *member) close() ([]*pubTrack, []*subscription) {
	m.w.mu.Lock()
	m.closed = true
	m.w.mu.Unlock()
	m.ops.stop()
	// The queue has stopped: its fields are ours now.
	if m.timer != nil {
		m.timer.Stop()
	}
	if c := m.fastc.Load(); c != nil {
		m.w.fast.drop(c)
	}
	if m.pc != nil {
		_ = m.pc.Close()
	}
	for ssrc := range m.routed {
		m.w.twcc.remove(ssrc, m.tw)
	}
	m.w.mu.Lock()
	pubs := make([]*pubTrack, 0, len(m.pubs))
	for _, p := range m.pubs {
		pubs = append(pubs, p)
	}
	subs := make([]*subscription, 0, len(m.subs)+len(m.retired))
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
