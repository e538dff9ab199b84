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

// The live state is many items: these check that a rule handed a few of
// them reads what it asks for, writes only what it changed, and that every
// limit holds when members act at once, each on its own items.

// primetime stores a live primetime session with its host and n members
// admitted and connected, one Update each, and returns it as stored.
func primetime(t *testing.T, s store.Store, n int) (domain.Session, []domain.UserID) {
	t.Helper()
	sess := hosted(t, domain.KindPrimetime, domain.PrimetimeCapacity, domain.StatusLive)
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	at := created()
	users := append([]domain.UserID{sess.HostID}, make([]domain.UserID, n)...)
	for i := range users {
		if i > 0 {
			users[i] = newUser()
		}
		u := users[i]
		mustLoad(t, s, sess.ID, store.Load{Members: []domain.UserID{u}}, func(x *domain.Session) error {
			if _, err := x.Admit(domain.Joiner{UserID: u, Name: fmt.Sprintf("M%d", i), Device: domain.DeviceWeb}, at); err != nil {
				return err
			}
			_, err := x.Connect(u, domain.ConnectionID("c-"+string(u)), at)
			return err
		})
	}
	return mustSession(t, s, sess.ID), users[1:]
}

// mustLoad runs Update with load and fails on any error.
func mustLoad(t *testing.T, s store.Store, id domain.SessionID, load store.Load, fn func(*domain.Session) error) domain.Session {
	t.Helper()
	got, err := s.Update(t.Context(), id, load, fn)
	if err != nil {
		t.Fatalf("Update(%s): %v", id, err)
	}
	return got
}

func testItems(t *testing.T, open Opener) {
	at := created()

	t.Run("ReadsWhatItIsAskedFor", func(t *testing.T) {
		s := open(t)
		sess, users := primetime(t, s, 3)
		mustLoad(t, s, sess.ID, store.Load{Members: []domain.UserID{sess.HostID, users[0]}, Stage: true}, func(x *domain.Session) error {
			if _, err := x.RaiseHand(users[0], at); err != nil {
				return err
			}
			_, err := x.Approve(x.HostID, users[0])
			return err
		})
		mustLoad(t, s, sess.ID, store.Load{Members: users[1:2]}, func(x *domain.Session) error {
			_, err := x.Ask(users[1], "q1", "First?", at)
			return err
		})
		mustLoad(t, s, sess.ID, store.Load{Members: users[2:3], Questions: []string{"q1"}, VotesOf: users[2]}, func(x *domain.Session) error {
			_, err := x.Upvote(users[2], "q1")
			return err
		})

		got, err := s.ReadSession(t.Context(), sess.ID, store.Load{Members: users[2:3], Stage: true, Questions: []string{"q1", "nope"}, VotesOf: users[2]})
		wantErr(t, "ReadSession", err, nil)
		var ids []domain.UserID
		for _, m := range got.Live.Members {
			ids = append(ids, m.UserID)
		}
		slices.Sort(ids)
		want := []domain.UserID{sess.HostID, users[0], users[2]}
		slices.Sort(want)
		if !slices.Equal(ids, want) || !got.Live.Partial {
			t.Fatalf("members read %v (partial %v), want %v: the one named and those on stage", ids, got.Live.Partial, want)
		}
		if m, _ := got.Member(users[0]); !m.OnStage {
			t.Fatalf("%s read off stage, want on stage (mirrored from the session)", users[0])
		}
		if len(got.Live.Questions) != 1 || got.Live.Questions[0].Votes != 1 || !slices.Equal(got.Live.Questions[0].Voters, users[2:3]) {
			t.Fatalf("questions read %+v, want q1 with %s's vote", got.Live.Questions, users[2])
		}
		if got.Live.QuestionCount != 1 || got.Live.Spots != 3 {
			t.Fatalf("counts: %d questions, %d spots; want 1 and 3", got.Live.QuestionCount, got.Live.Spots)
		}
		all := mustSession(t, s, sess.ID)
		if all.Live.Partial || len(all.Live.Members) != 4 || !equalHead(all, got) {
			t.Fatalf("GetSession holds %d members (partial %v), or another session item", len(all.Live.Members), all.Live.Partial)
		}
	})

	t.Run("OneMembersWriteTouchesNothingElse", func(t *testing.T) {
		const n = 30
		s := open(t)
		sess, users := primetime(t, s, n)
		before := mustSession(t, s, sess.ID)
		// Everyone toggles at once, each writing its own item: nobody
		// conflicts, nothing is lost, the session item is not written.
		errs := race(n, func(i int) error {
			_, err := s.Update(t.Context(), sess.ID, store.Load{Members: users[i : i+1]}, func(x *domain.Session) error {
				_, err := x.SetDevices(users[i], true, i%2 == 0)
				return err
			})
			return err
		})
		if got := tally(t, "SetDevices", errs); got[nil] != n {
			t.Fatalf("%d of %d device changes stored", got[nil], n)
		}
		after := mustSession(t, s, sess.ID)
		if after.Version != before.Version {
			t.Fatalf("session item version %d -> %d: a member's devices wrote it", before.Version, after.Version)
		}
		for i, u := range users {
			m, _ := after.Member(u)
			was, _ := before.Member(u)
			if !m.Mic || m.Cam != (i%2 == 0) || m.Version != was.Version+1 {
				t.Fatalf("%s: mic %v cam %v version %d, want true %v %d", u, m.Mic, m.Cam, m.Version, i%2 == 0, was.Version+1)
			}
		}
		if after.StateVersion() != before.StateVersion()+n {
			t.Fatalf("StateVersion %d -> %d after %d member writes", before.StateVersion(), after.StateVersion(), n)
		}
	})

	t.Run("SpotsHoldUnderARush", func(t *testing.T) {
		const capacity, n = 8, 30
		s := open(t)
		sess := hosted(t, domain.KindInstant, capacity, domain.StatusOpen)
		if err := s.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
		users := make([]domain.UserID, n)
		for i := range users {
			users[i] = newUser()
		}
		errs := race(n, func(i int) error {
			_, err := s.Update(t.Context(), sess.ID, store.Load{Members: users[i : i+1]}, func(x *domain.Session) error {
				_, err := x.Admit(domain.Joiner{UserID: users[i], Name: "U", Device: domain.DeviceWeb}, at)
				return err
			})
			return err
		})
		got := tally(t, "Admit", errs, domain.ErrRoomFull)
		if got[nil] != capacity || got[domain.ErrRoomFull] != n-capacity {
			t.Fatalf("%d joins for %d spots: %d admitted, %d full", n, capacity, got[nil], got[domain.ErrRoomFull])
		}
		after := mustSession(t, s, sess.ID)
		if after.Live.Spots != capacity || len(after.Live.Members) != capacity {
			t.Fatalf("spots %d, members %d; want %d of each", after.Live.Spots, len(after.Live.Members), capacity)
		}
	})

	t.Run("AFullRoomReadsEveryoneToTakeBackLapsedSpots", func(t *testing.T) {
		s := open(t)
		sess := mustHosted(t, s, 2)
		a, b, c := newUser(), newUser(), newUser()
		for _, u := range []domain.UserID{a, b} {
			mustLoad(t, s, sess.ID, store.Load{Members: []domain.UserID{u}}, func(x *domain.Session) error {
				_, err := x.Admit(domain.Joiner{UserID: u, Name: "U", Device: domain.DeviceWeb}, at)
				return err
			})
		}
		later := at.Add(domain.AdmissionHold)
		calls := 0
		got := mustLoad(t, s, sess.ID, store.Load{Members: []domain.UserID{c}}, func(x *domain.Session) error {
			calls++
			_, err := x.Admit(domain.Joiner{UserID: c, Name: "C", Device: domain.DeviceWeb}, later)
			return err
		})
		if calls != 2 || got.Live.Spots != 2 {
			t.Fatalf("fn ran %d times, spots %d; want twice (partial, then everyone) and 2", calls, got.Live.Spots)
		}
		stored := mustSession(t, s, sess.ID)
		kept := 0
		for _, u := range []domain.UserID{a, b, c} {
			if m, _ := stored.Member(u); m.Spot {
				kept++
			}
		}
		if m, _ := stored.Member(c); !m.Spot || kept != 2 {
			t.Fatalf("%d spots held, %s holds one: %v; want c's and one of the lapsed", kept, c, m.Spot)
		}
	})

	t.Run("TheHandQueueIsServerOrder", func(t *testing.T) {
		const n = 40
		s := open(t)
		sess, users := primetime(t, s, n)
		before := mustSession(t, s, sess.ID)
		seqs := make([]int64, n)
		errs := race(n, func(i int) error {
			got, err := s.Update(t.Context(), sess.ID, store.Load{Members: users[i : i+1]}, func(x *domain.Session) error {
				_, err := x.RaiseHand(users[i], at)
				return err
			})
			if m, ok := got.Member(users[i]); ok {
				seqs[i] = m.HandSeq
			}
			return err
		})
		if got := tally(t, "RaiseHand", errs); got[nil] != n {
			t.Fatalf("%d of %d hands raised", got[nil], n)
		}
		after := mustSession(t, s, sess.ID)
		hands := after.Hands()
		if len(hands) != n {
			t.Fatalf("%d hands in the queue, want %d", len(hands), n)
		}
		for i := 1; i < len(hands); i++ {
			if hands[i].HandSeq <= hands[i-1].HandSeq {
				t.Fatalf("queue numbers %d then %d: not one counter", hands[i-1].HandSeq, hands[i].HandSeq)
			}
		}
		for i, u := range users {
			if m, _ := after.Member(u); m.HandSeq != seqs[i] {
				t.Fatalf("%s stored at %d, Update returned %d", u, m.HandSeq, seqs[i])
			}
		}
		if after.Version != before.Version {
			t.Fatalf("raising hands wrote the session item: version %d -> %d", before.Version, after.Version)
		}
		if after.Live.Seq < before.Live.Seq+n {
			t.Fatalf("Seq %d, want at least %d", after.Live.Seq, before.Live.Seq+n)
		}
	})

	t.Run("AVoteIsCountedOnce", func(t *testing.T) {
		const n = 20
		s := open(t)
		sess, users := primetime(t, s, n)
		mustLoad(t, s, sess.ID, store.Load{Members: users[:1]}, func(x *domain.Session) error {
			_, err := x.Ask(users[0], "q1", "Why?", at)
			return err
		})
		upvote := func(u domain.UserID) error {
			_, err := s.Update(t.Context(), sess.ID, store.Load{Members: []domain.UserID{u}, Questions: []string{"q1"}, VotesOf: u}, func(x *domain.Session) error {
				_, err := x.Upvote(u, "q1")
				return err
			})
			return err
		}
		// Everyone at once, the first member three times over.
		errs := race(n+2, func(i int) error { return upvote(users[max(i-2, 0)]) })
		got := tally(t, "Upvote", errs, domain.ErrConflict)
		if got[nil] != n || got[domain.ErrConflict] != 2 {
			t.Fatalf("%d votes counted, %d refused; want %d and 2", got[nil], got[domain.ErrConflict], n)
		}
		q := mustSession(t, s, sess.ID).Live.Questions[0]
		if q.Votes != n || len(q.Voters) != n {
			t.Fatalf("q1 has %d votes from %d voters, want %d", q.Votes, len(q.Voters), n)
		}
	})

	t.Run("QuestionsStopAtTheLimit", func(t *testing.T) {
		const free, n = 3, 12
		s := open(t)
		sess, users := primetime(t, s, 1)
		for i := range domain.MaxQuestions - free {
			mustLoad(t, s, sess.ID, store.Load{Members: users}, func(x *domain.Session) error {
				_, err := x.Ask(users[0], fmt.Sprintf("q%03d", i), "Filler?", at)
				return err
			})
		}
		errs := race(n, func(i int) error {
			_, err := s.Update(t.Context(), sess.ID, store.Load{Members: users}, func(x *domain.Session) error {
				_, err := x.Ask(users[0], fmt.Sprintf("r%02d", i), "Late?", at)
				return err
			})
			return err
		})
		got := tally(t, "Ask", errs, domain.ErrQuestionsFull)
		if got[nil] != free {
			t.Fatalf("%d of %d asks for the last %d places stored", got[nil], n, free)
		}
		after := mustSession(t, s, sess.ID)
		if after.Live.QuestionCount != domain.MaxQuestions || len(after.Live.Questions) != domain.MaxQuestions {
			t.Fatalf("%d questions counted, %d stored; want %d", after.Live.QuestionCount, len(after.Live.Questions), domain.MaxQuestions)
		}
	})

	t.Run("OneSeatManyApprovalsReadingFew", func(t *testing.T) {
		const n = 10
		s := open(t)
		sess, users := primetime(t, s, n)
		for _, u := range users {
			mustLoad(t, s, sess.ID, store.Load{Members: []domain.UserID{u}}, func(x *domain.Session) error {
				_, err := x.RaiseHand(u, at)
				return err
			})
		}
		// Primetime replaces the speaker: the seat takes one at a time,
		// and each approval sends the one before back.
		errs := race(n, func(i int) error {
			_, err := s.Update(t.Context(), sess.ID, store.Load{Members: []domain.UserID{sess.HostID, users[i]}, Stage: true}, func(x *domain.Session) error {
				_, err := x.Approve(x.HostID, users[i])
				return err
			})
			return err
		})
		if got := tally(t, "Approve", errs); got[nil] != n {
			t.Fatalf("%d of %d approvals", got[nil], n)
		}
		after := mustSession(t, s, sess.ID)
		if on := after.OnStage(); len(on) != 2 || on[0] != sess.HostID {
			t.Fatalf("on stage %v, want the host and one speaker", on)
		}
		seated := 0
		for _, m := range after.Live.Members {
			if m.OnStage {
				seated++
			}
		}
		if seated != 2 || len(after.Hands()) != 0 {
			t.Fatalf("%d members on stage, %d hands; want 2 and 0", seated, len(after.Hands()))
		}
	})

	t.Run("PrunedMembersGoRemovedStay", func(t *testing.T) {
		s := open(t)
		sess, users := primetime(t, s, 3)
		left := at.Add(time.Minute)
		mustLoad(t, s, sess.ID, store.Load{Members: append([]domain.UserID{sess.HostID}, users...)}, func(x *domain.Session) error {
			for _, u := range users[:2] {
				if _, err := x.Disconnect(domain.ConnectionID("c-"+string(u)), left); err != nil {
					return err
				}
			}
			_, err := x.RemoveMember(x.HostID, users[2])
			return err
		})
		due := left.Add(domain.PruneAfter)
		wantDue(t, s, due.Add(-time.Second), 10)
		wantDue(t, s, due, 10, sess.ID)
		before := mustSession(t, s, sess.ID)
		got := mustLoad(t, s, sess.ID, store.Load{AllMembers: true}, func(x *domain.Session) error {
			if len(x.Prune(due)) != 2 {
				return errors.New("pruned not the two who left")
			}
			return nil
		})
		if len(got.Live.Members) != 2 || got.Live.Spots != 0 || got.StateVersion() < before.StateVersion() {
			t.Fatalf("after Prune: %d members, %d spots, state version %d -> %d", len(got.Live.Members), got.Live.Spots, before.StateVersion(), got.StateVersion())
		}
		wantStored(t, s, got)
		if m, ok := got.Member(users[2]); !ok || !m.Removed {
			t.Fatalf("the removed member is gone: %+v %v", m, ok)
		}
		wantDue(t, s, day().AddDate(1, 0, 0), 10)
	})
}

// equalHead reports whether a and b have the same session item.
func equalHead(a, b domain.Session) bool {
	a.Live.Members, a.Live.Questions, b.Live.Members, b.Live.Questions = nil, nil, nil, nil
	return equal(a, b)
}

func testOverLeavesTheDueList(t *testing.T, open Opener) {
	at := created()
	s := open(t)
	ended, endedUsers := primetime(t, s, 2)
	due, dueUsers := primetime(t, s, 1)
	leave := func(id domain.SessionID, users []domain.UserID, when time.Time) {
		mustLoad(t, s, id, store.Load{Members: users}, func(x *domain.Session) error {
			for _, u := range users {
				if _, err := x.Disconnect(domain.ConnectionID("c-"+string(u)), when); err != nil {
					return err
				}
			}
			return nil
		})
	}
	leave(ended.ID, endedUsers, at.Add(time.Minute))
	leave(due.ID, dueUsers, at.Add(2*time.Minute))
	// Ended reading its own item alone: its members' places in the due
	// list are not written, yet nothing of it is ever due again, and it
	// does not hide the session that is.
	mustLoad(t, s, ended.ID, store.Load{}, func(x *domain.Session) error {
		x.Status, x.Live.EndedAt = domain.StatusEnded, at.Add(90*time.Second)
		return nil
	})
	wantDue(t, s, day().AddDate(1, 0, 0), 1, due.ID)
	wantDue(t, s, day().AddDate(1, 0, 0), 10, due.ID)
}
