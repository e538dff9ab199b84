package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// wantDue fails unless DueSessions(now, limit) settles on want, in order.
func wantDue(t *testing.T, s store.Store, now time.Time, limit int, want ...domain.SessionID) {
	t.Helper()
	want = nilIfEmpty(want)
	eventually(t, func() string {
		got, err := s.DueSessions(t.Context(), now, limit)
		if err != nil {
			return fmt.Sprintf("DueSessions: %v", err)
		}
		if !slices.Equal(nilIfEmpty(got), want) {
			return fmt.Sprintf("DueSessions(%v, %d) = %v, want %v", now, limit, got, want)
		}
		return ""
	})
}

// tick applies the rules of time at now, as the scheduler does.
func tick(now time.Time) func(*domain.Session) error {
	return func(x *domain.Session) error {
		if len(x.Tick(now)) == 0 {
			return domain.ErrNoChange
		}
		return nil
	}
}

func testDueSessions(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 10, MaxSessions: 10, SessionsPerSlot: 1}
	// A scheduled session is due StartWindow before its slot.
	dueAt := func(slot int) time.Time { return slotStart(slot).Add(-domain.StartWindow) }

	t.Run("OrderAndLimit", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 1)
		// Booked out of order; an instant session is due for nothing.
		late := mustBook(t, s, ev, emps[0], 5)
		first := mustBook(t, s, ev, emps[0], 0)
		mid := mustBook(t, s, ev, emps[0], 2)
		mustHosted(t, s, 10)

		wantDue(t, s, dueAt(0).Add(-time.Nanosecond), 10)
		wantDue(t, s, dueAt(0), 10, first.ID)
		wantDue(t, s, dueAt(2), 10, first.ID, mid.ID)
		wantDue(t, s, dueAt(5).Add(-time.Second), 10, first.ID, mid.ID)
		wantDue(t, s, dueAt(5), 10, first.ID, mid.ID, late.ID)
		wantDue(t, s, day().AddDate(1, 0, 0), 10, first.ID, mid.ID, late.ID)
		wantDue(t, s, day().AddDate(1, 0, 0), 2, first.ID, mid.ID)
		wantDue(t, s, day().AddDate(1, 0, 0), 1, first.ID)
	})

	t.Run("FollowsNextDue", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 1)
		sess := mustBook(t, s, ev, emps[0], 4)
		wantDue(t, s, dueAt(4), 10, sess.ID)

		// Opened, the session is next due at the end of its slot.
		opened := mustUpdate(t, s, sess.ID, tick(dueAt(4)))
		if opened.Status != domain.StatusOpen {
			t.Fatalf("status after the start window = %q, want open", opened.Status)
		}
		wantDue(t, s, sess.End.Add(-time.Second), 10)
		wantDue(t, s, sess.End, 10, sess.ID)

		// Ended, it is never due again.
		ended := mustUpdate(t, s, sess.ID, tick(sess.End))
		if ended.Status != domain.StatusEnded || !ended.NextDue().IsZero() {
			t.Fatalf("after its end: status %q, next due %v; want ended, none", ended.Status, ended.NextDue())
		}
		wantDue(t, s, day().AddDate(1, 0, 0), 10)
	})

	t.Run("OverNeverReturned", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 1)
		kept := mustBook(t, s, ev, emps[0], 1)
		ended := mustBook(t, s, ev, emps[0], 0)
		expired := mustBook(t, s, ev, emps[0], 2)
		mustUpdate(t, s, ended.ID, func(x *domain.Session) error {
			x.Status = domain.StatusEnded
			return nil
		})
		mustUpdate(t, s, expired.ID, func(x *domain.Session) error {
			x.Status = domain.StatusExpired
			return nil
		})
		wantDue(t, s, day().AddDate(1, 0, 0), 10, kept.ID)
	})

	t.Run("InstantHostAway", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 10)
		at := created()
		const conn = domain.ConnectionID("c1")
		// Connected, the host is not due: its connection is (the
		// scheduler reaps it once API Gateway has closed it); away, the
		// session is due when the rejoin window closes.
		mustUpdate(t, s, sess.ID, func(x *domain.Session) error {
			if err := join(x.HostID, "Host", at)(x); err != nil {
				return err
			}
			_, err := x.Connect(x.HostID, conn, at)
			return err
		})
		wantDue(t, s, at.Add(domain.MaxConnectionAge), 10)

		left := at.Add(time.Minute)
		mustUpdate(t, s, sess.ID, func(x *domain.Session) error {
			_, err := x.Disconnect(conn, left)
			return err
		})
		wantDue(t, s, left.Add(domain.HostRejoinWindow-time.Second), 10)
		wantDue(t, s, left.Add(domain.HostRejoinWindow), 10, sess.ID)

		expired := mustUpdate(t, s, sess.ID, tick(left.Add(domain.HostRejoinWindow)))
		if expired.Status != domain.StatusExpired {
			t.Fatalf("status after the rejoin window = %q, want expired", expired.Status)
		}
		wantDue(t, s, day().AddDate(1, 0, 0), 10)
	})
}
