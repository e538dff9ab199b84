package domain_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// The live rules (issue 3, item 4) as pure methods on *domain.Session.
// Every refused command must leave the session exactly as it was (runRules
// compares a deep copy), and every accepted one returns exactly the
// changes listed, rendered by summary as "event userId ?questionId on|off
// x[closed connections]".

type op = func(*domain.Session) ([]domain.Change, error)

// ---- instant (seed 000) ----------------------------------------------------

func TestInstantWaitingRoom(t *testing.T) {
	runRules(t, []ruleCase{
		{
			name:    "the creator is admitted as host, on stage",
			session: instantEmpty,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Admit(joiner("host", mobile, false), at(0)) },
			want:    nil,
			check: func(t *testing.T, s *domain.Session) {
				m := member(t, s, "host")
				if m.Role != domain.RoleHost || !m.OnStage || m.Device != mobile || m.Connected {
					t.Errorf("host = %+v, want role host, on stage, mobile, not yet connected", m)
				}
			},
		},
		{
			name: "a connecting member is announced to everyone",
			session: with(instantEmpty, func(t testing.TB, s *domain.Session) {
				admit(t, s, "host", mobile, false, at(0))
			}),
			op:   func(s *domain.Session) ([]domain.Change, error) { return s.Connect("host", "c-host", at(0)) },
			want: []string{"member.joined host"},
			check: func(t *testing.T, s *domain.Session) {
				if m, ok := s.MemberByConnection("c-host"); !ok || m.UserID != "host" || !m.Connected {
					t.Errorf("MemberByConnection(c-host) = %+v, %v", m, ok)
				}
			},
		},
		{
			name:    "members see each other with name and device",
			session: instantOpen,
			op: func(s *domain.Session) ([]domain.Change, error) {
				if ch, err := s.Admit(joiner("p3", web, false), at(2)); err != nil || ch != nil {
					return ch, fmt.Errorf("admit: %v %v", ch, err)
				}
				return s.Connect("p3", "c-p3", at(2))
			},
			want: []string{"member.joined p3"},
			check: func(t *testing.T, s *domain.Session) {
				var got []string
				for _, m := range s.Live.Members {
					got = append(got, fmt.Sprintf("%s/%s/%s/%s", m.UserID, m.Name, m.Device, m.Role))
				}
				want := []string{"host/Name host/mobile/host", "p1/Name p1/mobile/participant", "p2/Name p2/mobile/participant", "w1/Name w1/web/participant", "p3/Name p3/web/participant"}
				if !slices.Equal(got, want) {
					t.Errorf("members %v, want %v", got, want)
				}
				if got := s.Connections(); !slices.Equal(got, []domain.ConnectionID{"c-host", "c-p1", "c-p2", "c-w1", "c-p3"}) {
					t.Errorf("connections %v", got)
				}
			},
		},
		{
			name:    "a waiting member toggles mic and camera",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.SetDevices("w1", true, false) },
			want:    []string{"devices.changed w1"},
			check: func(t *testing.T, s *domain.Session) {
				if m := member(t, s, "w1"); !m.Mic || m.Cam {
					t.Errorf("w1 mic %v cam %v, want true false", m.Mic, m.Cam)
				}
			},
		},
		{
			name:    "setting the same devices again",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.SetDevices("w1", false, false) },
			wantErr: domain.ErrNoChange,
		},
		{
			name:    "a stranger toggles devices",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.SetDevices("nobody", true, true) },
			wantErr: domain.ErrNotMember,
		},
		{
			name:    "a stranger connects",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Connect("nobody", "c-x", at(1)) },
			wantErr: domain.ErrNotMember,
		},
		{
			name:    "the room holds its capacity of participants; the host does not count",
			session: with(instantOpen, func(_ testing.TB, s *domain.Session) { s.Capacity = 3 }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Admit(joiner("p3", mobile, false), at(1)) },
			wantErr: domain.ErrRoomFull,
		},
	})
}

func TestInstantPresenter(t *testing.T) {
	webHost := func(t testing.TB) *domain.Session {
		s := instantEmpty(t)
		join(t, s, "host", web, false, at(0))
		join(t, s, "p1", mobile, false, at(0))
		return s
	}
	runRules(t, []ruleCase{
		{
			name:    "the host assigns a mobile member",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p1") },
			want:    []string{"presenter.assigned p1", "stage.changed p1 on"},
			check: checks(stageIs("host", "p1"), func(t *testing.T, s *domain.Session) {
				if s.PresenterID != "p1" {
					t.Errorf("presenter %q, want p1", s.PresenterID)
				}
			}),
		},
		{
			name:    "the host changes the presenter before the start",
			session: instantReady,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p2") },
			want:    []string{"stage.changed p1 off", "presenter.assigned p2", "stage.changed p2 on"},
			check:   stageIs("host", "p2"),
		},
		{
			name:    "the presenter takes the one participant seat from an approved member",
			session: with(instantOpen, raised("w1"), func(t testing.TB, s *domain.Session) { must(t)(s.Approve("host", "w1")) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p1") },
			want:    []string{"stage.changed w1 off", "presenter.assigned p1", "stage.changed p1 on"},
			check:   stageIs("host", "p1"),
		},
		{
			name:    "a presenter's raised hand is lowered",
			session: with(instantOpen, raised("p1")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p1") },
			want:    []string{"presenter.assigned p1", "stage.changed p1 on"},
			check: func(t *testing.T, s *domain.Session) {
				if h := handOrder(s); len(h) != 0 {
					t.Errorf("hands %v, want none", h)
				}
			},
		},
		{
			name:    "the same presenter again",
			session: instantReady,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p1") },
			wantErr: domain.ErrNoChange,
		},
		{
			name:    "a member who is not the host",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("p2", "p1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a member assigns themselves",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("p1", "p1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a web member as presenter",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "w1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a web host",
			session: webHost,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a host who rejoined on the web",
			session: with(instantOpen, func(t testing.TB, s *domain.Session) { admit(t, s, "host", web, false, at(1)) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a change after the start",
			session: instantLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p2") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a stranger as presenter",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "nobody") },
			wantErr: domain.ErrNotMember,
		},
		{
			name:    "a removed member as presenter",
			session: with(instantOpen, func(t testing.TB, s *domain.Session) { must(t)(s.RemoveMember("host", "p2")) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p2") },
			wantErr: domain.ErrNotMember,
		},
		{
			name:    "a primetime session has no presenter",
			session: primetimeOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "a") },
			wantErr: domain.ErrForbidden,
		},
	})
}

func TestInstantStart(t *testing.T) {
	runRules(t, []ruleCase{
		{
			name:    "the host starts with a presenter",
			session: instantReady,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("host", at(1)) },
			want:    []string{"session.started host"},
			check: checks(stageIs("host", "p1"), func(t *testing.T, s *domain.Session) {
				if s.Status != domain.StatusLive || !s.Live.StartedAt.Equal(at(1)) {
					t.Errorf("status %s started %v", s.Status, s.Live.StartedAt)
				}
			}),
		},
		{
			name:    "without a presenter",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("host", at(1)) },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "by a member who is not the host",
			session: instantReady,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("p2", at(1)) },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "by the presenter",
			session: instantReady,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("p1", at(1)) },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "the presenter rejoined on the web",
			session: with(instantReady, func(t testing.TB, s *domain.Session) { admit(t, s, "p1", web, false, at(1)) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("host", at(1)) },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "the host rejoined on the web",
			session: with(instantReady, func(t testing.TB, s *domain.Session) { admit(t, s, "host", web, false, at(1)) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("host", at(1)) },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "the presenter was removed",
			session: with(instantReady, func(t testing.TB, s *domain.Session) { must(t)(s.RemoveMember("host", "p1")) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("host", at(1)) },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "twice",
			session: instantLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("host", at(2)) },
			wantErr: domain.ErrConflict,
		},
	})
}

func TestInstantPresenterIsLockedAfterStart(t *testing.T) {
	runRules(t, []ruleCase{
		{
			name:    "the presenter leaves the stage",
			session: instantLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("p1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "the host removes the presenter from the stage",
			session: instantLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("host", "p1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "the host removes the presenter from the session",
			session: instantLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("host", "p1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "the host leaves the stage",
			session: instantLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("host") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "before the start the presenter may step down",
			session: instantReady,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("p1") },
			want:    []string{"stage.changed p1 off"},
			check:   stageIs("host"),
		},
		{
			name:    "before the start the host may remove the presenter",
			session: instantReady,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("host", "p1") },
			want:    []string{"member.removed p1 x[c-p1]"},
			check: checks(stageIs("host"), func(t *testing.T, s *domain.Session) {
				if s.PresenterID != "" {
					t.Errorf("presenter %q, want none", s.PresenterID)
				}
			}),
		},
	})
}

func TestInstantHostRejoinWindow(t *testing.T) {
	hostGone := with(instantOpen, dropped(at(10), "host"))
	expired := with(hostGone, func(t testing.TB, s *domain.Session) {
		if got := summary(s.Tick(at(40))); len(got) != 1 || !strings.HasPrefix(got[0], "session.expired") {
			t.Fatalf("Tick(30 min) = %v, want session.expired", got)
		}
	})
	hostIs := func(want domain.Status, left time.Time) func(t *testing.T, s *domain.Session) {
		return func(t *testing.T, s *domain.Session) {
			t.Helper()
			if s.Status != want || !s.Live.HostLeftAt.Equal(left) {
				t.Errorf("status %s, host left at %v; want %s, %v", s.Status, s.Live.HostLeftAt, want, left)
			}
		}
	}
	runRules(t, []ruleCase{
		{
			name:    "the host leaving the setup screen starts the window",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Disconnect("c-host", at(10)) },
			want:    []string{"member.left host"},
			check:   hostIs(domain.StatusOpen, at(10)),
		},
		{
			name:    "another member leaving starts nothing",
			session: instantOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Disconnect("c-p1", at(10)) },
			want:    []string{"member.left p1"},
			check:   hostIs(domain.StatusOpen, time.Time{}),
		},
		{
			name:    "29 minutes away: still open",
			session: hostGone,
			op:      tick(after(40*time.Minute - time.Second)),
			want:    nil,
			check:   hostIs(domain.StatusOpen, at(10)),
		},
		{
			name:    "a rejoin within 30 minutes clears the window",
			session: hostGone,
			op: func(s *domain.Session) ([]domain.Change, error) {
				if _, err := s.Admit(joiner("host", mobile, false), at(39)); err != nil {
					return nil, err
				}
				return s.Connect("host", "c-host2", at(39))
			},
			want: []string{"member.joined host"},
			check: checks(hostIs(domain.StatusOpen, time.Time{}), stageIs("host"), func(t *testing.T, s *domain.Session) {
				if got := s.Tick(at(45)); got != nil || s.Status != domain.StatusOpen {
					t.Errorf("Tick after the rejoin = %v, status %s", summary(got), s.Status)
				}
			}),
		},
		{
			name:    "30 minutes away: the session expires and everyone is disconnected",
			session: hostGone,
			op:      tick(at(40)),
			want:    []string{"session.expired x[c-p1,c-p2,c-w1]"},
			check: func(t *testing.T, s *domain.Session) {
				if s.Status != domain.StatusExpired || !s.Live.EndedAt.Equal(at(40)) || !s.NextDue().IsZero() {
					t.Errorf("status %s ended %v due %v", s.Status, s.Live.EndedAt, s.NextDue())
				}
			},
		},
		{
			name:    "a rejoin after 31 minutes",
			session: expired,
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.Admit(joiner("host", mobile, false), at(41))
			},
			wantErr: domain.ErrSessionOver,
		},
		{
			name:    "a reconnect after 31 minutes",
			session: expired,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Connect("host", "c-host2", at(41)) },
			wantErr: domain.ErrSessionOver,
		},
		{
			name:    "a member joining an expired session",
			session: expired,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Admit(joiner("p9", mobile, false), at(41)) },
			wantErr: domain.ErrSessionOver,
		},
		{
			name:    "after the start the host may be away",
			session: with(instantLive, dropped(at(10), "host")),
			op:      tick(at(60)),
			want:    nil,
			check:   checks(hostIs(domain.StatusLive, time.Time{}), stageIs("host", "p1")),
		},
		{
			name:    "a host connection reaped at 2 hours starts the window",
			session: instantOpen,
			op:      tick(at(120)),
			want:    []string{"member.left host", "member.left p1", "member.left p2", "member.left w1"},
			check: checks(hostIs(domain.StatusOpen, at(120)), func(t *testing.T, s *domain.Session) {
				if due := s.NextDue(); !due.Equal(at(150)) {
					t.Errorf("NextDue %v, want %v", due, at(150))
				}
			}),
		},
	})
}

// ---- scheduled (seed 001) --------------------------------------------------

func TestScheduledStart(t *testing.T) {
	empAdmitted := with(scheduledFresh, func(t testing.TB, s *domain.Session) {
		admit(t, s, "emp", web, false, at(50))
		admit(t, s, "sp2", mobile, false, at(50))
		admit(t, s, "r1", web, true, at(50))
	})
	started := func(t *testing.T, s *domain.Session) {
		if s.Status != domain.StatusLive {
			t.Errorf("status %s, want live", s.Status)
		}
	}
	runRules(t, []ruleCase{
		{
			name:    "6 minutes early",
			session: empAdmitted,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("emp", at(54)) },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "one second before the window",
			session: empAdmitted,
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.StartSession("emp", after(55*time.Minute-time.Second))
			},
			wantErr: domain.ErrConflict,
		},
		{
			name:    "5 minutes early exactly",
			session: empAdmitted,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("emp", at(55)) },
			want:    []string{"session.started emp"},
			check:   started,
		},
		{
			name:    "a listed speaker at the slot start",
			session: scheduledOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("sp2", at(60)) },
			want:    []string{"session.started sp2"},
			check:   started,
		},
		{
			name:    "a participant",
			session: scheduledOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("r1", at(58)) },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a participant inside the window before it opened",
			session: empAdmitted,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("r1", at(56)) },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a stranger",
			session: scheduledOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("nobody", at(58)) },
			wantErr: domain.ErrNotMember,
		},
		{
			name:    "twice",
			session: scheduledLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("sp2", at(60)) },
			wantErr: domain.ErrConflict,
		},
	})
}

func TestScheduledAdmit(t *testing.T) {
	admitted := func(u domain.UserID, role domain.Role, onStage bool) func(t *testing.T, s *domain.Session) {
		return func(t *testing.T, s *domain.Session) {
			t.Helper()
			if m := member(t, s, u); m.Role != role || m.OnStage != onStage {
				t.Errorf("%s: role %s on stage %v, want %s %v", u, m.Role, m.OnStage, role, onStage)
			}
		}
	}
	admitOp := func(u domain.UserID, registered bool, when time.Time) op {
		return func(s *domain.Session) ([]domain.Change, error) { return s.Admit(joiner(u, web, registered), when) }
	}
	u2Dropped := with(scheduledSmall, dropped(at(60), "u2"))
	// u2 is sent away (removed members hold no spot) and u4 takes the
	// spot at at(58) but never connects.
	u4Admitted := with(scheduledSmall, func(t testing.TB, s *domain.Session) {
		must(t)(s.RemoveMember("emp", "u2"))
		admit(t, s, "u4", web, false, at(58))
	})
	runRules(t, []ruleCase{
		{name: "an unregistered user before the window", session: scheduledFresh, op: admitOp("u9", false, at(50)), wantErr: domain.ErrNotRegistered},
		{name: "an unregistered user in the waiting room", session: scheduledOpen, op: admitOp("u9", false, at(58)), wantErr: domain.ErrNotRegistered},
		{name: "a registered user before live", session: scheduledFresh, op: admitOp("r1", true, at(50)), check: admitted("r1", domain.RoleParticipant, false)},
		{name: "a speaker before the window, unregistered", session: scheduledFresh, op: admitOp("sp2", false, at(10)), check: admitted("sp2", domain.RoleSpeaker, true)},
		{name: "a speaker in the waiting room", session: scheduledOpen, op: admitOp("emp", false, at(58)), check: admitted("emp", domain.RoleSpeaker, true)},
		{name: "once live, an unregistered user takes an unclaimed spot", session: scheduledLive, op: admitOp("u8", false, at(60)), check: admitted("u8", domain.RoleParticipant, false)},
		{
			name:    "once live, the room holds its capacity",
			session: with(scheduledLive, func(t testing.TB, s *domain.Session) { join(t, s, "u8", web, false, at(60)) }),
			op:      admitOp("u9", false, at(60)), wantErr: domain.ErrRoomFull,
		},
		{name: "an unclaimed spot is gone when the registered keep theirs", session: scheduledSmall, op: admitOp("u3", false, at(58)), wantErr: domain.ErrRoomFull},
		{name: "a registered user keeps their spot in a full room", session: scheduledSmall, op: admitOp("r2", true, at(58)), check: admitted("r2", domain.RoleParticipant, false)},
		{name: "a speaker in a full room", session: scheduledSmall, op: admitOp("sp2", false, at(58)), check: admitted("sp2", domain.RoleSpeaker, true)},
		{
			name:    "an admitted member who never connected holds the spot for AdmissionHold",
			session: u4Admitted,
			op:      admitOp("u3", false, after(60*time.Minute-time.Second)), wantErr: domain.ErrRoomFull,
		},
		{
			name:    "an admitted member who never connected stops counting after AdmissionHold",
			session: u4Admitted,
			op:      admitOp("u3", false, at(60)), check: admitted("u3", domain.RoleParticipant, false),
		},
		{name: "a dropped member holds the spot for AdmissionHold", session: u2Dropped, op: admitOp("u3", false, after(62*time.Minute-time.Second)), wantErr: domain.ErrRoomFull},
		{name: "a dropped member stops counting after AdmissionHold", session: u2Dropped, op: admitOp("u3", false, at(62)), check: admitted("u3", domain.RoleParticipant, false)},
		{name: "a dropped member comes back within AdmissionHold", session: u2Dropped, op: admitOp("u2", false, at(61)), check: admitted("u2", domain.RoleParticipant, false)},
		{
			name:    "a dropped member whose spot was taken cannot come back into a full room",
			session: with(u2Dropped, func(t testing.TB, s *domain.Session) { join(t, s, "u3", web, false, at(62)) }),
			op:      admitOp("u2", false, at(63)), wantErr: domain.ErrRoomFull,
		},
	})
}

func TestScheduledStage(t *testing.T) {
	live := scheduledLive
	u1Seated := with(live, seated("emp", "u1"))
	runRules(t, []ruleCase{
		{
			name:    "a participant asks to enable mic and camera",
			session: live,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand("u1", at(58)) },
			want:    []string{"hand.raised u1"},
			check: func(t *testing.T, s *domain.Session) {
				m := member(t, s, "u1")
				if m.HandRaisedAt == nil || !m.HandRaisedAt.Equal(at(58)) || !slices.Equal(handOrder(s), []domain.UserID{"u1"}) {
					t.Errorf("hand raised at %v, queue %v", m.HandRaisedAt, handOrder(s))
				}
			},
		},
		{
			name:    "a speaker approves",
			session: with(live, raised("u1")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("sp2", "u1") },
			want:    []string{"hand.approved u1", "stage.changed u1 on"},
			check: checks(stageIs("emp", "sp2", "u1"), func(t *testing.T, s *domain.Session) {
				if len(s.Hands()) != 0 {
					t.Errorf("hands %v, want none", handOrder(s))
				}
			}),
		},
		{
			name:    "a speaker declines",
			session: with(live, raised("u1")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Decline("emp", "u1") },
			want:    []string{"hand.declined u1"},
			check: checks(stageIs("emp", "sp2"), func(t *testing.T, s *domain.Session) {
				if len(s.Hands()) != 0 {
					t.Errorf("hands %v, want none", handOrder(s))
				}
			}),
		},
		{
			name:    "the sixth participant approved onto the stage",
			session: with(live, seated("emp", "u1", "u2", "u3", "u4", "u5"), raised("u6")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("emp", "u6") },
			want:    []string{"hand.approved u6", "stage.changed u6 on"},
			check:   stageIs("emp", "sp2", "u1", "u2", "u3", "u4", "u5", "u6"),
		},
		{
			name:    "a seventh participant approved with six seated",
			session: with(live, seated("emp", "u1", "u2", "u3", "u4", "u5", "u6"), raised("u7")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("sp2", "u7") },
			wantErr: domain.ErrStageFull,
		},
		{
			name:    "a speaker beyond the speaker seats is admitted off stage and cannot be approved",
			session: with(scheduledTwoSeats, raised("sp3")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("emp", "sp3") },
			wantErr: domain.ErrStageFull,
		},
		{
			name: "a freed speaker seat",
			session: with(scheduledTwoSeats, raised("sp3"), func(t testing.TB, s *domain.Session) {
				must(t)(s.LeaveStage("sp2"))
			}),
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.Approve("emp", "sp3") },
			want:  []string{"hand.approved sp3", "stage.changed sp3 on"},
			check: stageIs("emp", "sp3"),
		},
		{
			name:    "a participant approves",
			session: with(live, raised("u1")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("u2", "u1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a participant declines",
			session: with(live, raised("u1")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Decline("u2", "u1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "approving a member whose hand is down",
			session: live,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("emp", "u1") },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "declining a member whose hand is down",
			session: live,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Decline("emp", "u1") },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "approving a stranger",
			session: live,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("emp", "nobody") },
			wantErr: domain.ErrNotMember,
		},
		{
			name:    "an on-stage participant toggles mic and camera",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.SetDevices("u1", true, true) },
			want:    []string{"devices.changed u1"},
		},
		{
			name:    "an on-stage speaker toggles mic and camera",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.SetDevices("emp", false, true) },
			want:    []string{"devices.changed emp"},
		},
		{
			name:    "an on-stage participant leaves the stage",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("u1") },
			want:    []string{"stage.changed u1 off"},
			check:   stageIs("emp", "sp2"),
		},
		{
			name:    "a speaker leaves the stage",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("emp") },
			want:    []string{"stage.changed emp off"},
			check:   stageIs("sp2", "u1"),
		},
		{
			name:    "leaving the stage when off it",
			session: live,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("u1") },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "raising a hand on stage",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand("u1", at(59)) },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "raising a hand twice",
			session: with(live, raised("u1")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand("u1", at(59)) },
			wantErr: domain.ErrNoChange,
		},
		{
			name:    "lowering one's own hand",
			session: with(live, raised("u1")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LowerHand("u1") },
			want:    []string{"hand.lowered u1"},
		},
		{
			name:    "lowering a hand that is down",
			session: live,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LowerHand("u1") },
			wantErr: domain.ErrNoChange,
		},
		{
			name:    "raising a hand before the session opens",
			session: with(scheduledFresh, func(t testing.TB, s *domain.Session) { admit(t, s, "r1", web, true, at(50)) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand("r1", at(50)) },
			wantErr: domain.ErrConflict,
		},
	})
}

func TestScheduledTick(t *testing.T) {
	statusIs := func(want domain.Status) func(t *testing.T, s *domain.Session) {
		return func(t *testing.T, s *domain.Session) {
			t.Helper()
			if s.Status != want {
				t.Errorf("status %s, want %s", s.Status, want)
			}
		}
	}
	runRules(t, []ruleCase{
		{name: "before the start window", session: scheduledFresh, op: tick(after(55*time.Minute - time.Second)), check: statusIs(domain.StatusScheduled)},
		{name: "5 minutes before the slot it opens", session: scheduledFresh, op: tick(at(55)), want: []string{"session.startable"}, check: statusIs(domain.StatusOpen)},
		{name: "opening is idempotent", session: scheduledOpen, op: tick(at(56)), check: statusIs(domain.StatusOpen)},
		{name: "live until the slot end", session: scheduledLive, op: tick(after(90*time.Minute - time.Second)), check: statusIs(domain.StatusLive)},
		{
			name: "the slot end ends it and disconnects everyone", session: scheduledLive, op: tick(at(90)),
			want:  []string{"session.ended x[c-emp,c-sp2,c-r1,c-r2,c-u1,c-u2,c-u3,c-u4,c-u5,c-u6,c-u7]"},
			check: statusIs(domain.StatusEnded),
		},
		{
			name: "the slot end ends a session never started", session: scheduledOpen, op: tick(at(95)),
			want:  []string{"session.ended x[c-emp,c-sp2,c-r1,c-r2]"},
			check: statusIs(domain.StatusEnded),
		},
		{
			name: "an ended session does not tick", session: with(scheduledLive, func(t testing.TB, s *domain.Session) { s.Tick(at(90)) }),
			op: tick(at(200)), check: statusIs(domain.StatusEnded),
		},
	})
}

// ---- primetime (seed 002) --------------------------------------------------

func TestPrimetime(t *testing.T) {
	live := primetimeLive
	aSeated := with(live, seated("host", "a"))
	runRules(t, []ruleCase{
		{
			name:    "the host starts it",
			session: primetimeOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("host", at(1)) },
			want:    []string{"session.started host"},
			check:   stageIs("host"),
		},
		{
			name:    "a member starts it",
			session: primetimeOpen,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("a", at(1)) },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a member requests to speak",
			session: live,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand("a", at(5)) },
			want:    []string{"hand.raised a"},
			check: func(t *testing.T, s *domain.Session) {
				if got := handOrder(s); !slices.Equal(got, []domain.UserID{"a"}) {
					t.Errorf("hands %v", got)
				}
			},
		},
		{
			name:    "a waiting member cancels",
			session: with(live, raised("a")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LowerHand("a") },
			want:    []string{"hand.lowered a"},
			check: func(t *testing.T, s *domain.Session) {
				if got := handOrder(s); len(got) != 0 {
					t.Errorf("hands %v", got)
				}
			},
		},
		{
			name:    "the host approves: live next to the host",
			session: with(live, raised("a")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("host", "a") },
			want:    []string{"hand.approved a", "stage.changed a on"},
			check:   stageIs("host", "a"),
		},
		{
			name:    "approving the next request sends the current speaker back",
			session: with(aSeated, raised("b", "c")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("host", "b") },
			want:    []string{"stage.changed a off", "hand.approved b", "stage.changed b on"},
			check: checks(stageIs("host", "b"), func(t *testing.T, s *domain.Session) {
				if got := handOrder(s); !slices.Equal(got, []domain.UserID{"c"}) {
					t.Errorf("hands %v, want [c]", got)
				}
			}),
		},
		{
			name:    "the speaker ends their own live video",
			session: aSeated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("a") },
			want:    []string{"stage.changed a off"},
			check:   stageIs("host"),
		},
		{
			name:    "the host does not leave the stage",
			session: aSeated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("host") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a member approves",
			session: with(live, raised("a")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Approve("b", "a") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "the host takes the speaker off the stage",
			session: aSeated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("host", "a") },
			want:    []string{"stage.changed a off"},
			check:   stageIs("host"),
		},
	})
}

// ---- all kinds -------------------------------------------------------------

func TestHandQueueOrder(t *testing.T) {
	type step struct {
		u      domain.UserID
		action string // raise, lower, approve, remove
	}
	tests := []struct {
		name    string
		session func(testing.TB) *domain.Session
		steps   []step
		want    []domain.UserID
	}{
		{
			name: "primetime: in the order raised, equal timestamps", session: primetimeLive,
			steps: []step{{"c", "raise"}, {"a", "raise"}, {"b", "raise"}},
			want:  []domain.UserID{"c", "a", "b"},
		},
		{
			name: "a hand lowered and raised again goes to the back", session: primetimeLive,
			steps: []step{{"a", "raise"}, {"b", "raise"}, {"c", "raise"}, {"a", "lower"}, {"a", "raise"}},
			want:  []domain.UserID{"b", "c", "a"},
		},
		{
			name: "approved and removed members leave the queue", session: scheduledLive,
			steps: []step{{"u5", "raise"}, {"u1", "raise"}, {"u3", "raise"}, {"u2", "raise"}, {"u1", "approve"}, {"u3", "remove"}},
			want:  []domain.UserID{"u5", "u2"},
		},
		{
			name: "instant: the waiting room's queue", session: instantOpen,
			steps: []step{{"w1", "raise"}, {"p2", "raise"}},
			want:  []domain.UserID{"w1", "p2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.session(t)
			mod := domain.UserID("host")
			if s.Kind == domain.KindScheduled {
				mod = "emp"
			}
			for _, st := range tc.steps {
				switch st.action {
				case "raise":
					must(t)(s.RaiseHand(st.u, at(58))) // the same instant for all
				case "lower":
					must(t)(s.LowerHand(st.u))
				case "approve":
					must(t)(s.Approve(mod, st.u))
				case "remove":
					must(t)(s.RemoveMember(mod, st.u))
				}
			}
			if got := handOrder(s); !slices.Equal(got, tc.want) {
				t.Errorf("hands %v, want %v", got, tc.want)
			}
			// Every member gets the same stored session, so the same queue.
			c := clone(t, s)
			if got := handOrder(&c); !slices.Equal(got, tc.want) {
				t.Errorf("hands after a round trip %v, want %v", got, tc.want)
			}
		})
	}
}

func TestModeratorRemoval(t *testing.T) {
	u1Seated := with(scheduledLive, seated("emp", "u1"), raised("u2"))
	runRules(t, []ruleCase{
		{
			name:    "a speaker takes a participant off the stage",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("sp2", "u1") },
			want:    []string{"stage.changed u1 off"},
			check:   stageIs("emp", "sp2"),
		},
		{
			name:    "a speaker takes another speaker off the stage",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("emp", "sp2") },
			want:    []string{"stage.changed sp2 off"},
			check:   stageIs("emp", "u1"),
		},
		{
			name:    "a participant takes someone off the stage",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("u2", "u1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "taking off the stage someone not on it",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("emp", "u2") },
			wantErr: domain.ErrConflict,
		},
		{
			name:    "the primetime host cannot be taken off the stage",
			session: with(primetimeLive, seated("host", "a")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("host", "host") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a speaker removes a seated participant from the session",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("emp", "u1") },
			want:    []string{"member.removed u1 x[c-u1]"},
			check: checks(stageIs("emp", "sp2"), func(t *testing.T, s *domain.Session) {
				if m := member(t, s, "u1"); !m.Removed || m.Connected || m.ConnectionID != "" {
					t.Errorf("u1 = %+v, want removed and disconnected", m)
				}
				if slices.Contains(s.Connections(), "c-u1") {
					t.Errorf("connections still hold c-u1")
				}
				refused(t, s, domain.ErrRemoved, func(s *domain.Session) ([]domain.Change, error) {
					return s.Admit(joiner("u1", web, false), at(61))
				})
				refused(t, s, domain.ErrRemoved, func(s *domain.Session) ([]domain.Change, error) {
					return s.Admit(joiner("u1", web, true), at(61))
				})
				refused(t, s, domain.ErrRemoved, func(s *domain.Session) ([]domain.Change, error) {
					return s.Connect("u1", "c-u1b", at(61))
				})
				refused(t, s, domain.ErrNotMember, func(s *domain.Session) ([]domain.Change, error) {
					return s.RaiseHand("u1", at(61))
				})
				refused(t, s, domain.ErrNotMember, func(s *domain.Session) ([]domain.Change, error) {
					return s.RemoveMember("emp", "u1")
				})
			}),
		},
		{
			name:    "a member with a raised hand is removed from the queue",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("sp2", "u2") },
			want:    []string{"member.removed u2 x[c-u2]"},
			check: func(t *testing.T, s *domain.Session) {
				if got := handOrder(s); len(got) != 0 {
					t.Errorf("hands %v", got)
				}
			},
		},
		{
			name:    "a member admitted but not connected has no connection to close",
			session: with(scheduledLive, func(t testing.TB, s *domain.Session) { admit(t, s, "u8", web, false, at(60)) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("emp", "u8") },
			want:    []string{"member.removed u8"},
		},
		{
			name:    "the instant host removes a member",
			session: instantLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("host", "w1") },
			want:    []string{"member.removed w1 x[c-w1]"},
		},
		{
			name:    "the primetime host removes the speaker",
			session: with(primetimeLive, seated("host", "a")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("host", "a") },
			want:    []string{"member.removed a x[c-a]"},
			check:   stageIs("host"),
		},
		{
			// Issue 14: a co-speaker's member.remove locked the booking
			// employer out of its own session.
			name:    "a co-speaker cannot remove the employer who owns the session",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("sp2", "emp") },
			wantErr: domain.ErrForbidden,
		},
		{
			name: "a co-speaker cannot remove another speaker",
			session: with(u1Seated, func(t testing.TB, s *domain.Session) {
				s.Speakers = append(s.Speakers, "sp3")
				join(t, s, "sp3", web, false, at(60))
			}),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("sp2", "sp3") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a co-speaker cannot take the owner off the stage",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("sp2", "emp") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "the owner removes a co-speaker",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("emp", "sp2") },
			want:    []string{"member.removed sp2 x[c-sp2]"},
		},
		{
			name:    "a participant removes someone",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("u2", "u1") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "a speaker removes themselves",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("emp", "emp") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "the host cannot be removed",
			session: primetimeLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("host", "host") },
			wantErr: domain.ErrForbidden,
		},
		{
			name:    "removing a stranger",
			session: u1Seated,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("emp", "nobody") },
			wantErr: domain.ErrNotMember,
		},
	})
}

func TestEndSession(t *testing.T) {
	ended := func(t *testing.T, s *domain.Session) {
		if s.Status != domain.StatusEnded || !s.Live.EndedAt.Equal(at(70)) {
			t.Errorf("status %s ended at %v", s.Status, s.Live.EndedAt)
		}
	}
	runRules(t, []ruleCase{
		{
			name: "a speaker ends a scheduled session for everyone", session: scheduledLive,
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("sp2", at(70)) },
			want:  []string{"session.ended x[c-emp,c-sp2,c-r1,c-r2,c-u1,c-u2,c-u3,c-u4,c-u5,c-u6,c-u7]"},
			check: ended,
		},
		{
			name: "the host ends an instant session", session: instantLive,
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("host", at(70)) },
			want:  []string{"session.ended x[c-host,c-p1,c-p2,c-w1]"},
			check: ended,
		},
		{
			name: "the host ends a primetime session", session: primetimeLive,
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("host", at(70)) },
			want:  []string{"session.ended x[c-host,c-a,c-b,c-c]"},
			check: ended,
		},
		{
			name: "a scheduled participant", session: scheduledLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("r1", at(70)) },
			wantErr: domain.ErrForbidden,
		},
		{
			name: "the instant presenter", session: instantLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("p1", at(70)) },
			wantErr: domain.ErrForbidden,
		},
		{
			name: "the primetime speaker", session: with(primetimeLive, seated("host", "a")),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("a", at(70)) },
			wantErr: domain.ErrForbidden,
		},
		{
			name: "a stranger", session: primetimeLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("nobody", at(70)) },
			wantErr: domain.ErrNotMember,
		},
	})
}

func TestCommandsAfterEnd(t *testing.T) {
	endedScheduled := with(scheduledLive, seated("emp", "u1"), raised("u2"), func(t testing.TB, s *domain.Session) {
		must(t)(s.Ask("u3", "q1", "Do you hire interns?", at(65)))
		must(t)(s.EndSession("emp", at(70)))
	})
	endedInstant := with(instantReady, func(t testing.TB, s *domain.Session) { must(t)(s.EndSession("host", at(5))) })
	commands := []struct {
		name string
		op   op
	}{
		{"Admit a speaker", func(s *domain.Session) ([]domain.Change, error) { return s.Admit(joiner("emp", web, false), at(71)) }},
		{"Admit a registered user", func(s *domain.Session) ([]domain.Change, error) { return s.Admit(joiner("r9", web, true), at(71)) }},
		{"Admit a member again", func(s *domain.Session) ([]domain.Change, error) { return s.Admit(joiner("u1", web, false), at(71)) }},
		{"Connect", func(s *domain.Session) ([]domain.Change, error) { return s.Connect("u1", "c-u1b", at(71)) }},
		{"SetDevices", func(s *domain.Session) ([]domain.Change, error) { return s.SetDevices("u1", true, true) }},
		{"StartSession", func(s *domain.Session) ([]domain.Change, error) { return s.StartSession("emp", at(71)) }},
		{"EndSession", func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("emp", at(71)) }},
		{"RaiseHand", func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand("u3", at(71)) }},
		{"LowerHand", func(s *domain.Session) ([]domain.Change, error) { return s.LowerHand("u2") }},
		{"Approve", func(s *domain.Session) ([]domain.Change, error) { return s.Approve("emp", "u2") }},
		{"Decline", func(s *domain.Session) ([]domain.Change, error) { return s.Decline("emp", "u2") }},
		{"LeaveStage", func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage("u1") }},
		{"RemoveFromStage", func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage("emp", "u1") }},
		{"RemoveMember", func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("emp", "u4") }},
		{"Ask", func(s *domain.Session) ([]domain.Change, error) { return s.Ask("u4", "q2", "Still there?", at(71)) }},
		{"Upvote", func(s *domain.Session) ([]domain.Change, error) { return s.Upvote("u4", "q1") }},
		{"CloseQuestion", func(s *domain.Session) ([]domain.Change, error) {
			return s.CloseQuestion("emp", "q1", domain.QuestionAnswered)
		}},
	}
	var cases []ruleCase
	for _, c := range commands {
		cases = append(cases, ruleCase{name: "scheduled " + c.name, session: endedScheduled, op: c.op, wantErr: domain.ErrSessionOver})
	}
	cases = append(cases,
		ruleCase{
			name: "instant AssignPresenter", session: endedInstant, wantErr: domain.ErrSessionOver,
			op: func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("host", "p2") },
		},
		ruleCase{
			name: "instant Admit", session: endedInstant, wantErr: domain.ErrSessionOver,
			op: func(s *domain.Session) ([]domain.Change, error) { return s.Admit(joiner("p9", mobile, false), at(6)) },
		},
		ruleCase{
			name: "Tick changes nothing", session: endedScheduled, op: tick(at(300)),
			check: func(t *testing.T, s *domain.Session) {
				if due := s.NextDue(); !due.IsZero() {
					t.Errorf("NextDue %v, want none", due)
				}
			},
		},
	)
	runRules(t, cases)
}

func TestQuestions(t *testing.T) {
	live := scheduledLive
	asked := with(live, func(t testing.TB, s *domain.Session) {
		must(t)(s.Ask("u1", "q1", "Do you hire interns?", at(60)))
	})
	answered := with(asked, func(t testing.TB, s *domain.Session) {
		must(t)(s.CloseQuestion("emp", "q1", domain.QuestionAnswered))
	})
	ask := func(text string) op {
		return func(s *domain.Session) ([]domain.Change, error) { return s.Ask("u1", "q1", text, at(60)) }
	}
	questionIs := func(votes int, st domain.QuestionStatus) func(t *testing.T, s *domain.Session) {
		return func(t *testing.T, s *domain.Session) {
			t.Helper()
			q := s.SortedQuestions()
			if len(q) != 1 || q[0].ID != "q1" || q[0].Votes != votes || q[0].Status != st {
				t.Errorf("questions %+v, want q1 with %d votes, %s", q, votes, st)
			}
		}
	}
	runRules(t, []ruleCase{
		{name: "one character", session: live, op: ask("?"), want: []string{"qa.asked u1 ?q1"}, check: questionIs(0, domain.QuestionOpen)},
		{name: "500 characters", session: live, op: ask(strings.Repeat("a", 500)), want: []string{"qa.asked u1 ?q1"}},
		{name: "500 multi-byte characters", session: live, op: ask(strings.Repeat("日", 500)), want: []string{"qa.asked u1 ?q1"}},
		{name: "empty", session: live, op: ask(""), wantFields: []string{"text"}},
		{name: "501 characters", session: live, op: ask(strings.Repeat("a", 501)), wantFields: []string{"text"}},
		{name: "501 multi-byte characters", session: live, op: ask(strings.Repeat("é", 501)), wantFields: []string{"text"}},
		{
			name: "a speaker asks in the waiting room", session: scheduledOpen,
			op:   func(s *domain.Session) ([]domain.Change, error) { return s.Ask("emp", "q1", "Ready?", at(58)) },
			want: []string{"qa.asked emp ?q1"},
		},
		{
			name: "past the questions a session keeps",
			session: with(live, func(t testing.TB, s *domain.Session) {
				for i := range domain.MaxQuestions {
					must(t)(s.Ask("u2", fmt.Sprintf("x%d", i), "q", at(60)))
				}
			}),
			op: ask("one too many"), wantErr: domain.ErrConflict,
		},
		{
			name: "a stranger asks", session: live,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Ask("nobody", "q1", "hi", at(60)) },
			wantErr: domain.ErrNotMember,
		},
		{
			name: "an upvote", session: asked,
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.Upvote("u2", "q1") },
			want:  []string{"qa.voted u2 ?q1"},
			check: questionIs(1, domain.QuestionOpen),
		},
		{
			name: "a second upvote by the same member", session: with(asked, func(t testing.TB, s *domain.Session) { must(t)(s.Upvote("u2", "q1")) }),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Upvote("u2", "q1") },
			wantErr: domain.ErrConflict,
		},
		{
			name: "an upvote of an unknown question", session: asked,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Upvote("u2", "q9") },
			wantErr: domain.ErrNoQuestion,
		},
		{
			name: "an upvote of an answered question", session: answered,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Upvote("u2", "q1") },
			wantErr: domain.ErrConflict,
		},
		{
			name: "a speaker answers", session: asked,
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion("sp2", "q1", domain.QuestionAnswered)
			},
			want: []string{"qa.answered sp2 ?q1"}, check: questionIs(0, domain.QuestionAnswered),
		},
		{
			name: "a speaker dismisses", session: asked,
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion("emp", "q1", domain.QuestionDismissed)
			},
			want: []string{"qa.dismissed emp ?q1"}, check: questionIs(0, domain.QuestionDismissed),
		},
		{
			name: "the primetime host answers",
			session: with(primetimeLive, func(t testing.TB, s *domain.Session) {
				must(t)(s.Ask("a", "q1", "When is the next one?", at(5)))
			}),
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion("host", "q1", domain.QuestionAnswered)
			},
			want: []string{"qa.answered host ?q1"},
		},
		{
			name: "a participant answers", session: asked,
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion("u2", "q1", domain.QuestionAnswered)
			},
			wantErr: domain.ErrForbidden,
		},
		{
			name: "the asker dismisses their own question", session: asked,
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion("u1", "q1", domain.QuestionDismissed)
			},
			wantErr: domain.ErrForbidden,
		},
		{
			name: "answering again", session: answered,
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion("sp2", "q1", domain.QuestionAnswered)
			},
			wantErr: domain.ErrNoChange,
		},
		{
			name: "answering an unknown question", session: asked,
			op: func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion("emp", "q9", domain.QuestionAnswered)
			},
			wantErr: domain.ErrNoQuestion,
		},
	})
}

func TestSortedQuestions(t *testing.T) {
	s := scheduledLive(t)
	for _, q := range []string{"q1", "q2", "q3", "q4"} {
		must(t)(s.Ask("u1", q, "question "+q, at(60))) // asked in this order, at the same instant
	}
	votes := map[string][]domain.UserID{"q2": {"u2", "u3"}, "q3": {"u4", "u5"}, "q4": {"u6"}}
	for q, us := range votes {
		for _, u := range us {
			must(t)(s.Upvote(u, q))
		}
	}
	var got []string
	for _, q := range s.SortedQuestions() {
		got = append(got, fmt.Sprintf("%s:%d", q.ID, q.Votes))
	}
	if want := []string{"q2:2", "q3:2", "q4:1", "q1:0"}; !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
	// SortedQuestions is a view: the stored order is the order asked.
	var stored []string
	for _, q := range s.Live.Questions {
		stored = append(stored, q.ID)
	}
	if want := []string{"q1", "q2", "q3", "q4"}; !slices.Equal(stored, want) {
		t.Errorf("stored %v, want %v", stored, want)
	}
}

func TestConnectReplacesOlderConnection(t *testing.T) {
	seatedAndWaiting := with(scheduledLive, seated("emp", "u1"), raised("u2"))
	kept := func(u domain.UserID, c domain.ConnectionID, role domain.Role, onStage, hand bool) func(t *testing.T, s *domain.Session) {
		return func(t *testing.T, s *domain.Session) {
			t.Helper()
			m := member(t, s, u)
			if m.ConnectionID != c || !m.Connected || m.Role != role || m.OnStage != onStage || (m.HandRaisedAt != nil) != hand {
				t.Errorf("%s = %+v; want on %s, role %s, on stage %v, hand %v", u, m, c, role, onStage, hand)
			}
			if _, ok := s.MemberByConnection(conn(u)); ok && c != conn(u) {
				t.Errorf("the old connection %s still names a member", conn(u))
			}
			if cs := s.Connections(); !slices.Contains(cs, c) || (c != conn(u) && slices.Contains(cs, conn(u))) {
				t.Errorf("connections %v", cs)
			}
		}
	}
	runRules(t, []ruleCase{
		{
			name: "a seated participant keeps the seat", session: seatedAndWaiting,
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.Connect("u1", "c-u1b", at(61)) },
			want:  []string{"member.joined u1 x[c-u1]"},
			check: checks(kept("u1", "c-u1b", domain.RoleParticipant, true, false), stageIs("emp", "sp2", "u1")),
		},
		{
			name: "a waiting participant keeps the raised hand and its place", session: with(seatedAndWaiting, raised("u3")),
			op:   func(s *domain.Session) ([]domain.Change, error) { return s.Connect("u2", "c-u2b", at(61)) },
			want: []string{"member.joined u2 x[c-u2]"},
			check: checks(kept("u2", "c-u2b", domain.RoleParticipant, false, true), func(t *testing.T, s *domain.Session) {
				if got := handOrder(s); !slices.Equal(got, []domain.UserID{"u2", "u3"}) {
					t.Errorf("hands %v", got)
				}
			}),
		},
		{
			name: "a speaker keeps role and seat", session: seatedAndWaiting,
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.Connect("sp2", "c-sp2b", at(61)) },
			want:  []string{"member.joined sp2 x[c-sp2]"},
			check: kept("sp2", "c-sp2b", domain.RoleSpeaker, true, false),
		},
		{
			name: "the instant host keeps host and stage", session: instantLive,
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.Connect("host", "c-host2", at(5)) },
			want:  []string{"member.joined host x[c-host]"},
			check: checks(kept("host", "c-host2", domain.RoleHost, true, false), stageIs("host", "p1")),
		},
		{
			name: "a member who dropped reconnects with nothing to close", session: with(seatedAndWaiting, dropped(at(60), "u1")),
			op:    func(s *domain.Session) ([]domain.Change, error) { return s.Connect("u1", "c-u1b", at(61)) },
			want:  []string{"member.joined u1"},
			check: kept("u1", "c-u1b", domain.RoleParticipant, true, false),
		},
		{
			name: "the replaced connection's late $disconnect", session: with(seatedAndWaiting, func(t testing.TB, s *domain.Session) {
				must(t)(s.Connect("u1", "c-u1b", at(61)))
			}),
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Disconnect("c-u1", at(62)) },
			wantErr: domain.ErrNoChange,
		},
	})
	t.Run("a reconnect says it is one", func(t *testing.T) {
		s := scheduledLive(t)
		ch := must(t)(s.Connect("u1", "c-u1b", at(61)))
		if rejoined, _ := ch[0].Data["rejoined"].(bool); !rejoined {
			t.Errorf("data %v, want rejoined", ch[0].Data)
		}
		admit(t, s, "u8", web, false, at(61))
		ch = must(t)(s.Connect("u8", "c-u8", at(61)))
		if rejoined, _ := ch[0].Data["rejoined"].(bool); rejoined {
			t.Errorf("data %v, want a first connection", ch[0].Data)
		}
	})
}

func TestDisconnect(t *testing.T) {
	u1Gone := with(scheduledLive, dropped(at(60), "u1"))
	runRules(t, []ruleCase{
		{
			name: "a member's connection closes", session: scheduledLive,
			op:   func(s *domain.Session) ([]domain.Change, error) { return s.Disconnect("c-u1", at(60)) },
			want: []string{"member.left u1"},
			check: func(t *testing.T, s *domain.Session) {
				if m := member(t, s, "u1"); m.Connected || m.ConnectionID != "" || !m.LeftAt.Equal(at(60)) {
					t.Errorf("u1 = %+v", m)
				}
			},
		},
		{
			name: "twice", session: u1Gone,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Disconnect("c-u1", at(61)) },
			wantErr: domain.ErrNoChange,
		},
		{
			name: "an unknown connection", session: scheduledLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Disconnect("c-nobody", at(61)) },
			wantErr: domain.ErrNoChange,
		},
		{
			name: "no connection id", session: scheduledLive,
			op:      func(s *domain.Session) ([]domain.Change, error) { return s.Disconnect("", at(61)) },
			wantErr: domain.ErrNoChange,
		},
	})
}

func TestTickFreesDroppedMembers(t *testing.T) {
	dropped60 := with(scheduledLive, seated("emp", "u1"), raised("u2"), dropped(at(60), "u1", "u2"))
	reconnect := func(when time.Time, us ...domain.UserID) func(testing.TB, *domain.Session) {
		return func(t testing.TB, s *domain.Session) {
			for _, u := range us {
				must(t)(s.Connect(u, conn(u)+"b", when))
			}
		}
	}
	runRules(t, []ruleCase{
		{
			name: "within StageHold the seat and the hand are kept", session: dropped60,
			op: tick(after(62*time.Minute - time.Second)), want: nil,
			check: checks(stageIs("emp", "sp2", "u1"), func(t *testing.T, s *domain.Session) {
				if got := handOrder(s); !slices.Equal(got, []domain.UserID{"u2"}) {
					t.Errorf("hands %v", got)
				}
			}),
		},
		{
			name: "after StageHold the seat and the hand are freed", session: dropped60,
			op:   tick(at(62)),
			want: []string{"stage.changed u1 off", "hand.lowered u2"},
			check: checks(stageIs("emp", "sp2"), func(t *testing.T, s *domain.Session) {
				if got := handOrder(s); len(got) != 0 {
					t.Errorf("hands %v", got)
				}
			}),
		},
		{
			name: "freeing is idempotent", session: with(dropped60, func(_ testing.TB, s *domain.Session) { s.Tick(at(62)) }),
			op: tick(at(65)), want: nil,
		},
		{
			name: "a member back within StageHold keeps everything", session: with(dropped60, reconnect(at(61), "u1", "u2")),
			op: tick(at(70)), want: nil,
			check: stageIs("emp", "sp2", "u1"),
		},
		{
			name: "a dropped speaker loses the seat", session: with(scheduledLive, dropped(at(60), "sp2")),
			op: tick(at(62)), want: []string{"stage.changed sp2 off"},
			check: stageIs("emp"),
		},
		{
			name: "a speaker admitted but not yet connected keeps the seat for StageHold",
			session: with(scheduledFresh, func(t testing.TB, s *domain.Session) {
				admit(t, s, "sp2", mobile, false, at(50))
			}),
			op: tick(after(52*time.Minute - time.Second)), want: nil,
			check: stageIs("sp2"),
		},
		{
			name: "a speaker admitted who never connects loses the seat after StageHold",
			session: with(scheduledFresh, func(t testing.TB, s *domain.Session) {
				admit(t, s, "sp2", mobile, false, at(50))
			}),
			op: tick(at(52)), want: []string{"stage.changed sp2 off"},
			check: stageIs(),
		},
		{
			name: "not the instant host or presenter", session: with(instantLive, dropped(at(10), "host", "p1")),
			op: tick(at(40)), want: nil,
			check: stageIs("host", "p1"),
		},
		{
			name: "not the instant presenter before the start", session: with(instantReady, dropped(at(10), "p1")),
			op: tick(at(20)), want: nil,
			check: stageIs("host", "p1"),
		},
		{
			name: "the primetime speaker but not the host", session: with(primetimeLive, seated("host", "a"), dropped(at(10), "host", "a")),
			op: tick(at(12)), want: []string{"stage.changed a off"},
			check: stageIs("host"),
		},
		{
			name: "a connection older than 2 hours is gone", session: with(primetimeLive, reconnect(at(60), "host", "a", "c")),
			op: tick(at(120)), want: []string{"member.left b"},
			check: func(t *testing.T, s *domain.Session) {
				if m := member(t, s, "b"); m.Connected || m.ConnectionID != "" || !m.LeftAt.Equal(at(120)) {
					t.Errorf("b = %+v", m)
				}
				if got := s.Connections(); !slices.Equal(got, []domain.ConnectionID{"c-hostb", "c-ab", "c-cb"}) {
					t.Errorf("connections %v", got)
				}
			},
		},
		{
			name: "a connection just under 2 hours", session: with(primetimeLive, reconnect(at(60), "host", "a", "c")),
			op: tick(after(120*time.Minute - time.Second)), want: nil,
		},
		{
			name: "a seated member whose connection aged out keeps the seat for StageHold",
			session: with(primetimeLive, reconnect(at(60), "host", "a", "c"), seated("host", "b"), func(_ testing.TB, s *domain.Session) {
				s.Tick(at(120))
			}),
			op: tick(at(122)), want: []string{"stage.changed b off"},
		},
	})
}

func TestNextDue(t *testing.T) {
	tests := []struct {
		name    string
		session func(testing.TB) *domain.Session
		want    time.Time
	}{
		{"instant, nobody joined", instantEmpty, time.Time{}},
		{"instant waiting room: the connections' age limit", instantOpen, at(120)},
		{"instant host away: the end of the rejoin window", with(instantOpen, dropped(at(10), "host")), at(40)},
		{"instant live, host away: no window", with(instantLive, dropped(at(10), "host")), at(120)},
		{"instant presenter away: no stage hold", with(instantReady, dropped(at(10), "p1")), at(120)},
		{"scheduled before its window", scheduledFresh, at(55)},
		{"scheduled open: the slot end", scheduledOpen, at(90)},
		{"scheduled live: the slot end", scheduledLive, at(90)},
		{"scheduled, a seated member dropped", with(scheduledLive, seated("emp", "u1"), dropped(at(70), "u1")), at(72)},
		{"scheduled, a raised hand dropped", with(scheduledLive, raised("u2"), dropped(at(70), "u2")), at(72)},
		{"scheduled, a watcher dropped: nothing to free", with(scheduledLive, dropped(at(70), "u3")), at(90)},
		{"scheduled, a speaker admitted and not connected", with(scheduledFresh, func(t testing.TB, s *domain.Session) {
			admit(t, s, "sp2", mobile, false, at(50))
		}), at(52)},
		{"primetime: the connections' age limit", primetimeLive, at(120)},
		{"primetime, the speaker dropped", with(primetimeLive, seated("host", "a"), dropped(at(10), "a")), at(12)},
		{"ended", with(primetimeLive, func(t testing.TB, s *domain.Session) { must(t)(s.EndSession("host", at(5))) }), time.Time{}},
		{"expired", with(instantOpen, dropped(at(10), "host"), func(_ testing.TB, s *domain.Session) { s.Tick(at(40)) }), time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.session(t)
			due := s.NextDue()
			if !due.Equal(tc.want) {
				t.Fatalf("NextDue = %v, want %v", due, tc.want)
			}
			if due.IsZero() {
				if ch := s.Tick(at(10000)); ch != nil {
					t.Errorf("nothing due, yet Tick far ahead changed %v", summary(ch))
				}
				return
			}
			// Tick changes nothing just before the due time, and something at it.
			early := clone(t, s)
			if ch := early.Tick(due.Add(-time.Second)); ch != nil {
				t.Errorf("Tick a second early changed %v", summary(ch))
			}
			if ch := s.Tick(due); ch == nil {
				t.Errorf("Tick at the due time changed nothing")
			}
		})
	}
}

// TestRefusalsLeaveNoTrace runs the refused commands of the other tests
// once more in one go to be sure nothing partial is written: each command
// on the same session must leave it byte for byte as it was.
func TestRefusalsLeaveNoTrace(t *testing.T) {
	s := with(scheduledLive, seated("emp", "u1", "u2", "u3", "u4", "u5", "u6"), raised("u7"))(t)
	before := clone(t, s)
	for _, c := range []struct {
		want error
		op   op
	}{
		{domain.ErrStageFull, func(s *domain.Session) ([]domain.Change, error) { return s.Approve("emp", "u7") }},
		{domain.ErrForbidden, func(s *domain.Session) ([]domain.Change, error) { return s.Approve("u1", "u7") }},
		{domain.ErrForbidden, func(s *domain.Session) ([]domain.Change, error) { return s.EndSession("u7", at(60)) }},
		{domain.ErrForbidden, func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter("emp", "u1") }},
		{domain.ErrConflict, func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand("u1", at(60)) }},
		{domain.ErrNoChange, func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand("u7", at(60)) }},
		{domain.ErrNotMember, func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember("emp", "nobody") }},
		{domain.ErrNoQuestion, func(s *domain.Session) ([]domain.Change, error) { return s.Upvote("u1", "q9") }},
	} {
		refused(t, s, c.want, c.op)
		if got := clone(t, s); !reflect.DeepEqual(got, before) {
			t.Fatalf("session changed by a refused command")
		}
	}
}

// TestProvenGone: a 410 proves a connection gone only when its member
// connected at least ConnectGrace ago, or when the connection is no
// member's current one.
func TestProvenGone(t *testing.T) {
	s := scheduledLive(t) // u1…u7 connected at minute 57
	must(t)(s.Connect("u1", "c-u1b", at(61)))
	must(t)(s.Connect("u2", "c-u2b", at(60)))
	now := at(61).Add(10 * time.Second)
	refused := []domain.ConnectionID{"c-u1b", "c-u1", "c-u2b", "c-u3", "c-nobody"}
	got := s.ProvenGone(refused, now)
	// c-u1b connected 10 s ago: still inside its $connect, maybe. c-u1 was
	// replaced; c-u2b connected 70 s ago; c-u3 four minutes ago; c-nobody
	// is nobody's.
	if want := []domain.ConnectionID{"c-u1", "c-u2b", "c-u3", "c-nobody"}; !slices.Equal(got, want) {
		t.Fatalf("ProvenGone = %v, want %v", got, want)
	}
	if got := s.ProvenGone(refused[:1], at(61).Add(domain.ConnectGrace)); !slices.Equal(got, refused[:1]) {
		t.Fatalf("after the grace, ProvenGone = %v, want %v", got, refused[:1])
	}
	if got := s.ProvenGone(nil, now); got != nil {
		t.Fatalf("ProvenGone(nil) = %v", got)
	}
}

func TestNamedCoSpeakerRejoinsAsSpeaker(t *testing.T) {
	s := scheduledLive(t)
	if m := member(t, s, "u1"); m.Role != domain.RoleParticipant || !m.Spot {
		t.Fatalf("u1 = %+v, want a participant holding a spot", m)
	}
	spots := s.Live.Spots
	s.Speakers = append(s.Speakers, "u1")
	must(t)(s.Admit(joiner("u1", web, false), at(61)))
	if m := member(t, s, "u1"); m.Role != domain.RoleSpeaker || m.Spot {
		t.Fatalf("u1 = %+v, want a speaker holding no spot", m)
	}
	if s.Live.Spots != spots-1 {
		t.Fatalf("spots %d, want %d", s.Live.Spots, spots-1)
	}
}

func TestBookingListsSpeakersWithinTheStage(t *testing.T) {
	ev := domain.Event{ID: "ev1", Windows: []domain.Window{{Start: at(0), End: at(60)}}, SlotMinutes: 30, Stage: domain.StageLimits{MaxSpeakers: 2, MaxParticipants: 6}}
	ev.Normalize()
	if _, err := domain.NewScheduledSession(ev, "emp", at(0), "T", []domain.UserID{"a"}, at(-60)); err != nil {
		t.Fatalf("one co-speaker on a two-speaker stage: %v", err)
	}
	_, err := domain.NewScheduledSession(ev, "emp", at(0), "T", []domain.UserID{"a", "b"}, at(-60))
	checkFields(t, err, "speakers")
}

func TestRejoinDeadline(t *testing.T) {
	s := with(instantOpen, dropped(at(10), "host"))(t)
	if got := s.RejoinDeadline("host"); !got.Equal(at(40)) {
		t.Fatalf("host's deadline %v, want %v", got, at(40))
	}
	if got := s.RejoinDeadline("p1"); !got.IsZero() {
		t.Fatalf("a member's deadline %v, want none", got)
	}
	// Back within the window, with the host role: no deadline runs.
	must(t)(s.Admit(joiner("host", mobile, false), at(39)))
	must(t)(s.Connect("host", "c-host2", at(39)))
	if m := member(t, s, "host"); m.Role != domain.RoleHost {
		t.Fatalf("host rejoined as %s", m.Role)
	}
	if got := s.RejoinDeadline("host"); !got.IsZero() {
		t.Fatalf("deadline %v after rejoining", got)
	}
	// Gone again past the window: the session expires.
	must(t)(s.Disconnect("c-host2", at(41)))
	s.Tick(at(71))
	if s.Status != domain.StatusExpired || !s.RejoinDeadline("host").IsZero() {
		t.Fatalf("status %s", s.Status)
	}
}
