package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// mustGroup stores a new group owned by a fresh user.
func mustGroup(t *testing.T, s store.Store) (domain.Group, domain.GroupMember) {
	t.Helper()
	g, owner, err := domain.NewGroup(newUser(), "Owner", "Marketing Analysis", created())
	if err != nil {
		t.Fatalf("NewGroup: %v", err)
	}
	if err := s.CreateGroup(t.Context(), g, owner); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	return g, owner
}

func groupMember(g domain.GroupID, u domain.UserID) domain.GroupMember {
	return domain.GroupMember{GroupID: g, UserID: u, Name: "Member " + string(u), Role: domain.GroupMemberRole, JoinedAt: created()}
}

// testGroups checks groups, their members within the limit, the index of
// a user's groups, the group chat and its rate limiter.
func testGroups(t *testing.T, open Opener) {
	t.Run("create, get, members and a user's groups", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		g, owner := mustGroup(t, s)
		wantErr(t, "CreateGroup again", s.CreateGroup(ctx, g, owner), store.ErrExists)
		got, err := s.GetGroup(ctx, g.ID)
		wantErr(t, "GetGroup", err, nil)
		if !equal(got, g) || got.Members != 1 {
			t.Fatalf("GetGroup = %+v, want %+v", got, g)
		}
		_, err = s.GetGroup(ctx, "nosuchgroup")
		wantErr(t, "GetGroup(missing)", err, store.ErrNotFound)

		u := newUser()
		m := groupMember(g.ID, u)
		added, createdNow, err := s.AddGroupMember(ctx, m, 10)
		wantErr(t, "AddGroupMember", err, nil)
		if !createdNow || !equal(added, m) {
			t.Fatalf("AddGroupMember = %+v, %v", added, createdNow)
		}
		again := m
		again.Name = "Renamed"
		added, createdNow, err = s.AddGroupMember(ctx, again, 10)
		wantErr(t, "AddGroupMember again", err, nil)
		if createdNow || !equal(added, m) {
			t.Fatalf("AddGroupMember again = %+v, %v; want the stored member", added, createdNow)
		}
		if got, _ := s.GetGroup(ctx, g.ID); got.Members != 2 {
			t.Fatalf("members %d, want 2", got.Members)
		}
		_, _, err = s.AddGroupMember(ctx, groupMember("nosuchgroup", u), 10)
		wantErr(t, "AddGroupMember(no group)", err, store.ErrNotFound)

		gm, err := s.GetGroupMember(ctx, g.ID, u)
		wantErr(t, "GetGroupMember", err, nil)
		if !equal(gm, m) {
			t.Fatalf("GetGroupMember = %+v, want %+v", gm, m)
		}
		_, err = s.GetGroupMember(ctx, g.ID, newUser())
		wantErr(t, "GetGroupMember(stranger)", err, store.ErrNotFound)

		list, err := s.ListGroupMembers(ctx, g.ID)
		wantErr(t, "ListGroupMembers", err, nil)
		if len(list) != 2 {
			t.Fatalf("ListGroupMembers = %+v", list)
		}
		for i := 1; i < len(list); i++ {
			if list[i-1].UserID >= list[i].UserID {
				t.Fatalf("members out of order: %+v", list)
			}
		}

		g2, _ := mustGroup(t, s)
		_, _, err = s.AddGroupMember(ctx, groupMember(g2.ID, u), 10)
		wantErr(t, "AddGroupMember(g2)", err, nil)
		groups, err := s.ListUserGroups(ctx, u)
		wantErr(t, "ListUserGroups", err, nil)
		if len(groups) != 2 || groups[0].ID >= groups[1].ID {
			t.Fatalf("ListUserGroups = %+v", groups)
		}
		for _, gr := range groups {
			if gr.Members != 2 {
				t.Fatalf("group %s counts %d members, want 2", gr.ID, gr.Members)
			}
		}
		if groups, err := s.ListUserGroups(ctx, owner.UserID); err != nil || len(groups) != 1 || groups[0].ID != g.ID {
			t.Fatalf("owner's groups = %+v, %v", groups, err)
		}
		if groups, err := s.ListUserGroups(ctx, newUser()); err != nil || len(groups) != 0 {
			t.Fatalf("a stranger's groups = %+v, %v", groups, err)
		}
	})

	t.Run("members race for the last places", func(t *testing.T) {
		s := open(t)
		g, _ := mustGroup(t, s)
		const n, limit = 10, 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = s.AddGroupMember(t.Context(), groupMember(g.ID, newUser()), limit)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrGroupFull):
				t.Fatalf("AddGroupMember: %v", err)
			}
		}
		if ok != limit-1 {
			t.Fatalf("%d members added, want %d", ok, limit-1)
		}
		if got, _ := s.GetGroup(t.Context(), g.ID); got.Members != limit {
			t.Fatalf("members %d, want %d", got.Members, limit)
		}
		if list, _ := s.ListGroupMembers(t.Context(), g.ID); len(list) != limit {
			t.Fatalf("%d members listed, want %d", len(list), limit)
		}
	})

	t.Run("chat and its limiter", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		g, owner := mustGroup(t, s)
		now := wallNow()
		var want []store.GroupMessage
		for i := range 4 {
			m := store.GroupMessage{GroupID: g.ID, ID: domain.NewID(12), Kind: domain.GroupMessageText, UserID: owner.UserID, Name: "Owner", Text: "hello", At: now.Add(time.Duration(i) * time.Second)}
			if i == 2 {
				m.Kind, m.Text, m.SessionID = domain.GroupMessageSession, "", "sess1"
			}
			wantErr(t, "AddGroupChat", s.AddGroupChat(ctx, m), nil)
			want = append(want, m)
		}
		got, err := s.RecentGroupChat(ctx, g.ID, 3)
		wantErr(t, "RecentGroupChat", err, nil)
		if !equal(got, want[1:]) {
			t.Fatalf("RecentGroupChat = %+v, want %+v", got, want[1:])
		}
		if got, _ := s.RecentGroupChat(ctx, "othergroup", 3); len(got) != 0 {
			t.Fatalf("another group's chat = %+v", got)
		}

		t1 := now.Add(time.Minute)
		wantErr(t, "SetGroupChatLimit", s.SetGroupChatLimit(ctx, g.ID, owner.UserID, time.Time{}, t1), nil)
		wantErr(t, "SetGroupChatLimit(stale)", s.SetGroupChatLimit(ctx, g.ID, owner.UserID, time.Time{}, t1.Add(time.Second)), store.ErrStale)
		wantErr(t, "SetGroupChatLimit(stranger)", s.SetGroupChatLimit(ctx, g.ID, newUser(), time.Time{}, t1), store.ErrNotFound)
		m, err := s.GetGroupMember(ctx, g.ID, owner.UserID)
		wantErr(t, "GetGroupMember", err, nil)
		if !m.ChatLimit.Equal(t1) {
			t.Fatalf("chat limit %v, want %v", m.ChatLimit, t1)
		}
		wantErr(t, "SetGroupChatLimit(next)", s.SetGroupChatLimit(ctx, g.ID, owner.UserID, m.ChatLimit, t1.Add(time.Second)), nil)
	})
}

// testRemoveGroupMember checks that a member leaves or is removed with
// the count of members kept right, under races too, and that the owner
// leaves only when alone, which closes the group.
func testRemoveGroupMember(t *testing.T, open Opener) {
	members := func(t *testing.T, s store.Store, g domain.GroupID) int {
		t.Helper()
		got, err := s.GetGroup(t.Context(), g)
		wantErr(t, "GetGroup", err, nil)
		return got.Members
	}
	t.Run("a member leaves", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		g, owner := mustGroup(t, s)
		u := newUser()
		_, _, err := s.AddGroupMember(ctx, groupMember(g.ID, u), 10)
		wantErr(t, "AddGroupMember", err, nil)
		wantErr(t, "RemoveGroupMember", s.RemoveGroupMember(ctx, g.ID, u), nil)
		_, err = s.GetGroupMember(ctx, g.ID, u)
		wantErr(t, "GetGroupMember(removed)", err, store.ErrNotFound)
		if n := members(t, s, g.ID); n != 1 {
			t.Fatalf("members %d, want 1", n)
		}
		list, err := s.ListGroupMembers(ctx, g.ID)
		wantErr(t, "ListGroupMembers", err, nil)
		if len(list) != 1 || list[0].UserID != owner.UserID {
			t.Fatalf("members %+v, want the owner only", list)
		}
		groups, err := s.ListUserGroups(ctx, u)
		wantErr(t, "ListUserGroups", err, nil)
		if len(groups) != 0 {
			t.Fatalf("the removed member's groups %+v, want none", groups)
		}
		wantErr(t, "RemoveGroupMember again", s.RemoveGroupMember(ctx, g.ID, u), store.ErrNotFound)
		wantErr(t, "RemoveGroupMember(missing group)", s.RemoveGroupMember(ctx, "nosuchgroup", u), store.ErrNotFound)
		// An invite brings it back.
		_, createdNow, err := s.AddGroupMember(ctx, groupMember(g.ID, u), 10)
		wantErr(t, "AddGroupMember again", err, nil)
		if !createdNow || members(t, s, g.ID) != 2 {
			t.Fatalf("rejoined: created %v, members %d", createdNow, members(t, s, g.ID))
		}
	})

	t.Run("the owner leaves only when alone", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		g, owner := mustGroup(t, s)
		u := newUser()
		_, _, err := s.AddGroupMember(ctx, groupMember(g.ID, u), 10)
		wantErr(t, "AddGroupMember", err, nil)
		wantErr(t, "RemoveGroupMember(owner)", s.RemoveGroupMember(ctx, g.ID, owner.UserID), store.ErrGroupOwner)
		wantErr(t, "RemoveGroupMember(u)", s.RemoveGroupMember(ctx, g.ID, u), nil)
		wantErr(t, "RemoveGroupMember(owner alone)", s.RemoveGroupMember(ctx, g.ID, owner.UserID), nil)
		if n := members(t, s, g.ID); n != 0 {
			t.Fatalf("members %d, want 0", n)
		}
		// The group is gone: nobody joins it any more.
		_, _, err = s.AddGroupMember(ctx, groupMember(g.ID, newUser()), 10)
		wantErr(t, "AddGroupMember(closed)", err, store.ErrNotFound)
	})

	t.Run("racing leaves and joins", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		g, _ := mustGroup(t, s)
		const n = 6
		leavers := make([]domain.UserID, n)
		for i := range leavers {
			leavers[i] = newUser()
			_, _, err := s.AddGroupMember(ctx, groupMember(g.ID, leavers[i]), 200)
			wantErr(t, "AddGroupMember", err, nil)
		}
		var wg sync.WaitGroup
		leaveErrs := make([]error, 2*n)
		for i := range leaveErrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				leaveErrs[i] = s.RemoveGroupMember(ctx, g.ID, leavers[i/2])
			}()
		}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := s.AddGroupMember(ctx, groupMember(g.ID, newUser()), 200)
				if err != nil {
					t.Errorf("AddGroupMember: %v", err)
				}
			}()
		}
		wg.Wait()
		left := 0
		for _, err := range leaveErrs {
			switch {
			case err == nil:
				left++
			case !errors.Is(err, store.ErrNotFound):
				t.Fatalf("RemoveGroupMember: %v", err)
			}
		}
		if left != n {
			t.Fatalf("%d leaves succeeded, want %d", left, n)
		}
		list, err := s.ListGroupMembers(ctx, g.ID)
		wantErr(t, "ListGroupMembers", err, nil)
		if got := members(t, s, g.ID); got != 1+n || len(list) != got {
			t.Fatalf("count %d, %d listed; want %d", got, len(list), 1+n)
		}
	})
}
