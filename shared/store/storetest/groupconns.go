package storetest

import (
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// testGroupConnections checks the sockets of a group's live chat: filed
// with their group, listed while alive, forgotten with their record.
func testGroupConnections(t *testing.T, open Opener) {
	t.Run("put, list, get and delete", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		now := wallNow()
		g, _ := mustGroup(t, s)
		other, _ := mustGroup(t, s)
		groupConn := func(group domain.GroupID, at time.Time) store.Connection {
			c := newConnection(at, at)
			c.SessionID, c.Device, c.GroupID = "", "", group
			return c
		}
		a, b := groupConn(g.ID, now), groupConn(g.ID, now)
		elsewhere := groupConn(other.ID, now)
		old := groupConn(g.ID, now.Add(-store.ConnectionTTL-time.Minute))
		for _, c := range []store.Connection{a, b, elsewhere, old} {
			wantErr(t, "PutGroupConnection", s.PutGroupConnection(ctx, c), nil)
		}
		// The record maps the connection back to its group.
		wantConnection(t, s, a)

		got, err := s.ListGroupConnections(ctx, g.ID)
		wantErr(t, "ListGroupConnections", err, nil)
		want := map[domain.ConnectionID]store.Connection{a.ID: a, b.ID: b}
		if len(got) != len(want) {
			t.Fatalf("ListGroupConnections = %+v, want %v and %v (not the expired one)", got, a.ID, b.ID)
		}
		for i, c := range got {
			w, ok := want[c.ID]
			if !ok || c.UserID != w.UserID || c.GroupID != g.ID || !c.ConnectedAt.Equal(w.ConnectedAt) {
				t.Fatalf("ListGroupConnections[%d] = %+v, want one of %+v", i, c, want)
			}
			if i > 0 && got[i-1].ID >= c.ID {
				t.Fatalf("ListGroupConnections not ordered by id: %+v", got)
			}
		}

		wantErr(t, "DeleteGroupConnection", s.DeleteGroupConnection(ctx, g.ID, a.ID), nil)
		wantErr(t, "DeleteGroupConnection again", s.DeleteGroupConnection(ctx, g.ID, a.ID), nil)
		_, err = s.GetConnection(ctx, a.ID)
		wantErr(t, "GetConnection after DeleteGroupConnection", err, store.ErrNotFound)
		got, err = s.ListGroupConnections(ctx, g.ID)
		wantErr(t, "ListGroupConnections after delete", err, nil)
		if len(got) != 1 || got[0].ID != b.ID {
			t.Fatalf("ListGroupConnections after delete = %+v, want only %v", got, b.ID)
		}
		got, err = s.ListGroupConnections(ctx, "nosuchgroup")
		wantErr(t, "ListGroupConnections(missing)", err, nil)
		if len(got) != 0 {
			t.Fatalf("ListGroupConnections(missing) = %+v, want none", got)
		}
	})
}
