package runner_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestUnsetLimitsAreNotShown is issue 14's "10000 sessions left": a
// limit the organizer did not set is left out of the event and of the
// slots, never shown as its internal default; the limits that were set
// still count down.
func TestUnsetLimitsAreNotShown(t *testing.T) {
	s, _ := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")

	fields := func(path string) map[string]json.RawMessage {
		t.Helper()
		r := c.do(http.MethodGet, path, "", nil)
		want(t, r, http.StatusOK, "")
		var m map[string]json.RawMessage
		r.decode(t, &m)
		return m
	}
	slotsLeft := func(ev string) []*int {
		t.Helper()
		r := c.do(http.MethodGet, "/v1/events/"+ev+"/slots", "", nil)
		want(t, r, http.StatusOK, "")
		var out struct{ Slots []struct{ SessionsLeft *int } }
		r.decode(t, &out)
		left := make([]*int, len(out.Slots))
		for i, sl := range out.Slots {
			left[i] = sl.SessionsLeft
		}
		return left
	}

	// No limit set: none shown, however many are booked.
	free := newEvent(t, c, org, nil)
	emp := newEmployer(t, c, org, free, "Acme")
	want(t, book(c, emp, free, at("10:00")), http.StatusCreated, "")
	ev := fields("/v1/events/" + free)
	for _, k := range []string{"maxSessions", "maxSessionsPerEmployer", "sessionsPerSlot"} {
		if v, ok := ev[k]; ok {
			t.Errorf("event shows %s = %s, which was never set", k, v)
		}
	}
	for i, left := range slotsLeft(free) {
		if left != nil {
			t.Errorf("slot %d shows %d sessions left with no limit set", i, *left)
		}
	}

	// Only the event total set: it is shown and counts down every slot.
	total := newEvent(t, c, org, map[string]any{"maxSessions": 4})
	emp = newEmployer(t, c, org, total, "Acme")
	want(t, book(c, emp, total, at("10:00")), http.StatusCreated, "")
	ev = fields("/v1/events/" + total)
	if string(ev["maxSessions"]) != "4" {
		t.Errorf("maxSessions %s, want 4", ev["maxSessions"])
	}
	if _, ok := ev["sessionsPerSlot"]; ok {
		t.Errorf("event shows sessionsPerSlot %s, which was never set", ev["sessionsPerSlot"])
	}
	for i, left := range slotsLeft(total) {
		if left == nil || *left != 3 {
			t.Errorf("slot %d: %v sessions left, want 3", i, left)
		}
	}
}
