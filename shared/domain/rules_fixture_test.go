package domain_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// Fixtures for the live rules. Every time is an offset of t0 (at), never
// the wall clock; every member u joins on connection "c-u".

const (
	mobile = domain.DeviceMobile
	web    = domain.DeviceWeb
)

// after is t0 plus d, for times finer than a minute.
func after(d time.Duration) time.Time { return t0.Add(d) }

// conn is the connection member u joins on.
func conn(u domain.UserID) domain.ConnectionID { return domain.ConnectionID("c-" + string(u)) }

// must fails the test when a setup command is refused and returns its
// changes: must(t)(s.RaiseHand("u1", at(5))).
func must(t testing.TB) func([]domain.Change, error) []domain.Change {
	t.Helper()
	return func(ch []domain.Change, err error) []domain.Change {
		t.Helper()
		if err != nil {
			t.Fatalf("setup command refused: %v", err)
		}
		return ch
	}
}

// admit lets u into s at when.
func admit(t testing.TB, s *domain.Session, u domain.UserID, dev domain.Device, registered bool, when time.Time) {
	t.Helper()
	must(t)(s.Admit(domain.Joiner{UserID: u, Name: "Name " + string(u), Device: dev, Registered: registered}, when))
}

// join admits u and connects it on conn(u) at when.
func join(t testing.TB, s *domain.Session, u domain.UserID, dev domain.Device, registered bool, when time.Time) {
	t.Helper()
	admit(t, s, u, dev, registered, when)
	must(t)(s.Connect(u, conn(u), when))
}

// instantOpen is an instant session's waiting room: the host and p1, p2 on
// mobile, w1 on the web, all connected at t0.
func instantOpen(t testing.TB) *domain.Session {
	t.Helper()
	s, err := domain.NewHostedSession(domain.KindInstant, "host", "Standup", "", at(-1))
	if err != nil {
		t.Fatal(err)
	}
	join(t, &s, "host", mobile, false, at(0))
	join(t, &s, "p1", mobile, false, at(0))
	join(t, &s, "p2", mobile, false, at(0))
	join(t, &s, "w1", web, false, at(0))
	return &s
}

// instantReady is instantOpen with p1 as presenter.
func instantReady(t testing.TB) *domain.Session {
	t.Helper()
	s := instantOpen(t)
	must(t)(s.AssignPresenter("host", "p1"))
	return s
}

// instantLive is instantReady started by the host at at(1).
func instantLive(t testing.TB) *domain.Session {
	t.Helper()
	s := instantReady(t)
	must(t)(s.StartSession("host", at(1)))
	return s
}

// scheduledSession is a scheduled session for the slot at(60)–at(90) with
// speakers emp and sp2, capacity 10 of which 2 are registered (r1, r2),
// and the default stage (4 speakers, 6 participants). Nobody has joined.
func scheduledSession() *domain.Session {
	return &domain.Session{
		ID:         "sched1",
		Kind:       domain.KindScheduled,
		Status:     domain.StatusScheduled,
		Title:      "Meet us",
		EventID:    "ev1",
		EmployerID: "emp",
		Speakers:   []domain.UserID{"emp", "sp2"},
		Start:      at(60),
		End:        at(90),
		Capacity:   10,
		Registered: 2,
		Stage:      domain.DefaultStage,
		CreatedAt:  at(-7 * 24 * 60),
	}
}

// scheduledOpen is scheduledSession opened by Tick at at(55), with emp,
// sp2, r1 and r2 connected at at(55).
func scheduledOpen(t testing.TB) *domain.Session {
	t.Helper()
	s := scheduledSession()
	s.Tick(at(55))
	join(t, s, "emp", web, false, at(55))
	join(t, s, "sp2", mobile, false, at(55))
	join(t, s, "r1", web, true, at(55))
	join(t, s, "r2", mobile, true, at(55))
	return s
}

// scheduledLive is scheduledOpen started by emp at at(56), with the
// unregistered u1…u7 connected at at(57) (9 of 10 spots held).
func scheduledLive(t testing.TB) *domain.Session {
	t.Helper()
	s := scheduledOpen(t)
	must(t)(s.StartSession("emp", at(56)))
	for i := 1; i <= 7; i++ {
		join(t, s, domain.UserID(fmt.Sprintf("u%d", i)), web, false, at(57))
	}
	return s
}

// primetimeOpen is a primetime session: the host and a, b, c connected at
// t0.
func primetimeOpen(t testing.TB) *domain.Session {
	t.Helper()
	s, err := domain.NewHostedSession(domain.KindPrimetime, "host", "Marketing Q&A", "marketing", at(-1))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []domain.UserID{"host", "a", "b", "c"} {
		join(t, &s, u, mobile, false, at(0))
	}
	return &s
}

// primetimeLive is primetimeOpen started by the host at at(1).
func primetimeLive(t testing.TB) *domain.Session {
	t.Helper()
	s := primetimeOpen(t)
	must(t)(s.StartSession("host", at(1)))
	return s
}

// with applies setup steps to a fixture.
func with(fixture func(testing.TB) *domain.Session, steps ...func(t testing.TB, s *domain.Session)) func(testing.TB) *domain.Session {
	return func(t testing.TB) *domain.Session {
		t.Helper()
		s := fixture(t)
		for _, step := range steps {
			step(t, s)
		}
		return s
	}
}

// raised raises the hands of us in order, all at the same time.
func raised(us ...domain.UserID) func(testing.TB, *domain.Session) {
	return func(t testing.TB, s *domain.Session) {
		t.Helper()
		for _, u := range us {
			must(t)(s.RaiseHand(u, at(58)))
		}
	}
}

// seated raises the hands of us and has approver approve them.
func seated(approver domain.UserID, us ...domain.UserID) func(testing.TB, *domain.Session) {
	return func(t testing.TB, s *domain.Session) {
		t.Helper()
		for _, u := range us {
			must(t)(s.RaiseHand(u, at(58)))
			must(t)(s.Approve(approver, u))
		}
	}
}

// dropped disconnects the connections of us at when.
func dropped(when time.Time, us ...domain.UserID) func(testing.TB, *domain.Session) {
	return func(t testing.TB, s *domain.Session) {
		t.Helper()
		for _, u := range us {
			must(t)(s.Disconnect(conn(u), when))
		}
	}
}

// clone is a deep copy of s through a JSON round trip, the way the store
// keeps it.
func clone(t testing.TB, s *domain.Session) domain.Session {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var c domain.Session
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func asJSON(s domain.Session) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// summary renders changes as "event userId ?questionId on|off x[conns]",
// leaving out the parts a change does not carry (on/off is the onStage of
// a stage.changed).
func summary(changes []domain.Change) []string {
	var out []string
	for _, c := range changes {
		parts := []string{c.Event}
		if c.UserID != "" {
			parts = append(parts, string(c.UserID))
		}
		if c.QuestionID != "" {
			parts = append(parts, "?"+c.QuestionID)
		}
		if c.Event == "stage.changed" {
			if on, _ := c.Data["onStage"].(bool); on {
				parts = append(parts, "on")
			} else {
				parts = append(parts, "off")
			}
		}
		if len(c.Disconnect) > 0 {
			cs := make([]string, len(c.Disconnect))
			for i, d := range c.Disconnect {
				cs[i] = string(d)
			}
			parts = append(parts, "x["+strings.Join(cs, ",")+"]")
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

// ruleCase is one command on a fixture: either refused with wantErr (or
// a FieldErrors naming wantFields), leaving the session exactly as it was,
// or accepted with exactly the changes want.
type ruleCase struct {
	name       string
	session    func(testing.TB) *domain.Session
	op         func(s *domain.Session) ([]domain.Change, error)
	wantErr    error
	wantFields []string
	want       []string
	check      func(t *testing.T, s *domain.Session)
}

func runRules(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.session(t)
			before := clone(t, s)
			changes, err := tc.op(s)
			if tc.wantErr != nil || tc.wantFields != nil {
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				if tc.wantFields != nil {
					checkFields(t, err, tc.wantFields...)
				}
				if changes != nil {
					t.Errorf("refused command returned changes %v", summary(changes))
				}
				if got := clone(t, s); !reflect.DeepEqual(got, before) {
					t.Errorf("refused command changed the session:\nbefore %s\nafter  %s", asJSON(before), asJSON(got))
				}
			} else {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := summary(changes); !slices.Equal(got, tc.want) {
					t.Errorf("changes = %q, want %q", got, tc.want)
				}
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

// member returns member u of s or fails the test.
func member(t *testing.T, s *domain.Session, u domain.UserID) domain.Member {
	t.Helper()
	m, ok := s.Member(u)
	if !ok {
		t.Fatalf("no member %s", u)
	}
	return m
}

// handOrder is the ids of the hand queue in order.
func handOrder(s *domain.Session) []domain.UserID {
	var out []domain.UserID
	for _, m := range s.Hands() {
		out = append(out, m.UserID)
	}
	return out
}

// stageIs asserts who is on stage.
func stageIs(want ...domain.UserID) func(t *testing.T, s *domain.Session) {
	return func(t *testing.T, s *domain.Session) {
		t.Helper()
		if got := s.OnStage(); !slices.Equal(got, want) {
			t.Errorf("on stage %v, want %v", got, want)
		}
	}
}

// checks runs several checks in order.
func checks(cs ...func(t *testing.T, s *domain.Session)) func(t *testing.T, s *domain.Session) {
	return func(t *testing.T, s *domain.Session) {
		t.Helper()
		for _, c := range cs {
			c(t, s)
		}
	}
}

// instantEmpty is a new instant session nobody has joined.
func instantEmpty(t testing.TB) *domain.Session {
	t.Helper()
	s, err := domain.NewHostedSession(domain.KindInstant, "host", "Standup", "", at(-1))
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

// scheduledFresh is scheduledSession before its start window.
func scheduledFresh(testing.TB) *domain.Session { return scheduledSession() }

// scheduledSmall is a live scheduled session of capacity 4 with two
// registrations (r1, r2): r1, u1 and u2 connected at at(57), r2 not come.
func scheduledSmall(t testing.TB) *domain.Session {
	t.Helper()
	s := scheduledSession()
	s.Capacity = 4
	s.Tick(at(55))
	join(t, s, "emp", web, false, at(55))
	must(t)(s.StartSession("emp", at(56)))
	join(t, s, "r1", web, true, at(57))
	join(t, s, "u1", web, false, at(57))
	join(t, s, "u2", web, false, at(57))
	return s
}

// scheduledTwoSeats is an open scheduled session with three speakers and
// two speaker seats: emp and sp2 sit, sp3 watches.
func scheduledTwoSeats(t testing.TB) *domain.Session {
	t.Helper()
	s := scheduledSession()
	s.Speakers = append(s.Speakers, "sp3")
	s.Stage = domain.StageLimits{MaxSpeakers: 2, MaxParticipants: 6}
	s.Tick(at(55))
	for _, u := range []domain.UserID{"emp", "sp2", "sp3"} {
		join(t, s, u, mobile, false, at(55))
	}
	return s
}

func joiner(u domain.UserID, dev domain.Device, registered bool) domain.Joiner {
	return domain.Joiner{UserID: u, Name: "Name " + string(u), Device: dev, Registered: registered}
}

// tick is Tick as a command.
func tick(when time.Time) func(*domain.Session) ([]domain.Change, error) {
	return func(s *domain.Session) ([]domain.Change, error) { return s.Tick(when), nil }
}

// refused asserts that op is refused with want and changes nothing.
func refused(t *testing.T, s *domain.Session, want error, op func(*domain.Session) ([]domain.Change, error)) {
	t.Helper()
	before := clone(t, s)
	ch, err := op(s)
	if !errors.Is(err, want) {
		t.Errorf("error = %v, want %v", err, want)
	}
	if ch != nil {
		t.Errorf("refused command returned changes %v", summary(ch))
	}
	if got := clone(t, s); !reflect.DeepEqual(got, before) {
		t.Errorf("refused command changed the session:\nbefore %s\nafter  %s", asJSON(before), asJSON(got))
	}
}
