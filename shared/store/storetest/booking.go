package storetest

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

func testBookSession(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 3, MaxSessions: 10, SessionsPerSlot: 2}
	t.Run("StoresAndCounts", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 1)
		sess := scheduled(t, ev, emps[0], 2)
		sess.Speakers = append(sess.Speakers, newUser())
		wantErr(t, "BookSession", s.BookSession(t.Context(), sess, store.LimitsOf(ev)), nil)

		got := mustSession(t, s, sess.ID)
		if !equal(got, sess) {
			t.Fatalf("GetSession = %+v, want %+v", got, sess)
		}
		c := countsOf(t, s, ev, emps)
		want := counts{event: 1, employers: []int{1}, slots: map[int64]int{slotStart(2).Unix(): 1}, sessions: 1}
		if !sameCounts(c, want) {
			t.Fatalf("counts after one booking = %+v, want %+v", c, want)
		}
	})
	t.Run("StartsWithNoRegistrations", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 1)
		sess := scheduled(t, ev, emps[0], 0)
		sess.Registered = 4
		wantErr(t, "BookSession", s.BookSession(t.Context(), sess, store.LimitsOf(ev)), nil)
		wantRegistered(t, s, sess.ID, 0)
	})

	t.Run("NotFound", func(t *testing.T) {
		tests := []struct {
			name string
			// session returns the session to book given a stored event
			// with one employer and a second stored event with one.
			session func(t *testing.T, ev domain.Event, emp domain.Employer, other domain.Employer) domain.Session
		}{
			{"UnknownEvent", func(t *testing.T, ev domain.Event, emp, _ domain.Employer) domain.Session {
				unknown := ev
				unknown.ID = domain.EventID(domain.NewID(12))
				return scheduled(t, unknown, emp, 0)
			}},
			{"UnknownEmployer", func(t *testing.T, ev domain.Event, _, _ domain.Employer) domain.Session {
				return scheduled(t, ev, newEmployer(ev), 0)
			}},
			{"EmployerOfAnotherEvent", func(t *testing.T, ev domain.Event, _, other domain.Employer) domain.Session {
				return scheduled(t, ev, other, 0)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				ev, emps := mustEvent(t, s, lim, 1)
				_, others := mustEvent(t, s, lim, 1)
				sess := tt.session(t, ev, emps[0], others[0])
				before := countsOf(t, s, ev, emps)
				wantErr(t, "BookSession", s.BookSession(t.Context(), sess, store.LimitsOf(ev)), store.ErrNotFound)
				_, err := s.GetSession(t.Context(), sess.ID)
				wantErr(t, "GetSession of a refused booking", err, store.ErrNotFound)
				if after := countsOf(t, s, ev, emps); !sameCounts(before, after) {
					t.Fatalf("a refused booking changed the counts from %+v to %+v", before, after)
				}
			})
		}
	})

	t.Run("SlotIsTheInstantInUTC", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, store.BookingLimits{MaxSessionsPerEmployer: 3, MaxSessions: 10, SessionsPerSlot: 1}, 2)
		mustBook(t, s, ev, emps[0], 1)
		zoned := scheduled(t, ev, emps[1], 1)
		zone := time.FixedZone("UTC+2", 2*60*60)
		zoned.Start, zoned.End = zoned.Start.In(zone), zoned.End.In(zone)
		wantErr(t, "BookSession of the same slot written in UTC+2",
			s.BookSession(t.Context(), zoned, store.LimitsOf(ev)), store.ErrSlotFull)

		other := scheduled(t, ev, emps[1], 3)
		other.Start, other.End = other.Start.In(zone), other.End.In(zone)
		wantErr(t, "BookSession of another slot written in UTC+2",
			s.BookSession(t.Context(), other, store.LimitsOf(ev)), nil)
		want := map[int64]int{slotStart(1).Unix(): 1, slotStart(3).Unix(): 1}
		if got := slotUsage(t, s, ev.ID); !maps.Equal(got, want) {
			t.Fatalf("SlotUsage = %v, want %v", got, want)
		}
	})
}

// booking is an employer (by index) booking a slot (by index).
type booking struct{ employer, slot int }

// testBookingLimits checks each limit of BookSession, their order of
// precedence, and that a refused booking changes nothing.
func testBookingLimits(t *testing.T, open Opener) {
	tests := []struct {
		name    string
		lim     store.BookingLimits
		before  []booking // booked successfully first
		attempt booking
		want    error
	}{
		{
			name:    "UnderEveryLimit",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 2, MaxSessions: 3, SessionsPerSlot: 2},
			before:  []booking{{0, 0}},
			attempt: booking{0, 0},
		},
		{
			name:    "UpToEveryLimit",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 2, MaxSessions: 4, SessionsPerSlot: 2},
			before:  []booking{{0, 0}, {1, 1}, {2, 1}},
			attempt: booking{0, 0},
		},
		{
			name:    "EmployerLimit",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 1, MaxSessions: 10, SessionsPerSlot: 10},
			before:  []booking{{0, 0}},
			attempt: booking{0, 1},
			want:    store.ErrEmployerLimit,
		},
		{
			name:    "EventLimit",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 5, MaxSessions: 2, SessionsPerSlot: 10},
			before:  []booking{{1, 0}, {2, 1}},
			attempt: booking{0, 2},
			want:    store.ErrEventLimit,
		},
		{
			name:    "SlotFull",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 5, MaxSessions: 10, SessionsPerSlot: 2},
			before:  []booking{{1, 3}, {2, 3}, {1, 4}},
			attempt: booking{0, 3},
			want:    store.ErrSlotFull,
		},
		{
			name:    "EmployerBeforeEvent",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 1, MaxSessions: 2, SessionsPerSlot: 10},
			before:  []booking{{0, 0}, {1, 1}},
			attempt: booking{0, 2},
			want:    store.ErrEmployerLimit,
		},
		{
			name:    "EmployerBeforeSlot",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 1, MaxSessions: 10, SessionsPerSlot: 1},
			before:  []booking{{0, 0}},
			attempt: booking{0, 0},
			want:    store.ErrEmployerLimit,
		},
		{
			name:    "EventBeforeSlot",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 5, MaxSessions: 2, SessionsPerSlot: 1},
			before:  []booking{{1, 0}, {2, 1}},
			attempt: booking{0, 0},
			want:    store.ErrEventLimit,
		},
		{
			name:    "EmployerBeforeEventBeforeSlot",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 1, MaxSessions: 1, SessionsPerSlot: 1},
			before:  []booking{{0, 0}},
			attempt: booking{0, 0},
			want:    store.ErrEmployerLimit,
		},
		{
			name:    "OtherEmployersDoNotCount",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 1, MaxSessions: 10, SessionsPerSlot: 10},
			before:  []booking{{1, 0}, {2, 0}},
			attempt: booking{0, 0},
		},
		{
			name:    "OtherSlotsDoNotCount",
			lim:     store.BookingLimits{MaxSessionsPerEmployer: 5, MaxSessions: 10, SessionsPerSlot: 1},
			before:  []booking{{1, 0}, {2, 2}},
			attempt: booking{0, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			ev, emps := mustEvent(t, s, tt.lim, 3)
			// A second event with the same limits, booked up to them in
			// the same slot, shows that every counter is kept per event.
			other, otherEmps := mustEvent(t, s, tt.lim, 1)
			for range min(tt.lim.MaxSessionsPerEmployer, tt.lim.MaxSessions, tt.lim.SessionsPerSlot) {
				mustBook(t, s, other, otherEmps[0], tt.attempt.slot)
			}
			for _, b := range tt.before {
				mustBook(t, s, ev, emps[b.employer], b.slot)
			}
			before := countsOf(t, s, ev, emps)
			sess := scheduled(t, ev, emps[tt.attempt.employer], tt.attempt.slot)
			err := s.BookSession(t.Context(), sess, store.LimitsOf(ev))
			wantErr(t, "BookSession", err, tt.want)

			after := countsOf(t, s, ev, emps)
			if tt.want != nil {
				_, err := s.GetSession(t.Context(), sess.ID)
				wantErr(t, "GetSession of a refused booking", err, store.ErrNotFound)
				if !sameCounts(before, after) {
					t.Fatalf("a refused booking changed the counts from %+v to %+v", before, after)
				}
				return
			}
			want := before
			want.event++
			want.employers = slices.Clone(before.employers)
			want.employers[tt.attempt.employer]++
			want.slots = maps.Clone(before.slots)
			want.slots[slotStart(tt.attempt.slot).Unix()]++
			want.sessions++
			if !sameCounts(after, want) {
				t.Fatalf("counts after the booking = %+v, want %+v", after, want)
			}
		})
	}
}

// sameCounts compares booking counters.
func sameCounts(a, b counts) bool {
	return a.event == b.event && slices.Equal(a.employers, b.employers) &&
		maps.Equal(a.slots, b.slots) && a.sessions == b.sessions
}

func testSlotUsage(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 5, MaxSessions: 10, SessionsPerSlot: 3}
	t.Run("EmptyEvent", func(t *testing.T) {
		s := open(t)
		ev, _ := mustEvent(t, s, lim, 1)
		if got := slotUsage(t, s, ev.ID); len(got) != 0 {
			t.Fatalf("SlotUsage of an event with no sessions = %v, want none", got)
		}
	})
	t.Run("CountsPerSlot", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 2)
		other, otherEmps := mustEvent(t, s, lim, 1)
		mustBook(t, s, other, otherEmps[0], 0)
		for _, b := range []booking{{0, 0}, {1, 0}, {0, 5}, {1, 0}, {0, 23}} {
			mustBook(t, s, ev, emps[b.employer], b.slot)
		}
		want := map[int64]int{slotStart(0).Unix(): 3, slotStart(5).Unix(): 1, slotStart(23).Unix(): 1}
		if got := slotUsage(t, s, ev.ID); !maps.Equal(got, want) {
			t.Fatalf("SlotUsage = %v, want %v", got, want)
		}
	})
}

func testListEventSessions(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 10, MaxSessions: 20, SessionsPerSlot: 5}
	t.Run("EmptyEvent", func(t *testing.T) {
		s := open(t)
		ev, _ := mustEvent(t, s, lim, 1)
		list, err := s.ListEventSessions(t.Context(), ev.ID)
		wantErr(t, "ListEventSessions", err, nil)
		if len(list) != 0 {
			t.Fatalf("ListEventSessions of an event with no sessions = %d sessions, want none", len(list))
		}
	})
	t.Run("OrderedByStartThenIDWithCounts", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 2)
		other, otherEmps := mustEvent(t, s, lim, 1)
		mustBook(t, s, other, otherEmps[0], 0)
		mustHosted(t, s, 10)

		var booked []domain.Session
		for _, b := range []booking{{0, 7}, {1, 2}, {0, 2}, {1, 0}, {0, 2}, {1, 11}} {
			booked = append(booked, mustBook(t, s, ev, emps[b.employer], b.slot))
		}
		// Register a different number of users in each session.
		for i, sess := range booked {
			for range i {
				mustRegister(t, s, sess.ID, newUser())
			}
			booked[i].Registered = i
		}
		// Cancel one to see that the counts follow cancellations too.
		u := newUser()
		mustRegister(t, s, booked[0].ID, u)
		wantErr(t, "CancelRegistration", s.CancelRegistration(t.Context(), booked[0].ID, u), nil)

		slices.SortFunc(booked, func(a, b domain.Session) int {
			if c := a.Start.Compare(b.Start); c != 0 {
				return c
			}
			return strings.Compare(string(a.ID), string(b.ID))
		})
		list, err := s.ListEventSessions(t.Context(), ev.ID)
		wantErr(t, "ListEventSessions", err, nil)
		if len(list) != len(booked) {
			t.Fatalf("ListEventSessions = %d sessions, want %d", len(list), len(booked))
		}
		for i := range booked {
			if !equal(list[i], booked[i]) {
				t.Errorf("ListEventSessions[%d] = %+v,\nwant %+v", i, list[i], booked[i])
			}
		}
	})
}
