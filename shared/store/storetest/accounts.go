package storetest

import (
	"testing"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

func testUsers(t *testing.T, open Opener) {
	t.Run("CreateThenGet", func(t *testing.T) {
		s := open(t)
		u := domain.User{ID: newUser(), Name: "Ada", Device: domain.DeviceMobile, CreatedAt: created()}
		wantErr(t, "CreateUser", s.CreateUser(t.Context(), u), nil)
		got, err := s.GetUser(t.Context(), u.ID)
		wantErr(t, "GetUser", err, nil)
		if !equal(got, u) {
			t.Fatalf("GetUser = %+v, want %+v", got, u)
		}
	})
	t.Run("DuplicateKeepsFirst", func(t *testing.T) {
		s := open(t)
		u := domain.User{ID: newUser(), Name: "Ada", CreatedAt: created()}
		wantErr(t, "CreateUser", s.CreateUser(t.Context(), u), nil)
		dup := u
		dup.Name = "Grace"
		wantErr(t, "CreateUser again", s.CreateUser(t.Context(), dup), store.ErrExists)
		got, err := s.GetUser(t.Context(), u.ID)
		wantErr(t, "GetUser", err, nil)
		if !equal(got, u) {
			t.Fatalf("GetUser after a refused create = %+v, want %+v", got, u)
		}
	})
}

func testOrganizers(t *testing.T, open Opener) {
	t.Run("CreateAndDuplicate", func(t *testing.T) {
		s := open(t)
		o := domain.Organizer{ID: domain.OrganizerID(domain.NewID(12)), Name: "Fair Inc", CreatedAt: created()}
		wantErr(t, "CreateOrganizer", s.CreateOrganizer(t.Context(), o), nil)
		wantErr(t, "CreateOrganizer again", s.CreateOrganizer(t.Context(), o), store.ErrExists)
		other := domain.Organizer{ID: domain.OrganizerID(domain.NewID(12)), Name: "Fair Inc", CreatedAt: created()}
		wantErr(t, "CreateOrganizer with another id and the same name", s.CreateOrganizer(t.Context(), other), nil)
	})
}

func testEvents(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 2, MaxSessions: 10, SessionsPerSlot: 3}
	t.Run("CreateThenGet", func(t *testing.T) {
		s := open(t)
		ev := newEvent(lim)
		wantErr(t, "CreateEvent", s.CreateEvent(t.Context(), ev), nil)
		got, err := s.GetEvent(t.Context(), ev.ID)
		wantErr(t, "GetEvent", err, nil)
		if !equal(got, ev) {
			t.Fatalf("GetEvent = %+v, want %+v", got, ev)
		}
	})
	t.Run("DefaultedLimitsKept", func(t *testing.T) {
		s := open(t)
		ev := newEvent(lim)
		ev.Defaulted = []string{domain.LimitMaxSessions, domain.LimitSessionsPerSlot}
		wantErr(t, "CreateEvent", s.CreateEvent(t.Context(), ev), nil)
		got, err := s.GetEvent(t.Context(), ev.ID)
		wantErr(t, "GetEvent", err, nil)
		if !equal(got, ev) {
			t.Fatalf("GetEvent = %+v, want %+v", got, ev)
		}
	})
	t.Run("StartsWithNoSessionsBooked", func(t *testing.T) {
		s := open(t)
		ev := newEvent(lim)
		ev.SessionsBooked = 7
		wantErr(t, "CreateEvent", s.CreateEvent(t.Context(), ev), nil)
		got, err := s.GetEvent(t.Context(), ev.ID)
		wantErr(t, "GetEvent", err, nil)
		if got.SessionsBooked != 0 {
			t.Fatalf("SessionsBooked = %d after CreateEvent, want 0", got.SessionsBooked)
		}
	})
	t.Run("DuplicateKeepsFirst", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 1)
		mustBook(t, s, ev, emps[0], 0)
		dup := ev
		dup.Name = "Another fair"
		wantErr(t, "CreateEvent again", s.CreateEvent(t.Context(), dup), store.ErrExists)
		got, err := s.GetEvent(t.Context(), ev.ID)
		wantErr(t, "GetEvent", err, nil)
		if got.Name != ev.Name || got.SessionsBooked != 1 {
			t.Fatalf("GetEvent after a refused create = %q with %d booked, want %q with 1",
				got.Name, got.SessionsBooked, ev.Name)
		}
	})
}

func testEmployers(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 2, MaxSessions: 10, SessionsPerSlot: 3}
	t.Run("CreateThenGet", func(t *testing.T) {
		s := open(t)
		ev, _ := mustEvent(t, s, lim, 0)
		emp := newEmployer(ev)
		wantErr(t, "CreateEmployer", s.CreateEmployer(t.Context(), emp), nil)
		got, err := s.GetEmployer(t.Context(), ev.ID, emp.ID)
		wantErr(t, "GetEmployer", err, nil)
		if !equal(got, emp) {
			t.Fatalf("GetEmployer = %+v, want %+v", got, emp)
		}
	})
	t.Run("DuplicateKeepsFirst", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 1)
		mustBook(t, s, ev, emps[0], 0)
		dup := emps[0]
		dup.Name = "Other"
		wantErr(t, "CreateEmployer again", s.CreateEmployer(t.Context(), dup), store.ErrExists)
		got, err := s.GetEmployer(t.Context(), ev.ID, emps[0].ID)
		wantErr(t, "GetEmployer", err, nil)
		if got.Name != emps[0].Name || got.SessionsBooked != 1 {
			t.Fatalf("GetEmployer after a refused create = %q with %d booked, want %q with 1",
				got.Name, got.SessionsBooked, emps[0].Name)
		}
	})
	t.Run("UnknownEvent", func(t *testing.T) {
		s := open(t)
		emp := newEmployer(newEvent(lim))
		wantErr(t, "CreateEmployer", s.CreateEmployer(t.Context(), emp), store.ErrNotFound)
		_, err := s.GetEmployer(t.Context(), emp.EventID, emp.ID)
		wantErr(t, "GetEmployer of a refused employer", err, store.ErrNotFound)
	})
	t.Run("BelongsToItsEvent", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, lim, 1)
		other, _ := mustEvent(t, s, lim, 0)
		_, err := s.GetEmployer(t.Context(), other.ID, emps[0].ID)
		wantErr(t, "GetEmployer under another event", err, store.ErrNotFound)
		_, err = s.GetEmployer(t.Context(), ev.ID, emps[0].ID)
		wantErr(t, "GetEmployer under its event", err, nil)
	})
}

// testNotFound checks that every getter returns ErrNotFound, never a zero
// value with a nil error, for an id that was never stored.
func testNotFound(t *testing.T, open Opener) {
	lim := store.BookingLimits{MaxSessionsPerEmployer: 1, MaxSessions: 1, SessionsPerSlot: 1}
	tests := []struct {
		name string
		call func(t *testing.T, s store.Store) error
	}{
		{"GetUser", func(t *testing.T, s store.Store) error {
			_, err := s.GetUser(t.Context(), newUser())
			return err
		}},
		{"GetEvent", func(t *testing.T, s store.Store) error {
			_, err := s.GetEvent(t.Context(), domain.EventID(domain.NewID(12)))
			return err
		}},
		{"GetEmployerOfUnknownEvent", func(t *testing.T, s store.Store) error {
			_, err := s.GetEmployer(t.Context(), domain.EventID(domain.NewID(12)), domain.EmployerID(domain.NewID(12)))
			return err
		}},
		{"GetEmployerUnknownInEvent", func(t *testing.T, s store.Store) error {
			ev, _ := mustEvent(t, s, lim, 1)
			_, err := s.GetEmployer(t.Context(), ev.ID, domain.EmployerID(domain.NewID(12)))
			return err
		}},
		{"GetSession", func(t *testing.T, s store.Store) error {
			_, err := s.GetSession(t.Context(), domain.SessionID(domain.NewID(12)))
			return err
		}},
		{"GetRegistration", func(t *testing.T, s store.Store) error {
			_, err := s.GetRegistration(t.Context(), domain.SessionID(domain.NewID(12)), newUser())
			return err
		}},
		{"Register", func(t *testing.T, s store.Store) error {
			_, _, err := s.Register(t.Context(), registration(domain.SessionID(domain.NewID(12)), newUser()))
			return err
		}},
		{"CancelRegistration", func(t *testing.T, s store.Store) error {
			return s.CancelRegistration(t.Context(), domain.SessionID(domain.NewID(12)), newUser())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			wantErr(t, tt.name, tt.call(t, s), store.ErrNotFound)
		})
	}
}
