package storetest

import (
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// testUserSessions checks a user's list of sessions: one entry per
// session, the latest first, expired entries gone.
func testUserSessions(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	u, other := newUser(), newUser()
	now := wallNow()
	entry := func(id domain.SessionID, at time.Duration, expires time.Duration) store.UserSession {
		return store.UserSession{UserID: u, SessionID: id, At: now.Add(at), Expires: now.Add(expires)}
	}
	a, b, c, gone := entry("sa", 0, time.Hour), entry("sb", time.Second, time.Hour), entry("sc", 2*time.Second, time.Hour), entry("sd", 3*time.Second, -time.Second)
	for _, e := range []store.UserSession{a, b, c, gone} {
		wantErr(t, "PutUserSession", s.PutUserSession(ctx, e), nil)
	}
	wantErr(t, "PutUserSession(other)", s.PutUserSession(ctx, store.UserSession{UserID: other, SessionID: "sa", At: now, Expires: now.Add(time.Hour)}), nil)
	got, err := s.ListUserSessions(ctx, u, 10)
	wantErr(t, "ListUserSessions", err, nil)
	if !equal(got, []store.UserSession{c, b, a}) {
		t.Fatalf("ListUserSessions = %+v, want sc, sb, sa", got)
	}
	// Joining again moves the entry to the top; it stays one entry.
	a2 := entry("sa", 5*time.Second, 2*time.Hour)
	wantErr(t, "PutUserSession(again)", s.PutUserSession(ctx, a2), nil)
	got, err = s.ListUserSessions(ctx, u, 2)
	wantErr(t, "ListUserSessions(2)", err, nil)
	if !equal(got, []store.UserSession{a2, c}) {
		t.Fatalf("ListUserSessions(2) = %+v, want sa, sc", got)
	}
	if got, _ := s.ListUserSessions(ctx, newUser(), 10); len(got) != 0 {
		t.Fatalf("a stranger's sessions = %+v", got)
	}
}
