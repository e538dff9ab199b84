// Package wsapi is Greenroom's live-session signaling: the $connect,
// $disconnect and $default handlers of the API Gateway WebSocket API.
// Each handler validates, applies one rule of shared/domain to the
// session as one compare-and-swap in the store, and fans the resulting
// events out to the session's connections. The local runner hosts the very
// same handlers.
package wsapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Sender posts to WebSocket connections: the API Gateway management API
// in AWS and in the local runner alike.
type Sender interface {
	// Send posts payload to every connection and returns those that are
	// gone (410); a gone connection never stops the others.
	Send(ctx context.Context, conns []domain.ConnectionID, payload []byte) (gone []domain.ConnectionID)
	// Close closes one connection.
	Close(ctx context.Context, conn domain.ConnectionID) error
}

// Media forwards media signaling to the session's SFU worker and keeps the
// worker's view of the stage in step. It is optional.
type Media interface {
	// Signal hands a member's media.offer, media.answer or
	// media.candidate to the worker.
	Signal(ctx context.Context, s domain.Session, m domain.Member, msgType string, payload json.RawMessage) error
	// Sync tells the worker who is in the session, who may publish and
	// who is in which room.
	Sync(ctx context.Context, s domain.Session) error
}

// Chat limits: at most ChatBurst messages per member in each ChatWindow.
const (
	ChatBurst  = 10
	ChatWindow = 10 * time.Second
	// chatHistory is how many recent messages a state carries.
	chatHistory = 50
	// touchEvery is how often a connection's last-seen time is written.
	touchEvery = time.Minute
	// MessageDeadline bounds one message's work, retries included, below
	// API Gateway's 29-second integration timeout.
	MessageDeadline = 20 * time.Second
)

// Config configures a Handler.
type Config struct {
	Store store.Store
	// Tokens checks join tokens on $connect; without it (the scheduler's
	// case) every connect is refused.
	Tokens *auth.Issuer
	Sender Sender
	// Media is nil when no SFU is wired in: media messages are refused.
	Media  Media
	Clock  domain.Clock
	Logger *slog.Logger
}

var (
	// ErrNoStore and ErrNoSender are returned by New for an incomplete
	// Config.
	ErrNoStore  = errors.New("wsapi: no store")
	ErrNoSender = errors.New("wsapi: no sender")
)

// Handler serves the WebSocket routes. It is safe for concurrent use.
type Handler struct {
	store  store.Store
	tokens *auth.Issuer
	sender Sender
	media  Media
	clock  domain.Clock
	log    *slog.Logger
	dec    decoder
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, ErrNoStore
	case cfg.Sender == nil:
		return nil, ErrNoSender
	}
	h := &Handler{store: cfg.Store, tokens: cfg.Tokens, sender: cfg.Sender, media: cfg.Media, clock: cfg.Clock, log: cfg.Logger, dec: newDecoder()}
	if h.clock == nil {
		h.clock = domain.SystemClock{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

func status(code int) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: code}
}

// Connect is the $connect route: it checks the join token (401 otherwise),
// records the connection and binds it to the member, replacing an older
// connection of the same member.
func (h *Handler) Connect(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	ctx = store.WithLabel(ctx, "$connect")
	conn := domain.ConnectionID(ev.RequestContext.ConnectionID)
	if h.tokens == nil {
		return status(http.StatusUnauthorized), nil
	}
	claims, err := h.tokens.Verify(ev.QueryStringParameters["token"])
	if err != nil || claims.Role != auth.RoleJoin || conn == "" {
		h.log.InfoContext(ctx, "connect refused", "connectionId", conn, "reason", "token")
		return status(http.StatusUnauthorized), nil
	}
	now := h.clock.Now()
	rec := store.Connection{ID: conn, SessionID: claims.SessionID, UserID: claims.UserID(), Device: claims.Device, ConnectedAt: now, LastSeenAt: now}
	if err := h.store.PutConnection(ctx, rec); err != nil {
		h.log.ErrorContext(ctx, "connect: record connection", "connectionId", conn, "err", err)
		return status(http.StatusInternalServerError), nil
	}
	s, changes, err := h.apply(ctx, claims.SessionID, func(s *domain.Session) ([]domain.Change, error) {
		return s.Connect(claims.UserID(), conn, now)
	})
	if err != nil {
		_ = h.store.DeleteConnection(ctx, conn)
		code := http.StatusForbidden
		switch {
		case errors.Is(err, domain.ErrSessionOver):
			code = http.StatusGone
		case errors.Is(err, store.ErrNotFound):
			code = http.StatusNotFound
		case !errors.Is(err, domain.ErrNotMember) && !errors.Is(err, domain.ErrRemoved):
			h.log.ErrorContext(ctx, "connect", "connectionId", conn, "sessionId", claims.SessionID, "err", err)
			code = http.StatusInternalServerError
		}
		return status(code), nil
	}
	h.log.InfoContext(ctx, "connect", "connectionId", conn, "sessionId", s.ID, "userId", claims.UserID(), "version", s.Version)
	// API Gateway refuses posts to a connection until its $connect has
	// returned: everyone else hears of the member now, the member itself
	// asks for the state once the socket is open.
	h.publish(ctx, s, changes, conn)
	h.syncMedia(ctx, s)
	return status(http.StatusOK), nil
}

// Disconnect is the $disconnect route. It is idempotent: API Gateway may
// call it late, twice, or never (the scheduler reaps what it misses).
func (h *Handler) Disconnect(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	ctx = store.WithLabel(ctx, "$disconnect")
	conn := domain.ConnectionID(ev.RequestContext.ConnectionID)
	rec, err := h.store.GetConnection(ctx, conn)
	if err != nil {
		return status(http.StatusOK), nil
	}
	h.dropConnections(ctx, rec.SessionID, []domain.ConnectionID{conn})
	h.log.InfoContext(ctx, "disconnect", "connectionId", conn, "sessionId", rec.SessionID, "userId", rec.UserID)
	return status(http.StatusOK), nil
}

// dropConnections marks connections gone in their session, forgets their
// records and tells the others.
func (h *Handler) dropConnections(ctx context.Context, id domain.SessionID, conns []domain.ConnectionID) {
	now := h.clock.Now()
	s, changes, err := h.apply(ctx, id, func(s *domain.Session) ([]domain.Change, error) {
		var all []domain.Change
		for _, c := range conns {
			ch, err := s.Disconnect(c, now)
			if err != nil && !errors.Is(err, domain.ErrNoChange) {
				return nil, err
			}
			all = append(all, ch...)
		}
		if len(all) == 0 {
			return nil, domain.ErrNoChange
		}
		return all, nil
	})
	for _, c := range conns {
		if err := h.store.DeleteConnection(ctx, c); err != nil {
			h.log.WarnContext(ctx, "forget connection", "connectionId", c, "err", err)
		}
	}
	if err != nil {
		if !errors.Is(err, domain.ErrNoChange) && !errors.Is(err, store.ErrNotFound) {
			h.log.WarnContext(ctx, "drop connections", "sessionId", id, "err", err)
		}
		return
	}
	h.publishOnce(ctx, s, changes, "")
	h.syncMedia(ctx, s)
}

// Default is the $default route: every client message. The reply (ack,
// error or state) is the route's response, which API Gateway sends back on
// the same connection; events go to everyone they concern.
func (h *Handler) Default(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, MessageDeadline)
	defer cancel()
	conn := domain.ConnectionID(ev.RequestContext.ConnectionID)
	reply, msgType, code := h.handle(ctx, conn, ev)
	h.log.InfoContext(ctx, "message", "connectionId", conn, "requestId", ev.RequestContext.RequestID,
		"type", msgType, "code", code, "ms", time.Since(start).Milliseconds())
	b, err := json.Marshal(reply)
	if err != nil {
		b = []byte(`{"type":"error","code":"internal","message":"something went wrong on our side; try again"}`)
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: string(b)}, nil
}

// handle decodes and runs one message and returns the reply, the type and
// the error code ("" on success) for the log.
func (h *Handler) handle(ctx context.Context, conn domain.ConnectionID, ev events.APIGatewayWebsocketProxyRequest) (reply any, msgType, code string) {
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(ctx, "panic", "connectionId", conn, "panic", fmt.Sprint(p))
			reply, code = errorReply(nil, toWire(errors.New("panic"))), CodeInternal
		}
	}()
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(ev.Body); err == nil {
			body = b
		}
	}
	if len(body) > MaxMessageBytes {
		e := &wireError{code: CodeInvalid, message: "the message is larger than 128 KiB", fields: map[string]string{"body": "too large"}}
		return errorReply(nil, e), "", e.code
	}
	msg, err := h.dec.decode(body)
	if err != nil {
		var de *decodeError
		errors.As(err, &de)
		return errorReply(de.id, toWire(err)), "", CodeInvalid
	}
	ctx = store.WithLabel(ctx, msg.Type)
	rec, err := h.store.GetConnection(ctx, conn)
	if err != nil {
		return errorReply(msg.ID, errUnknownConnection), msg.Type, errUnknownConnection.code
	}
	now := h.clock.Now()
	if now.Sub(rec.LastSeenAt) >= touchEvery {
		if err := h.store.TouchConnection(ctx, conn, now); err != nil {
			h.log.WarnContext(ctx, "touch connection", "connectionId", conn, "err", err)
		}
	}
	out, err := h.run(ctx, rec, msg, now)
	if err != nil {
		we := toWire(err)
		if we.code == CodeInternal {
			h.log.ErrorContext(ctx, "message failed", "connectionId", conn, "type", msg.Type, "err", err)
		}
		return errorReply(msg.ID, we), msg.Type, we.code
	}
	if out != nil {
		return out, msg.Type, ""
	}
	return ackReply{Type: "ack", ID: msg.ID}, msg.Type, ""
}

type ackReply struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`
}

type errorMessage struct {
	Type    string            `json:"type"`
	ID      json.RawMessage   `json:"id,omitempty"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func errorReply(id json.RawMessage, e *wireError) errorMessage {
	return errorMessage{Type: "error", ID: id, Code: e.code, Message: e.message, Fields: e.fields}
}
