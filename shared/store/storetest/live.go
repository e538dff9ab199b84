package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// mustUpdate applies fn to a session with UpdateSession and fails on any
// error.
func mustUpdate(t *testing.T, s store.Store, id domain.SessionID, fn func(*domain.Session) error) domain.Session {
	t.Helper()
	got, err := s.UpdateSession(t.Context(), id, fn)
	if err != nil {
		t.Fatalf("UpdateSession(%s): %v", id, err)
	}
	return got
}

// join admits u to the session and returns the change as an UpdateSession
// function.
func join(u domain.UserID, name string, at time.Time) func(*domain.Session) error {
	return func(x *domain.Session) error {
		_, err := x.Admit(domain.Joiner{UserID: u, Name: name, Device: domain.DeviceMobile}, at)
		return err
	}
}

// wantStored fails unless GetSession returns what UpdateSession returned.
func wantStored(t *testing.T, s store.Store, want domain.Session) {
	t.Helper()
	if got := mustSession(t, s, want.ID); !equal(got, want) {
		t.Fatalf("GetSession = %+v,\nwant what UpdateSession returned %+v", got, want)
	}
}

func testUpdateSession(t *testing.T, open Opener) {
	at := created()

	t.Run("StoresLiveState", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 30)
		presenter := newUser()
		got := mustUpdate(t, s, sess.ID, func(x *domain.Session) error {
			if err := join(x.HostID, "Host", at)(x); err != nil {
				return err
			}
			if err := join(presenter, "Pat", at)(x); err != nil {
				return err
			}
			x.Status = domain.StatusLive
			x.PresenterID = presenter
			x.Live.StartedAt = at
			return nil
		})
		if got.Version != sess.Version+1 {
			t.Fatalf("Version = %d, want %d", got.Version, sess.Version+1)
		}
		if got.Status != domain.StatusLive || got.PresenterID != presenter || !got.Live.StartedAt.Equal(at) {
			t.Fatalf("UpdateSession returned status %q, presenter %q, started %v; want live, %q, %v",
				got.Status, got.PresenterID, got.Live.StartedAt, presenter, at)
		}
		if m, ok := got.Member(presenter); !ok || m.Name != "Pat" || m.Role != domain.RoleParticipant {
			t.Fatalf("presenter's member = %+v, %v", m, ok)
		}
		if len(got.Live.Members) != 2 {
			t.Fatalf("%d members, want 2", len(got.Live.Members))
		}
		wantStored(t, s, got)

		// A second change builds on the first and clears the presenter.
		again := mustUpdate(t, s, sess.ID, func(x *domain.Session) error {
			if len(x.Live.Members) != 2 {
				return fmt.Errorf("fn sees %d members, want 2", len(x.Live.Members))
			}
			x.PresenterID = ""
			_, err := x.RaiseHand(presenter, at)
			return err
		})
		if again.Version != sess.Version+2 || again.PresenterID != "" || len(again.Hands()) != 1 {
			t.Fatalf("second update: version %d, presenter %q, %d hands; want %d, none, 1",
				again.Version, again.PresenterID, len(again.Hands()), sess.Version+2)
		}
		wantStored(t, s, again)
	})

	t.Run("FnErrorStoresNothing", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 30)
		before := mustUpdate(t, s, sess.ID, join(sess.HostID, "Host", at))
		errBoom := errors.New("boom")
		for _, want := range []error{errBoom, domain.ErrNoChange, domain.ErrStageFull} {
			calls := 0
			got, err := s.UpdateSession(t.Context(), sess.ID, func(x *domain.Session) error {
				calls++
				// Change everything on the way, then fail.
				x.Status = domain.StatusEnded
				x.PresenterID = newUser()
				x.Live.Members[0].Name = "Changed"
				x.Live.Members = append(x.Live.Members, domain.Member{UserID: newUser()})
				x.Live.Seq = 99
				return fmt.Errorf("rule: %w", want)
			})
			if !errors.Is(err, want) {
				t.Fatalf("UpdateSession with fn failing with %v: error %v", want, err)
			}
			if calls != 1 {
				t.Fatalf("fn called %d times, want 1", calls)
			}
			if !equal(got, before) {
				t.Fatalf("UpdateSession with a failing fn returned %+v,\nwant the session as read %+v", got, before)
			}
			wantStored(t, s, before)
		}
	})

	t.Run("UnknownSession", func(t *testing.T) {
		s := open(t)
		called := false
		_, err := s.UpdateSession(t.Context(), domain.SessionID(domain.NewID(12)), func(*domain.Session) error {
			called = true
			return nil
		})
		wantErr(t, "UpdateSession of an unknown session", err, store.ErrNotFound)
		if called {
			t.Fatal("fn called for an unknown session")
		}
	})

	t.Run("WritesOnlyLiveFields", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, store.BookingLimits{MaxSessionsPerEmployer: 1, MaxSessions: 1, SessionsPerSlot: 1}, 1)
		sess := mustBook(t, s, ev, emps[0], 3)
		mustRegister(t, s, sess.ID, newUser())
		before := mustSession(t, s, sess.ID)
		got := mustUpdate(t, s, sess.ID, func(x *domain.Session) error {
			x.Status = domain.StatusOpen
			x.Live.Seq = 7
			// None of these may be written.
			x.ID = "elsewhere"
			x.Kind = domain.KindInstant
			x.Title = "Renamed"
			x.EventID, x.EmployerID, x.HostID, x.GroupID = "e", "m", "h", "g"
			x.Speakers = []domain.UserID{"someone"}
			x.Start, x.End = x.Start.Add(time.Hour), x.End.Add(time.Hour)
			x.Capacity = 1
			x.Registered = 40
			x.Stage = domain.StageLimits{MaxSpeakers: 9, MaxParticipants: 9}
			x.CreatedAt = x.CreatedAt.Add(time.Hour)
			x.Version = 100
			return nil
		})
		want := before
		want.Status = domain.StatusOpen
		want.Live.Seq = 7
		want.Version = before.Version + 1
		if !equal(got, want) {
			t.Fatalf("UpdateSession returned %+v,\nwant %+v", got, want)
		}
		wantStored(t, s, want)
		// The ignored Registered did not reach the counter.
		mustRegister(t, s, sess.ID, newUser())
		wantRegistered(t, s, sess.ID, 2)
	})
}

func testUpdateSessionConcurrency(t *testing.T, open Opener) {
	at := created()

	t.Run("OneSeatManyApprovals", func(t *testing.T) {
		const n = 10
		s := open(t)
		sess := mustHosted(t, s, 30)
		if sess.Stage.MaxParticipants != 1 {
			t.Fatalf("instant stage holds %d participants, the test wants 1", sess.Stage.MaxParticipants)
		}
		mustUpdate(t, s, sess.ID, join(sess.HostID, "Host", at))
		users := make([]domain.UserID, n)
		for i := range users {
			users[i] = newUser()
			mustUpdate(t, s, sess.ID, func(x *domain.Session) error {
				if err := join(users[i], fmt.Sprintf("User %d", i), at)(x); err != nil {
					return err
				}
				_, err := x.RaiseHand(users[i], at)
				return err
			})
		}
		before := mustSession(t, s, sess.ID)
		errs := race(n, func(i int) error {
			_, err := s.UpdateSession(t.Context(), sess.ID, func(x *domain.Session) error {
				_, err := x.Approve(x.HostID, users[i])
				return err
			})
			return err
		})
		got := tally(t, "Approve", errs, domain.ErrStageFull)
		if got[nil] != 1 || got[domain.ErrStageFull] != n-1 {
			t.Fatalf("%d concurrent approvals for one seat: %d succeeded, %d stage full; want 1 and %d",
				n, got[nil], got[domain.ErrStageFull], n-1)
		}
		after := mustSession(t, s, sess.ID)
		if after.Version != before.Version+1 {
			t.Fatalf("Version = %d, want %d", after.Version, before.Version+1)
		}
		seated := after.OnStage()
		winner := users[slices.IndexFunc(errs, func(err error) bool { return err == nil })]
		if len(seated) != 2 || !slices.Contains(seated, after.HostID) || !slices.Contains(seated, winner) {
			t.Fatalf("on stage %v; want the host %s and the approved %s", seated, after.HostID, winner)
		}
		if hands := after.Hands(); len(hands) != n-1 {
			t.Fatalf("%d hands raised, want %d", len(hands), n-1)
		}
	})

	t.Run("NoLostUpdates", func(t *testing.T) {
		const n = 50
		s := open(t)
		sess := mustHosted(t, s, 30)
		before := mustUpdate(t, s, sess.ID, join(sess.HostID, "Host", at))
		errs := race(n, func(i int) error {
			_, err := s.UpdateSession(t.Context(), sess.ID, func(x *domain.Session) error {
				_, err := x.Ask(x.HostID, fmt.Sprintf("q%02d", i), "Question", at)
				return err
			})
			return err
		})
		if got := tally(t, "Ask", errs); got[nil] != n {
			t.Fatalf("%d of %d concurrent questions stored", got[nil], n)
		}
		wantQuestions(t, mustSession(t, s, sess.ID), before, n)
	})

	t.Run("WithRegistrationStorm", func(t *testing.T) {
		const users, capacity, rounds, asks = 10, 5, 10, 20
		s := open(t)
		sess := mustHosted(t, s, capacity)
		before := mustUpdate(t, s, sess.ID, join(sess.HostID, "Host", at))
		ids := make([]domain.UserID, users)
		for i := range ids {
			ids[i] = newUser()
		}
		// The first users goroutines register and cancel rounds times and
		// register once more; the others each ask a question meanwhile.
		errs := race(users+asks, func(i int) error {
			if i >= users {
				_, err := s.UpdateSession(t.Context(), sess.ID, func(x *domain.Session) error {
					_, err := x.Ask(x.HostID, fmt.Sprintf("q%02d", i), "Question", at)
					return err
				})
				return err
			}
			for range rounds {
				_, _, rerr := s.Register(t.Context(), registration(sess.ID, ids[i]))
				if rerr != nil && !errors.Is(rerr, store.ErrSessionFull) {
					return rerr
				}
				if rerr == nil {
					if err := s.CancelRegistration(t.Context(), sess.ID, ids[i]); err != nil {
						return err
					}
				}
			}
			_, _, err := s.Register(t.Context(), registration(sess.ID, ids[i]))
			return err
		})
		got := tally(t, "register/cancel/ask", errs, store.ErrSessionFull)
		for i, err := range errs[users:] {
			if err != nil {
				t.Fatalf("question %d: %v", i, err)
			}
		}
		stored := 0
		for _, u := range ids {
			_, err := s.GetRegistration(t.Context(), sess.ID, u)
			switch {
			case err == nil:
				stored++
			case !errors.Is(err, store.ErrNotFound):
				t.Fatalf("GetRegistration: %v", err)
			}
		}
		if stored != got[nil]-asks || stored > capacity {
			t.Fatalf("%d registrations stored, %d last registrations succeeded, capacity %d", stored, got[nil]-asks, capacity)
		}
		after := mustSession(t, s, sess.ID)
		if after.Registered != stored {
			t.Fatalf("Registered = %d with %d registrations stored", after.Registered, stored)
		}
		wantQuestions(t, after, before, asks)
	})
}

// wantQuestions fails unless after holds n more questions than before,
// each once, with Version and Seq grown by n.
func wantQuestions(t *testing.T, after, before domain.Session, n int) {
	t.Helper()
	if after.Version != before.Version+int64(n) {
		t.Fatalf("Version = %d after %d updates, want %d", after.Version, n, before.Version+int64(n))
	}
	if after.Live.Seq != before.Live.Seq+int64(n) {
		t.Fatalf("Live.Seq = %d after %d questions, want %d", after.Live.Seq, n, before.Live.Seq+int64(n))
	}
	ids := map[string]bool{}
	for _, q := range after.Live.Questions {
		ids[q.ID] = true
	}
	if len(after.Live.Questions) != len(before.Live.Questions)+n || len(ids) != len(after.Live.Questions) {
		t.Fatalf("%d questions (%d distinct), want %d", len(after.Live.Questions), len(ids), len(before.Live.Questions)+n)
	}
}
