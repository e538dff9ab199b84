package runner_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestJoinRushKeepsEveryone: members join a live session at the same
// moment, as a room fills when a scheduled session starts (HTTP join,
// then the WebSocket). Posts to connections still inside their $connect
// answer 410 there; none of that may drop anyone. Two seconds later every
// member is listed as connected, answers state.get, and nobody heard
// member.left about anybody.
func TestJoinRushKeepsEveryone(t *testing.T) {
	for _, n := range []int{50, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if raceEnabled && n > 50 {
				t.Skip("200 joining at once run without the race detector, in make e2e's crowd step")
			}
			rush(t, n)
		})
	}
}

func rush(t *testing.T, n int) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	hostID := newUser(t, c, "Host")
	id := hosted(t, c, hostID, "primetime")
	host := connect(t, c, hostID, id, "web")
	host.ok("session.start", nil)
	users := make([]identity, n)
	for i := range users {
		users[i] = newUser(t, c, fmt.Sprintf("M%d", i))
	}

	// Everyone joins and dials at once; errors are collected, since only
	// the test's goroutine may stop the test.
	crowd := make([]*member, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			<-start
			crowd[i], errs[i] = rushJoin(t, c, u, id)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}

	// Two seconds later.
	time.Sleep(2 * time.Second)
	all := append([]*member{host}, crowd...)
	for _, m := range all {
		st := m.state()
		mm := members(st)
		connected := 0
		for _, x := range mm {
			if x["connected"] == true {
				connected++
			}
		}
		if connected != n+1 {
			t.Fatalf("%s sees %d of %d members connected", m.id.ID, connected, n+1)
		}
	}
	left := 0
	for _, m := range all {
	drain:
		for {
			select {
			case e := <-m.events:
				if e["event"] == "member.left" {
					left++
				}
			default:
				break drain
			}
		}
	}
	if left != 0 {
		t.Fatalf("%d member.left events in a rush where nobody left", left)
	}
}

// rushJoin joins over HTTP and opens the socket, and reports what went
// wrong instead of failing the test from another goroutine.
func rushJoin(t *testing.T, c *client, who identity, sessionID string) (*member, error) {
	r := join(t, c, who, sessionID, "web")
	if r.Status != http.StatusOK {
		return nil, fmt.Errorf("join: %d %s", r.Status, r.Body)
	}
	var out joinOut
	if err := json.Unmarshal(r.Body, &out); err != nil {
		return nil, err
	}
	// The test is about who stays, not how fast: a crowd's handshakes on
	// a busy two-core machine may take longer than one ordinary wait.
	m, _, err := tryDialWithin(t, out.WSURL+"?token="+out.JoinToken, 6*waitFor)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	m.id = who
	_ = json.Unmarshal(r.Body, &m.JoinReply)
	return m, nil
}
