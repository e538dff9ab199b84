package runner_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// crowdRoom is a live primetime session with its host and n members
// joined at once (as in TestJoinRushKeepsEveryone).
func crowdRoom(t *testing.T, n int, tune func(*runner.Config)) (*runner.Stack, *domain.ManualClock, *client, string, *member, []*member) {
	t.Helper()
	s, clock := stackWith(t, tune)
	c := newClient(t, s.URL)
	hostID := newUser(t, c, "Host")
	id := hosted(t, c, hostID, "primetime")
	host := connect(t, c, hostID, id, "web")
	host.ok("session.start", nil)
	users := make([]identity, n)
	for i := range users {
		users[i] = newUser(t, c, fmt.Sprintf("M%d", i))
	}
	crowd := make([]*member, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { crowd[i], errs[i] = rushJoin(t, c, u, id) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	return s, clock, c, id, host, crowd
}

// TestHandRushKeepsOneQueue: the whole room raises hands at the same
// moment. Every raise is accepted, and every member's state shows the
// same queue, in the order the server numbered the hands (one counter,
// no two alike: not a tie broken by ids).
func TestHandRushKeepsOneQueue(t *testing.T) {
	for _, n := range []int{50, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if raceEnabled && n > 50 {
				t.Skip("200 raising hands at once run without the race detector, in make e2e's crowd step")
			}
			s, _, _, id, host, crowd := crowdRoom(t, n, nil)
			replies := make([]map[string]any, n)
			var wg sync.WaitGroup
			for i, m := range crowd {
				wg.Go(func() { replies[i] = m.send("hand.raise", nil) })
			}
			wg.Wait()
			for i, r := range replies {
				if r["type"] != "ack" {
					t.Fatalf("member %d: hand.raise answered %v", i, r)
				}
			}
			stored, err := s.Store.GetSession(t.Context(), domain.SessionID(id))
			if err != nil {
				t.Fatal(err)
			}
			var order []string
			seqs := map[int64]bool{}
			for _, m := range stored.Hands() {
				order = append(order, string(m.UserID))
				if seqs[m.HandSeq] {
					t.Fatalf("two hands numbered %d", m.HandSeq)
				}
				seqs[m.HandSeq] = true
			}
			if len(order) != n {
				t.Fatalf("%d hands stored, want %d", len(order), n)
			}
			for _, m := range append([]*member{host}, crowd...) {
				if got := ids(m.state()["hands"]); !slices.Equal(got, order) {
					t.Fatalf("%s sees the queue %v,\nthe server numbered %v", m.id.ID, got, order)
				}
			}
		})
	}
}

// TestPrunedMemberComesBack: a member who left is listed while its hold
// lasts; past it the scheduler prunes it (member.pruned, its spot free),
// and when it joins again it is admitted as a newcomer.
func TestPrunedMemberComesBack(t *testing.T) {
	s, clock := stackWith(t, func(c *runner.Config) { c.SweepEvery = 20 * time.Millisecond })
	c := newClient(t, s.URL)
	hostID, aID, bID := newUser(t, c, "Host"), newUser(t, c, "A"), newUser(t, c, "B")
	id := hosted(t, c, hostID, "primetime")
	host := connect(t, c, hostID, id, "web")
	host.ok("session.start", nil)
	a := connect(t, c, aID, id, "web")
	connect(t, c, bID, id, "web")
	a.ok("hand.raise", nil)

	a.leave(s, id)
	host.expect("member.left", aID.ID)
	waitSweeps()
	if mm := members(host.state()); mm[aID.ID] == nil || mm[aID.ID]["connected"] != false {
		t.Fatalf("within its hold, A is not listed as gone: %v", mm[aID.ID])
	}
	clock.Advance(domain.PruneAfter)
	host.expect("member.pruned", aID.ID)
	st := host.state()
	if mm := members(st); mm[aID.ID] != nil || len(mm) != 2 {
		t.Fatalf("after its hold A is still listed: %v", mm)
	}
	if hands := ids(st["hands"]); len(hands) != 0 {
		t.Fatalf("A's hand outlived A: %v", hands)
	}
	stored, err := s.Store.ReadSession(t.Context(), domain.SessionID(id), store.Load{})
	if err != nil || stored.Live.Spots != 1 {
		t.Fatalf("spots after the prune = %d, %v; want 1 (B's)", stored.Live.Spots, err)
	}

	a2 := connect(t, c, aID, id, "mobile")
	if e := host.expect("member.joined", aID.ID); e["rejoined"] != false {
		t.Fatalf("A came back as %v, want a newcomer", e)
	}
	self := a2.state()["self"].(map[string]any)
	if self["device"] != "mobile" || self["handRaisedAt"] != nil || self["connected"] != true {
		t.Fatalf("A back: %v", self)
	}
}

// TestStateFitsOneMessage: with 200 questions of the longest text, the
// state still fits in one API Gateway message (the gateway refuses a
// bigger reply, as API Gateway does); the questions it leaves out come by
// qa.list pages, each once.
func TestStateFitsOneMessage(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	hostID, aID := newUser(t, c, "Host"), newUser(t, c, "A")
	id := hosted(t, c, hostID, "primetime")
	host := connect(t, c, hostID, id, "web")
	a := connect(t, c, aID, id, "web")
	// Asked behind the API's back (rate limits hold a member to a few
	// questions a minute), by the store's own rules.
	text := strings.Repeat("會", domain.MaxQuestionLen)
	for i := range domain.MaxQuestions {
		_, err := s.Store.Update(t.Context(), domain.SessionID(id), store.Load{Members: []domain.UserID{domain.UserID(aID.ID)}}, func(x *domain.Session) error {
			_, err := x.Ask(domain.UserID(aID.ID), fmt.Sprintf("q%03d", i), text, clock.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	host.refused("conflict", "qa.ask", map[string]any{"text": "One too many?"})

	st := host.state()
	b, _ := jsonSize(st)
	if b > 128<<10 {
		t.Fatalf("the state weighs %d bytes", b)
	}
	qs := st["questions"].([]any)
	if st["questionCount"] != float64(domain.MaxQuestions) || st["questionsCursor"] == nil || len(qs) == 0 {
		t.Fatalf("state holds %d questions of %v, cursor %v", len(qs), st["questionCount"], st["questionsCursor"])
	}
	seen := map[string]bool{}
	for _, q := range qs {
		seen[q.(map[string]any)["id"].(string)] = true
	}
	cursor := st["questionsCursor"]
	for pages := 0; cursor != nil; pages++ {
		if pages > domain.MaxQuestions {
			t.Fatal("qa.list never ends")
		}
		page := a.ok("qa.list", map[string]any{"cursor": cursor})
		if page["type"] != "questions" {
			t.Fatalf("qa.list answered %v", page["type"])
		}
		for _, q := range page["questions"].([]any) {
			qid := q.(map[string]any)["id"].(string)
			if seen[qid] {
				t.Fatalf("question %s listed twice", qid)
			}
			seen[qid] = true
		}
		cursor = page["cursor"]
	}
	if len(seen) != domain.MaxQuestions {
		t.Fatalf("%d questions listed in all, want %d", len(seen), domain.MaxQuestions)
	}
	a.refused("invalid", "qa.list", map[string]any{"cursor": "not-a-cursor"})
}

// jsonSize is how many bytes v takes as the socket carries it.
func jsonSize(v any) (int, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return b.Len() - 1, err
}

// TestFloodingMemberSlowsNoOneElse: a member sends devices.set in a loop,
// as fast as the gateway takes them. It is held to its rate (a burst,
// then one every 500 ms), told how long to wait (retryAfterMs), and gets
// through again once it waited; meanwhile another member's messages are
// all taken, one after another, while the flood still runs.
func TestFloodingMemberSlowsNoOneElse(t *testing.T) {
	r := primetime(t, true, "Flood", "Calm")
	flood, calm := r.members[0], r.members[1]
	const floodFor, maxFlood = 1500 * time.Millisecond, 20000
	var (
		mu       sync.Mutex
		accepted int
		limited  []map[string]any
		began    = time.Now()
	)
	var wg sync.WaitGroup
	for w := range 8 { // the gateway takes 10 messages of a connection at once
		wg.Go(func() {
			for i := 0; i < maxFlood/8; i++ {
				if time.Since(began) > floodFor {
					return
				}
				rep := flood.send("devices.set", map[string]any{"mic": (i+w)%2 == 0, "cam": true})
				mu.Lock()
				switch {
				case rep["type"] == "ack":
					accepted++
				case rep["code"] == "rate_limited":
					limited = append(limited, rep)
				default:
					mu.Unlock()
					t.Errorf("flood: %v", rep)
					return
				}
				mu.Unlock()
			}
		})
	}
	// The calm member's messages, one at a time within its own limits,
	// while the flood runs: a device switch, then states.
	var calmTook []time.Duration
	for i := range 20 {
		typ, want := "state.get", "state"
		if i == 0 {
			typ, want = "devices.set", "ack"
		}
		t0 := time.Now()
		if rep := calm.send(typ, map[string]any{"mic": true, "cam": false}); rep["type"] != want {
			t.Fatalf("calm message %d (%s): %v", i, typ, rep)
		}
		calmTook = append(calmTook, time.Since(t0))
	}
	mu.Lock()
	stillFlooding := len(limited) > 0 && time.Since(began) < floodFor
	mu.Unlock()
	wg.Wait() // the flood runs its course

	elapsed := time.Since(began)
	slices.Sort(calmTook)
	t.Logf("flood: %d taken, %d refused in %v; calm: 20 taken, median %v, slowest %v", accepted, len(limited), elapsed.Round(time.Millisecond), calmTook[10], calmTook[19])
	if !stillFlooding {
		t.Fatalf("the calm member's 20 messages did not all pass while the flood ran (%d refused so far)", len(limited))
	}
	// A burst of 10, then one every 500 ms (wsapi's devices limit).
	if most := 10 + int(elapsed/(500*time.Millisecond)) + 1; accepted > most {
		t.Fatalf("the flood got %d messages through in %v, more than the rate's %d", accepted, elapsed, most)
	}
	wait, _ := limited[0]["retryAfterMs"].(float64)
	if wait <= 0 || wait > 500 || !strings.Contains(limited[0]["message"].(string), "retry in") {
		t.Fatalf("rate_limited reply %v: want retryAfterMs within the rate's 500 ms", limited[0])
	}
	// Once it waits as told, the flooder gets through again.
	time.Sleep(time.Duration(wait) * time.Millisecond)
	deadline := time.Now().Add(waitFor)
	for {
		rep := flood.send("devices.set", map[string]any{"mic": true, "cam": false})
		if rep["type"] == "ack" {
			break
		}
		ms, _ := rep["retryAfterMs"].(float64)
		if rep["code"] != "rate_limited" || time.Now().After(deadline) {
			t.Fatalf("after waiting: %v", rep)
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
}
