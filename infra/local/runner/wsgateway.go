package runner

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coder/websocket"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// WebSocketHandler is what an API Gateway WebSocket API route integration
// (Lambda proxy) calls: the function's handler for $connect, $default or
// $disconnect.
type WebSocketHandler func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// Route keys and event types of API Gateway WebSocket APIs.
const (
	routeConnect    = "$connect"
	routeDefault    = "$default"
	routeDisconnect = "$disconnect"

	eventConnect    = "CONNECT"
	eventMessage    = "MESSAGE"
	eventDisconnect = "DISCONNECT"
)

// Limits of API Gateway WebSocket APIs, the defaults of wsGatewayConfig.
const (
	// wsMaxMessageBytes is the largest message API Gateway accepts, in
	// either direction; a bigger client message closes the socket with
	// 1009, a bigger post is refused with 413.
	wsMaxMessageBytes = 128 << 10
	// wsDefaultIdleTimeout closes a connection the client sent nothing on.
	wsDefaultIdleTimeout = 10 * time.Minute
	// wsDefaultMaxConnectionDuration closes every connection at that age.
	wsDefaultMaxConnectionDuration = 2 * time.Hour
	// wsDefaultIntegrationTimeout bounds one handler invocation.
	wsDefaultIntegrationTimeout = 29 * time.Second
	// wsDefaultMaxInFlight bounds the messages of one connection being
	// handled at once; the gateway stops reading that socket meanwhile.
	wsDefaultMaxInFlight = 10
	// wsDefaultStage is the stage name events carry.
	wsDefaultStage = "local"
	// wsPostTimeout bounds writing one posted message to a socket.
	wsPostTimeout = 10 * time.Second
)

// errNoDefaultRoute is returned by newWSGateway when no $default handler
// is configured: every message would be refused.
var errNoDefaultRoute = errors.New("runner: websocket gateway: no $default handler")

// wsGatewayConfig configures the WebSocket API emulation. Zero values are
// API Gateway's defaults.
type wsGatewayConfig struct {
	// Connect, Default and Disconnect are the route integrations. Default
	// is required; without Connect every connection is accepted, as in
	// an API without a $connect route.
	Connect, Default, Disconnect WebSocketHandler
	// RouteResponse sends a non-empty body returned by Default back to the
	// client, as a two-way $default route (one with a route response)
	// does. Off, responses are dropped, as for a one-way route.
	RouteResponse bool
	// Stage is the stage name events carry (default "local").
	Stage string
	// IdleTimeout closes a connection when the client has sent no message
	// for that long (default 10 minutes).
	IdleTimeout time.Duration
	// MaxConnectionDuration closes a connection at that age (default 2
	// hours).
	MaxConnectionDuration time.Duration
	// IntegrationTimeout bounds each handler invocation (default 29s).
	IntegrationTimeout time.Duration
	// MaxInFlight bounds the messages of one connection handled at once
	// (default 10).
	MaxInFlight int
	// Clock stamps events and connection times; the system clock when
	// nil. Timeouts run on real time.
	Clock domain.Clock
	// Credentials, when set, are the only ones the management API
	// (@connections) takes: every request must carry their SigV4
	// signature for execute-api in Region, as API Gateway requires
	// signed IAM credentials. Unset, requests are not checked.
	Credentials aws.Credentials
	Region      string
	// Logger discards when nil.
	Logger *slog.Logger
}

func (c wsGatewayConfig) withDefaults() wsGatewayConfig {
	if c.Stage == "" {
		c.Stage = wsDefaultStage
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = wsDefaultIdleTimeout
	}
	if c.MaxConnectionDuration <= 0 {
		c.MaxConnectionDuration = wsDefaultMaxConnectionDuration
	}
	if c.IntegrationTimeout <= 0 {
		c.IntegrationTimeout = wsDefaultIntegrationTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = wsDefaultMaxInFlight
	}
	if c.Clock == nil {
		c.Clock = domain.SystemClock{}
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// wsGateway emulates an API Gateway WebSocket API: ServeWS upgrades
// clients and calls the route handlers, ServeConnections is the
// management API (@connections) that posts to and closes those sockets.
//
// Life cycle: each accepted socket is served by its ServeWS call, which
// owns the socket's supervisor goroutine and its message goroutines and
// returns only after all of them ended and $disconnect returned. Close
// refuses new connections, closes every socket and waits for every
// ServeWS call; it is idempotent.
type wsGateway struct {
	cfg wsGatewayConfig
	// ctx is the parent of every handler invocation; Close cancels it
	// once every connection is gone.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[string]*wsConn
	closed bool

	serving   sync.WaitGroup // one per ServeWS call past the closed check
	closeOnce sync.Once
}

// newWSGateway returns a gateway, or errNoDefaultRoute.
func newWSGateway(cfg wsGatewayConfig) (*wsGateway, error) {
	if cfg.Default == nil {
		return nil, errNoDefaultRoute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &wsGateway{
		cfg:    cfg.withDefaults(),
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[string]*wsConn),
	}, nil
}

// wsConn is one client socket.
type wsConn struct {
	id          string
	host        string // the Host the client connected to: DomainName
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	lastActive  atomic.Int64 // unix nanoseconds, by the gateway's clock

	// ready is closed once the upgrade finished (ws set) or failed (ws
	// nil). Until then the connection exists but cannot be written to.
	ready chan struct{}
	ws    *websocket.Conn

	// activity wakes the supervisor to restart the idle timer.
	activity chan struct{}

	// closing is closed by the first close request; closeCode and
	// closeReason say why (they are written before closing is closed).
	closing     chan struct{}
	closeOnce   sync.Once
	closeCode   websocket.StatusCode
	closeReason string
}

// requestClose asks the supervisor to close the socket with code. Only
// the first request counts; it reports whether this one did.
func (c *wsConn) requestClose(code websocket.StatusCode, reason string) bool {
	first := false
	c.closeOnce.Do(func() {
		c.closeCode, c.closeReason = code, reason
		close(c.closing)
		first = true
	})
	return first
}

// closeRequested reports whether a close was requested, and its code.
func (c *wsConn) closeRequested() (websocket.StatusCode, bool) {
	select {
	case <-c.closing:
		return c.closeCode, true
	default:
		return 0, false
	}
}

// ServeWS upgrades a client to a WebSocket connection, as API Gateway
// does: $connect runs first and may refuse the upgrade, then every
// message goes to $default, and $disconnect runs once when the socket
// closes, whichever side closed it.
func (g *wsGateway) ServeWS(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUpgradeRequired)
		_, _ = io.WriteString(w, `{"message":"Upgrade Required"}`)
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		http.Error(w, `{"message":"Service Unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	g.serving.Add(1)
	g.mu.Unlock()
	defer g.serving.Done()

	now := g.cfg.Clock.Now()
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	c := &wsConn{
		id:          newConnectionID(),
		host:        r.Host,
		connectedAt: now,
		sourceIP:    sourceIP,
		userAgent:   r.UserAgent(),
		ready:       make(chan struct{}),
		activity:    make(chan struct{}, 1),
		closing:     make(chan struct{}),
	}
	c.lastActive.Store(now.UnixNano())
	log := g.cfg.Logger.With("connectionId", c.id)

	// $connect runs before the upgrade completes: the connection cannot
	// be posted to yet (it is not registered), and its answer decides
	// whether the client gets 101 at all.
	var subprotocols []string
	if g.cfg.Connect != nil {
		ev := g.event(c, routeConnect, eventConnect)
		ev.Headers, ev.MultiValueHeaders = requestHeaders(r.Header, r.Host)
		ev.QueryStringParameters, ev.MultiValueQueryStringParameters = queryParameters(r.URL.Query())
		resp, err := g.invoke(routeConnect, g.cfg.Connect, ev)
		if err != nil {
			log.Error("websocket gateway: $connect failed", "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"message":"Internal server error"}`)
			return
		}
		if resp.StatusCode != 0 && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			writeResponse(w, events.APIGatewayV2HTTPResponse{
				StatusCode:        resp.StatusCode,
				Headers:           resp.Headers,
				MultiValueHeaders: resp.MultiValueHeaders,
				Body:              resp.Body,
				IsBase64Encoded:   resp.IsBase64Encoded,
			})
			return
		}
		if p := headerValue(resp.Headers, "Sec-WebSocket-Protocol"); p != "" {
			subprotocols = []string{p}
		}
	}

	if !g.register(c) {
		http.Error(w, `{"message":"Service Unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       subprotocols,
		InsecureSkipVerify: true, // API Gateway does not check Origin.
	})
	if err != nil {
		g.unregister(c)
		close(c.ready)
		log.Warn("websocket gateway: upgrade failed", "err", err)
		return
	}
	ws.SetReadLimit(wsMaxMessageBytes)
	c.ws = ws
	close(c.ready)

	var (
		supervised = make(chan struct{})
		inFlight   sync.WaitGroup
	)
	go func() {
		defer close(supervised)
		g.supervise(c)
	}()
	code, reason := g.readLoop(c, &inFlight, log)

	// The socket is gone: no more posts, no more timers.
	g.unregister(c)
	c.requestClose(code, reason)
	<-supervised
	_ = ws.CloseNow()

	ev := g.event(c, routeDisconnect, eventDisconnect)
	ev.RequestContext.DisconnectStatusCode = int64(code)
	ev.RequestContext.DisconnectReason = &reason
	if g.cfg.Disconnect != nil {
		if _, err := g.invoke(routeDisconnect, g.cfg.Disconnect, ev); err != nil {
			log.Error("websocket gateway: $disconnect failed", "err", err)
		}
	}
	inFlight.Wait()
}

// readLoop reads messages until the socket fails or closes, handing each
// to $default in its own goroutine (at most MaxInFlight at once). It
// returns the close code and reason $disconnect reports.
func (g *wsGateway) readLoop(c *wsConn, inFlight *sync.WaitGroup, log *slog.Logger) (websocket.StatusCode, string) {
	slots := make(chan struct{}, g.cfg.MaxInFlight)
	for {
		// Reading is never cancelled by a context (that would drop the
		// socket without a close frame): the supervisor closes the socket
		// with a proper close frame, which ends this Read.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return closeCause(c, err)
		}
		c.lastActive.Store(g.cfg.Clock.Now().UnixNano())
		select {
		case c.activity <- struct{}{}:
		default:
		}
		select {
		case slots <- struct{}{}:
		case <-c.closing:
			continue // Closing: the message is dropped, as API Gateway does.
		}
		ev := g.event(c, routeDefault, eventMessage)
		ev.RequestContext.MessageID = newConnectionID()
		if typ == websocket.MessageBinary {
			ev.Body = base64.StdEncoding.EncodeToString(data)
			ev.IsBase64Encoded = true
		} else {
			ev.Body = string(data)
		}
		inFlight.Go(func() {
			defer func() { <-slots }()
			g.handleMessage(c, ev, log)
		})
	}
}

// handleMessage runs $default for one message. A failed invocation is
// answered on the socket with API Gateway's own error message.
func (g *wsGateway) handleMessage(c *wsConn, ev events.APIGatewayWebsocketProxyRequest, log *slog.Logger) {
	resp, err := g.invoke(routeDefault, g.cfg.Default, ev)
	var reply []byte
	switch {
	case err != nil:
		log.Error("websocket gateway: $default failed", "err", err)
		reply, _ = json.Marshal(struct {
			Message      string `json:"message"`
			ConnectionID string `json:"connectionId"`
			RequestID    string `json:"requestId"`
		}{"Internal server error", c.id, ev.RequestContext.RequestID})
	case g.cfg.RouteResponse && resp.Body != "":
		reply = []byte(resp.Body)
		if resp.IsBase64Encoded {
			if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
				reply = b
			}
		}
		if len(reply) > wsMaxMessageBytes {
			// API Gateway cannot send a message this large: the client
			// gets its error instead.
			log.Error("websocket gateway: $default response larger than 128 KiB", "bytes", len(reply))
			reply, _ = json.Marshal(struct {
				Message      string `json:"message"`
				ConnectionID string `json:"connectionId"`
				RequestID    string `json:"requestId"`
			}{"Internal server error", c.id, ev.RequestContext.RequestID})
		}
	default:
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, wsPostTimeout)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, reply)
}

// supervise closes the socket when asked to, when the client has been
// idle too long or when the connection reaches its maximum age. It
// returns once it closed the socket or the socket is gone.
func (g *wsGateway) supervise(c *wsConn) {
	idle := time.NewTimer(g.cfg.IdleTimeout)
	defer idle.Stop()
	life := time.NewTimer(g.cfg.MaxConnectionDuration)
	defer life.Stop()
	for {
		select {
		case <-c.activity:
			idle.Reset(g.cfg.IdleTimeout)
		case <-idle.C:
			c.requestClose(websocket.StatusGoingAway, "Going away")
		case <-life.C:
			c.requestClose(websocket.StatusGoingAway, "Going away")
		case <-c.closing:
			// The read loop sees the close and ends; closing again
			// after it ended is harmless.
			_ = c.ws.Close(c.closeCode, c.closeReason)
			return
		}
	}
}

// closeCause names why the read loop ended: the close this side asked
// for, the peer's close frame, an oversized message (1009) or an
// abnormal closure (1006).
func closeCause(c *wsConn, err error) (websocket.StatusCode, string) {
	if code, ok := c.closeRequested(); ok {
		return code, c.closeReason
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return websocket.StatusMessageTooBig, "Message too big"
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason
	}
	return websocket.StatusAbnormalClosure, ""
}

// invoke calls one route handler as Lambda would: with a deadline, and a
// panic turned into an error.
func (g *wsGateway) invoke(route string, h WebSocketHandler, ev events.APIGatewayWebsocketProxyRequest) (resp events.APIGatewayProxyResponse, err error) {
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.IntegrationTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("runner: %s handler panicked: %v", route, p)
		}
	}()
	resp, err = h(ctx, ev)
	if err != nil {
		return resp, fmt.Errorf("runner: %s handler: %w", route, err)
	}
	return resp, nil
}

// event is the request API Gateway sends a route integration, without
// the route-specific parts (headers, query, body, message id).
func (g *wsGateway) event(c *wsConn, route, eventType string) events.APIGatewayWebsocketProxyRequest {
	now := g.cfg.Clock.Now()
	requestID := newConnectionID()
	return events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			AccountID:         "000000000000",
			Stage:             g.cfg.Stage,
			RequestID:         requestID,
			ExtendedRequestID: requestID,
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  c.sourceIP,
				UserAgent: c.userAgent,
			},
			APIID:            "local",
			ConnectedAt:      c.connectedAt.UnixMilli(),
			ConnectionID:     c.id,
			DomainName:       c.host,
			EventType:        eventType,
			MessageDirection: "IN",
			RequestTime:      now.Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: now.UnixMilli(),
			RouteKey:         route,
		},
	}
}

// register makes the connection known to @connections, unless the
// gateway is closed.
func (g *wsGateway) register(c *wsConn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c.id] = c
	return true
}

func (g *wsGateway) unregister(c *wsConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c.id)
}

// lookup returns the open connection with that id, waiting for its
// upgrade to finish, or nil when it is gone (or closing).
func (g *wsGateway) lookup(ctx context.Context, id string) *wsConn {
	g.mu.Lock()
	c := g.conns[id]
	g.mu.Unlock()
	if c == nil {
		return nil
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil
	}
	if c.ws == nil {
		return nil
	}
	if _, closing := c.closeRequested(); closing {
		return nil
	}
	return c
}

// Close refuses new connections, closes every socket with 1001 (each gets
// its $disconnect) and waits until every connection's goroutines and
// handlers have returned. It is idempotent.
func (g *wsGateway) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed = true
		conns := make([]*wsConn, 0, len(g.conns))
		for _, c := range g.conns {
			conns = append(conns, c)
		}
		g.mu.Unlock()
		for _, c := range conns {
			c.requestClose(websocket.StatusGoingAway, "Going away")
		}
		g.serving.Wait()
		g.cancel()
	})
	return nil
}

// connectionsPath is the management API's resource prefix. The SDK puts
// it right after the endpoint, so a stage in the endpoint URL precedes it.
const connectionsPath = "/@connections/"

// ServeConnections is the management API: POST
// /@connections/{connectionId} sends the body to that socket as one text
// frame, DELETE closes the socket, GET describes the connection; an
// unknown, closing or closed connection answers 410 GoneException. With
// Credentials configured, a request without their SigV4 signature
// answers 403 ForbiddenException and does nothing. A path with a stage
// before /@connections/ is served the same.
func (g *wsGateway) ServeConnections(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	i := strings.Index(path, connectionsPath)
	if i < 0 {
		writeAPIError(w, http.StatusNotFound, "NotFoundException", "Not Found")
		return
	}
	id, err := url.PathUnescape(path[i+len(connectionsPath):])
	if err != nil || id == "" || strings.Contains(id, "/") {
		writeAPIError(w, http.StatusNotFound, "NotFoundException", "Not Found")
		return
	}
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		w.Header().Set("Allow", "POST, GET, DELETE")
		writeAPIError(w, http.StatusMethodNotAllowed, "MethodNotAllowedException", "Method Not Allowed")
		return
	}

	var body []byte
	if r.Method == http.MethodPost {
		body, err = io.ReadAll(io.LimitReader(r.Body, wsMaxMessageBytes+1))
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "BadRequestException", "could not read the request body")
			return
		}
	}
	if g.cfg.Credentials.AccessKeyID != "" {
		if err := verifySigV4(r, body, g.cfg.Credentials, g.cfg.Region, time.Now()); err != nil {
			g.cfg.Logger.Warn("websocket gateway: @connections request refused", "method", r.Method, "err", err)
			writeAPIError(w, http.StatusForbidden, "ForbiddenException", err.Error())
			return
		}
	}
	if len(body) > wsMaxMessageBytes {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Message too long")
		return
	}
	c := g.lookup(r.Context(), id)
	if c == nil {
		writeAPIError(w, http.StatusGone, "GoneException", "")
		return
	}

	switch r.Method {
	case http.MethodPost:
		ctx, cancel := context.WithTimeout(r.Context(), wsPostTimeout)
		defer cancel()
		if err := c.ws.Write(ctx, websocket.MessageText, body); err != nil {
			writeAPIError(w, http.StatusGone, "GoneException", "")
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		if !c.requestClose(websocket.StatusNormalClosure, "") {
			writeAPIError(w, http.StatusGone, "GoneException", "")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		writeJSON(w, http.StatusOK, connectionInfo{
			ConnectedAt: c.connectedAt.UTC(),
			Identity: connectionIdentity{
				SourceIP:  c.sourceIP,
				UserAgent: c.userAgent,
			},
			LastActiveAt: time.Unix(0, c.lastActive.Load()).UTC(),
		})
	}
}

// connectionInfo is the management API's GetConnection response. The
// member names are the API model's JSON names, the ones the SDK reads.
type connectionInfo struct {
	ConnectedAt  time.Time          `json:"connectedAt"`
	Identity     connectionIdentity `json:"identity"`
	LastActiveAt time.Time          `json:"lastActiveAt"`
}

type connectionIdentity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// writeAPIError writes a management API error the way API Gateway does:
// the error type in X-Amzn-ErrorType (which the SDK maps to its typed
// errors) and a JSON body with the message.
func writeAPIError(w http.ResponseWriter, status int, errorType, message string) {
	w.Header().Set("X-Amzn-ErrorType", errorType)
	writeJSON(w, status, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{errorType, message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// isUpgrade reports whether r asks for a WebSocket upgrade.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// requestHeaders returns the upgrade request's headers as API Gateway
// passes them to $connect: names as sent (canonical in Go), values joined
// with commas, and the multi-value form.
func requestHeaders(h http.Header, host string) (map[string]string, map[string][]string) {
	single := make(map[string]string, len(h)+1)
	multi := make(map[string][]string, len(h)+1)
	for k, v := range h {
		single[k] = strings.Join(v, ",")
		multi[k] = append([]string(nil), v...)
	}
	single["Host"] = host
	multi["Host"] = []string{host}
	return single, multi
}

// queryParameters returns the query string as API Gateway passes it, nil
// when empty.
func queryParameters(q url.Values) (map[string]string, map[string][]string) {
	if len(q) == 0 {
		return nil, nil
	}
	single := make(map[string]string, len(q))
	multi := make(map[string][]string, len(q))
	for k, v := range q {
		single[k] = v[len(v)-1]
		multi[k] = append([]string(nil), v...)
	}
	return single, multi
}

// headerValue finds a header in a handler's response, whatever its case.
func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// newConnectionID returns an id shaped like API Gateway's (16 characters,
// 11 random bytes in base64 with its padding, for example
// "R1kmxc2VNjMCFIA="), in the URL-safe alphabet so that it never holds a
// slash. The "=" makes the SDK path-escape it, as in AWS.
func newConnectionID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return base64.URLEncoding.EncodeToString(b)
}
