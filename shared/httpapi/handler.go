// Package httpapi is Greenroom's HTTP API as one API Gateway HTTP API
// (payload 2.0) handler: the Lambda function and the local runner call the
// very same Handle.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/go-playground/validator/v10"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/groupfeed"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Config configures a Handler.
type Config struct {
	Store  store.Store
	Tokens *auth.Issuer
	// AdminKey mints organizer tokens (header X-Admin-Key).
	AdminKey string
	Clock    domain.Clock
	Logger   *slog.Logger
	// WebURL is the base of share links (for example
	// http://127.0.0.1:8080); when empty, the request's own host is used.
	WebURL string
	// WSURL is the WebSocket API's URL handed to joining members (for
	// example wss://abc.execute-api.eu-west-1.amazonaws.com/live).
	WSURL string
	// TURN mints TURN credentials; without a secret no TURN server is
	// offered.
	TURN TURNConfig
	// Groups posts a group's live chat events (group.message) to its
	// sockets; without it, members read the chat by polling only.
	Groups GroupFeed
}

// GroupFeed posts group.message events to a group's live chat sockets.
// *groupfeed.Feed satisfies it.
type GroupFeed interface {
	Publish(ctx context.Context, group domain.GroupID, m groupfeed.Message)
}

var (
	// ErrNoStore, ErrNoTokens and ErrNoAdminKey are returned by New for an
	// incomplete Config.
	ErrNoStore    = errors.New("httpapi: no store")
	ErrNoTokens   = errors.New("httpapi: no token issuer")
	ErrNoAdminKey = errors.New("httpapi: no admin key")
)

// RequestDeadline bounds one request's work, retries included, below API
// Gateway's 30-second integration timeout.
const RequestDeadline = 25 * time.Second

// Handler serves the HTTP API. It is safe for concurrent use.
type Handler struct {
	store    store.Store
	tokens   *auth.Issuer
	adminKey string
	clock    domain.Clock
	log      *slog.Logger
	webURL   string
	wsBase   string
	turn     TURNConfig
	groups   GroupFeed
	validate *validator.Validate
	router   router
}

// New returns a Handler for cfg. A nil clock is the system clock and a
// nil logger discards.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, ErrNoStore
	case cfg.Tokens == nil:
		return nil, ErrNoTokens
	case cfg.AdminKey == "":
		return nil, ErrNoAdminKey
	}
	h := &Handler{
		store:    cfg.Store,
		tokens:   cfg.Tokens,
		adminKey: cfg.AdminKey,
		clock:    cfg.Clock,
		log:      cfg.Logger,
		webURL:   strings.TrimSuffix(cfg.WebURL, "/"),
		wsBase:   cfg.WSURL,
		turn:     cfg.TURN,
		groups:   cfg.Groups,
		validate: newValidator(),
	}
	if h.clock == nil {
		h.clock = domain.SystemClock{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.routes()
	return h, nil
}

// Routes lists every route the handler serves.
func (h *Handler) Routes() []Route { return h.router.list() }

// request is what a route handler sees of one call.
type request struct {
	ev     *events.APIGatewayV2HTTPRequest
	params map[string]string
	body   []byte
	claims auth.Claims // set by authenticate
}

func (r *request) header(name string) string {
	for k, v := range r.ev.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// response is a route handler's result: a status and a body to encode as
// JSON (nil for no body).
type response struct {
	status int
	body   any
}

type handlerFunc func(ctx context.Context, r *request) (response, error)

// Handle serves one API Gateway HTTP API (payload 2.0) request. Client
// errors are responses, never Lambda errors; a panic becomes a 500 with a
// generic message and the detail in the log.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, _ error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, RequestDeadline)
	defer cancel()
	method := ev.RequestContext.HTTP.Method
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	r := &request{ev: &ev}
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(ctx, "panic", "requestId", ev.RequestContext.RequestID, "panic", fmt.Sprint(p))
			resp = errorResponse(errInternal)
		}
		h.log.InfoContext(ctx, "request",
			"requestId", ev.RequestContext.RequestID,
			"method", method, "path", path, "route", ev.RouteKey,
			"status", resp.StatusCode,
			"subject", r.claims.Subject(), "role", string(r.claims.Role),
			"ms", time.Since(start).Milliseconds())
	}()

	body, err := requestBody(ev)
	if err != nil {
		return errorResponse(toError(err)), nil
	}
	r.body = body
	fn, pattern, params, allowed := h.router.match(method, path)
	if fn == nil {
		if len(allowed) > 0 {
			resp = errorResponse(newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed, method+" is not allowed here"))
			resp.Headers["Allow"] = strings.Join(allowed, ", ")
			return resp, nil
		}
		return errorResponse(notFound("route " + path)), nil
	}
	r.params = params
	out, err := fn(store.WithLabel(ctx, method+" "+pattern), r)
	if err != nil {
		e := toError(err)
		if e.Status >= 500 {
			h.log.ErrorContext(ctx, "handler failed", "requestId", ev.RequestContext.RequestID, "err", err)
		}
		return errorResponse(e), nil
	}
	return jsonResponse(out.status, out.body), nil
}

func requestBody(ev events.APIGatewayV2HTTPRequest) ([]byte, error) {
	// Base64 grows by a third: anything longer cannot decode under the limit.
	if len(ev.Body) > MaxBodyBytes*4/3+4 {
		return nil, errTooLarge
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, invalidField("body", "is not valid base64")
		}
		body = b
	}
	if len(body) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return body, nil
}

func jsonResponse(status int, body any) events.APIGatewayV2HTTPResponse {
	resp := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	if body == nil {
		return resp
	}
	b, err := json.Marshal(body)
	if err != nil {
		return errorResponse(errInternal)
	}
	resp.Headers["Content-Type"] = "application/json"
	resp.Body = string(b)
	return resp
}

func errorResponse(e *Error) events.APIGatewayV2HTTPResponse {
	return jsonResponse(e.Status, map[string]*Error{"error": e})
}

// authenticate checks the bearer token and that its role is one of roles.
func (h *Handler) authenticate(r *request, roles ...auth.Role) error {
	tok, ok := strings.CutPrefix(r.header("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return errUnauthenticated
	}
	c, err := h.tokens.Verify(strings.TrimSpace(tok))
	if err != nil || c.Role == auth.RoleJoin || c.Role == auth.RoleInvite {
		return errUnauthenticated
	}
	r.claims = c
	for _, role := range roles {
		if c.Role == role {
			return nil
		}
	}
	return errForbidden
}

// shareBase is the origin of links handed to people.
func (h *Handler) shareBase(r *request) string {
	if h.webURL != "" {
		return h.webURL
	}
	host := r.ev.RequestContext.DomainName
	if host == "" {
		host = r.header("Host")
	}
	return "https://" + host
}
