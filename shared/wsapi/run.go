package wsapi

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

var (
	errReplaced = newWireError(CodeForbidden, "this connection was replaced by a newer one of the same member")
	errNoMedia  = newWireError(CodeConflict, "media is not available for this session")
)

// run carries out one message from the member on rec. It returns a reply
// to send instead of the ack (the state, a page of questions), acked
// when it posted the ack itself, or nil for a plain ack.
func (h *Handler) run(ctx context.Context, rec store.Connection, msg message, now time.Time) (any, error) {
	u := rec.UserID
	self := []domain.UserID{u}
	switch msg.Type {
	case "state.get":
		return h.state(ctx, rec, msg, now)
	case "qa.list":
		return h.listQuestions(ctx, rec, msg)
	case "chat.send":
		return h.chat(ctx, rec, msg, now)
	case "breakout.broadcast":
		return h.broadcast(ctx, rec, msg, now)
	case "media.offer", "media.answer", "media.candidate":
		return nil, h.signal(ctx, rec, msg)
	}
	// Each message reads the members it concerns: the sender, the member
	// it names, the stage when seats may change hands.
	var o op
	load := store.Load{Members: self}
	switch b := msg.Body.(type) {
	case *devicesMsg:
		o = func(s *domain.Session) ([]domain.Change, error) { return s.SetDevices(u, *b.Mic, *b.Cam) }
	case *userMsg:
		target := domain.UserID(b.UserID)
		load.Members = append(load.Members, target)
		switch msg.Type {
		case "presenter.assign":
			load.Stage = true
			o = func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter(u, target) }
		case "hand.approve":
			load.Stage = true
			o = func(s *domain.Session) ([]domain.Change, error) { return s.Approve(u, target) }
		case "hand.decline":
			o = func(s *domain.Session) ([]domain.Change, error) { return s.Decline(u, target) }
		case "stage.remove":
			o = func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage(u, target) }
		case "member.remove":
			o = func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember(u, target) }
		}
	case *questionTextMsg:
		id := domain.NewID(10)
		o = func(s *domain.Session) ([]domain.Change, error) { return s.Ask(u, id, b.Text, now) }
	case *questionMsg:
		q := b.QuestionID
		load.Questions = []string{q}
		switch msg.Type {
		case "qa.upvote":
			load.VotesOf = u
			o = func(s *domain.Session) ([]domain.Change, error) { return s.Upvote(u, q) }
		case "qa.answer":
			o = func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion(u, q, domain.QuestionAnswered)
			}
		case "qa.dismiss":
			o = func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion(u, q, domain.QuestionDismissed)
			}
		}
	default:
		switch msg.Type {
		case "session.start":
			// The presenter holds its seat: the stage brings it.
			load.Stage = true
			o = func(s *domain.Session) ([]domain.Change, error) { return s.StartSession(u, now) }
		case "session.end":
			load = store.Load{AllMembers: true}
			o = func(s *domain.Session) ([]domain.Change, error) { return s.EndSession(u, now) }
		case "hand.raise":
			o = func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand(u, now) }
		case "hand.lower":
			o = func(s *domain.Session) ([]domain.Change, error) { return s.LowerHand(u) }
		case "stage.leave":
			o = func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage(u) }
		}
	}
	if o == nil {
		o, load = h.breakoutOp(u, msg, now)
	}
	if o == nil {
		return nil, newWireError(CodeInvalid, "unknown message type")
	}
	s, changes, err := h.apply(ctx, rec.SessionID, load, func(s *domain.Session) ([]domain.Change, error) {
		if m, ok := s.Member(u); !ok || m.ConnectionID != rec.ID {
			return nil, errReplaced
		}
		return o(s)
	})
	if errors.Is(err, domain.ErrNoChange) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h.ack(ctx, rec.ID, msg.ID)
	h.publish(ctx, s, changes, "")
	return acked, nil
}

// liveMember reads the session's own item and the member on connection
// rec, which must be its current connection, in a session that is not
// over. The messages that change no state (chat, broadcast, media) start
// here: they read two small items, never the whole session.
func (h *Handler) liveMember(ctx context.Context, rec store.Connection) (domain.Session, domain.Member, error) {
	s, err := h.store.ReadSession(ctx, rec.SessionID, store.Load{Members: []domain.UserID{rec.UserID}})
	if err != nil {
		return s, domain.Member{}, err
	}
	m, ok := s.Member(rec.UserID)
	switch {
	case !ok || m.Removed:
		return s, m, domain.ErrNotMember
	case m.ConnectionID != rec.ID:
		return s, m, errReplaced
	case s.Status.Over():
		return s, m, domain.ErrSessionOver
	}
	return s, m, nil
}

// chat sends a message to the member's current room and keeps it.
func (h *Handler) chat(ctx context.Context, rec store.Connection, msg message, now time.Time) (any, error) {
	s, m, err := h.liveMember(ctx, rec)
	if err != nil {
		return nil, err
	}
	text := msg.Body.(*textMsg).Text
	cm := store.ChatMessage{SessionID: s.ID, ID: domain.NewID(12), UserID: m.UserID, Name: m.Name, Text: text, Room: m.Room, At: now}
	if err := h.store.AddChat(ctx, cm); err != nil {
		return nil, err
	}
	h.ack(ctx, rec.ID, msg.ID)
	data := map[string]any{"id": cm.ID, "name": cm.Name, "text": cm.Text, "at": cm.At, "room": cm.Room}
	h.publish(ctx, s, []domain.Change{{Event: "chat.message", UserID: m.UserID, Data: data, Scoped: true, Room: m.Room}}, "")
	return acked, nil
}

// signal hands media signaling to the SFU worker: it reads the session's
// own item (its worker) and the sender's member item, nothing else.
func (h *Handler) signal(ctx context.Context, rec store.Connection, msg message) error {
	if h.media == nil {
		return errNoMedia
	}
	s, m, err := h.liveMember(ctx, rec)
	if err != nil {
		return err
	}
	var payload []byte
	switch b := msg.Body.(type) {
	case *sdpMsg:
		payload, err = json.Marshal(b)
	case *candidateMsg:
		payload, err = json.Marshal(b)
	}
	if err != nil {
		return err
	}
	return h.mediaMoved(ctx, h.media.Signal(ctx, s, m, msg.Type, payload))
}
