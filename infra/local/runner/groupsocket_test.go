package runner_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
)

// liveChatBound is how soon a message reaches the other members' sockets:
// well under the page's 2-second polling interval.
const liveChatBound = time.Second

// groupSocket asks the API for who's ticket to the group's live chat and
// opens the socket.
func groupSocket(t *testing.T, c *client, who identity, groupID string) *member {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/groups/"+groupID+"/socket", who.Token, nil)
	want(t, r, http.StatusOK, "")
	var out joinOut
	r.decode(t, &out)
	m := dial(t, out.WSURL+"?token="+out.JoinToken)
	m.id = who
	return m
}

// mintGroupToken signs a join token scoped to a group with the stack's
// own key, as if user were a member: what $connect decides without the
// API.
func mintGroupToken(t *testing.T, s *runner.Stack, clock domain.Clock, user, group string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(s.DataDir, "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := auth.NewIssuer(auth.Config{Key: []byte(strings.TrimSpace(string(key))), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint(user, auth.Claims{Role: auth.RoleJoin, Name: "Forged", Group: domain.GroupID(group)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// groupEvent waits up to within for the group.message event that matches.
func (m *member) groupEvent(within time.Duration, match func(msg map[string]any) bool) map[string]any {
	m.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e := <-m.events:
			msg, _ := e["message"].(map[string]any)
			if e["type"] == "event" && e["event"] == "group.message" && msg != nil && match(msg) {
				return msg
			}
		case <-deadline:
			m.t.Fatalf("%s: no matching group.message within %s", m.id.ID, within)
			return nil
		}
	}
}

// TestGroupLiveChat: two members on the group page hold the group's socket
// and receive a message a third member posts, within a bound and without
// polling, and the card of a session started in the group as it starts,
// goes live and ends; a non-member's socket is refused; a socket that
// closed is forgotten, one gone idle reaped; the polling read keeps
// working.
func TestGroupLiveChat(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	owner, ryan, frida, stranger := newUser(t, c, "Owner"), newUser(t, c, "Ryan"), newUser(t, c, "Frida"), newUser(t, c, "Stranger")
	gid, _ := newGroup(t, c, owner, "Marketing Analysis", ryan, frida)

	// A non-member gets no ticket, and a forged one is refused at $connect.
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/socket", stranger.Token, nil), http.StatusForbidden, "forbidden")
	want(t, c.do(http.MethodPost, "/v1/groups/nosuchgroup/socket", owner.Token, nil), http.StatusNotFound, "not_found")
	wsURL := strings.Replace(s.URL, "http://", "ws://", 1) + "/ws"
	if _, resp, err := tryDial(t, wsURL+"?token="+mintGroupToken(t, s, clock, stranger.ID, gid)); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a non-member's group socket: %v %v", err, resp)
	}
	if _, resp, err := tryDial(t, wsURL+"?token="+mintGroupToken(t, s, clock, owner.ID, "nosuchgroup")); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a socket to no such group: %v %v", err, resp)
	}

	ow := groupSocket(t, c, owner, gid)
	fr := groupSocket(t, c, frida, gid)
	// The socket takes state.get as a keepalive and nothing else.
	ow.ok("state.get", nil)
	ow.refused("forbidden", "hand.raise", nil)

	start := time.Now()
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", ryan.Token, map[string]any{"text": "hello, live"}), http.StatusCreated, "")
	for _, m := range []*member{ow, fr} {
		msg := m.groupEvent(liveChatBound, func(msg map[string]any) bool { return msg["text"] == "hello, live" })
		if msg["kind"] != "text" || msg["userId"] != ryan.ID || msg["name"] != "Ryan" || msg["id"] == "" {
			t.Fatalf("%s got %v", m.id.ID, msg)
		}
	}
	t.Logf("a message reached both members' sockets in %s", time.Since(start))

	// The polling read keeps working.
	if msgs := groupMessages(t, c, frida, gid); len(msgs) != 1 || msgs[0].Text != "hello, live" {
		t.Fatalf("messages %+v", msgs)
	}

	// A session started in the group: its card arrives as it is created,
	// goes live and ends, under the session's id.
	r := c.do(http.MethodPost, "/v1/sessions", ryan.Token, map[string]any{"kind": "primetime", "title": "Weekly review", "groupId": gid})
	want(t, r, http.StatusCreated, "")
	var created struct{ Session struct{ ID string } }
	r.decode(t, &created)
	id := created.Session.ID
	card := func(status string) func(map[string]any) bool {
		return func(msg map[string]any) bool {
			sess, _ := msg["session"].(map[string]any)
			return msg["kind"] == "session" && msg["sessionId"] == id && msg["id"] == id && sess != nil && (status == "" || sess["status"] == status)
		}
	}
	fr.groupEvent(waitFor, card(""))
	host := connect(t, c, ryan, id, "web")
	host.ok("session.start", nil)
	fr.groupEvent(waitFor, card("live"))
	ow.groupEvent(waitFor, card("live"))
	host.ok("session.end", nil)
	fr.groupEvent(waitFor, card("ended"))

	// A socket that closed is forgotten; the others still hear.
	fr.close()
	for deadline := time.Now().Add(waitFor); ; time.Sleep(5 * time.Millisecond) {
		conns, err := s.Store.ListGroupConnections(t.Context(), domain.GroupID(gid))
		if err == nil && len(conns) == 1 && conns[0].UserID == domain.UserID(owner.ID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("frida's socket not forgotten within %s: %v %+v", waitFor, err, conns)
		}
	}
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", ryan.Token, map[string]any{"text": "still here?"}), http.StatusCreated, "")
	ow.groupEvent(liveChatBound, func(msg map[string]any) bool { return msg["text"] == "still here?" })

	// A socket API Gateway closed without a $disconnect (idle past its
	// timeout) is reaped by the scheduler's sweep like a session's.
	clock.Advance(domain.MaxIdle + time.Minute)
	ow.waitClosed()
	for deadline := time.Now().Add(waitFor); ; time.Sleep(5 * time.Millisecond) {
		conns, err := s.Store.ListGroupConnections(t.Context(), domain.GroupID(gid))
		if err == nil && len(conns) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle socket not reaped within %s: %v %+v", waitFor, err, conns)
		}
	}
}

// TestRemovedMemberHearsNoMore: a member the owner removes stops hearing
// the group's live chat at once: their socket is forgotten with the
// membership, and the next message reaches the others only.
func TestRemovedMemberHearsNoMore(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	owner, frida := newUser(t, c, "Owner"), newUser(t, c, "Frida")
	gid, _ := newGroup(t, c, owner, "Design", frida)

	ow := groupSocket(t, c, owner, gid)
	fr := groupSocket(t, c, frida, gid)
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", owner.Token, map[string]any{"text": "before"}), http.StatusCreated, "")
	fr.groupEvent(liveChatBound, func(msg map[string]any) bool { return msg["text"] == "before" })

	want(t, c.do(http.MethodDelete, "/v1/groups/"+gid+"/members/"+frida.ID, owner.Token, nil), http.StatusNoContent, "")
	conns, err := s.Store.ListGroupConnections(t.Context(), domain.GroupID(gid))
	if err != nil {
		t.Fatal(err)
	}
	for _, cn := range conns {
		if cn.UserID == domain.UserID(frida.ID) {
			t.Fatalf("the removed member's socket %s is still the group's", cn.ID)
		}
	}
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", owner.Token, map[string]any{"text": "after"}), http.StatusCreated, "")
	ow.groupEvent(liveChatBound, func(msg map[string]any) bool { return msg["text"] == "after" })
	// The posts of one message leave together: had Frida's socket been
	// posted to, its event would be here by now.
	time.Sleep(200 * time.Millisecond)
	for {
		select {
		case e := <-fr.events:
			if msg, _ := e["message"].(map[string]any); msg != nil && msg["text"] == "after" {
				t.Fatalf("the removed member heard %v", msg)
			}
			continue
		default:
		}
		break
	}
}
