// Package storetest is the contract suite that every store.Store
// implementation passes: the embedded store in `make test` and the
// DynamoDB store against DynamoDB Local in `make e2e`.
//
// Run checks each rule of the store.Store doc comments. It assumes nothing
// about the implementation: every subtest opens its own empty store, uses
// fresh ids from domain.NewID, waits for nothing but returned calls and
// compares times with whole seconds in UTC, so that an implementation that
// stores RFC 3339 strings passes as well as one that stores JSON. The one
// exception is the lists the scheduler reads (DueSessions,
// StaleConnections), which a store may serve from an eventually
// consistent index: those checks poll until the list is as expected or a
// deadline passes. Items with a time to live (connections, chat) are
// given times near the wall clock, since the suite cannot set a store's
// clock.
//
// MeasureContention, in this package too, measures registrations under
// contention for `make bench`; it does not import the testing package, so
// a command can use it.
package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Opener returns a fresh, empty store for one subtest. It registers the
// store's cleanup with t.Cleanup.
type Opener = func(t *testing.T) store.Store

// Run runs the contract suite against the stores that open returns. Each
// subtest calls open once and works in that store alone.
func Run(t *testing.T, open Opener) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"Users", testUsers},
		{"Organizers", testOrganizers},
		{"Events", testEvents},
		{"Employers", testEmployers},
		{"NotFound", testNotFound},
		{"BookSession", testBookSession},
		{"BookingLimits", testBookingLimits},
		{"SlotUsage", testSlotUsage},
		{"ListEventSessions", testListEventSessions},
		{"Sessions", testSessions},
		{"AddSpeaker", testAddSpeaker},
		{"RemoveSpeaker", testRemoveSpeaker},
		{"Groups", testGroups},
		{"RemoveGroupMember", testRemoveGroupMember},
		{"GroupConnections", testGroupConnections},
		{"UserSessions", testUserSessions},
		{"Register", testRegister},
		{"CancelRegistration", testCancelRegistration},
		{"GetRegistration", testGetRegistration},
		{"Concurrency", testConcurrency},
		{"UpdateSession", testUpdateSession},
		{"UpdateSessionConcurrency", testUpdateSessionConcurrency},
		{"Items", testItems},
		{"OverLeavesTheDueList", testOverLeavesTheDueList},
		{"DueSessions", testDueSessions},
		{"Connections", testConnections},
		{"StaleConnections", testStaleConnections},
		{"Chat", testChat},
		{"SetLimit", testSetLimit},
		{"Workers", testWorkers},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, open) })
	}
}

// day is the first day of the events in the suite, at a whole second so
// that every implementation stores it exactly.
func day() time.Time { return time.Date(2030, time.May, 6, 9, 0, 0, 0, time.UTC) }

// created is the CreatedAt of the items in the suite.
func created() time.Time { return time.Date(2030, time.April, 1, 12, 0, 0, 0, time.UTC) }

// slotMinutes is the slot length of the suite's events.
const slotMinutes = 30

// slotsPerEvent is the number of slots in the suite's events: one window
// of twelve hours cut into half hours.
const slotsPerEvent = 24

// newEvent returns an event with fresh ids, one window of slotsPerEvent
// slots starting at day() and the limits of lim.
func newEvent(lim store.BookingLimits) domain.Event {
	return domain.Event{
		ID:          domain.EventID(domain.NewID(12)),
		OrganizerID: domain.OrganizerID(domain.NewID(12)),
		Name:        "Career fair",
		Windows: []domain.Window{{
			Start: day(),
			End:   day().Add(slotsPerEvent * slotMinutes * time.Minute),
		}},
		SlotMinutes:            slotMinutes,
		Capacity:               domain.MaxCapacity,
		MaxSessionsPerEmployer: lim.MaxSessionsPerEmployer,
		MaxSessions:            lim.MaxSessions,
		SessionsPerSlot:        lim.SessionsPerSlot,
		Stage:                  domain.DefaultStage,
		CreatedAt:              created(),
	}
}

// newEmployer returns an employer of ev with a fresh id.
func newEmployer(ev domain.Event) domain.Employer {
	return domain.Employer{
		ID:        domain.EmployerID(domain.NewID(12)),
		EventID:   ev.ID,
		Name:      "Acme",
		CreatedAt: created(),
	}
}

// slotStart returns the start of slot i of an event made by newEvent.
func slotStart(i int) time.Time { return day().Add(time.Duration(i) * slotMinutes * time.Minute) }

// mustEvent stores an event with the limits of lim and n employers of it.
func mustEvent(t *testing.T, s store.Store, lim store.BookingLimits, n int) (domain.Event, []domain.Employer) {
	t.Helper()
	ctx := t.Context()
	ev := newEvent(lim)
	if err := s.CreateEvent(ctx, ev); err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	emps := make([]domain.Employer, n)
	for i := range emps {
		emps[i] = newEmployer(ev)
		if err := s.CreateEmployer(ctx, emps[i]); err != nil {
			t.Fatalf("CreateEmployer: %v", err)
		}
	}
	return ev, emps
}

// scheduled returns a session of ev for emp in slot i, built by the domain
// rules; it is not stored.
func scheduled(t *testing.T, ev domain.Event, emp domain.Employer, i int) domain.Session {
	t.Helper()
	s, err := domain.NewScheduledSession(ev, emp.ID, slotStart(i), "Meet the team", nil, created())
	if err != nil {
		t.Fatalf("NewScheduledSession: %v", err)
	}
	return s
}

// mustBook books a session of ev for emp in slot i.
func mustBook(t *testing.T, s store.Store, ev domain.Event, emp domain.Employer, i int) domain.Session {
	t.Helper()
	sess := scheduled(t, ev, emp, i)
	if err := s.BookSession(t.Context(), sess, store.LimitsOf(ev)); err != nil {
		t.Fatalf("BookSession(slot %d): %v", i, err)
	}
	return sess
}

// hosted returns an instant or primetime session with the given capacity
// and status; it is not stored.
func hosted(t *testing.T, kind domain.Kind, capacity int, status domain.Status) domain.Session {
	t.Helper()
	s, err := domain.NewHostedSession(kind, domain.UserID(domain.NewID(12)), "Office hours", "", created())
	if err != nil {
		t.Fatalf("NewHostedSession: %v", err)
	}
	s.Capacity = capacity
	s.Status = status
	return s
}

// mustHosted stores an open instant session of the given capacity.
func mustHosted(t *testing.T, s store.Store, capacity int) domain.Session {
	t.Helper()
	sess := hosted(t, domain.KindInstant, capacity, domain.StatusOpen)
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

// newUser returns a fresh user id.
func newUser() domain.UserID { return domain.UserID(domain.NewID(12)) }

// registration returns a registration of user in session.
func registration(session domain.SessionID, user domain.UserID) domain.Registration {
	return domain.Registration{SessionID: session, UserID: user, CreatedAt: created()}
}

// mustRegister registers user in session and requires a first-time
// registration.
func mustRegister(t *testing.T, s store.Store, session domain.SessionID, user domain.UserID) domain.Registration {
	t.Helper()
	r := registration(session, user)
	got, createdNow, err := s.Register(t.Context(), r)
	if err != nil {
		t.Fatalf("Register(%s, %s): %v", session, user, err)
	}
	if !createdNow {
		t.Fatalf("Register(%s, %s): created = false on the first registration", session, user)
	}
	if !equal(got, r) {
		t.Fatalf("Register returned %+v, want %+v", got, r)
	}
	return got
}

// wantErr fails the test unless err matches want (nil meaning success).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// mustSession returns a stored session or fails.
func mustSession(t *testing.T, s store.Store, id domain.SessionID) domain.Session {
	t.Helper()
	got, err := s.GetSession(t.Context(), id)
	if err != nil {
		t.Fatalf("GetSession(%s): %v", id, err)
	}
	return got
}

// wantRegistered fails unless the session holds n registrations.
func wantRegistered(t *testing.T, s store.Store, id domain.SessionID, n int) {
	t.Helper()
	if got := mustSession(t, s, id).Registered; got != n {
		t.Fatalf("session %s: Registered = %d, want %d", id, got, n)
	}
}

// counts are the booking counters of an event and its employers.
type counts struct {
	event     int
	employers []int
	slots     map[int64]int // unix seconds of a slot start -> sessions
	sessions  int
}

// countsOf reads the booking counters of ev and emps.
func countsOf(t *testing.T, s store.Store, ev domain.Event, emps []domain.Employer) counts {
	t.Helper()
	ctx := t.Context()
	got, err := s.GetEvent(ctx, ev.ID)
	if err != nil {
		t.Fatalf("GetEvent: %v", err)
	}
	c := counts{event: got.SessionsBooked, employers: make([]int, len(emps))}
	for i, emp := range emps {
		e, err := s.GetEmployer(ctx, ev.ID, emp.ID)
		if err != nil {
			t.Fatalf("GetEmployer: %v", err)
		}
		c.employers[i] = e.SessionsBooked
	}
	c.slots = slotUsage(t, s, ev.ID)
	list, err := s.ListEventSessions(ctx, ev.ID)
	if err != nil {
		t.Fatalf("ListEventSessions: %v", err)
	}
	c.sessions = len(list)
	return c
}

// slotUsage reads SlotUsage, checks that every key is in UTC and returns
// the usage keyed by unix seconds, so that keys compare by instant.
func slotUsage(t *testing.T, s store.Store, id domain.EventID) map[int64]int {
	t.Helper()
	u, err := s.SlotUsage(t.Context(), id)
	if err != nil {
		t.Fatalf("SlotUsage: %v", err)
	}
	out := make(map[int64]int, len(u))
	for k, n := range u {
		if k.Location() != time.UTC {
			t.Errorf("SlotUsage key %v is not in UTC", k)
		}
		out[k.Unix()] += n
	}
	return out
}

// equal compares two stored values after normalizing what a store may
// legitimately change: the location of times (to UTC) and empty slices
// (to nil).
func equal[T any](a, b T) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// normalize returns v with times in UTC and empty slices made nil.
func normalize(v any) any {
	switch x := v.(type) {
	case domain.User:
		x.CreatedAt = x.CreatedAt.UTC()
		return x
	case domain.Organizer:
		x.CreatedAt = x.CreatedAt.UTC()
		return x
	case domain.Event:
		w := make([]domain.Window, 0, len(x.Windows))
		for _, win := range x.Windows {
			w = append(w, domain.Window{Start: win.Start.UTC(), End: win.End.UTC()})
		}
		x.Windows = nilIfEmpty(w)
		x.Defaulted = nilIfEmpty(x.Defaulted)
		x.CreatedAt = x.CreatedAt.UTC()
		return x
	case domain.Employer:
		x.CreatedAt = x.CreatedAt.UTC()
		return x
	case domain.Session:
		// Whether every member was read says how, not what, is stored.
		x.Live.Partial = false
		x.Speakers = nilIfEmpty(x.Speakers)
		x.Start, x.End, x.CreatedAt = x.Start.UTC(), x.End.UTC(), x.CreatedAt.UTC()
		return x
	case domain.Registration:
		x.CreatedAt = x.CreatedAt.UTC()
		return x
	case store.Connection:
		x.ConnectedAt, x.LastSeenAt = x.ConnectedAt.UTC(), x.LastSeenAt.UTC()
		if len(x.Limits) == 0 {
			x.Limits = nil
		}
		for k, v := range x.Limits {
			x.Limits[k] = v.UTC()
		}
		return x
	case store.ChatMessage:
		x.At = x.At.UTC()
		return x
	case []store.Connection:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = normalize(c)
		}
		return out
	case []store.ChatMessage:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = normalize(m)
		}
		return out
	case store.UserSession:
		x.At, x.Expires = x.At.UTC(), x.Expires.UTC()
		return x
	case []store.UserSession:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case domain.Group:
		x.CreatedAt = x.CreatedAt.UTC()
		return x
	case domain.GroupMember:
		x.JoinedAt, x.ChatLimit = x.JoinedAt.UTC(), x.ChatLimit.UTC()
		return x
	case store.GroupMessage:
		x.At = x.At.UTC()
		return x
	case []store.GroupMessage:
		out := make([]any, len(x))
		for i, m := range x {
			out[i] = normalize(m)
		}
		return out
	default:
		panic(fmt.Sprintf("storetest: normalize: unexpected type %T", v))
	}
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// pollDeadline bounds how long the suite waits for an eventually
// consistent list to settle.
const pollDeadline = 10 * time.Second

// eventually calls check until it returns "" or pollDeadline passes, and
// then fails the test with the last thing check said was wrong.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(pollDeadline)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", pollDeadline, msg)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", msg, t.Context().Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// wallNow is the wall clock in UTC at a whole second, for items that
// expire: a store decides expiry by its own clock.
func wallNow() time.Time { return time.Now().UTC().Truncate(time.Second) }
