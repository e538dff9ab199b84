package runner_test

import (
	"net/http"
	"testing"
	"time"
)

// TestCoSpeakerCannotRemoveTheOwner is issue 14's report: a co-speaker's
// member.remove locked the employer who booked the session out of it,
// with 403 on every rejoin. Co-speakers are named by user id and by an
// invite link, up to the stage's speaker seats.
func TestCoSpeakerCannotRemoveTheOwner(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	ev := newEvent(t, c, org, map[string]any{"capacity": 10, "stage": map[string]any{"maxSpeakers": 3}})
	emp := newEmployer(t, c, org, ev, "Acme")
	r := book(c, emp, ev, at("10:00"))
	want(t, r, http.StatusCreated, "")
	var sess sessionOut
	r.decode(t, &sess)
	id := sess.ID

	co, viaLink, late, stranger := newUser(t, c, "Co"), newUser(t, c, "Linked"), newUser(t, c, "Late"), newUser(t, c, "Stranger")
	// By user id: only the owner names speakers, and only known users.
	want(t, c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers", co.Token, map[string]any{"userId": co.ID}), http.StatusForbidden, "forbidden")
	r = c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers", emp.Token, map[string]any{"userId": "unknown"})
	want(t, r, http.StatusBadRequest, "invalid")
	if f := r.fields(); f["userId"] == "" {
		t.Fatalf("fields %v, want userId", f)
	}
	want(t, c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers", emp.Token, map[string]any{"userId": co.ID}), http.StatusOK, "")
	// By invite link.
	r = c.do(http.MethodPost, "/v1/sessions/"+id+"/speaker-invites", emp.Token, nil)
	want(t, r, http.StatusCreated, "")
	var inv struct{ Invite, URL string }
	r.decode(t, &inv)
	r = c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers/me", viaLink.Token, map[string]any{"invite": "forged"})
	want(t, r, http.StatusBadRequest, "invalid")
	if f := r.fields(); f["invite"] == "" {
		t.Fatalf("fields %v, want invite", f)
	}
	want(t, c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers/me", viaLink.Token, map[string]any{"invite": inv.Invite}), http.StatusOK, "")
	// The stage seats three speakers: the employer and two co-speakers.
	want(t, c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers/me", late.Token, map[string]any{"invite": inv.Invite}), http.StatusConflict, "speakers_full")

	clock.Set(testStart.Add(time.Hour)) // 10:00
	owner := connect(t, c, emp, id, "web")
	cos := connect(t, c, co, id, "web") // a speaker: no registration needed
	cos.ok("session.start", nil)
	owner.expect("session.started", "")
	p := connect(t, c, stranger, id, "web")

	// The co-speaker may remove a participant, never the owner nor
	// another speaker.
	cos.refused("forbidden", "member.remove", map[string]any{"userId": emp.ID})
	link := connect(t, c, viaLink, id, "web")
	cos.refused("forbidden", "member.remove", map[string]any{"userId": viaLink.ID})
	cos.ok("member.remove", map[string]any{"userId": stranger.ID})
	p.waitClosed()
	owner.expect("member.removed", stranger.ID)

	// The owner leaves and comes back: still the owner, never locked out.
	owner.close()
	link.expect("member.left", emp.ID)
	want(t, join(t, c, emp, id, "web"), http.StatusOK, "")
	owner = connect(t, c, emp, id, "web")
	owner.ok("member.remove", map[string]any{"userId": viaLink.ID})
	link.waitClosed()
}
