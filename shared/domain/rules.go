package domain

import (
	"fmt"
	"slices"
	"time"
)

// Every method here validates first and changes the session only when it
// succeeds, so a refused command leaves the session as it was. A method
// that would change nothing returns ErrNoChange.

// Joiner is a user asking to join a session.
type Joiner struct {
	UserID     UserID
	Name       string
	Device     Device
	Registered bool
}

// roleOf returns the role u takes in the session.
func (s *Session) roleOf(u UserID) Role {
	switch {
	case s.HostID != "" && u == s.HostID:
		return RoleHost
	case s.IsSpeaker(u):
		return RoleSpeaker
	default:
		return RoleParticipant
	}
}

// Admit lets j into the session: the first step of joining, before the
// WebSocket opens. Scheduled sessions admit their speakers at any time and,
// before they are live, only registered users; once live, anyone while the
// unclaimed spots last. Other kinds admit anyone up to capacity.
// Participants count against capacity (Live.Spots, or a registration);
// hosts and speakers do not. A participant keeps its spot from its
// admission until it is pruned; when the room is full, the spots of
// members gone past AdmissionHold are taken back first, which needs every
// member (ErrPartial otherwise).
func (s *Session) Admit(j Joiner, now time.Time) ([]Change, error) {
	if err := s.running(); err != nil {
		return nil, err
	}
	if m := s.member(j.UserID); m != nil {
		if m.Removed {
			return nil, ErrRemoved
		}
		if m.Role == RoleParticipant && s.IsSpeaker(j.UserID) {
			// Named a co-speaker since joining: a speaker from this join on
			// (the spot it held is given back below).
			m.Role = RoleSpeaker
		}
		if m.Role == RoleSpeaker && s.Kind == KindScheduled && !s.IsSpeaker(j.UserID) {
			// Removed from the speakers since joining: a participant from
			// this join on, asking for a spot below like any participant
			// (a moderator takes it off the stage, as any participant).
			m.Role = RoleParticipant
		}
		registered := m.Registered || j.Registered
		switch want := s.needsSpot(m.Role, registered); {
		case want && !m.Spot:
			// A participant whose spot was taken back asks for one again,
			// like a newcomer.
			if err := s.takeSpot(registered, j.UserID, now); err != nil {
				return nil, err
			}
			m.Spot = true
		case !want && m.Spot:
			// Registered since: the registration holds the spot now.
			m.Spot = false
			s.Live.Spots--
		}
		m.Name, m.Device, m.AdmittedAt = j.Name, j.Device, now
		m.Registered = registered
		return nil, nil
	}
	role := s.roleOf(j.UserID)
	m := Member{UserID: j.UserID, Name: j.Name, Device: j.Device, Role: role, Registered: j.Registered, AdmittedAt: now}
	if s.needsSpot(role, j.Registered) {
		if err := s.takeSpot(j.Registered, j.UserID, now); err != nil {
			return nil, err
		}
		m.Spot = true
	}
	s.Live.Seq++
	m.JoinSeq = s.Live.Seq
	switch role {
	case RoleHost:
		s.seat(&m)
	case RoleSpeaker:
		if speakers, _ := s.onStage(); speakers < s.Stage.MaxSpeakers {
			s.seat(&m)
		}
	}
	s.Live.Members = append(s.Live.Members, m)
	return nil, nil
}

// needsSpot reports whether a member of role takes one of the spots
// Live.Spots counts: participants do, unless a registration holds a
// scheduled session's spot for them.
func (s *Session) needsSpot(role Role, registered bool) bool {
	return role == RoleParticipant && !(s.Kind == KindScheduled && registered)
}

// takeSpot counts one more spot for user u, or refuses: a scheduled
// session admits the unregistered only once live, and no kind takes more
// than SpotLimit. A full room first takes back the spots of members gone
// past AdmissionHold (they stay listed until pruned, and ask for a spot
// again if they come back); it needs every member for that. Nothing
// changes when it refuses.
func (s *Session) takeSpot(registered bool, u UserID, now time.Time) error {
	if s.Kind == KindScheduled && !registered && s.Status != StatusLive {
		return ErrNotRegistered
	}
	limit, _ := s.SpotLimit()
	if s.Live.Spots >= limit {
		if s.Live.Partial {
			return ErrPartial
		}
		var lapsed []*Member
		for i := range s.Live.Members {
			if m := &s.Live.Members[i]; m.Spot && m.UserID != u && !m.present(now) {
				lapsed = append(lapsed, m)
			}
		}
		need := s.Live.Spots - limit + 1
		if len(lapsed) < need {
			return ErrRoomFull
		}
		// As many as needed, those gone longest first: what one join
		// writes stays small however many lapsed.
		slices.SortStableFunc(lapsed, func(a, b *Member) int { return a.awaySince().Compare(b.awaySince()) })
		for _, m := range lapsed[:need] {
			m.Spot = false
			s.Live.Spots--
		}
	}
	s.Live.Spots++
	return nil
}

// Connect binds an admitted member to a WebSocket connection. A member who
// connects again replaces the old connection (returned in the change's
// Disconnect) and keeps role, stage seat and raised hand.
func (s *Session) Connect(u UserID, c ConnectionID, now time.Time) ([]Change, error) {
	m := s.member(u)
	switch {
	case m == nil:
		return nil, ErrNotMember
	case m.Removed:
		return nil, ErrRemoved
	}
	if err := s.running(); err != nil {
		return nil, err
	}
	old := m.ConnectionID
	again := !m.ConnectedAt.IsZero()
	m.ConnectionID, m.Connected, m.Synced = c, true, false
	m.ConnectedAt, m.LastSeenAt, m.LeftAt = now, now, time.Time{}
	if m.Role == RoleHost {
		s.Live.HostLeftAt = time.Time{}
	}
	ch := Change{Event: "member.joined", UserID: u, Data: map[string]any{"rejoined": again}}
	if old != "" && old != c {
		ch.Disconnect = []ConnectionID{old}
	}
	return []Change{ch}, nil
}

// Sync records that the member u's connection c asks for the state: from
// now on events reach it (Listeners). The caller marks it before reading
// the state, so that an event is either in that state or posted to it.
// ErrNoChange when it had asked already.
func (s *Session) Sync(u UserID, c ConnectionID) ([]Change, error) {
	m, err := s.actor(u)
	if err != nil {
		return nil, err
	}
	if m.ConnectionID != c || !m.Connected {
		return nil, ErrConflict
	}
	if m.Synced {
		return nil, ErrNoChange
	}
	m.Synced = true
	return nil, nil
}

// Disconnect marks the member on connection c as gone. It is idempotent:
// an unknown or replaced connection changes nothing. When the host of an
// instant session leaves its setup screen, the 30-minute rejoin window
// starts.
func (s *Session) Disconnect(c ConnectionID, now time.Time) ([]Change, error) {
	if c == "" {
		return nil, ErrNoChange
	}
	for i := range s.Live.Members {
		m := &s.Live.Members[i]
		if m.ConnectionID != c {
			continue
		}
		m.ConnectionID, m.Connected, m.Synced, m.LeftAt = "", false, false, now
		if m.Role == RoleHost && s.Kind == KindInstant && s.Status == StatusOpen {
			s.Live.HostLeftAt = now
		}
		return []Change{{Event: "member.left", UserID: m.UserID}}, nil
	}
	return nil, ErrNoChange
}

// SetDevices sets a member's microphone and camera.
func (s *Session) SetDevices(u UserID, mic, cam bool) ([]Change, error) {
	m, err := s.live(u)
	if err != nil {
		return nil, err
	}
	if m.Mic == mic && m.Cam == cam {
		return nil, ErrNoChange
	}
	m.Mic, m.Cam = mic, cam
	return []Change{{Event: "devices.changed", UserID: u, Data: map[string]any{"mic": mic, "cam": cam}}}, nil
}

// moderating returns the acting host or speaker of a running session.
func (s *Session) moderating(actor UserID) (*Member, error) {
	if err := s.running(); err != nil {
		return nil, err
	}
	return s.moderator(actor)
}

// live returns the acting member of a running session.
func (s *Session) live(u UserID) (*Member, error) {
	if err := s.running(); err != nil {
		return nil, err
	}
	return s.actor(u)
}

// AssignPresenter makes target the presenter of an instant session (seed
// 000): only the host, only before the start, only while the host is on a
// mobile device, and only a member on a mobile device.
func (s *Session) AssignPresenter(actor, target UserID) ([]Change, error) {
	a, err := s.live(actor)
	if err != nil {
		return nil, err
	}
	switch {
	case s.Kind != KindInstant, a.Role != RoleHost, s.Status != StatusOpen, a.Device != DeviceMobile:
		return nil, ErrForbidden
	}
	t, err := s.actor(target)
	if err != nil {
		return nil, err
	}
	if t.Device != DeviceMobile {
		return nil, ErrForbidden
	}
	if s.PresenterID == target {
		return nil, ErrNoChange
	}
	// The presenter takes the stage's participant seat (InstantStage):
	// whoever holds it, a former presenter or an approved hand, goes back
	// to watching.
	var changes []Change
	for _, st := range slices.Clone(s.Live.Stage) {
		if !st.Speaker && st.UserID != target {
			s.unseat(st.UserID, s.member(st.UserID))
			changes = append(changes, stageChange(st.UserID, false))
		}
	}
	s.PresenterID = target
	s.seat(t)
	t.lowerHand()
	changes = append(changes, Change{Event: "presenter.assigned", UserID: target}, stageChange(target, true))
	return changes, nil
}

func stageChange(u UserID, on bool) Change {
	return Change{Event: "stage.changed", UserID: u, Data: map[string]any{"onStage": on}}
}

// StartSession makes the session live. Instant: the host, with a presenter chosen
// and both on mobile. Scheduled: a speaker, from StartWindow before the
// slot. Primetime: the host.
func (s *Session) StartSession(actor UserID, now time.Time) ([]Change, error) {
	a, err := s.live(actor)
	if err != nil {
		return nil, err
	}
	if s.Status == StatusLive {
		return nil, ErrConflict
	}
	switch s.Kind {
	case KindInstant:
		if a.Role != RoleHost {
			return nil, ErrForbidden
		}
		p := s.member(s.PresenterID)
		if p == nil || p.Removed || p.Device != DeviceMobile || a.Device != DeviceMobile {
			return nil, ErrConflict
		}
	case KindScheduled:
		if a.Role != RoleSpeaker {
			return nil, ErrForbidden
		}
		if now.Before(s.Start.Add(-StartWindow)) {
			return nil, ErrConflict
		}
	default:
		if a.Role != RoleHost {
			return nil, ErrForbidden
		}
	}
	s.Status = StatusLive
	s.Live.StartedAt = now
	s.Live.HostLeftAt = time.Time{}
	return []Change{{Event: "session.started", UserID: actor}}, nil
}

// EndSession ends the session for everyone (a host or speaker); every connection
// is closed afterwards.
func (s *Session) EndSession(actor UserID, now time.Time) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	return []Change{s.finish(StatusEnded, "session.ended", now)}, nil
}

// finish puts the session in a final status; the change closes every
// connection.
func (s *Session) finish(st Status, event string, now time.Time) Change {
	s.Status = st
	s.Live.EndedAt = now
	return Change{Event: event, Data: map[string]any{"status": string(st)}, Disconnect: s.Connections()}
}

// RaiseHand puts a member off stage in the hand queue, behind everyone
// who raised theirs before.
func (s *Session) RaiseHand(u UserID, now time.Time) ([]Change, error) {
	m, err := s.live(u)
	if err != nil {
		return nil, err
	}
	if m.OnStage || (s.Status != StatusOpen && s.Status != StatusLive) {
		return nil, ErrConflict
	}
	if m.handRaised() {
		return nil, ErrNoChange
	}
	s.Live.Seq++
	t := now
	m.HandRaisedAt, m.HandSeq = &t, s.Live.Seq
	return []Change{{Event: "hand.raised", UserID: u, Data: map[string]any{"handRaisedAt": t}}}, nil
}

// LowerHand takes a member's own request back (Cancel).
func (s *Session) LowerHand(u UserID) ([]Change, error) {
	m, err := s.live(u)
	if err != nil {
		return nil, err
	}
	if !m.handRaised() {
		return nil, ErrNoChange
	}
	m.lowerHand()
	return []Change{{Event: "hand.lowered", UserID: u}}, nil
}

// Approve seats a member whose hand is raised. The stage holds at most
// MaxSpeakers hosts and speakers and MaxParticipants others: past that,
// ErrStageFull. In a primetime session one approved speaker stands beside
// the host at a time: approving the next sends the current one back to
// watching.
func (s *Session) Approve(actor, target UserID) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	t, err := s.actor(target)
	if err != nil {
		return nil, err
	}
	if !t.handRaised() || t.OnStage {
		return nil, ErrConflict
	}
	var changes []Change
	speakers, participants := s.onStage()
	if t.Role.Moderates() {
		if speakers >= s.Stage.MaxSpeakers {
			return nil, ErrStageFull
		}
	} else if participants >= s.Stage.MaxParticipants {
		if s.Kind != KindPrimetime {
			return nil, ErrStageFull
		}
		for _, st := range slices.Clone(s.Live.Stage) {
			if !st.Speaker {
				s.unseat(st.UserID, s.member(st.UserID))
				changes = append(changes, stageChange(st.UserID, false))
			}
		}
	}
	s.seat(t)
	t.lowerHand()
	return append(changes, Change{Event: "hand.approved", UserID: target}, stageChange(target, true)), nil
}

// Decline takes a member's raised hand down (a host or speaker).
func (s *Session) Decline(actor, target UserID) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	t, err := s.actor(target)
	if err != nil {
		return nil, err
	}
	if !t.handRaised() {
		return nil, ErrConflict
	}
	t.lowerHand()
	return []Change{{Event: "hand.declined", UserID: target}}, nil
}

// LeaveStage sends a member on stage back to watching (primetime: "end my
// live video"). The host stays on stage, and an instant session's presenter
// cannot change once it is live.
func (s *Session) LeaveStage(u UserID) ([]Change, error) {
	m, err := s.live(u)
	if err != nil {
		return nil, err
	}
	if !m.OnStage {
		return nil, ErrConflict
	}
	if m.Role == RoleHost || s.lockedPresenter(u) {
		return nil, ErrForbidden
	}
	s.unseat(u, m)
	return []Change{stageChange(u, false)}, nil
}

// lockedPresenter reports whether u is the presenter of a live instant
// session (who cannot change mid-session).
func (s *Session) lockedPresenter(u UserID) bool {
	return s.Kind == KindInstant && s.Status == StatusLive && s.PresenterID == u
}

// RemoveFromStage sends target back to watching (a host or speaker).
func (s *Session) RemoveFromStage(actor, target UserID) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	t, err := s.actor(target)
	if err != nil {
		return nil, err
	}
	if !t.OnStage {
		return nil, ErrConflict
	}
	if t.Role == RoleHost || s.lockedPresenter(target) || s.IsOwner(target) && actor != target {
		return nil, ErrForbidden
	}
	s.unseat(target, t)
	return []Change{stageChange(target, false)}, nil
}

// RemoveMember sends target out of the session for good (a host or
// speaker); the target's connection is closed and it may not rejoin. The
// owner of a scheduled session (the employer who booked it) is never
// removed, and only the owner removes a co-speaker.
func (s *Session) RemoveMember(actor, target UserID) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	t, err := s.actor(target)
	if err != nil {
		return nil, err
	}
	if t.Role == RoleHost || target == actor || s.lockedPresenter(target) || s.IsOwner(target) {
		return nil, ErrForbidden
	}
	// A co-speaker removes participants; only the owner removes a
	// speaker.
	if t.Role == RoleSpeaker && !s.IsOwner(actor) {
		return nil, ErrForbidden
	}
	ch := Change{Event: "member.removed", UserID: target}
	if t.ConnectionID != "" {
		ch.Disconnect = []ConnectionID{t.ConnectionID}
	}
	t.Removed, t.Connected, t.Synced, t.ConnectionID = true, false, false, ""
	s.unseat(target, t)
	if t.Spot {
		t.Spot = false
		s.Live.Spots--
	}
	t.lowerHand()
	if s.PresenterID == target {
		s.PresenterID = ""
	}
	if s.Live.Breakout.Assign != nil {
		delete(s.Live.Breakout.Assign, target)
	}
	t.Room = nil
	return []Change{ch}, nil
}

// Ask adds a question to the session's Q&A.
func (s *Session) Ask(u UserID, id, text string, now time.Time) ([]Change, error) {
	m, err := s.live(u)
	if err != nil {
		return nil, err
	}
	if !TextFits(text, MaxQuestionLen, MaxQuestionBytes) || RuneLen(text) < 1 {
		return nil, FieldErrors{"text": fmt.Sprintf("must be 1 to %d characters and at most %d bytes", MaxQuestionLen, MaxQuestionBytes)}
	}
	if s.Live.QuestionCount >= MaxQuestions {
		return nil, ErrQuestionsFull
	}
	s.Live.QuestionCount++
	s.Live.Seq++
	q := Question{ID: id, UserID: u, Name: m.Name, Text: text, Status: QuestionOpen, AskedAt: now, Seq: s.Live.Seq}
	s.Live.Questions = append(s.Live.Questions, q)
	return []Change{{Event: "qa.asked", UserID: u, QuestionID: id, Data: map[string]any{"text": text, "name": m.Name, "votes": 0, "askedAt": now}}}, nil
}

func (s *Session) question(id string) (*Question, error) {
	for i := range s.Live.Questions {
		if s.Live.Questions[i].ID == id {
			return &s.Live.Questions[i], nil
		}
	}
	return nil, ErrNoQuestion
}

// Upvote adds u's one vote to an open question; a second vote is a
// conflict.
func (s *Session) Upvote(u UserID, qid string) ([]Change, error) {
	if _, err := s.live(u); err != nil {
		return nil, err
	}
	q, err := s.question(qid)
	if err != nil {
		return nil, err
	}
	if q.Status != QuestionOpen || q.votedBy(u) {
		return nil, ErrConflict
	}
	q.Voters = append(q.Voters, u)
	q.Votes++
	return []Change{{Event: "qa.voted", UserID: u, QuestionID: qid, Data: map[string]any{"votes": q.Votes}}}, nil
}

// CloseQuestion marks a question answered or dismissed (a host or
// speaker).
func (s *Session) CloseQuestion(actor UserID, qid string, st QuestionStatus) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	q, err := s.question(qid)
	if err != nil {
		return nil, err
	}
	if q.Status == st {
		return nil, ErrNoChange
	}
	q.Status = st
	return []Change{{Event: "qa." + string(st), UserID: actor, QuestionID: qid}}, nil
}

// Tick applies the rules of time: a scheduled session opens StartWindow
// before its slot and ends at the slot's end; an instant session whose
// host has been away HostRejoinWindow expires; a member gone StageHold
// loses their stage seat and raised hand; a connection older than API
// Gateway's limit is gone. The scheduler calls it, and so does every
// command before it runs.
func (s *Session) Tick(now time.Time) []Change {
	if s.Status.Over() {
		return nil
	}
	var changes []Change
	if s.Kind == KindScheduled && !s.End.IsZero() && !now.Before(s.End) {
		return []Change{s.finish(StatusEnded, "session.ended", now)}
	}
	if s.Kind == KindInstant && s.Status == StatusOpen && !s.Live.HostLeftAt.IsZero() &&
		now.Sub(s.Live.HostLeftAt) >= HostRejoinWindow {
		return []Change{s.finish(StatusExpired, "session.expired", now)}
	}
	if s.Kind == KindScheduled && s.Status == StatusScheduled && !now.Before(s.Start.Add(-StartWindow)) {
		s.Status = StatusOpen
		changes = append(changes, Change{Event: "session.startable"})
	}
	changes = append(changes, s.tickBreakout(now)...)
	// The members a partial session holds are ticked by the scheduler,
	// which reads them all (each is due at MemberDue).
	if s.Live.Partial {
		return changes
	}
	touched := 0
	for i := range s.Live.Members {
		if touched >= MaxMembersPerTick {
			break
		}
		m := &s.Live.Members[i]
		before := len(changes)
		if m.Connected && now.Sub(m.ConnectedAt) >= MaxConnectionAge {
			m.Connected, m.ConnectionID, m.Synced, m.LeftAt = false, "", false, now
			if m.Role == RoleHost && s.Kind == KindInstant && s.Status == StatusOpen {
				s.Live.HostLeftAt = now // as in Disconnect: the rejoin window starts
			}
			changes = append(changes, Change{Event: "member.left", UserID: m.UserID})
		}
		if m.Connected || m.Removed || now.Sub(m.awaySince()) < StageHold || m.Role == RoleHost || m.UserID == s.PresenterID {
			if len(changes) > before {
				touched++
			}
			continue
		}
		if s.Seated(m.UserID) {
			s.unseat(m.UserID, m)
			changes = append(changes, stageChange(m.UserID, false))
		}
		if m.handRaised() {
			m.lowerHand()
			changes = append(changes, Change{Event: "hand.lowered", UserID: m.UserID})
		}
		if len(changes) > before {
			touched++
		}
	}
	return changes
}

// prunable reports whether m may be pruned at now: gone past PruneAfter,
// not removed (a removed member stays, refusing its return), and neither
// the host nor the presenter (who keep their seats while away).
func (s *Session) prunable(m *Member, now time.Time) bool {
	return !m.Connected && !m.Removed && m.Role != RoleHost && m.UserID != s.PresenterID &&
		now.Sub(m.awaySince()) >= PruneAfter
}

// Prune drops the members gone past PruneAfter (member.pruned): their
// seat and raised hand are freed first, and their spot taken back. It
// needs every member and does nothing on a partial session. A pruned
// member who comes back is admitted like a newcomer.
func (s *Session) Prune(now time.Time) []Change {
	if s.Live.Partial || s.Status.Over() {
		return nil
	}
	var changes []Change
	kept := s.Live.Members[:0:0]
	pruned := 0
	for i := range s.Live.Members {
		m := &s.Live.Members[i]
		if pruned >= MaxMembersPerTick || !s.prunable(m, now) {
			kept = append(kept, *m)
			continue
		}
		pruned++
		s.Live.Pruned += m.Version + 1
		if s.Seated(m.UserID) {
			s.unseat(m.UserID, m)
			changes = append(changes, stageChange(m.UserID, false))
		}
		if m.handRaised() {
			changes = append(changes, Change{Event: "hand.lowered", UserID: m.UserID})
		}
		if m.Spot {
			s.Live.Spots--
		}
		if s.Live.Breakout.Assign != nil {
			delete(s.Live.Breakout.Assign, m.UserID)
		}
		changes = append(changes, Change{Event: "member.pruned", UserID: m.UserID})
	}
	if len(changes) > 0 {
		s.Live.Members = kept
	}
	return changes
}

// NextDue is the next time Tick would change the session, or zero when
// nothing is pending: HeadDue, or the MemberTickDue of a member. The
// scheduler looks at sessions that are due.
func (s *Session) NextDue() time.Time {
	next := s.HeadDue()
	for _, m := range s.Live.Members {
		next = earliest(next, s.memberTickDue(m))
	}
	return next
}

// HeadDue is the next time Tick changes the session's own item: the start
// window and the end of a scheduled session, the end of an instant host's
// rejoin window, the breakout timer. Zero when nothing is pending.
func (s *Session) HeadDue() time.Time {
	if s.Status.Over() {
		return time.Time{}
	}
	var next time.Time
	if s.Kind == KindScheduled {
		if s.Status == StatusScheduled {
			next = earliest(next, s.Start.Add(-StartWindow))
		}
		next = earliest(next, s.End)
	}
	if s.Kind == KindInstant && s.Status == StatusOpen && !s.Live.HostLeftAt.IsZero() {
		next = earliest(next, s.Live.HostLeftAt.Add(HostRejoinWindow))
	}
	return earliest(next, s.breakoutDue())
}

// MemberDue is the next time the scheduler has something to do for m
// (Tick or Prune) while it is away, or zero: a store files each member's
// item at it, so that no item lists every member's times. A connected
// member is not filed: its connection is, and the scheduler reaps it when
// API Gateway has closed it (idle, or MaxConnectionAge), marking the
// member gone; so connecting and leaving move a member in the due list
// once each, and nothing else a member does moves it.
func (s *Session) MemberDue(m Member) time.Time {
	if s.Status.Over() || m.Connected || m.Removed {
		return time.Time{}
	}
	due := s.memberTickDue(m)
	if m.Role != RoleHost && m.UserID != s.PresenterID {
		due = earliest(due, m.awaySince().Add(PruneAfter))
	}
	return due
}

// memberTickDue is when Tick next changes m: its connection's age limit,
// or the end of its stage hold.
func (s *Session) memberTickDue(m Member) time.Time {
	if s.Status.Over() {
		return time.Time{}
	}
	if m.Connected {
		return m.ConnectedAt.Add(MaxConnectionAge)
	}
	if !m.Removed && (s.Seated(m.UserID) || m.handRaised()) && m.Role != RoleHost && m.UserID != s.PresenterID {
		return m.awaySince().Add(StageHold)
	}
	return time.Time{}
}

// earliest returns the earlier of a and b, ignoring zero times.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
