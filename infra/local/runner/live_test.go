package runner_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
)

// hosted creates an instant or primetime session hosted by host.
func hosted(t *testing.T, c *client, host identity, kind string) string {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/sessions", host.Token, map[string]any{"kind": kind, "title": "Live " + kind})
	want(t, r, http.StatusCreated, "")
	var out struct{ Session struct{ ID string } }
	r.decode(t, &out)
	return out.Session.ID
}

// liveRoom is a primetime session on a fresh stack with its host and
// members connected from the web.
type liveRoom struct {
	s       *runner.Stack
	c       *client
	id      string
	host    *member
	members []*member
}

// primetime starts a stack, creates a primetime session hosted by "Host",
// connects the host, starts the session when started is true, and then
// connects one member for each name.
func primetime(t *testing.T, started bool, names ...string) *liveRoom {
	t.Helper()
	s, _ := stack(t)
	c := newClient(t, s.URL)
	hostID := newUser(t, c, "Host")
	r := &liveRoom{s: s, c: c, id: hosted(t, c, hostID, "primetime")}
	r.host = connect(t, c, hostID, r.id, "web")
	if started {
		r.host.ok("session.start", nil)
	}
	for _, n := range names {
		r.members = append(r.members, connect(t, c, newUser(t, c, n), r.id, "web"))
	}
	return r
}

func sessionStatus(t *testing.T, c *client, id string) string {
	t.Helper()
	return getSession(t, c, id).Status
}

func TestInstantSessionSeed000(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	hostID, webID, phoneID := newUser(t, c, "Host"), newUser(t, c, "Web Member"), newUser(t, c, "Phone Member")
	id := hosted(t, c, hostID, "instant")

	host := connect(t, c, hostID, id, "mobile")
	web := connect(t, c, webID, id, "web")
	host.expect("member.joined", webID.ID)
	phone := connect(t, c, phoneID, id, "mobile")
	host.expect("member.joined", phoneID.ID)
	web.expect("member.joined", phoneID.ID)

	// Everyone sees the host and each other, with name and device.
	st := phone.state()
	ms := members(st)
	if ms[hostID.ID]["role"] != "host" || ms[hostID.ID]["name"] != "Host" || ms[webID.ID]["device"] != "web" || ms[phoneID.ID]["device"] != "mobile" {
		t.Fatalf("waiting room: %v", ms)
	}
	if st["status"] != "open" || st["presenterId"] != nil {
		t.Fatalf("state: %v", st)
	}

	// Members toggle their devices in the waiting room.
	web.ok("devices.set", map[string]any{"mic": true, "cam": false})
	if e := host.expect("devices.changed", webID.ID); e["mic"] != true || e["cam"] != false {
		t.Fatalf("devices.changed: %v", e)
	}

	host.refused("conflict", "session.start", nil)                                    // no presenter yet
	host.refused("forbidden", "presenter.assign", map[string]any{"userId": webID.ID}) // web users cannot present
	phone.refused("forbidden", "presenter.assign", map[string]any{"userId": phoneID.ID})
	web.refused("forbidden", "session.start", nil)

	host.ok("presenter.assign", map[string]any{"userId": phoneID.ID})
	for _, m := range []*member{host, web, phone} {
		m.expect("presenter.assigned", phoneID.ID)
	}
	phone.refused("forbidden", "session.start", nil) // only the host starts
	host.ok("session.start", nil)
	web.expect("session.started", "")
	host.refused("forbidden", "presenter.assign", map[string]any{"userId": hostID.ID}) // fixed once live
	phone.refused("forbidden", "stage.leave", nil)

	st = web.state()
	if st["status"] != "live" || st["presenterId"] != phoneID.ID {
		t.Fatalf("live state: %v", st)
	}
	if on := joined(ids(st["stage"].(map[string]any)["onStage"])); !strings.Contains(on, phoneID.ID) || !strings.Contains(on, hostID.ID) || strings.Contains(on, webID.ID) {
		t.Fatalf("stage: %s", on)
	}
	if sessionStatus(t, c, id) != "live" {
		t.Fatal("GET session does not show live")
	}
}

func TestInstantWebHostCannotAssign(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	hostID, phoneID := newUser(t, c, "Host"), newUser(t, c, "Phone")
	id := hosted(t, c, hostID, "instant")
	host := connect(t, c, hostID, id, "web")
	connect(t, c, phoneID, id, "mobile")
	host.refused("forbidden", "presenter.assign", map[string]any{"userId": phoneID.ID})
}

func TestInstantHostRejoinWindow(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	hostID := newUser(t, c, "Host")
	id := hosted(t, c, hostID, "instant")

	host := connect(t, c, hostID, id, "mobile")
	host.leave(s, id)
	clock.Advance(29 * time.Minute)
	host = connect(t, c, hostID, id, "mobile") // back within 30 minutes
	host.leave(s, id)

	clock.Advance(31 * time.Minute)
	want(t, join(t, c, hostID, id, "mobile"), http.StatusGone, "session_expired")
	if got := sessionStatus(t, c, id); got != "expired" {
		t.Fatalf("status %s, want expired", got)
	}
}

func TestInstantSessionExpiresBySchedulerSweep(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	hostID := newUser(t, c, "Host")
	id := hosted(t, c, hostID, "instant")
	connect(t, c, hostID, id, "mobile").leave(s, id)
	clock.Advance(31 * time.Minute)
	deadline := time.Now().Add(waitFor)
	for sessionStatus(t, c, id) != "expired" {
		if time.Now().After(deadline) {
			t.Fatal("the scheduler never expired the session")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scheduled books a 10:00 session (capacity cap) and returns its id and
// the employer (its speaker).
func scheduled(t *testing.T, c *client, adminKey string, capacity int) (string, identity) {
	t.Helper()
	org := newOrganizer(t, c, adminKey, "Fair Inc")
	ev := newEvent(t, c, org, map[string]any{"capacity": capacity})
	emp := newEmployer(t, c, org, ev, "Acme")
	r := book(c, emp, ev, at("10:00"))
	want(t, r, http.StatusCreated, "")
	var sess sessionOut
	r.decode(t, &sess)
	return sess.ID, emp
}

func register(t *testing.T, c *client, who identity, id string) {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/sessions/"+id+"/registrations", who.Token, nil)
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
}

func TestScheduledSessionSeed001(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	id, emp := scheduled(t, c, s.AdminKey, 3)
	regd, walkin, late := newUser(t, c, "Registered"), newUser(t, c, "Walk-in"), newUser(t, c, "Late")
	register(t, c, regd, id)

	speaker := connect(t, c, emp, id, "web") // speakers may come early
	want(t, join(t, c, walkin, id, "web"), http.StatusForbidden, "not_registered")
	p := connect(t, c, regd, id, "web")
	p.refused("forbidden", "session.start", nil)

	clock.Set(testStart.Add(54 * time.Minute)) // 09:54, six minutes early
	speaker.refused("conflict", "session.start", nil)
	clock.Set(testStart.Add(55 * time.Minute)) // 09:55
	speaker.ok("session.start", nil)
	p.expect("session.started", "")

	// Once live, unclaimed spots are open to all until the room holds
	// its capacity: 3 spots, one registered, two left.
	connect(t, c, walkin, id, "web")
	connect(t, c, late, id, "mobile")
	want(t, join(t, c, newUser(t, c, "One too many"), id, "web"), http.StatusForbidden, "session_full")
	// The registered member's spot stays theirs.
	connect(t, c, regd, id, "web")
}

func TestStageModeration(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	id, emp := scheduled(t, c, s.AdminKey, 50)
	clock.Set(testStart.Add(time.Hour))
	speaker := connect(t, c, emp, id, "web")
	speaker.ok("session.start", nil)

	ps := make([]*member, 8)
	for i := range ps {
		ps[i] = connect(t, c, newUser(t, c, fmt.Sprintf("P%d", i)), id, "web")
	}
	ps[0].refused("conflict", "stage.leave", nil) // not on stage
	for _, p := range ps {
		p.ok("hand.raise", nil)
		speaker.expect("hand.raised", p.id.ID)
	}
	ps[0].refused("forbidden", "hand.approve", map[string]any{"userId": ps[1].id.ID})
	for _, p := range ps[:6] {
		speaker.ok("hand.approve", map[string]any{"userId": p.id.ID})
		p.expect("stage.changed", p.id.ID)
	}
	speaker.refused("stage_full", "hand.approve", map[string]any{"userId": ps[6].id.ID})
	speaker.ok("hand.decline", map[string]any{"userId": ps[7].id.ID})
	ps[7].expect("hand.declined", ps[7].id.ID)

	// On stage, members toggle devices and leave by themselves.
	ps[0].ok("devices.set", map[string]any{"mic": false, "cam": true})
	ps[0].ok("stage.leave", nil)
	speaker.expect("stage.changed", ps[0].id.ID)
	speaker.ok("hand.approve", map[string]any{"userId": ps[6].id.ID})
	speaker.ok("stage.remove", map[string]any{"userId": ps[1].id.ID})
	ps[1].expect("stage.changed", ps[1].id.ID)

	st := ps[2].state()
	on := ids(st["stage"].(map[string]any)["onStage"])
	if len(on) != 6 { // the speaker and five participants
		t.Fatalf("on stage %v", on)
	}
	if hands := ids(st["hands"]); len(hands) != 0 {
		t.Fatalf("hands %v", hands)
	}
}

func TestPrimetimeSeed002(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	ryanID, fridaID, paulaID, maxID := newUser(t, c, "Ryan"), newUser(t, c, "Frida"), newUser(t, c, "Paula"), newUser(t, c, "Max")
	id := hosted(t, c, ryanID, "primetime")
	ryan := connect(t, c, ryanID, id, "web")
	ryan.ok("session.start", nil)
	frida := connect(t, c, fridaID, id, "web")
	paula := connect(t, c, paulaID, id, "mobile")
	mx := connect(t, c, maxID, id, "web")

	frida.ok("hand.raise", nil)
	paula.expect("hand.raised", fridaID.ID)
	frida.ok("hand.lower", nil) // Cancel in the waiting-for-approval box
	paula.expect("hand.lowered", fridaID.ID)
	frida.ok("hand.raise", nil)
	mx.ok("hand.raise", nil)
	// Everyone sees the raised hands in the order raised.
	for _, m := range []*member{ryan, frida, paula, mx} {
		if h := joined(ids(m.state()["hands"])); h != fridaID.ID+","+maxID.ID {
			t.Fatalf("%s sees hands %s", m.id.ID, h)
		}
	}
	ryan.ok("hand.approve", map[string]any{"userId": fridaID.ID})
	e := paula.expect("stage.changed", fridaID.ID)
	if e["onStage"] != true {
		t.Fatalf("stage.changed %v", e)
	}
	// Approving the next request sends the current speaker back.
	ryan.ok("hand.approve", map[string]any{"userId": maxID.ID})
	if e := paula.expect("stage.changed", fridaID.ID); e["onStage"] != false {
		t.Fatalf("frida still on stage: %v", e)
	}
	mx.ok("stage.leave", nil) // end my live video
	paula.event(func(e map[string]any) bool {
		return e["event"] == "stage.changed" && e["userId"] == maxID.ID && e["onStage"] == false
	})
	if on := joined(ids(paula.state()["stage"].(map[string]any)["onStage"])); on != ryanID.ID {
		t.Fatalf("stage %s, want the host alone", on)
	}
}

func TestRemoveAndEnd(t *testing.T) {
	r := primetime(t, false, "A", "B")
	c, id, host, a, b := r.c, r.id, r.host, r.members[0], r.members[1]
	aID, bID := a.id, b.id

	a.refused("forbidden", "member.remove", map[string]any{"userId": bID.ID})
	host.ok("member.remove", map[string]any{"userId": aID.ID})
	b.expect("member.removed", aID.ID)
	a.waitClosed()
	want(t, join(t, c, aID, id, "web"), http.StatusForbidden, "forbidden")

	b.refused("forbidden", "session.end", nil)
	host.ok("session.end", nil)
	b.expect("session.ended", "")
	b.waitClosed()
	host.waitClosed()
	want(t, join(t, c, bID, id, "web"), http.StatusGone, "session_ended")
	if got := sessionStatus(t, c, id); got != "ended" {
		t.Fatalf("status %s", got)
	}
}

func TestChatAndQA(t *testing.T) {
	r := primetime(t, false, "A", "B")
	host, a, b := r.host, r.members[0], r.members[1]
	aID, bID := a.id, b.id

	a.ok("chat.send", map[string]any{"text": "hello 👋"})
	if e := b.expect("chat.message", aID.ID); e["text"] != "hello 👋" || e["name"] != "A" {
		t.Fatalf("chat: %v", e)
	}
	a.refused("invalid", "chat.send", map[string]any{"text": strings.Repeat("x", 1001)})
	a.refused("invalid", "chat.send", map[string]any{"text": ""})
	a.ok("chat.send", map[string]any{"text": strings.Repeat("é", 1000)})
	if chat := b.state()["chat"].([]any); len(chat) != 2 {
		t.Fatalf("chat history %v", chat)
	}
	limited := false
	for range 12 {
		if r := b.send("chat.send", map[string]any{"text": "spam"}); r["code"] == "rate_limited" {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("chat was never rate-limited")
	}

	a.refused("invalid", "qa.ask", map[string]any{"text": strings.Repeat("q", 501)})
	a.ok("qa.ask", map[string]any{"text": "First?"})
	q1 := host.expect("qa.asked", aID.ID)["questionId"].(string)
	b.ok("qa.ask", map[string]any{"text": "Second?"})
	q2 := host.expect("qa.asked", bID.ID)["questionId"].(string)
	a.ok("qa.upvote", map[string]any{"questionId": q2})
	a.refused("conflict", "qa.upvote", map[string]any{"questionId": q2}) // one vote per member
	b.ok("qa.upvote", map[string]any{"questionId": q2})
	if e := host.expect("qa.voted", bID.ID); e["votes"] != float64(2) {
		t.Fatalf("votes %v", e)
	}
	qs := a.state()["questions"].([]any)
	if qs[0].(map[string]any)["id"] != q2 || qs[1].(map[string]any)["id"] != q1 || qs[0].(map[string]any)["voted"] != true {
		t.Fatalf("questions by votes: %v", qs)
	}
	b.refused("forbidden", "qa.answer", map[string]any{"questionId": q1})
	a.refused("not_found", "qa.upvote", map[string]any{"questionId": "nope"})
	host.ok("qa.answer", map[string]any{"questionId": q2})
	a.expect("qa.answered", "")
	host.ok("qa.dismiss", map[string]any{"questionId": q1})
	b.expect("qa.dismissed", "")
}

func TestReconnectKeepsRoleSeatAndHand(t *testing.T) {
	r := primetime(t, true, "A", "B")
	c, id, host, a, b := r.c, r.id, r.host, r.members[0], r.members[1]
	aID, bID := a.id, b.id
	a.ok("hand.raise", nil)
	host.ok("hand.approve", map[string]any{"userId": aID.ID})
	b.ok("hand.raise", nil)
	v0 := host.state()["version"].(float64)

	a2 := connect(t, c, aID, id, "mobile")
	a.waitClosed() // the old connection is replaced
	b2 := connect(t, c, bID, id, "web")
	b.waitClosed()
	st := a2.state()
	ms := members(st)
	if ms[aID.ID]["onStage"] != true || ms[bID.ID]["handRaisedAt"] == nil || ms[aID.ID]["device"] != "mobile" {
		t.Fatalf("after reconnect: %v", ms)
	}
	if st["version"].(float64) <= v0 {
		t.Fatalf("version did not grow: %v -> %v", v0, st["version"])
	}
	b2.ok("hand.lower", nil)
}

func TestLastSeatRace(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	id, emp := scheduled(t, c, s.AdminKey, 50)
	clock.Set(testStart.Add(time.Hour))
	speaker := connect(t, c, emp, id, "web")
	speaker.ok("session.start", nil)
	var ps []*member
	for i := range 15 {
		p := connect(t, c, newUser(t, c, fmt.Sprintf("P%d", i)), id, "web")
		p.ok("hand.raise", nil)
		ps = append(ps, p)
	}
	for _, p := range ps[:5] {
		speaker.ok("hand.approve", map[string]any{"userId": p.id.ID})
	}
	// Ten approvals for the last seat at once: exactly one is seated.
	results := make([]map[string]any, 10)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { results[i] = speaker.send("hand.approve", map[string]any{"userId": ps[5+i].id.ID}) })
	}
	wg.Wait()
	seated, full := 0, 0
	for _, r := range results {
		switch {
		case r["type"] == "ack":
			seated++
		case r["code"] == "stage_full":
			full++
		default:
			t.Errorf("approval: %v", r)
		}
	}
	if seated != 1 || full != 9 {
		t.Fatalf("seated %d, stage_full %d; want 1 and 9", seated, full)
	}
	if on := ids(speaker.state()["stage"].(map[string]any)["onStage"]); len(on) != 7 {
		t.Fatalf("on stage: %v", on)
	}
}

func TestPresenterRace(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	hostID, aID, bID := newUser(t, c, "Host"), newUser(t, c, "A"), newUser(t, c, "B")
	id := hosted(t, c, hostID, "instant")
	host := connect(t, c, hostID, id, "mobile")
	connect(t, c, aID, id, "mobile")
	connect(t, c, bID, id, "mobile")
	var wg sync.WaitGroup
	for _, u := range []identity{aID, bID} {
		wg.Go(func() { host.ok("presenter.assign", map[string]any{"userId": u.ID}) })
	}
	wg.Wait()
	st := host.state()
	presenter := st["presenterId"]
	on := joined(ids(st["stage"].(map[string]any)["onStage"]))
	if presenter != aID.ID && presenter != bID.ID {
		t.Fatalf("presenter %v", presenter)
	}
	if on != hostID.ID+","+presenter.(string) && on != presenter.(string)+","+hostID.ID {
		t.Fatalf("two presenters on stage: %s (presenter %s)", on, presenter)
	}
}

func TestSocketBadInput(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	hostID := newUser(t, c, "Host")
	id := hosted(t, c, hostID, "primetime")
	host := connect(t, c, hostID, id, "web")
	v0 := host.state()["version"]

	for name, frame := range map[string]string{
		"not JSON":      `hello`,
		"a JSON list":   `[1,2,3]`,
		"no type":       `{"id":"x1"}`,
		"unknown type":  `{"type":"session.explode","id":"x2"}`,
		"missing field": `{"type":"hand.approve","id":"x3"}`,
		"wrong type":    `{"type":"devices.set","id":"x4","mic":"yes","cam":true}`,
		"over-long":     `{"type":"chat.send","id":"x5","text":"` + strings.Repeat("y", 1001) + `"}`,
		"bad id":        `{"type":"state.get","id":{"a":1}}`,
	} {
		t.Run(name, func(t *testing.T) {
			id := ""
			if strings.Contains(frame, `"id":"x`) {
				id = frame[strings.Index(frame, `"id":"`)+6:][:2]
			}
			r := host.sendRaw(id, []byte(frame))
			if r["type"] != "error" || r["code"] != "invalid" {
				t.Fatalf("got %v, want an invalid error", r)
			}
		})
	}
	// The connection and the handler are alive and nothing changed.
	if st := host.state(); st["version"] != v0 {
		t.Fatalf("version moved from %v to %v", v0, st["version"])
	}

	// A frame over 128 KiB closes the connection (1009), as API Gateway does.
	big := connect(t, c, newUser(t, c, "Big"), id, "web")
	if err := big.conn.Write(t.Context(), 1, []byte(`{"type":"chat.send","text":"`+strings.Repeat("z", 130<<10)+`"}`)); err != nil {
		t.Fatal(err)
	}
	big.waitClosed()
	host.state()

	// A message on a connection the server does not know is refused.
	other := connect(t, c, newUser(t, c, "Ghost"), id, "web")
	var conn domain.ConnectionID
	sess, err := s.Store.GetSession(t.Context(), domain.SessionID(id))
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := sess.Member(domain.UserID(other.id.ID)); ok {
		conn = m.ConnectionID
	}
	if err := s.Store.DeleteConnection(t.Context(), conn); err != nil {
		t.Fatal(err)
	}
	other.refused("forbidden", "hand.raise", nil)
}

func TestConnectRefusesBadTokens(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	hostID := newUser(t, c, "Host")
	id := hosted(t, c, hostID, "primetime")
	r := join(t, c, hostID, id, "web")
	var out joinOut
	r.decode(t, &out)
	for name, url := range map[string]string{
		"no token":       out.WSURL,
		"user token":     out.WSURL + "?token=" + hostID.Token,
		"tampered token": out.WSURL + "?token=" + out.JoinToken[:len(out.JoinToken)-2] + "xx",
		"garbage":        out.WSURL + "?token=garbage",
	} {
		t.Run(name, func(t *testing.T) {
			_, resp, err := tryDial(t, url)
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("dial: %v %v", err, resp)
			}
		})
	}
	clock.Advance(3 * time.Minute) // join tokens are short-lived
	if _, resp, err := tryDial(t, out.WSURL+"?token="+out.JoinToken); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired join token: %v", err)
	}
}

func TestStaleConnectionIsRemovedNotTheSender(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	hostID, aID, ghostID := newUser(t, c, "Host"), newUser(t, c, "A"), newUser(t, c, "Ghost")
	id := hosted(t, c, hostID, "primetime")
	host := connect(t, c, hostID, id, "web")
	a := connect(t, c, aID, id, "web")
	want(t, join(t, c, ghostID, id, "web"), http.StatusOK, "")
	// The ghost is admitted and bound to a connection the gateway has
	// never seen, a minute ago (past the grace of a connection that may
	// still be inside its $connect): posting to it answers 410.
	if _, err := s.Store.UpdateSession(t.Context(), domain.SessionID(id), func(s *domain.Session) error {
		_, err := s.Connect(domain.UserID(ghostID.ID), "ghost-connection", clock.Now().Add(-time.Minute))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a.ok("chat.send", map[string]any{"text": "anyone there?"})
	host.expect("chat.message", aID.ID)
	a.expect("chat.message", aID.ID) // the sender still gets it
	deadline := time.Now().Add(waitFor)
	for {
		if ms := members(a.state()); ms[ghostID.ID]["connected"] == false && ms[aID.ID]["connected"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stale connection was not removed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
