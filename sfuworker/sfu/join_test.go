package sfu

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestFiftyMembersJoinAtOnce: 50 members join in the same instant while a
// publisher sends keyframes only when asked, as browsers do. Every one of
// them must start on a keyframe within a bounded time: a DownTrack
// forwards nothing before it is bound, asks for a keyframe when bound
// (coalesced with the others' requests rather than dropped by the rate
// limit), treats a keyframe pion could not send yet (SRTP not ready) as
// lost, and asks again until one goes out.
//
// A member whose ICE never leaves "checking" is a transport fault this
// test does not cover (seen about once in ten runs over the one UDP mux
// socket, both sides sending checks and getting no response, while the
// worker's candidates came as frames after its answer; not seen since
// the answer carries them: docs/sfu.md, "Fifth round"); it is logged,
// and more than one such member fails the test.
func TestFiftyMembersJoinAtOnce(t *testing.T) {
	const n = 50
	const bound = 10 * time.Second
	h := newHarness(t)
	newClient(h, on("pub", true, MainGroup), clientOpts{video: true, keyOnRequest: true})
	subs := make([]*client, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subs[i] = newClient(h, on(MemberID(fmt.Sprintf("s%02d", i)), false, MainGroup), clientOpts{})
		}()
	}
	wg.Wait()
	var slowest time.Duration
	unconnected := 0
	deadline := start.Add(bound)
	for _, c := range subs {
		for {
			if at, _ := c.firstKey("pub"); !at.IsZero() || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		at, onKey := c.firstKey("pub")
		switch {
		case at.IsZero() && c.pc.ICEConnectionState() != webrtc.ICEConnectionStateConnected:
			unconnected++
			t.Logf("%s: ICE never connected (%s)", c.id, c.pc.ICEConnectionState())
		case at.IsZero():
			t.Errorf("%s: connected but no keyframe within %v (%d video packets)", c.id, bound, c.count("pub", "video"))
		case !onKey:
			t.Errorf("%s: video started on an inter frame", c.id)
		default:
			slowest = max(slowest, at.Sub(start))
		}
	}
	if unconnected > 1 {
		t.Errorf("%d members never connected", unconnected)
	}
	t.Logf("%d members started on a keyframe within %v", n-unconnected, slowest)
}

// TestAnswerCarriesTheCandidatesAndTheStage: 20 members join as the web
// client does, offering one receive-only audio and video pair, while a
// presenter publishes both. Each gets one frame back, the answer: it
// carries the worker's ICE candidates (nothing trickles after it) and
// fills both sections with the presenter's tracks (no offer of the
// worker follows), and media flows. Then each reconnects with a fresh
// connection, and the same holds again.
func TestAnswerCarriesTheCandidatesAndTheStage(t *testing.T) {
	const n = 20
	h := newHarness(t)
	newClient(h, on("pub", true, MainGroup), clientOpts{video: true, audio: true})
	eventually(t, wait, "the presenter's tracks", func() bool { return h.w.Stats().Tracks == 2 })
	for round := range 2 {
		subs := make([]*client, n)
		var wg sync.WaitGroup
		for i := range subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st := on(MemberID(fmt.Sprintf("s%02d", i)), false, MainGroup)
				if round > 0 {
					h.mu.Lock()
					old := h.clients[st.ID]
					h.mu.Unlock()
					old.close()
					st.Connection += "-again"
				}
				subs[i] = newClient(h, st, clientOpts{recvVideo: true})
			}()
		}
		wg.Wait()
		for _, s := range subs {
			eventually(t, wait, fmt.Sprintf("round %d: video and audio reach %s", round, s.id), func() bool {
				return s.count("pub", "video") > 10 && s.count("pub", "audio") > 5
			})
			s.mu.Lock()
			frames := maps.Clone(s.frames)
			s.mu.Unlock()
			if frames["media.answer"] != 1 || frames["candidates in the answer"] != 1 || frames["media.candidate"] != 0 || frames["media.offer"] != 0 {
				t.Errorf("round %d: %s got %v; want one answer, with the candidates, and nothing else", round, s.id, frames)
			}
		}
	}
}
