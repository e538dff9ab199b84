package runner_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/auth"
)

// snapshot captures what the public API shows of an event, its slots and
// sessions, so a test can check that a refused request changed nothing.
func snapshot(t *testing.T, c *client, eventID, sessionID string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"/v1/events/" + eventID, "/v1/events/" + eventID + "/slots", "/v1/events/" + eventID + "/sessions", "/v1/sessions/" + sessionID} {
		r := c.do(http.MethodGet, p, "", nil)
		want(t, r, http.StatusOK, "")
		b.Write(r.Body)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestBadInputChangesNothing(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	other := newOrganizer(t, c, s.AdminKey, "Other Org")
	ev := newEvent(t, c, org, map[string]any{"capacity": 10})
	otherEv := newEvent(t, c, other, nil)
	emp := newEmployer(t, c, org, ev, "Acme")
	otherEmp := newEmployer(t, c, other, otherEv, "Initech")
	user := newUser(t, c, "Paula")
	r := book(c, emp, ev, at("10:00"))
	want(t, r, http.StatusCreated, "")
	var sess sessionOut
	r.decode(t, &sess)
	want(t, c.do(http.MethodPost, "/v1/sessions/"+sess.ID+"/registrations", user.Token, nil), http.StatusCreated, "")

	tampered := []byte(emp.Token)
	tampered[len(tampered)-2] ^= 0x01
	huge := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
	okEvent := eventBody(nil)
	withEvent := func(k string, v any) map[string]any {
		b := eventBody(nil)
		b[k] = v
		return b
	}
	sessions := "/v1/events/" + ev + "/sessions"
	regs := "/v1/sessions/" + sess.ID + "/registrations"

	cases := []struct {
		name         string
		method, path string
		token        string
		body         any
		headers      []header
		status       int
		code         string
		field        string
	}{
		{"malformed JSON", "POST", "/v1/events", org.Token, `{"name":`, nil, 400, "invalid", "body"},
		{"two JSON values", "POST", "/v1/users", "", `{"name":"a"}{"name":"b"}`, nil, 400, "invalid", "body"},
		{"a JSON list", "POST", "/v1/users", "", `[1,2]`, nil, 400, "invalid", "body"},
		{"a name with a control character", "POST", "/v1/users", "", map[string]any{"name": "Pa\u0007ula", "device": "web"}, nil, 400, "invalid", "name"},
		{"wrong type", "POST", "/v1/events", org.Token, withEvent("slotMinutes", "thirty"), nil, 400, "invalid", "slotMinutes"},
		{"wrong nested type", "POST", "/v1/events", org.Token, withEvent("stage", map[string]any{"maxSpeakers": "four"}), nil, 400, "invalid", "stage.maxSpeakers"},
		{"capacity over 50", "POST", "/v1/events", org.Token, withEvent("capacity", 51), nil, 400, "invalid", "capacity"},
		{"capacity zero", "POST", "/v1/events", org.Token, withEvent("capacity", 0), nil, 400, "invalid", "capacity"},
		{"five speakers", "POST", "/v1/events", org.Token, withEvent("stage", map[string]any{"maxSpeakers": 5}), nil, 400, "invalid", "stage.maxSpeakers"},
		{"seven on stage", "POST", "/v1/events", org.Token, withEvent("stage", map[string]any{"maxParticipants": 7}), nil, 400, "invalid", "stage.maxParticipants"},
		{"slot too short", "POST", "/v1/events", org.Token, withEvent("slotMinutes", 1), nil, 400, "invalid", "slotMinutes"},
		{"window ends before it starts", "POST", "/v1/events", org.Token, withEvent("windows", []map[string]string{{"start": at("12:00"), "end": at("11:00")}}), nil, 400, "invalid", "windows[0].end"},
		{"window not a time", "POST", "/v1/events", org.Token, withEvent("windows", []map[string]string{{"start": "tomorrow", "end": at("11:00")}}), nil, 400, "invalid", "windows[0].start"},
		{"no windows", "POST", "/v1/events", org.Token, withEvent("windows", []any{}), nil, 400, "invalid", "windows"},
		{"name too long", "POST", "/v1/users", "", map[string]any{"name": strings.Repeat("n", 65)}, nil, 400, "invalid", "name"},
		{"blank name", "POST", "/v1/users", "", map[string]any{"name": "   "}, nil, 400, "invalid", "name"},
		{"unknown device", "POST", "/v1/users", "", map[string]any{"name": "a", "device": "tablet"}, nil, 400, "invalid", "device"},
		{"slot off the grid", "POST", sessions, emp.Token, map[string]any{"start": at("10:10"), "title": "x"}, nil, 400, "invalid", "start"},
		{"slot outside the windows", "POST", sessions, emp.Token, map[string]any{"start": at("09:00"), "title": "x"}, nil, 400, "invalid", "start"},
		{"slot after the last window", "POST", sessions, emp.Token, map[string]any{"start": at("15:00"), "title": "x"}, nil, 400, "invalid", "start"},
		{"booking without title", "POST", sessions, emp.Token, map[string]any{"start": at("10:30")}, nil, 400, "invalid", "title"},
		{"unknown speaker", "POST", sessions, emp.Token, map[string]any{"start": at("10:30"), "title": "x", "speakers": []string{"nobody"}}, nil, 400, "invalid", "speakers[0]"},
		{"hosted session of a bad kind", "POST", "/v1/sessions", user.Token, map[string]any{"kind": "scheduled", "title": "x"}, nil, 400, "invalid", "kind"},
		{"unknown event", "GET", "/v1/events/nope", "", nil, nil, 404, "not_found", ""},
		{"unknown event's slots", "GET", "/v1/events/nope/slots", "", nil, nil, 404, "not_found", ""},
		{"unknown session", "GET", "/v1/sessions/nope", "", nil, nil, 404, "not_found", ""},
		{"register in unknown session", "POST", "/v1/sessions/nope/registrations", user.Token, nil, nil, 404, "not_found", ""},
		{"employers of an unknown event", "POST", "/v1/events/nope/employers", org.Token, map[string]any{"name": "x"}, nil, 404, "not_found", ""},
		{"no token", "POST", "/v1/events", "", okEvent, nil, 401, "unauthenticated", ""},
		{"tampered token", "POST", sessions, string(tampered), map[string]any{"start": at("10:30"), "title": "x"}, nil, 401, "unauthenticated", ""},
		{"garbage token", "POST", regs, "garbage", nil, nil, 401, "unauthenticated", ""},
		{"wrong admin key", "POST", "/v1/organizers", "", map[string]any{"name": "x"}, []header{{"X-Admin-Key", "wrong"}}, 401, "unauthenticated", ""},
		{"no admin key", "POST", "/v1/organizers", "", map[string]any{"name": "x"}, nil, 401, "unauthenticated", ""},
		{"a user creating an event", "POST", "/v1/events", user.Token, okEvent, nil, 403, "forbidden", ""},
		{"an organizer registering", "POST", regs, org.Token, nil, nil, 403, "forbidden", ""},
		{"another organizer's event", "POST", "/v1/events/" + ev + "/employers", other.Token, map[string]any{"name": "x"}, nil, 403, "forbidden", ""},
		{"an employer of another event", "POST", sessions, otherEmp.Token, map[string]any{"start": at("10:30"), "title": "x"}, nil, 403, "forbidden", ""},
		{"a user booking", "POST", sessions, user.Token, map[string]any{"start": at("10:30"), "title": "x"}, nil, 403, "forbidden", ""},
		{"oversized body", "POST", "/v1/users", "", huge, nil, 413, "too_large", ""},
		{"oversized booking", "POST", sessions, emp.Token, huge, nil, 413, "too_large", ""},
		{"unknown route", "GET", "/v1/nothing", "", nil, nil, 404, "not_found", ""},
		{"wrong method", "PUT", "/v1/events", org.Token, okEvent, nil, 405, "method_not_allowed", ""},
		{"delete an event", "DELETE", "/v1/events/" + ev, org.Token, nil, nil, 405, "method_not_allowed", ""},
	}
	before := snapshot(t, c, ev, sess.ID)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.token, tc.body, tc.headers...)
			want(t, r, tc.status, tc.code)
			if tc.field != "" {
				if _, ok := r.fields()[tc.field]; !ok {
					t.Fatalf("fields %v do not name %q", r.fields(), tc.field)
				}
			}
		})
	}
	if after := snapshot(t, c, ev, sess.ID); after != before {
		t.Fatalf("refused requests changed the store:\nbefore %s\nafter  %s", before, after)
	}

	t.Run("expired token", func(t *testing.T) {
		clock.Advance(auth.DefaultTTL + time.Minute)
		want(t, c.do(http.MethodPost, regs, user.Token, nil), http.StatusUnauthorized, "unauthenticated")
		want(t, c.do(http.MethodDelete, regs+"/me", user.Token, nil), http.StatusUnauthorized, "unauthenticated")
		want(t, c.do(http.MethodPost, sessions, emp.Token, map[string]any{"start": at("10:30"), "title": "x"}), http.StatusUnauthorized, "unauthenticated")
	})
	if after := snapshot(t, c, ev, sess.ID); after != before {
		t.Fatalf("requests with expired tokens changed the store")
	}
}
