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

// testRemoveSpeaker checks that a co-speaker is taken off the speakers,
// freeing its seat, that an unnamed user or an over or missing session
// is refused, and that the seat count stays right under races.
func testRemoveSpeaker(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 5, MaxSessions: 5, SessionsPerSlot: 5}

	t.Run("frees the seat", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		ev, emps := mustEvent(t, s, lim, 1)
		sess := mustBook(t, s, ev, emps[0], 0)
		owner := domain.UserID(emps[0].ID)
		a, b, c := newUser(), newUser(), newUser()
		for _, u := range []domain.UserID{a, b} {
			_, err := s.AddSpeaker(ctx, sess.ID, u, 3)
			wantErr(t, "AddSpeaker", err, nil)
		}
		got, err := s.RemoveSpeaker(ctx, sess.ID, a)
		wantErr(t, "RemoveSpeaker(a)", err, nil)
		if want := []domain.UserID{owner, b}; !slices.Equal(got.Speakers, want) {
			t.Fatalf("speakers %v, want %v", got.Speakers, want)
		}
		_, err = s.RemoveSpeaker(ctx, sess.ID, a)
		wantErr(t, "RemoveSpeaker(a) again", err, store.ErrNotSpeaker)
		_, err = s.RemoveSpeaker(ctx, sess.ID, newUser())
		wantErr(t, "RemoveSpeaker(stranger)", err, store.ErrNotSpeaker)
		// The seat a held is free again.
		_, err = s.AddSpeaker(ctx, sess.ID, c, 3)
		wantErr(t, "AddSpeaker(c) in the freed seat", err, nil)
		if got, want := mustSession(t, s, sess.ID).Speakers, []domain.UserID{owner, b, c}; !slices.Equal(got, want) {
			t.Fatalf("stored speakers %v, want %v", got, want)
		}
	})

	t.Run("not found and over", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		_, err := s.RemoveSpeaker(ctx, "nosuchsession", newUser())
		wantErr(t, "RemoveSpeaker(missing)", err, store.ErrNotFound)
		ev, emps := mustEvent(t, s, lim, 1)
		sess := mustBook(t, s, ev, emps[0], 0)
		a := newUser()
		_, err = s.AddSpeaker(ctx, sess.ID, a, 4)
		wantErr(t, "AddSpeaker(a)", err, nil)
		_, err = s.UpdateSession(ctx, sess.ID, func(x *domain.Session) error {
			x.Status = domain.StatusEnded
			return nil
		})
		wantErr(t, "UpdateSession(end)", err, nil)
		_, err = s.RemoveSpeaker(ctx, sess.ID, a)
		wantErr(t, "RemoveSpeaker(ended)", err, store.ErrSessionOver)
	})

	t.Run("racing removes and adds", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		ev, emps := mustEvent(t, s, lim, 1)
		sess := mustBook(t, s, ev, emps[0], 0)
		owner := domain.UserID(emps[0].ID)
		named := []domain.UserID{newUser(), newUser(), newUser()}
		for _, u := range named {
			_, err := s.AddSpeaker(ctx, sess.ID, u, 4)
			wantErr(t, "AddSpeaker", err, nil)
		}
		// Each named speaker is removed twice at once, while newcomers
		// race for the seats: every removal succeeds once, and no more
		// than 4 speakers are ever named.
		const newcomers = 6
		var wg sync.WaitGroup
		removeErrs := make([]error, 2*len(named))
		addErrs := make([]error, newcomers)
		for i := range removeErrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, removeErrs[i] = s.RemoveSpeaker(ctx, sess.ID, named[i/2])
			}()
		}
		for i := range addErrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, addErrs[i] = s.AddSpeaker(ctx, sess.ID, newUser(), 4)
			}()
		}
		wg.Wait()
		removed := 0
		for _, err := range removeErrs {
			switch {
			case err == nil:
				removed++
			case !errors.Is(err, store.ErrNotSpeaker):
				t.Fatalf("RemoveSpeaker: %v", err)
			}
		}
		if removed != len(named) {
			t.Fatalf("%d removals succeeded, want %d", removed, len(named))
		}
		added := 0
		for _, err := range addErrs {
			switch {
			case err == nil:
				added++
			case !errors.Is(err, store.ErrSpeakersFull):
				t.Fatalf("AddSpeaker: %v", err)
			}
		}
		got := mustSession(t, s, sess.ID).Speakers
		if len(got) != 1+added || len(got) > 4 || got[0] != owner {
			t.Fatalf("speakers %v after %d added, want the owner first and at most 4", got, added)
		}
		for _, u := range named {
			if slices.Contains(got, u) {
				t.Fatalf("speakers %v still name removed %s", got, u)
			}
		}
	})
}
