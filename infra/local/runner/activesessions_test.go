package runner_test

import (
	"net/http"
	"testing"
	"time"
)

type activeEntry struct {
	Session struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"session"`
	Role      string     `json:"role"`
	State     string     `json:"state"`
	CanRejoin bool       `json:"canRejoin"`
	RejoinBy  *time.Time `json:"rejoinBy"`
}

func activeSessions(t *testing.T, c *client, who identity) map[string]activeEntry {
	t.Helper()
	r := c.do(http.MethodGet, "/v1/me/sessions", who.Token, nil)
	want(t, r, http.StatusOK, "")
	var out struct{ Sessions []activeEntry }
	r.decode(t, &out)
	m := map[string]activeEntry{}
	for _, e := range out.Sessions {
		m[e.Session.ID] = e
	}
	return m
}

// TestHostRejoinsFromActiveSessions is seed 000's note: a host who leaves
// the setup screen rejoins from the Active Session page within 30
// minutes, as host; after that the entry says the session expired.
func TestHostRejoinsFromActiveSessions(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	hostID, phoneID := newUser(t, c, "Host"), newUser(t, c, "Phone")
	id := hosted(t, c, hostID, "instant")
	other := hosted(t, c, phoneID, "instant")

	e, ok := activeSessions(t, c, hostID)[id]
	if !ok || e.Role != "host" || e.State != "active" || !e.CanRejoin || e.RejoinBy != nil {
		t.Fatalf("entry before joining %+v (listed %v)", e, ok)
	}
	if _, ok := activeSessions(t, c, hostID)[other]; ok {
		t.Fatalf("another user's session is listed")
	}

	host := connect(t, c, hostID, id, "mobile")
	phone := connect(t, c, phoneID, id, "mobile")
	if e := activeSessions(t, c, phoneID)[id]; e.Role != "participant" || e.State != "active" {
		t.Fatalf("member's entry %+v", e)
	}
	left := clock.Now()
	host.leave(s, id)
	e = activeSessions(t, c, hostID)[id]
	if e.RejoinBy == nil || !e.RejoinBy.Equal(left.Add(30*time.Minute)) || !e.CanRejoin {
		t.Fatalf("entry after leaving %+v, want rejoinBy %v", e, left.Add(30*time.Minute))
	}

	clock.Advance(29 * time.Minute)
	want(t, join(t, c, hostID, id, "mobile"), http.StatusOK, "")
	host = connect(t, c, hostID, id, "mobile")
	if st := members(host.state())[hostID.ID]; st["role"] != "host" {
		t.Fatalf("rejoined as %v", st["role"])
	}
	// Back as host: the host's rules are the host's again.
	host.ok("presenter.assign", map[string]any{"userId": phoneID.ID})
	phone.expect("presenter.assigned", phoneID.ID)
	if e := activeSessions(t, c, hostID)[id]; e.RejoinBy != nil || e.Role != "host" {
		t.Fatalf("entry after rejoining %+v", e)
	}

	host.leave(s, id)
	clock.Advance(31 * time.Minute)
	e = activeSessions(t, c, hostID)[id]
	if e.State != "expired" || e.CanRejoin || e.Session.Status != "expired" {
		t.Fatalf("entry past the window %+v", e)
	}
	want(t, join(t, c, hostID, id, "mobile"), http.StatusGone, "session_expired")
}
