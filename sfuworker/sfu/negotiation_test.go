package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// offer sends a new offer of the client, outside its signaling loop.
func (c *client) offer() error {
	c.t.Helper()
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"sdp": offer.SDP, "type": "offer"})
	return c.out("media.offer", b)
}

// publish adds a camera and a microphone to a client that sent nothing,
// and starts sending on them (once negotiated).
func (c *client) publish() {
	c.t.Helper()
	v, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", string(c.id))
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", string(c.id))
	if err != nil {
		c.t.Fatal(err)
	}
	audio := &levelTrack{TrackLocalStaticRTP: a}
	c.mu.Lock()
	c.video = append(c.video, v)
	c.audio = audio
	c.mu.Unlock()
	for _, tr := range []webrtc.TrackLocal{v, audio} {
		sender, err := c.pc.AddTrack(tr)
		if err != nil {
			c.t.Fatal(err)
		}
		c.drainRTCP(sender)
	}
	c.wg.Add(1)
	go c.send(false)
}

func (c *client) heldOffers() []msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]msg(nil), c.held...)
}

func (c *client) connected() bool {
	return c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// member is the worker's member, for white-box checks.
func (h *harness) member(id MemberID) *member {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if r := h.w.rooms[h.room]; r != nil {
		return r.members[id]
	}
	return nil
}

func (h *harness) conn(id MemberID) ConnectionID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns[id]
}

// TestGlareClientOfferWins: the client offers while the worker's offer is
// pending, and ignores the worker's offer (it is the impolite peer). The
// worker, polite, drops its offer (pion cannot roll back: it never
// applied it) and answers, carrying the tracks in the answer or offering
// them again after it; media then flows both ways.
func TestGlareClientOfferWins(t *testing.T) {
	h := newHarness(t)
	s := newClient(h, on("s", true, MainGroup), clientOpts{})
	eventually(t, wait, "s connects", s.connected)
	s.holdOffers.Store(true)
	p := newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true})
	eventually(t, wait, "the worker offers s the publisher's tracks", func() bool { return len(s.heldOffers()) == 1 })

	// The worker's offer is pending; the client, which has not seen it,
	// starts publishing and offers. Its next offers are answered.
	s.holdOffers.Store(false)
	s.publish()
	if err := s.offer(); err != nil {
		t.Fatalf("the client's offer in glare: %v", err)
	}
	eventually(t, wait, "s receives the publisher's media", func() bool {
		return s.count("p", "video") > 20 && s.count("p", "audio") > 10
	})
	eventually(t, wait, "the publisher receives s's media", func() bool {
		return p.count("s", "video") > 20 && p.count("s", "audio") > 10
	})
	// Whether the publisher's tracks came in the answer to the client's
	// offer (as a first answer carries them) or in a fresh offer after
	// it depends on which of p's tracks the worker had read when the
	// client offered; media flowing both ways is what counts.
	if st := s.pc.SignalingState(); st != webrtc.SignalingStateStable {
		t.Fatalf("client signaling state %s", st)
	}
	// The answer to the dropped offer, should it come late, is stale.
	held := s.heldOffers()[0]
	var old struct {
		NegotiationID int64 `json:"negotiationId"`
	}
	if err := json.Unmarshal(held.payload, &old); err != nil {
		t.Fatal(err)
	}
	late, _ := json.Marshal(map[string]any{"sdp": s.pc.CurrentLocalDescription().SDP, "type": "answer", "negotiationId": old.NegotiationID})
	if err := s.out("media.answer", late); !errors.Is(err, ErrStaleAnswer) {
		t.Fatalf("late answer: %v, want ErrStaleAnswer", err)
	}
	n := s.count("p", "video")
	eventually(t, wait, "media keeps flowing", func() bool { return s.count("p", "video") > n+20 })
}

// TestFirstAnswerCarriesSubscriptions: a member joining a room with a
// publisher gets the publisher's tracks in the answer to its first offer,
// with no offer of the worker after it; a later change is one offer.
func TestFirstAnswerCarriesSubscriptions(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true})
	eventually(t, wait, "the worker reads the publisher's tracks", func() bool { return h.w.Stats().Tracks == 2 })
	s := newClient(h, on("s", false, MainGroup), clientOpts{recvVideo: true})
	eventually(t, wait, "media flows from the first answer", func() bool {
		return s.count("p", "video") > 20 && s.count("p", "audio") > 10
	})
	never(t, 300*time.Millisecond, "an offer after the first answer", func() bool { return s.offers.Load() > 0 })

	newClient(h, on("q", true, MainGroup), clientOpts{audio: true})
	eventually(t, wait, "a new publisher's track arrives", func() bool { return s.count("q", "audio") > 10 })
	never(t, 300*time.Millisecond, "more than one offer for one new track", func() bool { return s.offers.Load() != 1 })
}

// TestReconnectOnNewConnection: a member's state names another
// connection (it reconnected on a new WebSocket before the old one's
// $disconnect): the worker drops its old PeerConnection with its tracks
// and subscriptions, and the member's fresh offer starts a new one with
// the same permissions.
func TestReconnectOnNewConnection(t *testing.T) {
	h := newHarness(t)
	a := newClient(h, on("a", true, MainGroup), clientOpts{video: true, audio: true})
	b := newClient(h, on("b", true, MainGroup), clientOpts{video: true, audio: true})
	eventually(t, wait, "media flows both ways", func() bool {
		return a.count("b", "video") > 10 && b.count("a", "video") > 10
	})

	a.close()
	st := on("a", true, MainGroup)
	st.Connection = "c-a-2"
	from := b.count("a", "video")
	a2 := newClient(h, st, clientOpts{video: true, audio: true})
	eventually(t, wait, "the reconnected member receives", func() bool {
		return a2.count("b", "video") > 20 && a2.count("b", "audio") > 10
	})
	eventually(t, wait, "the reconnected member's media reaches the others", func() bool { return b.count("a", "video") > from+20 })
	eventually(t, wait, "the old tracks are gone", func() bool {
		st := h.w.Stats()
		return st.Members == 2 && st.Tracks == 4
	})
	if c := h.conn("a"); c != "c-a-2" {
		t.Fatalf("signaling went to %q", c)
	}
}

// TestFreshOfferStartsAgain: an offer arriving when the member's
// PeerConnection is closed, or from a new connection at the client (a new
// DTLS fingerprint) on the same WebSocket, starts a new PeerConnection.
func TestFreshOfferStartsAgain(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "media flows", func() bool { return s.count("p", "video") > 10 })

	// The worker's side is closed.
	m := h.member("s")
	if err := m.run(context.Background(), func() error { return m.pc.Close() }); err != nil {
		t.Fatal(err)
	}
	s.close()
	s2 := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "media flows again after a closed connection", func() bool {
		return s2.count("p", "video") > 20 && s2.count("p", "audio") > 10
	})

	// The worker's side is fine but the client starts again.
	s2.close()
	s3 := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "media flows again on a new client connection", func() bool {
		return s3.count("p", "video") > 20 && s3.count("p", "audio") > 10
	})
	eventually(t, wait, "one member's connection left", func() bool {
		st := h.w.Stats()
		return st.Members == 2 && st.Tracks == 2
	})
}

// TestStaleAnswerDropped: an answer whose negotiationId is not the
// pending offer's is dropped; the right one is applied.
func TestStaleAnswerDropped(t *testing.T) {
	h := newHarness(t)
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "s connects", s.connected)
	s.holdOffers.Store(true)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true})
	eventually(t, wait, "the worker offers the video", func() bool { return len(s.heldOffers()) == 1 })

	var o struct {
		SDP           string `json:"sdp"`
		NegotiationID *int64 `json:"negotiationId"`
	}
	if err := json.Unmarshal(s.heldOffers()[0].payload, &o); err != nil {
		t.Fatal(err)
	}
	if o.NegotiationID == nil {
		t.Fatal("offer without a negotiationId")
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
		t.Fatal(err)
	}
	ans, err := s.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.pc.SetLocalDescription(ans); err != nil {
		t.Fatal(err)
	}
	answer := func(id int64) error {
		b, _ := json.Marshal(map[string]any{"sdp": ans.SDP, "type": "answer", "negotiationId": id})
		return s.out("media.answer", b)
	}
	if err := answer(*o.NegotiationID - 1); !errors.Is(err, ErrStaleAnswer) {
		t.Fatalf("stale answer: %v, want ErrStaleAnswer", err)
	}
	never(t, 500*time.Millisecond, "video after a stale answer", func() bool { return s.count("p", "video") > 0 })
	if err := answer(*o.NegotiationID); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, "video after the right answer", func() bool { return s.count("p", "video") > 20 })
}
