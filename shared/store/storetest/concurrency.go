package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// race runs f(0) … f(n-1) in n goroutines released together, and returns
// their errors by index once all have returned.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts errs by the sentinel they match; nil counts as success.
// It fails the test on an error that matches none of allowed.
func tally(t *testing.T, what string, errs []error, allowed ...error) map[error]int {
	t.Helper()
	out := make(map[error]int)
outer:
	for _, err := range errs {
		if err == nil {
			out[nil]++
			continue
		}
		for _, a := range allowed {
			if errors.Is(err, a) {
				out[a]++
				continue outer
			}
		}
		t.Errorf("%s: unexpected error %v", what, err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return out
}

func testConcurrency(t *testing.T, open Opener) {
	t.Run("RegisterBeyondCapacity", func(t *testing.T) {
		const users, capacity = 200, 50
		s := open(t)
		sess := mustHosted(t, s, capacity)
		ids := make([]domain.UserID, users)
		for i := range ids {
			ids[i] = newUser()
		}
		createdNow := make([]bool, users)
		errs := race(users, func(i int) error {
			_, c, err := s.Register(t.Context(), registration(sess.ID, ids[i]))
			createdNow[i] = c
			return err
		})
		got := tally(t, "Register", errs, store.ErrSessionFull)
		if got[nil] != capacity || got[store.ErrSessionFull] != users-capacity {
			t.Fatalf("%d concurrent registrations for %d spots: %d succeeded, %d full; want %d and %d",
				users, capacity, got[nil], got[store.ErrSessionFull], capacity, users-capacity)
		}
		wantRegistered(t, s, sess.ID, capacity)
		for i, err := range errs {
			_, gerr := s.GetRegistration(t.Context(), sess.ID, ids[i])
			switch {
			case err == nil && !createdNow[i]:
				t.Errorf("user %d: registered with created = false on the first registration", i)
			case err == nil && gerr != nil:
				t.Errorf("user %d: registered but GetRegistration: %v", i, gerr)
			case err != nil && !errors.Is(gerr, store.ErrNotFound):
				t.Errorf("user %d: refused but GetRegistration: %v, want ErrNotFound", i, gerr)
			}
		}
	})

	t.Run("RegisterRepeats", func(t *testing.T) {
		const repeats = 20
		s := open(t)
		sess := mustHosted(t, s, 5)
		u := newUser()
		regs := make([]domain.Registration, repeats)
		createdNow := make([]bool, repeats)
		errs := race(repeats, func(i int) error {
			r := registration(sess.ID, u)
			r.CreatedAt = r.CreatedAt.Add(time.Duration(i) * time.Second)
			var err error
			regs[i], createdNow[i], err = s.Register(t.Context(), r)
			return err
		})
		if got := tally(t, "Register", errs); got[nil] != repeats {
			t.Fatalf("%d of %d repeats succeeded", got[nil], repeats)
		}
		stored, err := s.GetRegistration(t.Context(), sess.ID, u)
		wantErr(t, "GetRegistration", err, nil)
		first := 0
		for i := range repeats {
			if createdNow[i] {
				first++
			}
			if !equal(regs[i], stored) {
				t.Errorf("repeat %d returned %+v, want the stored %+v", i, regs[i], stored)
			}
		}
		if first != 1 {
			t.Errorf("%d concurrent repeats: %d returned created = true, want 1", repeats, first)
		}
		wantRegistered(t, s, sess.ID, 1)
	})

	t.Run("RegisterCancelStorm", func(t *testing.T) {
		const users, capacity, rounds = 20, 5, 10
		s := open(t)
		sess := mustHosted(t, s, capacity)
		ids := make([]domain.UserID, users)
		for i := range ids {
			ids[i] = newUser()
		}
		// Each user registers and cancels rounds times, then registers
		// once more. Only its own goroutine touches its registration, so
		// a cancel must succeed exactly when the register before it did.
		final := race(users, func(i int) error {
			r := registration(sess.ID, ids[i])
			for range rounds {
				_, _, rerr := s.Register(t.Context(), r)
				if rerr != nil && !errors.Is(rerr, store.ErrSessionFull) {
					return rerr
				}
				cerr := s.CancelRegistration(t.Context(), sess.ID, ids[i])
				switch {
				case rerr == nil && cerr != nil:
					return cerr
				case rerr != nil && !errors.Is(cerr, store.ErrNotFound):
					return errors.Join(errors.New("cancel after a refused register did not return ErrNotFound"), cerr)
				}
			}
			_, _, err := s.Register(t.Context(), r)
			return err
		})
		got := tally(t, "register/cancel", final, store.ErrSessionFull)
		if got[nil] > capacity {
			t.Fatalf("%d users hold a spot in a session of capacity %d", got[nil], capacity)
		}
		stored := 0
		for i, err := range final {
			_, gerr := s.GetRegistration(t.Context(), sess.ID, ids[i])
			switch {
			case gerr == nil:
				stored++
			case !errors.Is(gerr, store.ErrNotFound):
				t.Fatalf("GetRegistration: %v", gerr)
			}
			if (err == nil) != (gerr == nil) {
				t.Errorf("user %d: last Register returned %v but GetRegistration %v", i, err, gerr)
			}
		}
		if stored != got[nil] {
			t.Errorf("%d registrations stored, %d last registrations succeeded", stored, got[nil])
		}
		wantRegistered(t, s, sess.ID, stored)
	})

	t.Run("BookByOneEmployer", func(t *testing.T) {
		const attempts, perEmployer = 20, 3
		s := open(t)
		ev, emps := mustEvent(t, s, store.BookingLimits{
			MaxSessionsPerEmployer: perEmployer, MaxSessions: 100, SessionsPerSlot: 100,
		}, 1)
		sessions := make([]domain.Session, attempts)
		for i := range sessions {
			sessions[i] = scheduled(t, ev, emps[0], i%slotsPerEvent)
		}
		errs := race(attempts, func(i int) error {
			return s.BookSession(t.Context(), sessions[i], store.LimitsOf(ev))
		})
		got := tally(t, "BookSession", errs, store.ErrEmployerLimit)
		if got[nil] != perEmployer {
			t.Fatalf("%d concurrent bookings by one employer allowed %d: %d succeeded", attempts, perEmployer, got[nil])
		}
		wantBooked(t, s, ev, emps, perEmployer, []int{perEmployer})
	})

	t.Run("BookOneSlot", func(t *testing.T) {
		const attempts, perSlot = 20, 4
		s := open(t)
		ev, emps := mustEvent(t, s, store.BookingLimits{
			MaxSessionsPerEmployer: 1, MaxSessions: 100, SessionsPerSlot: perSlot,
		}, attempts)
		sessions := make([]domain.Session, attempts)
		for i := range sessions {
			sessions[i] = scheduled(t, ev, emps[i], 7)
		}
		errs := race(attempts, func(i int) error {
			return s.BookSession(t.Context(), sessions[i], store.LimitsOf(ev))
		})
		got := tally(t, "BookSession", errs, store.ErrSlotFull)
		if got[nil] != perSlot {
			t.Fatalf("%d concurrent bookings of a slot for %d: %d succeeded", attempts, perSlot, got[nil])
		}
		perEmp := make([]int, attempts)
		for i, err := range errs {
			if err == nil {
				perEmp[i] = 1
			}
		}
		wantBooked(t, s, ev, emps, perSlot, perEmp)
		if u := slotUsage(t, s, ev.ID); u[slotStart(7).Unix()] != perSlot || len(u) != 1 {
			t.Fatalf("SlotUsage = %v, want %d sessions in slot 7 only", u, perSlot)
		}
	})

	t.Run("BookOneEvent", func(t *testing.T) {
		const attempts, maxSessions = 20, 5
		s := open(t)
		ev, emps := mustEvent(t, s, store.BookingLimits{
			MaxSessionsPerEmployer: 1, MaxSessions: maxSessions, SessionsPerSlot: 1,
		}, attempts)
		sessions := make([]domain.Session, attempts)
		for i := range sessions {
			sessions[i] = scheduled(t, ev, emps[i], i%slotsPerEvent)
		}
		errs := race(attempts, func(i int) error {
			return s.BookSession(t.Context(), sessions[i], store.LimitsOf(ev))
		})
		got := tally(t, "BookSession", errs, store.ErrEventLimit)
		if got[nil] != maxSessions {
			t.Fatalf("%d concurrent bookings in an event for %d: %d succeeded", attempts, maxSessions, got[nil])
		}
		perEmp := make([]int, attempts)
		for i, err := range errs {
			if err == nil {
				perEmp[i] = 1
			}
		}
		wantBooked(t, s, ev, emps, maxSessions, perEmp)
	})
}

// wantBooked fails unless the event counts n sessions, lists n sessions,
// and each employer counts what perEmployer says.
func wantBooked(t *testing.T, s store.Store, ev domain.Event, emps []domain.Employer, n int, perEmployer []int) {
	t.Helper()
	c := countsOf(t, s, ev, emps)
	total := 0
	for _, k := range c.slots {
		total += k
	}
	if c.event != n || c.sessions != n || total != n {
		t.Fatalf("event counts %d booked, lists %d sessions, slots hold %d; want %d of each",
			c.event, c.sessions, total, n)
	}
	for i := range emps {
		if c.employers[i] != perEmployer[i] {
			t.Fatalf("employer %d counts %d sessions, want %d", i, c.employers[i], perEmployer[i])
		}
	}
}
