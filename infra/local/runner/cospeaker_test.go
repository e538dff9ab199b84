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

// TestRemoveCoSpeaker: the owner takes a co-speaker off the speakers,
// which frees the seat at once; the owner cannot be removed, nor anyone
// who is not a speaker; a removed co-speaker in the live room is a
// participant from its next join.
func TestRemoveCoSpeaker(t *testing.T) {
	s, clock := stack(t)
	c := newClient(t, s.URL)
	org := newOrganizer(t, c, s.AdminKey, "Fair Inc")
	ev := newEvent(t, c, org, map[string]any{"capacity": 10, "stage": map[string]any{"maxSpeakers": 2}})
	emp := newEmployer(t, c, org, ev, "Acme")
	r := book(c, emp, ev, at("10:00"))
	want(t, r, http.StatusCreated, "")
	var sess sessionOut
	r.decode(t, &sess)
	id := sess.ID
	co, next, stranger := newUser(t, c, "Co"), newUser(t, c, "Next"), newUser(t, c, "Stranger")
	speakers := func(r reply) []string {
		t.Helper()
		var out struct{ Session struct{ Speakers []string } }
		r.decode(t, &out)
		return out.Session.Speakers
	}
	remove := func(who identity, user string) reply {
		return c.do(http.MethodDelete, "/v1/sessions/"+id+"/speakers/"+user, who.Token, nil)
	}

	want(t, c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers", emp.Token, map[string]any{"userId": co.ID}), http.StatusOK, "")
	want(t, c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers", emp.Token, map[string]any{"userId": next.ID}), http.StatusConflict, "speakers_full")
	want(t, remove(co, co.ID), http.StatusForbidden, "forbidden")       // only the owner
	want(t, remove(emp, emp.ID), http.StatusConflict, "conflict")       // the owner stays
	want(t, remove(emp, stranger.ID), http.StatusNotFound, "not_found") // not a speaker
	want(t, c.do(http.MethodDelete, "/v1/sessions/nosuch/speakers/"+co.ID, emp.Token, nil), http.StatusNotFound, "not_found")

	// Live, with the co-speaker on the stage.
	clock.Set(testStart.Add(time.Hour)) // 10:00
	cos := connect(t, c, co, id, "web")
	cos.ok("session.start", nil)
	owner := connect(t, c, emp, id, "web")
	if st := members(owner.state())[co.ID]; st["role"] != "speaker" {
		t.Fatalf("co-speaker joined as %v", st["role"])
	}

	r = remove(emp, co.ID)
	want(t, r, http.StatusOK, "")
	if got := speakers(r); len(got) != 1 || got[0] != emp.ID {
		t.Fatalf("speakers %v, want the owner only", got)
	}
	want(t, remove(emp, co.ID), http.StatusNotFound, "not_found")
	// The seat is free at once.
	r = c.do(http.MethodPost, "/v1/sessions/"+id+"/speakers", emp.Token, map[string]any{"userId": next.ID})
	want(t, r, http.StatusOK, "")
	if got := speakers(r); len(got) != 2 || got[1] != next.ID {
		t.Fatalf("speakers %v, want the owner and %s", got, next.ID)
	}

	// Its next join makes the removed co-speaker a participant.
	cos.close()
	owner.expect("member.left", co.ID)
	cos = connect(t, c, co, id, "web")
	if st := members(owner.state())[co.ID]; st["role"] != "participant" {
		t.Fatalf("removed co-speaker rejoined as %v", st["role"])
	}
	_ = cos
}
