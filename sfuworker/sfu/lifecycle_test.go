package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/sfu/sdpcheck"
	"github.com/pion/webrtc/v4"
)

// sections returns, per publisher, how many media sections of kind the
// worker sends the client in its current remote description.
func (c *client) sections(kind string) map[string]int {
	out := map[string]int{}
	rd := c.pc.CurrentRemoteDescription()
	if rd == nil {
		return out
	}
	d, err := sdpcheck.Parse(rd.SDP)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, s := range d.Sections {
		if s.Sends() && s.Kind == kind {
			for _, st := range s.Streams() {
				out[st]++
			}
		}
	}
	return out
}

// do runs fn on the client's signaling goroutine and waits for it.
func (c *client) do(fn func()) {
	done := make(chan struct{})
	c.inbox.mu.Lock()
	c.inbox.msgs = append(c.inbox.msgs, msg{fn: func() { fn(); close(done) }})
	c.inbox.mu.Unlock()
	select {
	case c.inbox.wake <- struct{}{}:
	default:
	}
	<-done
}

// The first three transcripts, each for 4 rounds: a publisher
// that stops sending and restarts its tracks on the same transceivers
// (the same msid, a new SSRC), or removes them and adds new ones. Every
// offer the subscriber gets passes the check (no a=msid twice, sections
// in place; the harness checks), it receives the publisher on exactly one
// video and one audio section, and media flows on the live one.
func TestRepublishingKeepsOneTrackPerKind(t *testing.T) {
	for _, mode := range []string{"same transceivers", "new tracks"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			p := newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true})
			s := newClient(h, on("s", false, MainGroup), clientOpts{recvVideo: true})
			eventually(t, wait, "media flows", func() bool { return s.count("p", "video") > 10 })
			for round := 1; round <= 4; round++ {
				if mode == "same transceivers" {
					p.do(p.stopSending)
					eventually(t, wait, fmt.Sprintf("round %d: the stopped tracks leave", round), func() bool {
						return s.sections("video")["p"] == 0 && s.sections("audio")["p"] == 0
					})
					p.do(p.resumeOnSameTransceivers)
				} else {
					p.do(p.republishNewTracks)
				}
				eventually(t, wait, fmt.Sprintf("round %d: one section per kind, flowing", round), func() bool {
					v, a := s.sections("video"), s.sections("audio")
					if v["p"] != 1 || a["p"] != 1 {
						return false
					}
					return flowsFrom(s, "p")
				})
			}
			eventually(t, wait, "the worker keeps only the live tracks", func() bool { return h.w.Stats().Tracks == 2 })
		})
	}
}

// flowsFrom reports whether every section the worker sends c from
// publisher brings packets (20 more than at the first look).
func flowsFrom(c *client, publisher string) bool {
	rd := c.pc.CurrentRemoteDescription()
	if rd == nil {
		return false
	}
	d, _ := sdpcheck.Parse(rd.SDP)
	for _, sec := range d.Sections {
		if !sec.Sends() || len(sec.Streams()) == 0 || sec.Streams()[0] != publisher {
			continue
		}
		n := c.flow(sec.Mid)
		deadline := time.Now().Add(2 * time.Second)
		for c.flow(sec.Mid) < n+20 {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return true
}

// An offer the client never answers is retired after AnswerTimeout and
// made again with a new negotiationId; the late answer to the old one is
// stale (ErrStaleAnswer, nothing applied); the answer to the new one
// brings the media. A client that refuses offers gets at most
// maxOfferAttempts in a row, until the room changes again.
func TestUnansweredOffersAreRetired(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) { c.AnswerTimeout, c.OfferBackoff = 300*time.Millisecond, 20*time.Millisecond })
	s := newClient(h, on("s", false, MainGroup), clientOpts{recvVideo: true})
	eventually(t, wait, "s connects", s.connected)
	s.holdOffers.Store(true)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true})
	// Once both tracks are read nothing else changes in the room: the
	// offers that follow are the retries alone.
	eventually(t, wait, "the worker reads the publisher's tracks", func() bool { return h.w.Stats().Tracks == 2 })
	eventually(t, wait, "the worker offers again after retiring its offer", func() bool { return len(s.heldOffers()) >= 2 })
	held := s.heldOffers()
	ids := make([]int64, len(held))
	for i, m := range held {
		var o struct{ NegotiationID int64 }
		if err := json.Unmarshal(m.payload, &o); err != nil {
			t.Fatal(err)
		}
		ids[i] = o.NegotiationID
		if i > 0 && ids[i] <= ids[i-1] {
			t.Fatalf("negotiation ids do not grow: %v", ids)
		}
	}

	// Bounded: no more than maxOfferAttempts in a row.
	eventually(t, wait, "the worker gives up", func() bool { return s.offers.Load() >= maxOfferAttempts })
	never(t, 2*time.Second, "more offers than allowed in a row", func() bool { return s.offers.Load() > maxOfferAttempts })

	// The answer to a retired offer is stale.
	s.holdOffers.Store(false)
	var first struct{ SDP string }
	_ = json.Unmarshal(held[0].payload, &first)
	late := make(chan error, 1)
	s.do(func() {
		if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.likeABrowser(first.SDP)}); err != nil {
			late <- err
			return
		}
		ans, err := s.pc.CreateAnswer(nil)
		if err == nil {
			err = s.pc.SetLocalDescription(ans)
		}
		if err != nil {
			late <- err
			return
		}
		b, _ := json.Marshal(map[string]any{"sdp": ans.SDP, "negotiationId": ids[0]})
		late <- s.out("media.answer", b)
	})
	if err := <-late; !errors.Is(err, ErrStaleAnswer) {
		t.Fatalf("the answer to a retired offer: %v, want ErrStaleAnswer", err)
	}

	// A change in the room is a reason to try again: the offer now
	// answered brings the media.
	newClient(h, on("q", true, MainGroup), clientOpts{audio: true})
	eventually(t, wait, "media flows after all", func() bool {
		return s.count("p", "video") > 10 && s.count("q", "audio") > 10
	})
}

// A member who may publish but has mic and camera off, or who sends while
// the session does not let it publish, is told so (media.publishing), and
// told again when its media is forwarded.
func TestPublishingNotices(t *testing.T) {
	h := newHarness(t)
	st := on("p", true, MainGroup)
	st.Mic, st.Cam = false, false
	p := newClient(h, st, clientOpts{video: true, audio: true})
	last := func() publishing {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.notices) == 0 {
			return publishing{}
		}
		var n publishing
		if err := json.Unmarshal(p.notices[len(p.notices)-1], &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	eventually(t, wait, "devices off", func() bool { return last() == publishing{State: "devices_off"} })
	st.Cam = true
	h.apply(st)
	eventually(t, wait, "video forwarded", func() bool { return last() == publishing{State: "forwarding", Video: true} })
	st.Publish = false
	h.apply(st)
	eventually(t, wait, "not allowed", func() bool { return last() == publishing{State: "not_allowed"} })
	st.Publish, st.Mic = true, true
	h.apply(st)
	eventually(t, wait, "both forwarded", func() bool { return last() == publishing{State: "forwarding", Audio: true, Video: true} })
	p.do(p.stopSending)
	eventually(t, wait, "idle", func() bool { return last() == publishing{State: "idle"} })

	// A member that sends nothing hears nothing of it.
	w := newClient(h, on("w", false, MainGroup), clientOpts{})
	eventually(t, wait, "w connects", w.connected)
	never(t, 300*time.Millisecond, "a notice to a member that sends nothing", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.notices) > 0
	})
}
