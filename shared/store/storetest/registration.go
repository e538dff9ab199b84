package storetest

import (
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

func testSessions(t *testing.T, open Opener) {
	for _, kind := range []domain.Kind{domain.KindInstant, domain.KindPrimetime} {
		t.Run("CreateThenGet/"+string(kind), func(t *testing.T) {
			s := open(t)
			sess := hosted(t, kind, 30, domain.StatusOpen)
			sess.PresenterID = newUser()
			sess.GroupID = "group-1"
			sess.Version = 3
			wantErr(t, "CreateSession", s.CreateSession(t.Context(), sess), nil)
			if got := mustSession(t, s, sess.ID); !equal(got, sess) {
				t.Fatalf("GetSession = %+v, want %+v", got, sess)
			}
		})
	}
	t.Run("StartsWithNoRegistrations", func(t *testing.T) {
		s := open(t)
		sess := hosted(t, domain.KindInstant, 5, domain.StatusOpen)
		sess.Registered = 3
		wantErr(t, "CreateSession", s.CreateSession(t.Context(), sess), nil)
		wantRegistered(t, s, sess.ID, 0)
		// All five spots are free.
		for range 5 {
			mustRegister(t, s, sess.ID, newUser())
		}
	})
	t.Run("DuplicateKeepsFirst", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 10)
		mustRegister(t, s, sess.ID, newUser())
		dup := sess
		dup.Title = "Another title"
		wantErr(t, "CreateSession again", s.CreateSession(t.Context(), dup), store.ErrExists)
		got := mustSession(t, s, sess.ID)
		if got.Title != sess.Title || got.Registered != 1 {
			t.Fatalf("GetSession after a refused create = %q with %d registered, want %q with 1",
				got.Title, got.Registered, sess.Title)
		}
	})
}

func testRegister(t *testing.T, open Opener) {
	t.Run("FirstTime", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 10)
		r := mustRegister(t, s, sess.ID, newUser())
		wantRegistered(t, s, sess.ID, 1)
		got, err := s.GetRegistration(t.Context(), sess.ID, r.UserID)
		wantErr(t, "GetRegistration", err, nil)
		if !equal(got, r) {
			t.Fatalf("GetRegistration = %+v, want %+v", got, r)
		}
	})
	t.Run("RepeatReturnsStoredAndCountsOnce", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 10)
		first := mustRegister(t, s, sess.ID, newUser())
		again := first
		again.CreatedAt = first.CreatedAt.Add(time.Hour)
		for i := range 3 {
			got, createdNow, err := s.Register(t.Context(), again)
			wantErr(t, "Register again", err, nil)
			if createdNow {
				t.Fatalf("repeat %d: created = true, want false", i)
			}
			if !equal(got, first) {
				t.Fatalf("repeat %d returned %+v, want the stored %+v", i, got, first)
			}
		}
		wantRegistered(t, s, sess.ID, 1)
	})
	t.Run("ScheduledSession", func(t *testing.T) {
		s := open(t)
		ev, emps := mustEvent(t, s, store.BookingLimits{MaxSessionsPerEmployer: 1, MaxSessions: 1, SessionsPerSlot: 1}, 1)
		sess := mustBook(t, s, ev, emps[0], 0)
		mustRegister(t, s, sess.ID, newUser())
		mustRegister(t, s, sess.ID, newUser())
		wantRegistered(t, s, sess.ID, 2)
	})
	t.Run("SessionsCountApart", func(t *testing.T) {
		s := open(t)
		a, b := mustHosted(t, s, 10), mustHosted(t, s, 10)
		u := newUser()
		mustRegister(t, s, a.ID, u)
		mustRegister(t, s, b.ID, u)
		mustRegister(t, s, b.ID, newUser())
		wantRegistered(t, s, a.ID, 1)
		wantRegistered(t, s, b.ID, 2)
	})
	t.Run("Full", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 2)
		first := mustRegister(t, s, sess.ID, newUser())
		mustRegister(t, s, sess.ID, newUser())
		late := registration(sess.ID, newUser())
		_, _, err := s.Register(t.Context(), late)
		wantErr(t, "Register in a full session", err, store.ErrSessionFull)
		_, err = s.GetRegistration(t.Context(), sess.ID, late.UserID)
		wantErr(t, "GetRegistration of a refused user", err, store.ErrNotFound)
		wantRegistered(t, s, sess.ID, 2)

		// A repeat by a registered user still succeeds in a full session.
		got, createdNow, err := s.Register(t.Context(), first)
		wantErr(t, "Register again in a full session", err, nil)
		if createdNow || !equal(got, first) {
			t.Fatalf("repeat in a full session = %+v, created %v; want the stored %+v, created false", got, createdNow, first)
		}
		wantRegistered(t, s, sess.ID, 2)
	})
	t.Run("Over", func(t *testing.T) {
		tests := []struct {
			name   string
			kind   domain.Kind
			status domain.Status
			want   error
		}{
			{"InstantEnded", domain.KindInstant, domain.StatusEnded, store.ErrSessionOver},
			{"InstantExpired", domain.KindInstant, domain.StatusExpired, store.ErrSessionOver},
			{"PrimetimeEnded", domain.KindPrimetime, domain.StatusEnded, store.ErrSessionOver},
			{"PrimetimeExpired", domain.KindPrimetime, domain.StatusExpired, store.ErrSessionOver},
			{"InstantOpen", domain.KindInstant, domain.StatusOpen, nil},
			{"InstantLive", domain.KindInstant, domain.StatusLive, nil},
			{"PrimetimeLive", domain.KindPrimetime, domain.StatusLive, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := open(t)
				sess := hosted(t, tt.kind, 10, tt.status)
				wantErr(t, "CreateSession", s.CreateSession(t.Context(), sess), nil)
				r := registration(sess.ID, newUser())
				_, _, err := s.Register(t.Context(), r)
				wantErr(t, "Register", err, tt.want)
				if tt.want == nil {
					wantRegistered(t, s, sess.ID, 1)
					return
				}
				_, err = s.GetRegistration(t.Context(), sess.ID, r.UserID)
				wantErr(t, "GetRegistration of a refused user", err, store.ErrNotFound)
				wantRegistered(t, s, sess.ID, 0)
			})
		}
	})
}

func testCancelRegistration(t *testing.T, open Opener) {
	t.Run("FreesTheSpot", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 1)
		u := newUser()
		mustRegister(t, s, sess.ID, u)
		waiting := registration(sess.ID, newUser())
		_, _, err := s.Register(t.Context(), waiting)
		wantErr(t, "Register in a full session", err, store.ErrSessionFull)

		wantErr(t, "CancelRegistration", s.CancelRegistration(t.Context(), sess.ID, u), nil)
		wantRegistered(t, s, sess.ID, 0)
		_, err = s.GetRegistration(t.Context(), sess.ID, u)
		wantErr(t, "GetRegistration after cancel", err, store.ErrNotFound)

		got, createdNow, err := s.Register(t.Context(), waiting)
		wantErr(t, "Register in the freed spot", err, nil)
		if !createdNow || !equal(got, waiting) {
			t.Fatalf("Register in the freed spot = %+v, created %v; want %+v, created true", got, createdNow, waiting)
		}
		wantRegistered(t, s, sess.ID, 1)
	})
	t.Run("RepeatIsNotFound", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 5)
		u := newUser()
		mustRegister(t, s, sess.ID, u)
		mustRegister(t, s, sess.ID, newUser())
		wantErr(t, "CancelRegistration", s.CancelRegistration(t.Context(), sess.ID, u), nil)
		wantErr(t, "CancelRegistration again", s.CancelRegistration(t.Context(), sess.ID, u), store.ErrNotFound)
		wantRegistered(t, s, sess.ID, 1)
	})
	t.Run("NeverRegistered", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 5)
		mustRegister(t, s, sess.ID, newUser())
		wantErr(t, "CancelRegistration", s.CancelRegistration(t.Context(), sess.ID, newUser()), store.ErrNotFound)
		wantRegistered(t, s, sess.ID, 1)
	})
	t.Run("RegisterAgainAfterCancel", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 5)
		u := newUser()
		mustRegister(t, s, sess.ID, u)
		wantErr(t, "CancelRegistration", s.CancelRegistration(t.Context(), sess.ID, u), nil)
		mustRegister(t, s, sess.ID, u)
		wantRegistered(t, s, sess.ID, 1)
	})
	t.Run("OnlyThatSession", func(t *testing.T) {
		s := open(t)
		a, b := mustHosted(t, s, 5), mustHosted(t, s, 5)
		u := newUser()
		mustRegister(t, s, a.ID, u)
		mustRegister(t, s, b.ID, u)
		wantErr(t, "CancelRegistration", s.CancelRegistration(t.Context(), a.ID, u), nil)
		if _, err := s.GetRegistration(t.Context(), b.ID, u); err != nil {
			t.Fatalf("GetRegistration in the other session: %v", err)
		}
		wantRegistered(t, s, a.ID, 0)
		wantRegistered(t, s, b.ID, 1)
	})
}

func testGetRegistration(t *testing.T, open Opener) {
	tests := []struct {
		name string
		// ask returns the session and user to ask for, given a session
		// where u is registered and another stored session.
		ask  func(sess, other domain.SessionID, u domain.UserID) (domain.SessionID, domain.UserID)
		want error
	}{
		{"Registered", func(sess, _ domain.SessionID, u domain.UserID) (domain.SessionID, domain.UserID) {
			return sess, u
		}, nil},
		{"OtherUser", func(sess, _ domain.SessionID, _ domain.UserID) (domain.SessionID, domain.UserID) {
			return sess, newUser()
		}, store.ErrNotFound},
		{"OtherSession", func(_, other domain.SessionID, u domain.UserID) (domain.SessionID, domain.UserID) {
			return other, u
		}, store.ErrNotFound},
		{"UnknownSession", func(_, _ domain.SessionID, u domain.UserID) (domain.SessionID, domain.UserID) {
			return domain.SessionID(domain.NewID(12)), u
		}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			sess, other := mustHosted(t, s, 5), mustHosted(t, s, 5)
			u := newUser()
			r := mustRegister(t, s, sess.ID, u)
			mustRegister(t, s, other.ID, newUser())
			id, user := tt.ask(sess.ID, other.ID, u)
			got, err := s.GetRegistration(t.Context(), id, user)
			wantErr(t, "GetRegistration", err, tt.want)
			if tt.want == nil && !equal(got, r) {
				t.Fatalf("GetRegistration = %+v, want %+v", got, r)
			}
		})
	}
}
