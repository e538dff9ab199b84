package sfu

import (
	"fmt"
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
// socket, both sides sending checks and getting no response); it is
// logged, and more than one such member fails the test.
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
