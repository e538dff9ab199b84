package runner_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
)

// at returns testStart's day at hh:mm UTC in RFC 3339.
func at(hhmm string) string {
	t, err := time.Parse("2006-01-02 15:04", testStart.Format("2006-01-02")+" "+hhmm)
	if err != nil {
		panic(err)
	}
	return t.UTC().Format(time.RFC3339)
}

type identity struct {
	ID    string
	Token string
}

func newOrganizer(t *testing.T, c *client, adminKey, name string) identity {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/organizers", "", map[string]any{"name": name}, header{"X-Admin-Key", adminKey})
	want(t, r, http.StatusCreated, "")
	var out struct {
		Organizer struct{ ID string } `json:"organizer"`
		Token     string              `json:"token"`
	}
	r.decode(t, &out)
	return identity{out.Organizer.ID, out.Token}
}

func newUser(t *testing.T, c *client, name string) identity {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/users", "", map[string]any{"name": name, "device": "web"})
	want(t, r, http.StatusCreated, "")
	var out struct {
		User  struct{ ID string } `json:"user"`
		Token string              `json:"token"`
	}
	r.decode(t, &out)
	return identity{out.User.ID, out.Token}
}

func newEmployer(t *testing.T, c *client, org identity, eventID, name string) identity {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/events/"+eventID+"/employers", org.Token, map[string]any{"name": name})
	want(t, r, http.StatusCreated, "")
	var out struct {
		Employer struct{ ID string } `json:"employer"`
		Token    string              `json:"token"`
	}
	r.decode(t, &out)
	return identity{out.Employer.ID, out.Token}
}

// eventBody is an event on testStart's day: 10:00-12:00 and 14:00-15:00 in
// 30-minute slots (six slots), with the given limits merged in.
func eventBody(extra map[string]any) map[string]any {
	b := map[string]any{
		"name": "Career fair",
		"windows": []map[string]string{
			{"start": at("10:00"), "end": at("12:00")},
			{"start": at("14:00"), "end": at("15:00")},
		},
		"slotMinutes": 30,
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func newEvent(t *testing.T, c *client, org identity, extra map[string]any) string {
	t.Helper()
	r := c.do(http.MethodPost, "/v1/events", org.Token, eventBody(extra))
	want(t, r, http.StatusCreated, "")
	var ev struct{ ID string }
	r.decode(t, &ev)
	return ev.ID
}

func book(c *client, emp identity, eventID, start string) reply {
	return c.do(http.MethodPost, "/v1/events/"+eventID+"/sessions", emp.Token, map[string]any{"start": start, "title": "Meet us"})
}

type sessionOut struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Capacity   int    `json:"capacity"`
	Registered int    `json:"registered"`
	SpotsLeft  int    `json:"spotsLeft"`
}

func getSession(t *testing.T, c *client, id string) sessionOut {
	t.Helper()
	r := c.do(http.MethodGet, "/v1/sessions/"+id, "", nil)
	want(t, r, http.StatusOK, "")
	var out struct{ Session sessionOut }
	r.decode(t, &out)
	return out.Session
}

func TestBookingLimits(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	ev := newEvent(t, c, org, map[string]any{"maxSessionsPerEmployer": 2, "maxSessions": 3, "sessionsPerSlot": 1})
	a := newEmployer(t, c, org, ev, "Acme")
	b := newEmployer(t, c, org, ev, "Globex")

	want(t, book(c, a, ev, at("10:00")), http.StatusCreated, "")
	want(t, book(c, a, ev, at("10:30")), http.StatusCreated, "")
	want(t, book(c, a, ev, at("11:00")), http.StatusConflict, "employer_limit")
	want(t, book(c, b, ev, at("10:00")), http.StatusConflict, "slot_full")
	want(t, book(c, b, ev, at("11:00")), http.StatusCreated, "")
	want(t, book(c, b, ev, at("11:30")), http.StatusConflict, "event_limit")

	r := c.do(http.MethodGet, "/v1/events/"+ev+"/sessions", "", nil)
	want(t, r, http.StatusOK, "")
	var list struct{ Sessions []sessionOut }
	r.decode(t, &list)
	if len(list.Sessions) != 3 {
		t.Fatalf("sessions: got %d, want 3", len(list.Sessions))
	}
	for _, ss := range list.Sessions {
		if ss.SpotsLeft != 50 || ss.Status != "scheduled" {
			t.Errorf("session %+v: want 50 spots left, scheduled", ss)
		}
	}

	r = c.do(http.MethodGet, "/v1/events/"+ev+"/slots", "", nil)
	want(t, r, http.StatusOK, "")
	var slots struct {
		Slots []struct {
			Start        time.Time
			SessionsLeft int
		}
	}
	r.decode(t, &slots)
	if len(slots.Slots) != 6 {
		t.Fatalf("slots: got %d, want 6", len(slots.Slots))
	}
	for _, sl := range slots.Slots {
		if sl.SessionsLeft != 0 {
			t.Errorf("slot %s: %d sessions left, want 0 (the event is full)", sl.Start, sl.SessionsLeft)
		}
	}
}

func TestSlotsCountDown(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	ev := newEvent(t, c, org, map[string]any{"sessionsPerSlot": 2})
	emp := newEmployer(t, c, org, ev, "Acme")
	want(t, book(c, emp, ev, at("14:30")), http.StatusCreated, "")

	r := c.do(http.MethodGet, "/v1/events/"+ev+"/slots", "", nil)
	var slots struct {
		Slots []struct {
			Start        string
			End          string
			SessionsLeft int
		}
	}
	r.decode(t, &slots)
	got := map[string]int{}
	for _, sl := range slots.Slots {
		got[sl.Start] = sl.SessionsLeft
	}
	if got[at("14:30")] != 1 || got[at("10:00")] != 2 || len(got) != 6 {
		t.Fatalf("slots: %v", got)
	}
}

func TestRegistrationUntilFull(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	ev := newEvent(t, c, org, map[string]any{"capacity": 3})
	emp := newEmployer(t, c, org, ev, "Acme")
	r := book(c, emp, ev, at("10:00"))
	want(t, r, http.StatusCreated, "")
	var sess sessionOut
	r.decode(t, &sess)
	if sess.Capacity != 3 || sess.SpotsLeft != 3 {
		t.Fatalf("new session: %+v", sess)
	}

	users := make([]identity, 5)
	for i := range users {
		users[i] = newUser(t, c, fmt.Sprintf("Participant %d", i))
	}
	regPath := "/v1/sessions/" + sess.ID + "/registrations"
	var first struct {
		SessionID string    `json:"sessionId"`
		UserID    string    `json:"userId"`
		CreatedAt time.Time `json:"createdAt"`
	}
	r = c.do(http.MethodPost, regPath, users[0].Token, nil)
	want(t, r, http.StatusCreated, "")
	r.decode(t, &first)
	if first.UserID != users[0].ID || first.SessionID != sess.ID {
		t.Fatalf("registration: %s", r.Body)
	}
	want(t, c.do(http.MethodPost, regPath, users[1].Token, nil), http.StatusCreated, "")
	want(t, c.do(http.MethodPost, regPath, users[2].Token, nil), http.StatusCreated, "")
	want(t, c.do(http.MethodPost, regPath, users[3].Token, nil), http.StatusConflict, "session_full")

	// A repeat answers 200 with the same registration and counts once.
	r = c.do(http.MethodPost, regPath, users[0].Token, nil)
	want(t, r, http.StatusOK, "")
	var again = first
	r.decode(t, &again)
	if again != first {
		t.Fatalf("repeat: got %+v, want %+v", again, first)
	}
	if got := getSession(t, c, sess.ID); got.Registered != 3 || got.SpotsLeft != 0 {
		t.Fatalf("full session: %+v", got)
	}

	// Cancelling frees the spot for the next participant.
	want(t, c.do(http.MethodDelete, regPath+"/me", users[1].Token, nil), http.StatusNoContent, "")
	want(t, c.do(http.MethodDelete, regPath+"/me", users[1].Token, nil), http.StatusNotFound, "not_found")
	if got := getSession(t, c, sess.ID); got.SpotsLeft != 1 {
		t.Fatalf("after cancel: %+v", got)
	}
	want(t, c.do(http.MethodPost, regPath, users[3].Token, nil), http.StatusCreated, "")
	want(t, c.do(http.MethodPost, regPath, users[4].Token, nil), http.StatusConflict, "session_full")
}

func TestConcurrentRegistrations(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	ev := newEvent(t, c, org, nil)
	emp := newEmployer(t, c, org, ev, "Acme")
	r := book(c, emp, ev, at("10:00"))
	want(t, r, http.StatusCreated, "")
	var sess sessionOut
	r.decode(t, &sess)

	const n = 200
	users := make([]identity, n)
	for i := range users {
		users[i] = newUser(t, c, fmt.Sprintf("P%d", i))
	}
	statuses := make([]int, n)
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := c.do(http.MethodPost, "/v1/sessions/"+sess.ID+"/registrations", users[i].Token, nil)
			statuses[i], codes[i] = r.Status, r.errorCode()
		})
	}
	wg.Wait()
	ok, full := 0, 0
	for i := range n {
		switch {
		case statuses[i] == http.StatusCreated:
			ok++
		case statuses[i] == http.StatusConflict && codes[i] == "session_full":
			full++
		default:
			t.Errorf("registration %d: %d %s", i, statuses[i], codes[i])
		}
	}
	if ok != 50 || full != 150 {
		t.Fatalf("got %d registered and %d session_full, want 50 and 150", ok, full)
	}
	if got := getSession(t, c, sess.ID); got.Registered != 50 || got.SpotsLeft != 0 {
		t.Fatalf("stored: %+v", got)
	}
}

func TestConcurrentBookingsByOneEmployer(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	ev := newEvent(t, c, org, map[string]any{"maxSessionsPerEmployer": 3, "maxSessions": 100, "sessionsPerSlot": 50})
	emp := newEmployer(t, c, org, ev, "Acme")

	const n = 20
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = book(c, emp, ev, at("10:00")) })
	}
	wg.Wait()
	ok := 0
	for _, r := range replies {
		switch {
		case r.Status == http.StatusCreated:
			ok++
		case r.Status == http.StatusConflict && r.errorCode() == "employer_limit":
		default:
			t.Errorf("booking: %d %s", r.Status, r.Body)
		}
	}
	if ok != 3 {
		t.Fatalf("got %d bookings, want 3", ok)
	}
	r := c.do(http.MethodGet, "/v1/events/"+ev, "", nil)
	var got struct{ SessionsBooked int }
	r.decode(t, &got)
	if got.SessionsBooked != 3 {
		t.Fatalf("event counts %d sessions, want 3", got.SessionsBooked)
	}
}

func TestHostedSessions(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	host := newUser(t, c, "Ryan")
	for _, kind := range []string{"instant", "primetime"} {
		r := c.do(http.MethodPost, "/v1/sessions", host.Token, map[string]any{"kind": kind, "title": "Quick sync"})
		want(t, r, http.StatusCreated, "")
		var out struct {
			Session struct {
				ID, Status, Kind string
				HostID           string `json:"hostId"`
				PresenterID      *string
			}
			ShareURL string `json:"shareUrl"`
		}
		r.decode(t, &out)
		if out.Session.Status != "open" || out.Session.Kind != kind || out.Session.HostID != host.ID || out.Session.PresenterID != nil {
			t.Fatalf("%s: %s", kind, r.Body)
		}
		if out.ShareURL != s.URL+"/s/"+out.Session.ID {
			t.Fatalf("share url %q", out.ShareURL)
		}
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := domain.NewManualClock(testStart)
	start := func() *runner.Stack {
		s, err := runner.Start(context.Background(), runner.Config{Addr: "127.0.0.1:0", DataDir: dir, Clock: clock, AdminKey: "admin-key-for-restart-test"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	ev := newEvent(t, c, org, nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	s = start()
	defer s.Close(context.Background())
	c = newClient(t, s.URL)
	want(t, c.do(http.MethodGet, "/v1/events/"+ev, "", nil), http.StatusOK, "")
	// The organizer's token still works: the signing key is kept too.
	newEmployer(t, c, org, ev, "Acme")
}

func TestEmptyAndHealth(t *testing.T) {
	s, _ := stack(t)
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("listens on %s, want loopback", s.URL)
	}
}
