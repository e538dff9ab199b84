// Package wsapi is Greenroom's live-session signaling: the $connect,
// $disconnect and $default handlers of the API Gateway WebSocket API.
// Each handler validates, spends from the connection's rate limit, reads
// the few items of the session the message needs (store.Load), applies
// one rule of shared/domain, writes back only the items it changed
// (store.Update), acknowledges, and fans the resulting events out to the
// session's connections; the SFU worker hears of it only when the change
// concerns media. The local runner hosts the very same handlers.
package wsapi

import (
	"bytes"
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
	"github.com/greenroom-live/greenroom/shared/groupfeed"
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
	// media.candidate to the worker. s is the session's own item (Partial:
	// its members are not read for signaling).
	Signal(ctx context.Context, s domain.Session, m domain.Member, msgType string, payload json.RawMessage) error
	// Sync tells the worker who is in the session, who may publish and
	// who is in which room; s holds every member.
	Sync(ctx context.Context, s domain.Session) error
}

const (
	// chatHistory is how many recent messages a state carries at most.
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
	Media Media
	// Clock is the clock of every rule; the system clock when nil.
	Clock domain.Clock
	// RateClock measures the rate of each connection's messages (rate
	// limits): elapsed time on the wire, like API Gateway's own
	// throttling, not a rule of the product. The system clock when nil.
	RateClock domain.Clock
	Logger    *slog.Logger
	// Groups posts the card of a group's PrimeTime session to the group's
	// live chat sockets when the session goes live or ends; optional.
	Groups GroupFeed
}

// GroupFeed posts group.message events to a group's live chat sockets.
// *groupfeed.Feed satisfies it.
type GroupFeed interface {
	Publish(ctx context.Context, group domain.GroupID, m groupfeed.Message)
}

var (
	// ErrNoStore and ErrNoSender are returned by New for an incomplete
	// Config.
	ErrNoStore  = errors.New("wsapi: no store")
	ErrNoSender = errors.New("wsapi: no sender")
)

// Handler serves the WebSocket routes. It is safe for concurrent use.
type Handler struct {
	store     store.Store
	tokens    *auth.Issuer
	sender    Sender
	media     Media
	groups    GroupFeed
	clock     domain.Clock
	rateClock domain.Clock
	log       *slog.Logger
	dec       decoder
}

// New returns a Handler for cfg.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, ErrNoStore
	case cfg.Sender == nil:
		return nil, ErrNoSender
	}
	h := &Handler{store: cfg.Store, tokens: cfg.Tokens, sender: cfg.Sender, media: cfg.Media, groups: cfg.Groups, clock: cfg.Clock, rateClock: cfg.RateClock, log: cfg.Logger, dec: newDecoder()}
	if h.clock == nil {
		h.clock = domain.SystemClock{}
	}
	if h.rateClock == nil {
		h.rateClock = domain.SystemClock{}
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
	if claims.Group != "" {
		return h.connectGroup(ctx, conn, claims), nil
	}
	now := h.clock.Now()
	rec := store.Connection{ID: conn, SessionID: claims.SessionID, UserID: claims.UserID(), Device: claims.Device, ConnectedAt: now, LastSeenAt: now}
	if err := h.store.PutConnection(ctx, rec); err != nil {
		h.log.ErrorContext(ctx, "connect: record connection", "connectionId", conn, "err", err)
		return status(http.StatusInternalServerError), nil
	}
	u := claims.UserID()
	s, changes, err := h.apply(ctx, claims.SessionID, store.Load{Members: []domain.UserID{u}}, func(s *domain.Session) ([]domain.Change, error) {
		return s.Connect(u, conn, now)
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
	h.log.InfoContext(ctx, "connect", "connectionId", conn, "sessionId", s.ID, "userId", u, "version", s.Version)
	// API Gateway refuses posts to a connection until its $connect has
	// returned: everyone else hears of the member now, the member itself
	// asks for the state once the socket is open.
	h.publish(ctx, s, changes, conn)
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
	if rec.GroupID != "" {
		h.dropGroupConnection(ctx, rec)
		return status(http.StatusOK), nil
	}
	h.dropConnections(ctx, rec.SessionID, []gone{{rec.ID, rec.UserID}})
	h.log.InfoContext(ctx, "disconnect", "connectionId", conn, "sessionId", rec.SessionID, "userId", rec.UserID)
	return status(http.StatusOK), nil
}

// gone is a connection found gone, with the member it was bound to.
type gone struct {
	conn domain.ConnectionID
	user domain.UserID
}

// dropConnections marks connections gone in their session (reading only
// their members), forgets their records and tells the others.
func (h *Handler) dropConnections(ctx context.Context, id domain.SessionID, conns []gone) {
	now := h.clock.Now()
	var users []domain.UserID
	for _, g := range conns {
		users = append(users, g.user)
	}
	s, changes, err := h.apply(ctx, id, store.Load{Members: users}, func(s *domain.Session) ([]domain.Change, error) {
		var all []domain.Change
		for _, g := range conns {
			ch, err := s.Disconnect(g.conn, now)
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
	for _, g := range conns {
		if err := h.store.DeleteConnection(ctx, g.conn); err != nil {
			h.log.WarnContext(ctx, "forget connection", "connectionId", g.conn, "err", err)
		}
	}
	if err != nil {
		if !errors.Is(err, domain.ErrNoChange) && !errors.Is(err, store.ErrNotFound) {
			h.log.WarnContext(ctx, "drop connections", "sessionId", id, "err", err)
		}
		return
	}
	// Whoever else is gone is left to its own $disconnect or a later
	// message: dropping never cascades.
	aud := h.audience(ctx, s)
	h.publishOnce(ctx, aud, changes, "")
	h.syncMedia(ctx, aud)
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
	if reply == nil {
		// Acknowledged already, ahead of the events (run).
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	b, ok := reply.(encoded)
	var err error
	if !ok {
		b, err = marshal(reply)
	}
	if err != nil {
		b = []byte(`{"type":"error","code":"internal","message":"something went wrong on our side; try again"}`)
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: string(b)}, nil
}

// marshal encodes a message as the socket carries it: without HTML
// escaping (no page embeds it), so that "<" stays one byte.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
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
	if rec.GroupID != "" {
		return h.handleGroup(ctx, rec, msg)
	}
	if err := h.throttle(ctx, rec, msg.Type); err != nil {
		we := toWire(err)
		if we.code == CodeInternal {
			h.log.ErrorContext(ctx, "rate limit", "connectionId", conn, "type", msg.Type, "err", err)
		}
		return errorReply(msg.ID, we), msg.Type, we.code
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
	if out == acked {
		return nil, msg.Type, ""
	}
	if out != nil {
		return out, msg.Type, ""
	}
	return ackReply{Type: "ack", ID: msg.ID}, msg.Type, ""
}

// acked is what run returns once it posted the ack itself.
var acked = &ackReply{}

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
	// RetryAfterMs, with rate_limited, is how long to wait before the
	// next message of that kind is taken.
	RetryAfterMs int64 `json:"retryAfterMs,omitempty"`
}

func errorReply(id json.RawMessage, e *wireError) errorMessage {
	return errorMessage{Type: "error", ID: id, Code: e.code, Message: e.message, Fields: e.fields, RetryAfterMs: e.retryAfter.Milliseconds()}
}
