package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// testAddSpeaker checks that co-speakers are named within the limit, once
// each, and that an over or missing session refuses them.
func testAddSpeaker(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 5, MaxSessions: 5, SessionsPerSlot: 5}

	t.Run("within the limit, once each", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		ev, emps := mustEvent(t, s, lim, 1)
		sess := mustBook(t, s, ev, emps[0], 0)
		a, b, c := newUser(), newUser(), newUser()
		got, err := s.AddSpeaker(ctx, sess.ID, a, 3)
		wantErr(t, "AddSpeaker(a)", err, nil)
		if want := []domain.UserID{domain.UserID(emps[0].ID), a}; !slices.Equal(got.Speakers, want) {
			t.Fatalf("speakers %v, want %v", got.Speakers, want)
		}
		_, err = s.AddSpeaker(ctx, sess.ID, a, 3)
		wantErr(t, "AddSpeaker(a) again", err, nil)
		_, err = s.AddSpeaker(ctx, sess.ID, b, 3)
		wantErr(t, "AddSpeaker(b)", err, nil)
		_, err = s.AddSpeaker(ctx, sess.ID, c, 3)
		wantErr(t, "AddSpeaker(c) past the limit", err, store.ErrSpeakersFull)
		// A speaker already named is still accepted at the limit.
		_, err = s.AddSpeaker(ctx, sess.ID, b, 3)
		wantErr(t, "AddSpeaker(b) at the limit", err, nil)
		if got := mustSession(t, s, sess.ID).Speakers; len(got) != 3 || got[2] != b {
			t.Fatalf("stored speakers %v", got)
		}
	})

	t.Run("not found and over", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		_, err := s.AddSpeaker(ctx, "nosuchsession", newUser(), 4)
		wantErr(t, "AddSpeaker(missing)", err, store.ErrNotFound)
		ev, emps := mustEvent(t, s, lim, 1)
		sess := mustBook(t, s, ev, emps[0], 0)
		_, err = s.UpdateSession(ctx, sess.ID, func(x *domain.Session) error {
			x.Status = domain.StatusEnded
			return nil
		})
		wantErr(t, "UpdateSession(end)", err, nil)
		_, err = s.AddSpeaker(ctx, sess.ID, newUser(), 4)
		wantErr(t, "AddSpeaker(ended)", err, store.ErrSessionOver)
	})

	t.Run("racing for the last seat", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		ev, emps := mustEvent(t, s, lim, 1)
		sess := mustBook(t, s, ev, emps[0], 0)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.AddSpeaker(ctx, sess.ID, newUser(), 4)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, store.ErrSpeakersFull):
				t.Fatalf("AddSpeaker: %v", err)
			}
		}
		if ok != 3 {
			t.Fatalf("%d speakers added, want 3", ok)
		}
		if got := mustSession(t, s, sess.ID).Speakers; len(got) != 4 {
			t.Fatalf("speakers %v, want 4", got)
		}
	})
}
