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
	errReplaced  = newWireError(CodeForbidden, "this connection was replaced by a newer one of the same member")
	errNoMedia   = newWireError(CodeConflict, "media is not available for this session")
	errChatLimit = newWireError(CodeRateLimited, "too many chat messages; wait a few seconds")
)

// run carries out one message from the member on rec. It returns a reply
// to send instead of the ack (the state), or nil.
func (h *Handler) run(ctx context.Context, rec store.Connection, msg message, now time.Time) (any, error) {
	u := rec.UserID
	switch msg.Type {
	case "state.get":
		return h.state(ctx, rec, msg, now)
	case "chat.send":
		return nil, h.chat(ctx, rec, msg.Body.(*textMsg).Text, now)
	case "breakout.broadcast":
		return nil, h.broadcast(ctx, rec, msg.Body.(*textMsg).Text, now)
	case "media.offer", "media.answer", "media.candidate":
		return nil, h.signal(ctx, rec, msg)
	}
	var o op
	switch b := msg.Body.(type) {
	case *devicesMsg:
		o = func(s *domain.Session) ([]domain.Change, error) { return s.SetDevices(u, *b.Mic, *b.Cam) }
	case *userMsg:
		target := domain.UserID(b.UserID)
		o = map[string]op{
			"presenter.assign": func(s *domain.Session) ([]domain.Change, error) { return s.AssignPresenter(u, target) },
			"hand.approve":     func(s *domain.Session) ([]domain.Change, error) { return s.Approve(u, target) },
			"hand.decline":     func(s *domain.Session) ([]domain.Change, error) { return s.Decline(u, target) },
			"stage.remove":     func(s *domain.Session) ([]domain.Change, error) { return s.RemoveFromStage(u, target) },
			"member.remove":    func(s *domain.Session) ([]domain.Change, error) { return s.RemoveMember(u, target) },
		}[msg.Type]
	case *questionTextMsg:
		id := domain.NewID(10)
		o = func(s *domain.Session) ([]domain.Change, error) { return s.Ask(u, id, b.Text, now) }
	case *questionMsg:
		q := b.QuestionID
		o = map[string]op{
			"qa.upvote": func(s *domain.Session) ([]domain.Change, error) { return s.Upvote(u, q) },
			"qa.answer": func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion(u, q, domain.QuestionAnswered)
			},
			"qa.dismiss": func(s *domain.Session) ([]domain.Change, error) {
				return s.CloseQuestion(u, q, domain.QuestionDismissed)
			},
		}[msg.Type]
	default:
		o = map[string]op{
			"session.start": func(s *domain.Session) ([]domain.Change, error) { return s.StartSession(u, now) },
			"session.end":   func(s *domain.Session) ([]domain.Change, error) { return s.EndSession(u, now) },
			"hand.raise":    func(s *domain.Session) ([]domain.Change, error) { return s.RaiseHand(u, now) },
			"hand.lower":    func(s *domain.Session) ([]domain.Change, error) { return s.LowerHand(u) },
			"stage.leave":   func(s *domain.Session) ([]domain.Change, error) { return s.LeaveStage(u) },
		}[msg.Type]
	}
	if o == nil {
		o = h.breakoutOp(u, msg, now)
	}
	if o == nil {
		return nil, newWireError(CodeInvalid, "unknown message type")
	}
	s, changes, err := h.apply(ctx, rec.SessionID, func(s *domain.Session) ([]domain.Change, error) {
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
	h.ackBeforeClose(ctx, rec.ID, msg.ID, changes)
	h.publish(ctx, s, changes, "")
	h.syncMedia(ctx, s)
	return nil, nil
}

// ackBeforeClose posts the ack ahead of the changes when they close the
// sender's own connection (session.end): a reply returned after the close
// would be lost.
func (h *Handler) ackBeforeClose(ctx context.Context, self domain.ConnectionID, id json.RawMessage, changes []domain.Change) {
	for _, c := range changes {
		if contains(c.Disconnect, self) {
			b, err := json.Marshal(ackReply{Type: "ack", ID: id})
			if err == nil {
				h.sender.Send(ctx, []domain.ConnectionID{self}, b)
			}
			return
		}
	}
}

// state answers state.get with the whole session as the member sees it.
func (h *Handler) state(ctx context.Context, rec store.Connection, msg message, now time.Time) (any, error) {
	s, err := h.store.GetSession(ctx, rec.SessionID)
	if err != nil {
		return nil, err
	}
	m, ok := s.Member(rec.UserID)
	if !ok || m.Removed {
		return nil, domain.ErrNotMember
	}
	chat, err := h.store.RecentChat(ctx, s.ID, m.Room, chatHistory)
	if err != nil {
		return nil, err
	}
	st := viewState(s, m, chat, now)
	st.ID = msg.ID
	return st, nil
}

// liveMember reads the session and the member on connection rec, which
// must be its current connection, in a session that is not over. The
// messages that change no state (chat, broadcast, media) start here.
func (h *Handler) liveMember(ctx context.Context, rec store.Connection) (domain.Session, domain.Member, error) {
	s, err := h.store.GetSession(ctx, rec.SessionID)
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
func (h *Handler) chat(ctx context.Context, rec store.Connection, text string, now time.Time) error {
	s, m, err := h.liveMember(ctx, rec)
	if err != nil {
		return err
	}
	allowed, err := h.store.Allow(ctx, "chat#"+string(s.ID)+"#"+string(m.UserID), now.Truncate(ChatWindow), ChatBurst)
	if err != nil {
		return err
	}
	if !allowed {
		return errChatLimit
	}
	cm := store.ChatMessage{SessionID: s.ID, ID: domain.NewID(12), UserID: m.UserID, Name: m.Name, Text: text, Room: m.Room, At: now}
	if err := h.store.AddChat(ctx, cm); err != nil {
		return err
	}
	data := map[string]any{"id": cm.ID, "name": cm.Name, "text": cm.Text, "at": cm.At, "room": cm.Room}
	h.publish(ctx, s, []domain.Change{{Event: "chat.message", UserID: m.UserID, Data: data, Scoped: true, Room: m.Room}}, "")
	return nil
}

// signal hands media signaling to the SFU worker.
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
