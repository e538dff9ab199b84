package wsapi

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// op is one rule applied to a session.
type op func(s *domain.Session) ([]domain.Change, error)

// apply runs the time rules and then o on the session, reading what load
// names, as one store.Update: only the items o changes are written. When
// the session item itself is due (a slot ends, rooms close), the whole
// session is read first, so that Tick sees every member. When o is
// refused after the time rules changed the session, those changes are
// still stored and broadcast, and o's error is returned.
func (h *Handler) apply(ctx context.Context, id domain.SessionID, load store.Load, o op) (domain.Session, []domain.Change, error) {
	now := h.clock.Now()
	var changes []domain.Change
	var opErr error
	s, err := h.store.Update(ctx, id, load, func(s *domain.Session) error {
		if due := s.HeadDue(); s.Live.Partial && !due.IsZero() && !due.After(now) {
			return domain.ErrPartial
		}
		changes, opErr = s.Tick(now), nil
		more, err := o(s)
		if err != nil {
			opErr = err
			if len(changes) > 0 {
				return nil
			}
			return err
		}
		changes = append(changes, more...)
		return nil
	})
	if err != nil {
		return s, nil, err
	}
	if opErr != nil {
		h.publish(ctx, s, changes, "")
		return s, nil, opErr
	}
	return s, changes, nil
}

// audience returns s with every member, reading them when s holds only
// some: who hears of a change, as the store has it now.
func (h *Handler) audience(ctx context.Context, s domain.Session) domain.Session {
	if !s.Live.Partial {
		return s
	}
	full, err := h.store.ReadSession(ctx, s.ID, store.Load{AllMembers: true})
	if err != nil {
		h.log.WarnContext(ctx, "read audience", "sessionId", s.ID, "err", err)
		return s
	}
	return full
}

// publish broadcasts changes to the session read afresh with every member
// (whoever is in it now hears of them), closes the connections they end,
// drops connections found gone on the way (never the one that sent the
// message: skip is not posted to), and tells the SFU worker when a change
// concerns media. A 410 from a connection that may still be inside its
// $connect is not taken as gone (domain.ConnectGrace): it asks for the
// state once it is open. What decides is the session in hand, so the
// fan-out learns this without another read.
func (h *Handler) publish(ctx context.Context, s domain.Session, changes []domain.Change, skip domain.ConnectionID) {
	if len(changes) == 0 {
		return
	}
	aud := h.audience(ctx, s)
	refused := h.publishOnce(ctx, aud, changes, skip)
	gone := aud.ProvenGone(refused, h.clock.Now())
	if n := len(refused) - len(gone); n > 0 {
		h.log.DebugContext(ctx, "410 from connections still connecting: kept", "sessionId", aud.ID, "count", n)
	}
	if len(gone) > 0 {
		h.dropConnections(ctx, aud.ID, goneOf(aud, gone))
	}
	for _, c := range changes {
		if c.AffectsMedia() {
			h.syncMedia(ctx, aud)
			break
		}
	}
	h.publishCard(ctx, aud, changes)
}

// goneOf pairs gone connections with their members in s.
func goneOf(s domain.Session, conns []domain.ConnectionID) []gone {
	out := make([]gone, 0, len(conns))
	for _, c := range conns {
		if m, ok := s.MemberByConnection(c); ok {
			out = append(out, gone{c, m.UserID})
		}
	}
	return out
}

// publishOnce sends each change to the connections it concerns and
// returns the connections found gone. s holds every member.
func (h *Handler) publishOnce(ctx context.Context, s domain.Session, changes []domain.Change, skip domain.ConnectionID) []domain.ConnectionID {
	now := h.clock.Now()
	var gone []domain.ConnectionID
	var closing []domain.ConnectionID
	for _, c := range changes {
		payload, err := marshal(eventPayload(s, c))
		if err != nil {
			h.log.ErrorContext(ctx, "encode event", "event", c.Event, "err", err)
			continue
		}
		// Events go to the connections that have asked for the state;
		// the others read this change in the state they will ask for.
		var to []domain.ConnectionID
		audience := s.Listeners(now)
		if c.Scoped {
			audience = s.ListenersIn(c.Room, now)
		}
		for _, conn := range audience {
			if conn != skip {
				to = append(to, conn)
			}
		}
		ends := c.Disconnect
		if c.Ends() {
			// The end closes every connection of the session, not only
			// those the rule saw.
			ends = append(ends, s.Connections()...)
		}
		// Connections a change closes hear of it first.
		for _, conn := range ends {
			if conn != skip && !contains(to, conn) {
				to = append(to, conn)
			}
		}
		gone = append(gone, h.sender.Send(ctx, to, payload)...)
		for _, conn := range ends {
			if !contains(closing, conn) {
				closing = append(closing, conn)
			}
		}
	}
	for _, conn := range closing {
		if err := h.sender.Close(ctx, conn); err != nil {
			h.log.InfoContext(ctx, "close connection", "connectionId", conn, "err", err)
		}
		if err := h.store.DeleteConnection(ctx, conn); err != nil {
			h.log.WarnContext(ctx, "forget connection", "connectionId", conn, "err", err)
		}
	}
	return dedupe(gone, closing)
}

func contains(list []domain.ConnectionID, c domain.ConnectionID) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// dedupe returns the gone connections that are not being closed anyway.
func dedupe(gone, closing []domain.ConnectionID) []domain.ConnectionID {
	var out []domain.ConnectionID
	for _, g := range gone {
		if !contains(closing, g) && !contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// unversioned lists the events that change no session or member item:
// they carry no version (docs/protocol.md).
var unversioned = map[string]bool{
	"qa.asked": true, "qa.voted": true, "qa.answered": true, "qa.dismissed": true,
	"chat.message": true, "breakout.broadcast": true,
}

// eventPayload is the wire form of a change: {"type":"event","event":…}
// with the member, question, stage or queue it concerns. s holds every
// member.
func eventPayload(s domain.Session, c domain.Change) map[string]any {
	p := map[string]any{"type": "event", "event": c.Event, "sessionId": s.ID}
	if !unversioned[c.Event] {
		p["version"] = s.StateVersion()
	}
	for k, v := range c.Data {
		p[k] = v
	}
	if c.UserID != "" {
		p["userId"] = c.UserID
		if m, ok := s.Member(c.UserID); ok && (c.Event == "member.joined" || c.Event == "devices.changed" || c.Event == "stage.changed" ||
			c.Event == "hand.raised" || c.Event == "hand.lowered" || c.Event == "hand.declined" || c.Event == "hand.approved") {
			p["member"] = viewMember(m)
		}
	}
	if c.QuestionID != "" {
		p["questionId"] = c.QuestionID
	}
	if c.Room != nil {
		p["room"] = *c.Room
	}
	switch c.Event {
	case "stage.changed", "hand.approved", "presenter.assigned":
		p["onStageIds"] = nonNil(s.OnStage())
		p["presenterId"] = optionalUser(s.PresenterID)
	case "hand.raised", "hand.lowered", "hand.declined":
		var q []domain.UserID
		for _, m := range s.Hands() {
			q = append(q, m.UserID)
		}
		p["hands"] = nonNil(q)
	case "session.started", "session.ended", "session.expired", "session.startable":
		p["status"] = s.Status
	}
	return p
}

func nonNil(l []domain.UserID) []domain.UserID {
	if l == nil {
		return []domain.UserID{}
	}
	return l
}

// syncMedia tells the SFU worker about the session, which holds every
// member.
func (h *Handler) syncMedia(ctx context.Context, s domain.Session) {
	if h.media == nil {
		return
	}
	if err := h.mediaMoved(ctx, h.media.Sync(ctx, s)); err != nil && !errors.Is(err, context.Canceled) {
		h.log.WarnContext(ctx, "sync media", "sessionId", s.ID, "err", err)
	}
}

// movedError is what Media returns when a session's media moved to
// another worker (its worker lapsed or is draining): the call succeeded,
// and the members must reconnect their media.
type movedError interface {
	error
	MovedSession() domain.Session
}

// mediaMoved tells the members to reconnect when err says the media
// moved, and then counts the call a success.
func (h *Handler) mediaMoved(ctx context.Context, err error) error {
	var moved movedError
	if errors.As(err, &moved) {
		h.MediaMoved(ctx, moved.MovedSession())
		return nil
	}
	return err
}

// MediaMoved sends media.reconnect to every member of s: its media now
// runs on another worker (Live.Media.Epoch says which), and each member
// renegotiates from a fresh offer without leaving the session.
func (h *Handler) MediaMoved(ctx context.Context, s domain.Session) {
	h.log.InfoContext(ctx, "media moved", "sessionId", s.ID, "worker", s.Live.Media.WorkerID, "epoch", s.Live.Media.Epoch)
	aud := h.audience(ctx, s)
	refused := h.publishOnce(ctx, aud, []domain.Change{{Event: "media.reconnect", Data: map[string]any{"epoch": s.Live.Media.Epoch}}}, "")
	if gone := aud.ProvenGone(refused, h.clock.Now()); len(gone) > 0 {
		h.dropConnections(ctx, aud.ID, goneOf(aud, gone))
	}
}

// ack posts the ack of message id to its connection, ahead of the events
// the message causes: the sender does not wait for the fan-out to the
// whole room. The route's own response is then empty.
func (h *Handler) ack(ctx context.Context, conn domain.ConnectionID, id json.RawMessage) {
	b, err := marshal(ackReply{Type: "ack", ID: id})
	if err == nil {
		h.sender.Send(ctx, []domain.ConnectionID{conn}, b)
	}
}
