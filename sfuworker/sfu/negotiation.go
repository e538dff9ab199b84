package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/forward"
	"github.com/greenroom-live/greenroom/sfuworker/sfu/sdpcheck"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Offers the client does not answer are retired (Config.AnswerTimeout)
// and made again after a backoff (Config.OfferBackoff, doubling up to
// maxBackoff), at most maxOfferAttempts in a row; then the worker waits
// for the client's next offer or the room's next change.
const (
	maxOfferAttempts = 8
	maxBackoff       = 30 * time.Second
)

// backoff is the wait before the offer after the n-th retired one.
func (w *Worker) backoff(n int) time.Duration {
	d := w.offerBackoff << min(n-1, 10)
	return min(d, maxBackoff)
}

// onOffer answers a client's offer. The worker is the polite peer: an
// offer arriving while its own is pending (glare) wins. pion v4 cannot
// roll a local offer back, so the worker never applies its offer before
// the answer arrives (see negotiate): dropping the pending offer is the
// rollback. The answer carries the newest negotiationId the worker has
// used, which voids every offer up to it; the worker offers again after
// answering when the client should receive more than the answer carries.
func (m *member) onOffer(_ context.Context, payload json.RawMessage) error {
	p, parsed, err := parseSDP(payload, "offer")
	if err != nil {
		return err
	}
	if m.needsFresh(parsed) {
		return errFresh
	}
	if m.pending != nil {
		m.w.log.Debug("sfu: glare, the client's offer wins", "member", m.id, "negotiationId", m.pendingID)
		m.pending = nil
		m.disarm()
	}
	m.detachRetired()
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: p.SDP}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	m.reclaim()
	m.prunePubs()
	m.flushCandidates()
	// Subscriptions waiting for a media section take the ones this offer
	// lets the worker send on; the others wait for the worker's offer.
	m.scrub()
	m.attach(false)
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
	m.failures, m.retryAt = 0, time.Time{}
	m.syncExtensions()
	id := m.negID
	sdp := ans.SDP
	if full := m.withCandidates(); full != "" {
		sdp = full
	}
	m.send("media.answer", sdpPayload{SDP: sdp, Type: "answer", NegotiationID: &id})
	m.sendNotice()
	m.negotiate()
	return nil
}

// gatherWait bounds how long an answer waits for the worker's candidates.
const gatherWait = 100 * time.Millisecond

// withCandidates returns the local description with the worker's ICE
// candidates, once gathering is complete, and notes them so that they do
// not trickle as well; "" if gathering takes longer than gatherWait (they
// trickle then, as media.candidate frames). The worker's candidates are
// its sockets' addresses (the UDP and TCP muxes), gathered at once: in the
// answer, the client's connectivity checks start when the answer comes,
// not one frame later, and a join costs the worker one post to the client
// rather than one per candidate more.
func (m *member) withCandidates() string {
	clear(m.inlined)
	t := time.NewTimer(gatherWait)
	defer t.Stop()
	select {
	case <-webrtc.GatheringCompletePromise(m.pc):
	case <-t.C:
		return ""
	}
	ld := m.pc.LocalDescription()
	if ld == nil {
		return ""
	}
	for line := range strings.Lines(ld.SDP) {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "a="); ok && strings.HasPrefix(c, "candidate:") {
			m.inlined[c] = struct{}{}
		}
	}
	return ld.SDP
}

// onAnswer applies the client's answer to the pending offer. An answer to
// any other offer (one retired, or dropped when a client offer crossed
// it), or with no offer pending, is stale: nothing is applied and
// ErrStaleAnswer says so.
func (m *member) onAnswer(_ context.Context, payload json.RawMessage) error {
	p, parsed, err := parseSDP(payload, "answer")
	if err != nil {
		return err
	}
	if m.pc == nil {
		return ErrClosed
	}
	if m.pending == nil || (p.NegotiationID != nil && *p.NegotiationID != m.pendingID) {
		m.w.log.Debug("sfu: stale answer", "member", m.id, "negotiationId", p.NegotiationID, "pending", m.pending != nil, "pendingId", m.pendingID)
		return ErrStaleAnswer
	}
	offer := *m.pending
	m.pending = nil
	m.disarm()
	if err := matchesOffer(offer, parsed); err != nil {
		// Nothing was applied: offer again, after a while.
		m.retire()
		return err
	}
	if err := m.pc.SetLocalDescription(offer); err != nil {
		m.w.log.Warn("sfu: apply own offer", "member", m.id, "err", err)
		m.retire()
		return fmt.Errorf("sfu: apply own offer: %w", err)
	}
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.SDP}); err != nil {
		// Left in have-local-offer, pion cannot roll back: the client's
		// next offer starts a new connection.
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	m.failures, m.retryAt = 0, time.Time{}
	m.syncExtensions()
	m.flushCandidates()
	m.prunePubs()
	m.sendNotice()
	m.negotiate()
	return nil
}

// syncExtensions gives each attached subscription the header extension
// ids of its media section, once a negotiation completes. They are read
// from the description itself: pion binds a track, and reports its
// sender's parameters, with ids of its own when the kind was not yet
// negotiated at bind time, which the answer may then change.
func (m *member) syncExtensions() {
	ld := m.pc.CurrentLocalDescription()
	if ld == nil {
		return
	}
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(ld.SDP); err != nil {
		return
	}
	exts := map[string][]webrtc.RTPHeaderExtensionParameter{}
	for _, md := range sd.MediaDescriptions {
		for _, a := range md.Attributes {
			if a.Key != "extmap" {
				continue
			}
			// RFC 8285 section 8: "extmap:<id>[/<direction>] <uri>".
			f := strings.Fields(a.Value)
			if len(f) < 2 {
				continue
			}
			id, err := strconv.Atoi(strings.SplitN(f[0], "/", 2)[0])
			if err != nil {
				continue
			}
			exts[mid(md)] = append(exts[mid(md)], webrtc.RTPHeaderExtensionParameter{URI: f[1], ID: id})
		}
	}
	for s := range m.attached {
		if s.tr != nil {
			s.dt.SetHeaderExtensions(exts[s.tr.Mid()])
		}
	}
}

// negotiate sends an offer when the tracks the member should receive
// differ from the last negotiated description, once the client's first
// offer was answered, no offer is pending and no backoff runs.
//
// The offer is created but not applied (SetLocalDescription waits for the
// answer, in onAnswer), so that on glare it can be dropped: pion v4 cannot
// roll back. Media sections are never reordered or dropped: a track that
// goes leaves its transceiver idle (RemoveTrack), and a new track takes an
// idle one whose idleness was negotiated, or a new transceiver at the end.
// New media sections get mids "s1", "s2"… that no browser picks, so that
// an offer of the client crossing this one never reuses one of them for
// another track. An offer not answered within Config.AnswerTimeout is
// retired (expire).
func (m *member) negotiate() {
	if m.pc == nil || !m.started || m.pending != nil || m.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	if m.failures >= maxOfferAttempts {
		return
	}
	if wait := time.Until(m.retryAt); wait > 0 {
		m.arm(wait, m.negotiate)
		return
	}
	m.detachRetired()
	m.scrub()
	m.attach(true)
	if !m.dirty() {
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
		m.retire()
		return
	}
	m.pending = &offer
	m.negID++
	m.pendingID = m.negID
	id := m.negID
	m.arm(m.w.answerTimeout, func() { m.expire(id) })
	m.w.log.Debug("sfu: offer", "member", m.id, "negotiationId", id)
	m.send("media.offer", sdpPayload{SDP: offer.SDP, Type: "offer", NegotiationID: &id})
}

// expire retires the pending offer if it is still offer id.
func (m *member) expire(id int64) {
	if m.pending == nil || m.pendingID != id {
		return
	}
	m.w.log.Info("sfu: offer not answered, retired", "member", m.id, "negotiationId", id, "attempt", m.failures+1)
	m.pending = nil
	m.retire()
}

// retire counts a failed offer and offers again after the backoff, or
// gives up after maxOfferAttempts.
func (m *member) retire() {
	m.failures++
	if m.failures >= maxOfferAttempts {
		m.w.log.Warn("sfu: offers not answered, waiting for the client", "member", m.id, "attempts", m.failures)
		m.disarm()
		return
	}
	m.retryAt = time.Now().Add(m.w.backoff(m.failures))
	m.negotiate()
}

// arm runs fn on the queue after d, instead of what was armed before.
func (m *member) arm(d time.Duration, fn func()) {
	m.disarm()
	gen := m.timerGen
	m.timer = time.AfterFunc(d, func() {
		m.ops.push(func() {
			if m.timerGen == gen {
				fn()
			}
		})
	})
}

// disarm cancels what arm set.
func (m *member) disarm() {
	m.timerGen++
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}

// dirty reports whether the tracks the member's senders carry differ from
// those the current local description sends (by msid: "stream track").
func (m *member) dirty() bool {
	sending := map[string]string{}
	if ld := m.pc.CurrentLocalDescription(); ld != nil {
		d, err := sdpcheck.Parse(ld.SDP)
		if err != nil {
			return true
		}
		for _, s := range d.Sections {
			if s.Sends() && len(s.Msids) > 0 {
				sending[s.Mid] = s.Msids[0]
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

// detachRetired lets go of the subscriptions the member lost.
func (m *member) detachRetired() {
	m.w.mu.Lock()
	retired := m.retired
	m.retired = map[*subscription]struct{}{}
	m.w.mu.Unlock()
	for s := range retired {
		m.detach(s)
	}
}

// detach stops a subscription: no more packets, its transceiver idle
// (RemoveTrack: the next offer says so), its DownTrack closed.
func (m *member) detach(s *subscription) {
	if s.tr != nil {
		m.w.log.Debug("sfu: subscription detached", "member", m.id, "from", s.pt.owner.id, "track", s.pt.trackID, "mid", s.tr.Mid())
	}
	s.pt.recv.Unsubscribe(s.dt)
	if s.sender != nil && m.pc != nil {
		if err := m.pc.RemoveTrack(s.sender); err != nil {
			_ = s.sender.Stop()
		}
	}
	s.dt.Close()
	delete(m.attached, s)
	ds := s.dt.Stats()
	m.w.gonePackets.Add(ds.Packets)
	m.w.goneBytes.Add(ds.Bytes)
	m.w.goneNACKs.Add(ds.NACKs)
	m.w.goneResent.Add(ds.Resent)
}

// attach gives each subscription the member should receive and does not
// yet a media section: an idle transceiver of its kind the client can
// receive on, or (create) a new transceiver, which the next offer
// appends. Subscriptions attach in the order their tracks appeared.
func (m *member) attach(create bool) {
	if m.pc == nil {
		return
	}
	m.w.mu.Lock()
	var want []*subscription
	for _, s := range m.subs {
		if _, ok := m.attached[s]; !ok {
			want = append(want, s)
		}
	}
	m.w.mu.Unlock()
	if len(want) == 0 {
		return
	}
	slices.SortFunc(want, func(a, b *subscription) int { return int(a.pt.seq) - int(b.pt.seq) })
	free := m.idleTransceivers()
	for _, s := range want {
		var t *webrtc.RTPTransceiver
		for i, f := range free {
			if f.Kind() == s.pt.kind {
				t = f
				free = slices.Delete(free, i, i+1)
				break
			}
		}
		var sender *webrtc.RTPSender
		switch {
		case t != nil:
			var err error
			sender, err = peerAPI(m.pc, m.w.api).NewRTPSender(s.dt, m.pc.SCTP().Transport())
			if err == nil {
				err = t.SetSender(sender, s.dt)
			}
			if err != nil {
				m.w.log.Warn("sfu: reuse transceiver", "member", m.id, "mid", t.Mid(), "err", err)
				continue
			}
		case create:
			var err error
			// Send and receive: a browser whose addTrack reuses the
			// media section can send on it.
			t, err = m.pc.AddTransceiverFromTrack(s.dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
			if err != nil {
				m.w.log.Warn("sfu: add transceiver", "member", m.id, "err", err)
				continue
			}
			sender = t.Sender()
		default:
			continue
		}
		m.w.log.Debug("sfu: subscription attached", "member", m.id, "from", s.pt.owner.id, "track", s.pt.trackID, "mid", t.Mid(), "reused", t.Mid() != "")
		s.tr, s.sender = t, sender
		m.attached[s] = struct{}{}
		for _, e := range sender.GetParameters().Encodings {
			// Its TWCC feedback names this SSRC.
			ssrc := uint32(e.SSRC)
			m.w.twcc.add(ssrc, m.tw, s.dt)
			m.routed[ssrc] = struct{}{}
		}
		s.dt.ReadRTCP(sender)
		s.pt.recv.Subscribe(s.dt)
	}
}

// scrub removes every sender that does not carry a subscription: pion
// gives a transceiver it makes for an undeclared incoming SSRC a sender
// with a track of random ids, which the worker must never offer.
func (m *member) scrub() {
	for _, t := range m.pc.GetTransceivers() {
		s := t.Sender()
		if s == nil {
			continue
		}
		if _, ok := s.Track().(*forward.DownTrack); ok {
			continue
		}
		if err := m.pc.RemoveTrack(s); err != nil {
			_ = s.Stop()
		}
	}
}

// reclaim takes back the subscriptions whose media section the client's
// offer made inactive or rejected (pion stops such a transceiver): they
// wait for another one.
func (m *member) reclaim() {
	rd := m.pc.RemoteDescription()
	if rd == nil || len(m.attached) == 0 {
		return
	}
	d, err := sdpcheck.Parse(rd.SDP)
	if err != nil {
		return
	}
	dead := map[string]bool{}
	for _, s := range d.Sections {
		dead[s.Mid] = s.Rejected || s.Direction == "inactive"
	}
	for s := range m.attached {
		if !dead[s.tr.Mid()] {
			continue
		}
		s.pt.recv.Unsubscribe(s.dt)
		if err := m.pc.RemoveTrack(s.sender); err != nil {
			_ = s.sender.Stop()
		}
		s.tr, s.sender = nil, nil
		delete(m.attached, s)
	}
}

// idleTransceivers are the transceivers a new subscription may take: no
// sender, a mid, the client receives there (recvonly in its description,
// or inactive in its answer because the worker offered inactive) and does
// not send, and the last description the worker applied sends nothing on
// it (the client has let go of the track that was there).
func (m *member) idleTransceivers() []*webrtc.RTPTransceiver {
	rd := m.pc.RemoteDescription()
	if rd == nil {
		return nil
	}
	remote, err := sdpcheck.Parse(rd.SDP)
	if err != nil {
		return nil
	}
	rsec := map[string]sdpcheck.Section{}
	for _, s := range remote.Sections {
		rsec[s.Mid] = s
	}
	lsec := map[string]sdpcheck.Section{}
	if ld := m.pc.CurrentLocalDescription(); ld != nil {
		if local, err := sdpcheck.Parse(ld.SDP); err == nil {
			for _, s := range local.Sections {
				lsec[s.Mid] = s
			}
		}
	}
	var out []*webrtc.RTPTransceiver
	for _, t := range m.pc.GetTransceivers() {
		if t.Sender() != nil || t.Mid() == "" {
			continue
		}
		r, ok := rsec[t.Mid()]
		if !ok || r.Rejected {
			continue
		}
		switch r.Direction {
		case "recvonly":
		case "inactive":
			if rd.Type != webrtc.SDPTypeAnswer {
				continue
			}
		default:
			continue
		}
		if l, ok := lsec[t.Mid()]; ok && (l.Rejected || (l.Sends() && len(l.Msids) > 0)) {
			continue
		}
		out = append(out, t)
	}
	return out
}
