package runner_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/infra/sim/simulate"
	"github.com/greenroom-live/greenroom/shared/domain"
)

// The capacity simulation (infra/sim) is trusted at 500,000 members only
// if it does what the real stack does at a small scale. Six sessions
// open on three workers, one worker dies, the scheduler's sweep moves
// its rooms: the stack and the simulation, given the same ids and the
// same events, must place every room on the same worker, before and
// after.
func TestSimulationAgreesWithStack(t *testing.T) {
	s, clock := stackWith(t, func(c *runner.Config) { c.Workers = 3 })
	c := newClient(t, s.URL)
	var ids []string
	for i := range 6 {
		host := newUser(t, c, fmt.Sprintf("Host %d", i))
		id := hosted(t, c, host, "primetime")
		m := connect(t, c, host, id, "web")
		m.ok("session.start", nil)
		// Its media's first offer opens the room.
		newPeer(t, m, peerOpts{publish: true})
		// One at a time, as the simulation joins them.
		if w := assignedWorker(t, s, id, func(w string) bool { return w != "" }); w == "" {
			t.Fatalf("session %s never got a worker", id)
		}
		ids = append(ids, id)
	}
	before := assignmentsOf(t, s, ids)
	for id, w := range before {
		deadline := time.Now().Add(waitFor)
		for !reports(t, s, w, id) {
			if time.Now().After(deadline) {
				t.Fatalf("worker %s never reported room %s", w, id)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	dead := before[ids[0]]
	if err := s.KillWorker(dead); err != nil {
		t.Fatal(err)
	}
	// The clock moves in small steps, so that the live workers' heartbeats
	// (every second) keep up and only the dead one lapses.
	deadline := time.Now().Add(waitFor)
	for {
		after := assignmentsOf(t, s, ids)
		moved := true
		for _, w := range after {
			moved = moved && w != dead
		}
		if moved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rooms still on %s: %v", dead, after)
		}
		clock.Advance(500 * time.Millisecond)
		time.Sleep(600 * time.Millisecond)
	}
	after := assignmentsOf(t, s, ids)

	out, err := simulate.RunScript(simulate.Script{Workers: []string{"local-0", "local-1", "local-2"}, Sessions: ids, Kill: dead})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(out.Before, before) {
		t.Errorf("assignments: stack %v, simulation %v", before, out.Before)
	}
	if !maps.Equal(out.After, after) {
		t.Errorf("after %s died: stack %v, simulation %v", dead, after, out.After)
	}
}

// assignedWorker waits until session id's worker satisfies ok and
// returns it ("" on timeout).
func assignedWorker(t *testing.T, s *runner.Stack, id string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		sess, err := s.Store.GetSession(t.Context(), domain.SessionID(id))
		if err != nil {
			t.Fatal(err)
		}
		if w := sess.Live.Media.WorkerID; ok(w) {
			return w
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ""
}

// assignmentsOf returns each session's worker as stored.
func assignmentsOf(t *testing.T, s *runner.Stack, ids []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range ids {
		sess, err := s.Store.GetSession(t.Context(), domain.SessionID(id))
		if err != nil {
			t.Fatal(err)
		}
		out[id] = sess.Live.Media.WorkerID
	}
	return out
}
