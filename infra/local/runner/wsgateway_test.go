package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// connectionIDPattern is the shape of API Gateway's connection ids.
var connectionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

var gatewayEpoch = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// wsRecorder is the three route handlers: it records every event, and
// lets a test decide what $connect and $default do.
type wsRecorder struct {
	mu          sync.Mutex
	connects    []events.APIGatewayWebsocketProxyRequest
	messages    []events.APIGatewayWebsocketProxyRequest
	disconnects []events.APIGatewayWebsocketProxyRequest

	onConnect WebSocketHandler
	onMessage WebSocketHandler
}

func (r *wsRecorder) connect(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	r.mu.Lock()
	r.connects = append(r.connects, ev)
	r.mu.Unlock()
	if r.onConnect != nil {
		return r.onConnect(ctx, ev)
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

func (r *wsRecorder) message(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	if r.onMessage != nil {
		resp, err := r.onMessage(ctx, ev)
		r.mu.Lock()
		r.messages = append(r.messages, ev)
		r.mu.Unlock()
		return resp, err
	}
	r.mu.Lock()
	r.messages = append(r.messages, ev)
	r.mu.Unlock()
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

func (r *wsRecorder) disconnect(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	r.mu.Lock()
	r.disconnects = append(r.disconnects, ev)
	r.mu.Unlock()
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

// counts returns how many events of each route arrived.
func (r *wsRecorder) counts() (connects, messages, disconnects int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.connects), len(r.messages), len(r.disconnects)
}

func (r *wsRecorder) snapshot() (connects, messages, disconnects []events.APIGatewayWebsocketProxyRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.APIGatewayWebsocketProxyRequest(nil), r.connects...),
		append([]events.APIGatewayWebsocketProxyRequest(nil), r.messages...),
		append([]events.APIGatewayWebsocketProxyRequest(nil), r.disconnects...)
}

// gatewayFixture is a gateway behind a real HTTP server on 127.0.0.1,
// mounted as the runner mounts it.
type gatewayFixture struct {
	gw     *wsGateway
	srv    *httptest.Server
	rec    *wsRecorder
	wsURL  string
	client *http.Client // for dials, with its own transport
}

// newGatewayFixture starts a gateway; cleanup closes it unless the test
// does so itself.
func newGatewayFixture(t *testing.T, cfg wsGatewayConfig, rec *wsRecorder) *gatewayFixture {
	t.Helper()
	cfg.Connect, cfg.Default, cfg.Disconnect = rec.connect, rec.message, rec.disconnect
	if cfg.Clock == nil {
		cfg.Clock = domain.NewManualClock(gatewayEpoch)
	}
	gw, err := newWSGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", gw.ServeWS)
	mux.HandleFunc("/@connections/", gw.ServeConnections)
	srv := httptest.NewServer(mux)
	f := &gatewayFixture{
		gw:     gw,
		srv:    srv,
		rec:    rec,
		wsURL:  "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws",
		client: &http.Client{Transport: &http.Transport{}},
	}
	t.Cleanup(func() {
		_ = gw.Close()
		srv.Close()
		f.client.CloseIdleConnections()
	})
	return f
}

// dial connects a real WebSocket client.
func (f *gatewayFixture) dial(t *testing.T, query string, header http.Header) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, f.wsURL+query, &websocket.DialOptions{HTTPClient: f.client, HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// managementClient is the real SDK client pointed at the fixture, as the
// runner's functions use it: dummy static credentials.
func (f *gatewayFixture) managementClient() *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint:     aws.String(f.srv.URL),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       f.client,
	})
}

// onlyConnectionID returns the id of the one connection the fixture saw.
func (f *gatewayFixture) onlyConnectionID(t *testing.T) string {
	t.Helper()
	connects, _, _ := f.rec.snapshot()
	if len(connects) != 1 {
		t.Fatalf("%d $connect events, want 1", len(connects))
	}
	return connects[0].RequestContext.ConnectionID
}

// eventually polls cond until it holds or ten seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readClose reads until the client sees the socket close and returns the
// close status.
func readClose(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func TestGatewayNeedsDefaultRoute(t *testing.T) {
	if _, err := newWSGateway(wsGatewayConfig{}); !errors.Is(err, errNoDefaultRoute) {
		t.Fatalf("newWSGateway without $default: got %v, want errNoDefaultRoute", err)
	}
}

func TestGatewayConnectRefused(t *testing.T) {
	tests := []struct {
		name      string
		onConnect WebSocketHandler
		want      int
	}{
		{"401 from the handler", func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusUnauthorized, Body: `{"message":"Unauthorized"}`}, nil
		}, http.StatusUnauthorized},
		{"handler error", func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{}, errors.New("store down")
		}, http.StatusInternalServerError},
		{"handler panic", func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			panic("bug")
		}, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newGatewayFixture(t, wsGatewayConfig{}, &wsRecorder{onConnect: tt.onConnect})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, f.wsURL+"?token=bad", &websocket.DialOptions{HTTPClient: f.client})
			if err == nil {
				_ = c.CloseNow()
				t.Fatal("dial succeeded, want the upgrade refused")
			}
			if resp == nil || resp.StatusCode != tt.want {
				t.Fatalf("dial: response %v, want status %d (%v)", resp, tt.want, err)
			}
			connects, _, disconnects := f.rec.counts()
			if connects != 1 || disconnects != 0 {
				t.Errorf("$connect %d, $disconnect %d: want 1 and 0", connects, disconnects)
			}
			f.gw.mu.Lock()
			defer f.gw.mu.Unlock()
			if len(f.gw.conns) != 0 {
				t.Errorf("%d connections registered, want none", len(f.gw.conns))
			}
		})
	}
}

func TestGatewayPlainGETIsNotAnUpgrade(t *testing.T) {
	f := newGatewayFixture(t, wsGatewayConfig{}, &wsRecorder{})
	resp, err := f.client.Get(f.srv.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d, want 426", resp.StatusCode)
	}
	if connects, _, _ := f.rec.counts(); connects != 0 {
		t.Fatalf("$connect called %d times for a plain GET", connects)
	}
}

func TestGatewayEventsAreWellFormed(t *testing.T) {
	f := newGatewayFixture(t, wsGatewayConfig{Stage: "prod"}, &wsRecorder{})
	c := f.dial(t, "?token=abc&room=1", http.Header{"X-Client": {"test"}, "User-Agent": {"greenroom-test/1"}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"state.get"}`)); err != nil {
		t.Fatal(err)
	}
	binary := []byte{0, 1, 2, 0xff}
	if err := c.Write(ctx, websocket.MessageBinary, binary); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two messages", func() bool { _, m, _ := f.rec.counts(); return m == 2 })
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "$disconnect", func() bool { _, _, d := f.rec.counts(); return d == 1 })

	connects, messages, disconnects := f.rec.snapshot()
	conn := connects[0]
	id := conn.RequestContext.ConnectionID
	host := strings.TrimPrefix(f.srv.URL, "http://")
	if !connectionIDPattern.MatchString(id) {
		t.Errorf("connection id %q is not shaped like API Gateway's", id)
	}
	check := func(ev events.APIGatewayWebsocketProxyRequest, route, eventType string) {
		t.Helper()
		rc := ev.RequestContext
		if rc.RouteKey != route || rc.EventType != eventType {
			t.Errorf("route %q type %q, want %q %q", rc.RouteKey, rc.EventType, route, eventType)
		}
		if rc.ConnectionID != id || rc.DomainName != host || rc.Stage != "prod" || rc.APIID == "" {
			t.Errorf("%s: connection %q domain %q stage %q api %q", route, rc.ConnectionID, rc.DomainName, rc.Stage, rc.APIID)
		}
		if rc.ConnectedAt != gatewayEpoch.UnixMilli() || rc.RequestTimeEpoch != gatewayEpoch.UnixMilli() {
			t.Errorf("%s: connectedAt %d requestTimeEpoch %d, want %d", route, rc.ConnectedAt, rc.RequestTimeEpoch, gatewayEpoch.UnixMilli())
		}
		if rc.RequestID == "" || rc.RequestTime != "14/Mar/2026:09:26:53 +0000" || rc.MessageDirection != "IN" {
			t.Errorf("%s: requestId %q requestTime %q direction %q", route, rc.RequestID, rc.RequestTime, rc.MessageDirection)
		}
		if rc.Identity.SourceIP != "127.0.0.1" || rc.Identity.UserAgent != "greenroom-test/1" {
			t.Errorf("%s: identity %+v", route, rc.Identity)
		}
	}

	check(conn, routeConnect, eventConnect)
	if conn.QueryStringParameters["token"] != "abc" || conn.QueryStringParameters["room"] != "1" {
		t.Errorf("$connect query %v", conn.QueryStringParameters)
	}
	if conn.Headers["X-Client"] != "test" || conn.Headers["Host"] != host || conn.Headers["Sec-Websocket-Key"] == "" {
		t.Errorf("$connect headers %v", conn.Headers)
	}
	if conn.RequestContext.MessageID != nil {
		t.Errorf("$connect carries message id %v", conn.RequestContext.MessageID)
	}

	var text, bin events.APIGatewayWebsocketProxyRequest
	for _, m := range messages {
		check(m, routeDefault, eventMessage)
		if m.Headers != nil || m.QueryStringParameters != nil {
			t.Errorf("$default carries headers %v or query %v", m.Headers, m.QueryStringParameters)
		}
		if id, _ := m.RequestContext.MessageID.(string); id == "" {
			t.Errorf("$default without message id")
		}
		if m.IsBase64Encoded {
			bin = m
		} else {
			text = m
		}
	}
	if text.Body != `{"type":"state.get"}` {
		t.Errorf("text body %q", text.Body)
	}
	if got, err := base64.StdEncoding.DecodeString(bin.Body); err != nil || !bytes.Equal(got, binary) {
		t.Errorf("binary body %q (base64 of %v), want base64 of %v", bin.Body, got, binary)
	}
	if messages[0].RequestContext.RequestID == messages[1].RequestContext.RequestID {
		t.Error("two messages share a request id")
	}

	d := disconnects[0]
	check(d, routeDisconnect, eventDisconnect)
	if d.RequestContext.DisconnectStatusCode != int64(websocket.StatusNormalClosure) {
		t.Errorf("disconnect status %d, want 1000", d.RequestContext.DisconnectStatusCode)
	}
}

func TestGatewayOversizedMessageClosesWith1009(t *testing.T) {
	f := newGatewayFixture(t, wsGatewayConfig{}, &wsRecorder{})
	c := f.dial(t, "", nil)
	c.SetReadLimit(-1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	limit := bytes.Repeat([]byte("a"), wsMaxMessageBytes)
	if err := c.Write(ctx, websocket.MessageText, limit); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the 128 KiB message", func() bool { _, m, _ := f.rec.counts(); return m == 1 })
	_ = c.Write(ctx, websocket.MessageText, append(limit, 'a'))
	if got := readClose(t, c); got != websocket.StatusMessageTooBig {
		t.Fatalf("close status %d, want 1009", got)
	}
	eventually(t, "$disconnect", func() bool { _, _, d := f.rec.counts(); return d == 1 })
	_, messages, disconnects := f.rec.snapshot()
	if len(messages) != 1 || len(messages[0].Body) != wsMaxMessageBytes {
		t.Errorf("%d messages reached $default, want only the 128 KiB one", len(messages))
	}
	if got := disconnects[0].RequestContext.DisconnectStatusCode; got != int64(websocket.StatusMessageTooBig) {
		t.Errorf("disconnect status %d, want 1009", got)
	}
}

func TestConnectionsManagementAPIWithTheRealClient(t *testing.T) {
	f := newGatewayFixture(t, wsGatewayConfig{}, &wsRecorder{})
	c := f.dial(t, "", http.Header{"User-Agent": {"greenroom-test/1"}})
	id := f.onlyConnectionID(t)
	api := f.managementClient()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	info, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if info.ConnectedAt == nil || !info.ConnectedAt.Equal(gatewayEpoch) || info.LastActiveAt == nil ||
		info.Identity == nil || aws.ToString(info.Identity.SourceIp) != "127.0.0.1" ||
		aws.ToString(info.Identity.UserAgent) != "greenroom-test/1" {
		t.Errorf("GetConnection = %+v", info)
	}

	if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: &id, Data: []byte(`{"type":"state"}`),
	}); err != nil {
		t.Fatalf("PostToConnection: %v", err)
	}
	typ, data, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageText || string(data) != `{"type":"state"}` {
		t.Fatalf("client read %v %q %v, want the posted text", typ, data, err)
	}

	big := make([]byte, wsMaxMessageBytes+1)
	_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: big})
	var tooLarge *types.PayloadTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Errorf("posting 128 KiB + 1: got %v, want PayloadTooLargeException", err)
	}

	if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if got := readClose(t, c); got != websocket.StatusNormalClosure {
		t.Errorf("client saw close %d after DeleteConnection, want 1000", got)
	}
	eventually(t, "$disconnect", func() bool { _, _, d := f.rec.counts(); return d == 1 })

	var gone *types.GoneException
	if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")}); !errors.As(err, &gone) {
		t.Errorf("post to a deleted connection: got %v, want GoneException", err)
	}
	if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id}); !errors.As(err, &gone) {
		t.Errorf("deleting a deleted connection: got %v, want GoneException", err)
	}
	if _, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id}); !errors.As(err, &gone) {
		t.Errorf("describing a deleted connection: got %v, want GoneException", err)
	}
	if _, _, d := f.rec.counts(); d != 1 {
		t.Errorf("$disconnect called %d times, want once", d)
	}
}

func TestConnectionsGone(t *testing.T) {
	rec := &wsRecorder{}
	f := newGatewayFixture(t, wsGatewayConfig{}, rec)
	api := f.managementClient()
	duringConnect := make(chan error, 1)
	rec.onConnect = func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
			ConnectionId: &ev.RequestContext.ConnectionID, Data: []byte("too early"),
		})
		duringConnect <- err
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	var gone *types.GoneException
	unknown := "AAAAAAAAAAAAAAA="
	if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &unknown, Data: []byte("x")}); !errors.As(err, &gone) {
		t.Errorf("post to an unknown connection: got %v, want GoneException", err)
	}

	c := f.dial(t, "", nil)
	if err := <-duringConnect; !errors.As(err, &gone) {
		t.Errorf("post from inside $connect: got %v, want GoneException", err)
	}
	id := f.onlyConnectionID(t)
	// Right after $connect returned, the connection is postable.
	if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("first")}); err != nil {
		t.Fatalf("post after $connect: %v", err)
	}
	if _, data, err := c.Read(ctx); err != nil || string(data) != "first" {
		t.Fatalf("client read %q %v, want first (never the post from $connect)", data, err)
	}

	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "$disconnect", func() bool { _, _, d := f.rec.counts(); return d == 1 })
	if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")}); !errors.As(err, &gone) {
		t.Errorf("post to a closed connection: got %v, want GoneException", err)
	}
}

func TestConnectionsRejectsOtherMethodsAndPaths(t *testing.T) {
	f := newGatewayFixture(t, wsGatewayConfig{}, &wsRecorder{})
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodPut, "/@connections/abc", http.StatusMethodNotAllowed},
		{http.MethodPost, "/@connections/", http.StatusNotFound},
		{http.MethodPost, "/@connections/a/b", http.StatusNotFound},
		{http.MethodPost, "/@connections/AAAAAAAAAAAAAAA%3D", http.StatusGone},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, f.srv.URL+tt.path, strings.NewReader("x"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := f.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestGatewayTimeoutsClose(t *testing.T) {
	tests := []struct {
		name string
		cfg  wsGatewayConfig
	}{
		{"idle", wsGatewayConfig{IdleTimeout: 100 * time.Millisecond}},
		{"connection limit", wsGatewayConfig{MaxConnectionDuration: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newGatewayFixture(t, tt.cfg, &wsRecorder{})
			c := f.dial(t, "", nil)
			if got := readClose(t, c); got != websocket.StatusGoingAway {
				t.Fatalf("close status %d, want 1001", got)
			}
			eventually(t, "$disconnect", func() bool { _, _, d := f.rec.counts(); return d == 1 })
			_, _, d := f.rec.snapshot()
			if got := d[0].RequestContext.DisconnectStatusCode; got != int64(websocket.StatusGoingAway) {
				t.Errorf("disconnect status %d, want 1001", got)
			}
		})
	}
}

func TestGatewayBoundsMessagesPerConnection(t *testing.T) {
	const bound, sent = 2, 6
	var (
		mu       sync.Mutex
		inFlight int
		maxSeen  int
	)
	release := make(chan struct{})
	rec := &wsRecorder{onMessage: func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		mu.Lock()
		inFlight++
		maxSeen = max(maxSeen, inFlight)
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}}
	f := newGatewayFixture(t, wsGatewayConfig{MaxInFlight: bound}, rec)
	c := f.dial(t, "", nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range sent {
		if err := c.Write(ctx, websocket.MessageText, []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the bound reached", func() bool { mu.Lock(); defer mu.Unlock(); return inFlight == bound })
	close(release)
	eventually(t, "every message handled", func() bool { _, m, _ := f.rec.counts(); return m == sent })
	mu.Lock()
	defer mu.Unlock()
	if maxSeen != bound {
		t.Errorf("%d messages handled at once, want at most %d", maxSeen, bound)
	}
}

func TestGatewayRouteResponseAndFailedInvocation(t *testing.T) {
	rec := &wsRecorder{onMessage: func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.Body == "fail" {
			return events.APIGatewayProxyResponse{}, errors.New("boom")
		}
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: "echo " + ev.Body}, nil
	}}
	f := newGatewayFixture(t, wsGatewayConfig{RouteResponse: true}, rec)
	c := f.dial(t, "", nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := c.Read(ctx); err != nil || string(data) != "echo hi" {
		t.Fatalf("read %q %v, want the route response", data, err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("fail")); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(data), `"message":"Internal server error"`) {
		t.Fatalf("read %q %v, want API Gateway's internal error message", data, err)
	}
}

func TestGatewayCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	rec := &wsRecorder{}
	f := newGatewayFixture(t, wsGatewayConfig{}, rec)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	rec.onMessage = func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		entered <- struct{}{}
		<-release
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	clients := []*websocket.Conn{f.dial(t, "", nil), f.dial(t, "", nil), f.dial(t, "", nil)}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := clients[0].Write(ctx, websocket.MessageText, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	<-entered

	closed := make(chan error, 1)
	go func() { closed <- f.gw.Close() }()
	for i, c := range clients {
		if got := readClose(t, c); got != websocket.StatusGoingAway {
			t.Errorf("client %d saw close %d, want 1001", i, got)
		}
	}
	eventually(t, "three $disconnect", func() bool { _, _, d := rec.counts(); return d == 3 })
	select {
	case <-closed:
		t.Fatal("Close returned while a message was still being handled")
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.gw.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	_, resp, err := websocket.Dial(ctx, f.wsURL, &websocket.DialOptions{HTTPClient: f.client})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v %v, want 503", resp, err)
	}
	if _, _, d := rec.counts(); d != 3 {
		t.Errorf("$disconnect called %d times, want 3", d)
	}

	for _, c := range clients {
		_ = c.CloseNow()
	}
	f.srv.Close()
	f.client.CloseIdleConnections()
	eventually(t, "every goroutine gone", func() bool { return runtime.NumGoroutine() <= before })
}

// TestConnectionsTakeOnlyTheRunnersSignature: with credentials set, the
// management API takes a request only with their SigV4 signature, as API
// Gateway takes only signed IAM credentials: unsigned, signed with other
// credentials or with a tampered body, nothing is posted.
func TestConnectionsTakeOnlyTheRunnersSignature(t *testing.T) {
	own := aws.Credentials{AccessKeyID: "AKIARUNNER", SecretAccessKey: "the-runners-own-secret"}
	f := newGatewayFixture(t, wsGatewayConfig{Credentials: own}, &wsRecorder{})
	c := f.dial(t, "", nil)
	id := f.onlyConnectionID(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	client := func(creds aws.Credentials) *apigatewaymanagementapi.Client {
		return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
			BaseEndpoint: aws.String(f.srv.URL), Region: "us-east-1",
			Credentials: credentials.StaticCredentialsProvider{Value: creds}, RetryMaxAttempts: 1, HTTPClient: f.client,
		})
	}
	post := func(api *apigatewaymanagementapi.Client, data string) error {
		_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(data)})
		return err
	}

	var forbidden *types.ForbiddenException
	if err := post(client(aws.Credentials{AccessKeyID: "AKIARUNNER", SecretAccessKey: "a-guess"}), "guessed"); !errors.As(err, &forbidden) {
		t.Errorf("post signed with another secret: %v, want ForbiddenException", err)
	}
	if err := post(client(aws.Credentials{AccessKeyID: "AKIAOTHER", SecretAccessKey: "the-runners-own-secret"}), "other key"); !errors.As(err, &forbidden) {
		t.Errorf("post signed with another key id: %v, want ForbiddenException", err)
	}
	for name, req := range map[string]func() *http.Request{
		"unsigned": func() *http.Request {
			r, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+"/@connections/"+url.PathEscape(id), strings.NewReader("unsigned"))
			return r
		},
		"a signed request with another body": func() *http.Request {
			r, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+"/@connections/"+url.PathEscape(id), strings.NewReader("original"))
			sum := sha256.Sum256([]byte("original"))
			if err := v4.NewSigner().SignHTTP(ctx, own, r, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("tampered")), int64(len("tampered"))
			return r
		},
		"a signature ten minutes old": func() *http.Request {
			r, _ := http.NewRequestWithContext(ctx, http.MethodDelete, f.srv.URL+"/@connections/"+url.PathEscape(id), nil)
			sum := sha256.Sum256(nil)
			if err := v4.NewSigner().SignHTTP(ctx, own, r, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now().Add(-10*time.Minute)); err != nil {
				t.Fatal(err)
			}
			return r
		},
	} {
		resp, err := f.client.Do(req())
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "ForbiddenException" {
			t.Errorf("%s: %d %s, want 403 ForbiddenException", name, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}

	// The runner's own credentials post, and only that post arrives.
	if err := post(client(own), "signed"); err != nil {
		t.Fatalf("post signed with the runner's credentials: %v", err)
	}
	if _, data, err := c.Read(ctx); err != nil || string(data) != "signed" {
		t.Fatalf("client read %q %v, want only the signed post", data, err)
	}
}
