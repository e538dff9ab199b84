package runner_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
)

// mintJoinToken signs a join token with the stack's own key, as if user
// had been admitted to session: what $connect decides without the API.
func mintJoinToken(t *testing.T, s *runner.Stack, clock domain.Clock, user, session string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(s.DataDir, "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := auth.NewIssuer(auth.Config{Key: []byte(strings.TrimSpace(string(key))), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Mint(user, auth.Claims{Role: auth.RoleJoin, Name: "Forged", SessionID: domain.SessionID(session), Device: domain.DeviceWeb})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type groupOut struct {
	Group struct {
		ID      string `json:"id"`
		Members int    `json:"members"`
	} `json:"group"`
	Members []struct {
		UserID string `json:"userId"`
		Role   string `json:"role"`
	} `json:"members"`
}

type groupMessage struct {
	Kind      string `json:"kind"`
	Text      string `json:"text"`
	SessionID string `json:"sessionId"`
	Session   *struct {
		ID, Status string
	} `json:"session"`
}

func groupMessages(t *testing.T, c *client, who identity, groupID string) []groupMessage {
	t.Helper()
	r := c.do(http.MethodGet, "/v1/groups/"+groupID+"/messages", who.Token, nil)
	want(t, r, http.StatusOK, "")
	var out struct{ Messages []groupMessage }
	r.decode(t, &out)
	return out.Messages
}

// sessionCard returns the card of session id in the group's chat.
func sessionCard(t *testing.T, c *client, who identity, groupID, id string) groupMessage {
	t.Helper()
	for _, m := range groupMessages(t, c, who, groupID) {
		if m.Kind == "session" && m.SessionID == id {
			return m
		}
	}
	t.Fatalf("no card of session %s in the chat of %s", id, groupID)
	return groupMessage{}
}

// TestGroupPrimeTime is seed 002 inside a group: a user creates a group,
// invites a member by link, they chat; the member starts a PrimeTime
// session in the group and hosts it; its card in the chat says it is
// live; members join it, a non-member is refused with forbidden over
// HTTP and on the socket.
func TestGroupPrimeTime(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	owner, ryan, frida, stranger := newUser(t, c, "Owner"), newUser(t, c, "Ryan"), newUser(t, c, "Frida"), newUser(t, c, "Stranger")

	r := c.do(http.MethodPost, "/v1/groups", owner.Token, map[string]any{"name": "  "})
	want(t, r, http.StatusBadRequest, "invalid")
	if r.fields()["name"] == "" {
		t.Fatalf("fields %v", r.fields())
	}
	r = c.do(http.MethodPost, "/v1/groups", owner.Token, map[string]any{"name": "Marketing Analysis"})
	want(t, r, http.StatusCreated, "")
	var g groupOut
	r.decode(t, &g)
	gid := g.Group.ID

	r = c.do(http.MethodPost, "/v1/groups/"+gid+"/invites", owner.Token, nil)
	want(t, r, http.StatusCreated, "")
	var inv struct{ Invite, URL string }
	r.decode(t, &inv)
	if !strings.Contains(inv.URL, "/g/"+gid+"?invite=") {
		t.Fatalf("invite url %q", inv.URL)
	}
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/invites", stranger.Token, nil), http.StatusForbidden, "forbidden")
	r = c.do(http.MethodPost, "/v1/groups/"+gid+"/members/me", stranger.Token, map[string]any{"invite": owner.Token})
	want(t, r, http.StatusBadRequest, "invalid")
	if r.fields()["invite"] == "" {
		t.Fatalf("fields %v", r.fields())
	}
	for _, u := range []identity{ryan, frida} {
		want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/members/me", u.Token, map[string]any{"invite": inv.Invite}), http.StatusCreated, "")
	}
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/members/me", frida.Token, map[string]any{"invite": inv.Invite}), http.StatusOK, "")
	r = c.do(http.MethodGet, "/v1/groups/"+gid, frida.Token, nil)
	want(t, r, http.StatusOK, "")
	r.decode(t, &g)
	if g.Group.Members != 3 || len(g.Members) != 3 {
		t.Fatalf("group %s", r.Body)
	}
	want(t, c.do(http.MethodGet, "/v1/groups/"+gid, stranger.Token, nil), http.StatusForbidden, "forbidden")
	r = c.do(http.MethodGet, "/v1/groups", ryan.Token, nil)
	want(t, r, http.StatusOK, "")
	if !strings.Contains(string(r.Body), gid) {
		t.Fatalf("ryan's groups %s", r.Body)
	}

	// The group's chat, limited as the session chat is.
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", frida.Token, map[string]any{"text": "hello"}), http.StatusCreated, "")
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", stranger.Token, map[string]any{"text": "hi"}), http.StatusForbidden, "forbidden")
	r = c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", frida.Token, map[string]any{"text": strings.Repeat("x", 1001)})
	want(t, r, http.StatusBadRequest, "invalid")
	if r.fields()["text"] == "" {
		t.Fatalf("fields %v", r.fields())
	}
	limited := false
	for range 10 {
		r = c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", ryan.Token, map[string]any{"text": "spam"})
		if r.Status == http.StatusTooManyRequests {
			want(t, r, http.StatusTooManyRequests, "rate_limited")
			limited = true
			break
		}
		want(t, r, http.StatusCreated, "")
	}
	if !limited {
		t.Fatalf("ten messages at once were all taken")
	}

	// Only a member starts a session in the group, and becomes its host.
	r = c.do(http.MethodPost, "/v1/sessions", stranger.Token, map[string]any{"kind": "primetime", "title": "Crash", "groupId": gid})
	want(t, r, http.StatusForbidden, "forbidden")
	want(t, c.do(http.MethodPost, "/v1/sessions", ryan.Token, map[string]any{"kind": "instant", "title": "x", "groupId": gid}), http.StatusBadRequest, "invalid")
	want(t, c.do(http.MethodPost, "/v1/sessions", ryan.Token, map[string]any{"kind": "primetime", "title": "x", "groupId": "nosuchgroup"}), http.StatusNotFound, "not_found")
	r = c.do(http.MethodPost, "/v1/sessions", ryan.Token, map[string]any{"kind": "primetime", "title": "Weekly review", "groupId": gid})
	want(t, r, http.StatusCreated, "")
	var created struct{ Session struct{ ID, HostID string } }
	r.decode(t, &created)
	id := created.Session.ID

	host := connect(t, c, ryan, id, "web")
	host.ok("session.start", nil)

	// The card in the chat, live, for every member.
	if card := sessionCard(t, c, owner, gid, id); card.Session == nil || card.Session.Status != "live" {
		t.Fatalf("card %+v", card)
	}

	// A non-member: forbidden over HTTP, and on the socket.
	want(t, join(t, c, stranger, id, "web"), http.StatusForbidden, "forbidden")
	r = join(t, c, frida, id, "web")
	want(t, r, http.StatusOK, "")
	var jo joinOut
	r.decode(t, &jo)
	forged := mintJoinToken(t, s, clock, stranger.ID, id)
	if _, resp, err := tryDial(t, jo.WSURL+"?token="+forged); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a non-member's socket: %v %v", err, resp)
	}

	// Members join from the card, and are heard.
	fr := connect(t, c, frida, id, "web")
	ow := connect(t, c, owner, id, "mobile")
	fr.ok("hand.raise", nil)
	ow.expect("hand.raised", frida.ID)
	host.ok("hand.approve", map[string]any{"userId": frida.ID})
	ow.expect("stage.changed", frida.ID)

	host.ok("session.end", nil)
	ow.expect("session.ended", "")
	if card := sessionCard(t, c, frida, gid, id); card.Session == nil || card.Session.Status != "ended" {
		t.Fatalf("card after the end %+v", card)
	}
}

// TestGroupLeaveAndRemove: a member leaves, the owner removes another;
// the count stays right; a former member is refused the chat, starting
// and joining the group's sessions; the owner leaves only as the last
// member, which closes the group.
func TestGroupLeaveAndRemove(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	owner, ryan, frida, lee := newUser(t, c, "Owner"), newUser(t, c, "Ryan"), newUser(t, c, "Frida"), newUser(t, c, "Lee")
	gid, inv := newGroup(t, c, owner, "Marketing Analysis", ryan, frida, lee)
	count := func() int {
		t.Helper()
		r := c.do(http.MethodGet, "/v1/groups/"+gid, owner.Token, nil)
		want(t, r, http.StatusOK, "")
		var g groupOut
		r.decode(t, &g)
		if g.Group.Members != len(g.Members) {
			t.Fatalf("count %d, %d listed", g.Group.Members, len(g.Members))
		}
		return g.Group.Members
	}
	del := func(who identity, user string) reply {
		return c.do(http.MethodDelete, "/v1/groups/"+gid+"/members/"+user, who.Token, nil)
	}

	// A session started in the group while Frida is a member.
	r := c.do(http.MethodPost, "/v1/sessions", ryan.Token, map[string]any{"kind": "primetime", "title": "Weekly review", "groupId": gid})
	want(t, r, http.StatusCreated, "")
	var created struct{ Session struct{ ID string } }
	r.decode(t, &created)
	id := created.Session.ID

	// Only the owner removes, never itself; a non-member is not found.
	want(t, del(ryan, frida.ID), http.StatusForbidden, "forbidden")
	want(t, del(owner, owner.ID), http.StatusConflict, "conflict")
	want(t, del(owner, newUser(t, c, "Nobody").ID), http.StatusNotFound, "not_found")
	want(t, c.do(http.MethodDelete, "/v1/groups/nosuchgroup/members/me", ryan.Token, nil), http.StatusNotFound, "not_found")

	// Lee leaves; the owner removes Frida.
	want(t, del(lee, "me"), http.StatusNoContent, "")
	want(t, del(owner, frida.ID), http.StatusNoContent, "")
	want(t, del(owner, frida.ID), http.StatusNotFound, "not_found")
	if n := count(); n != 2 {
		t.Fatalf("members %d, want 2", n)
	}
	for _, u := range []identity{lee, frida} {
		want(t, c.do(http.MethodGet, "/v1/groups/"+gid+"/messages", u.Token, nil), http.StatusForbidden, "forbidden")
		want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/messages", u.Token, map[string]any{"text": "hi"}), http.StatusForbidden, "forbidden")
		want(t, c.do(http.MethodPost, "/v1/sessions", u.Token, map[string]any{"kind": "primetime", "title": "Mine", "groupId": gid}), http.StatusForbidden, "forbidden")
		want(t, join(t, c, u, id, "web"), http.StatusForbidden, "forbidden")
		want(t, c.do(http.MethodDelete, "/v1/groups/"+gid+"/members/me", u.Token, nil), http.StatusForbidden, "forbidden")
		r := c.do(http.MethodGet, "/v1/groups", u.Token, nil)
		want(t, r, http.StatusOK, "")
		if strings.Contains(string(r.Body), gid) {
			t.Fatalf("a former member's groups %s", r.Body)
		}
	}
	want(t, join(t, c, ryan, id, "web"), http.StatusOK, "")

	// The owner cannot leave while Ryan remains; Ryan leaves, then the
	// owner, which closes the group.
	want(t, del(owner, "me"), http.StatusConflict, "conflict")
	want(t, del(ryan, "me"), http.StatusNoContent, "")
	want(t, del(owner, "me"), http.StatusNoContent, "")
	want(t, c.do(http.MethodPost, "/v1/groups/"+gid+"/members/me", lee.Token, map[string]any{"invite": inv}), http.StatusNotFound, "not_found")
}

// newGroup has owner create a group named name, and each of members join
// it by its invite link; it returns the group's id and the invite.
func newGroup(t *testing.T, c *client, owner identity, name string, members ...identity) (gid, invite string) {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/groups", owner.Token, map[string]any{"name": name})
	want(t, r, http.StatusCreated, "")
	var g groupOut
	r.decode(t, &g)
	r = c.do(http.MethodPost, "/v1/groups/"+g.Group.ID+"/invites", owner.Token, nil)
	want(t, r, http.StatusCreated, "")
	var inv struct{ Invite string }
	r.decode(t, &inv)
	for _, u := range members {
		want(t, c.do(http.MethodPost, "/v1/groups/"+g.Group.ID+"/members/me", u.Token, map[string]any{"invite": inv.Invite}), http.StatusCreated, "")
	}
	return g.Group.ID, inv.Invite
}
