package fanout_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/greenroom-live/greenroom/shared/fanout"
)

// managementAPI is a local server with the API Gateway management API's
// semantics: POST /@connections/{id} delivers (200) or answers 410 with a
// GoneException, DELETE removes the connection (204).
type managementAPI struct {
	mu       sync.Mutex
	open     map[string]bool
	failing  map[string]int // id -> status to answer with
	received map[string][]string
	inFlight int
	maxSeen  int
	gate     chan struct{} // when set, each POST waits for it to close
}

func newManagementAPI(open ...string) *managementAPI {
	m := &managementAPI{open: map[string]bool{}, failing: map[string]int{}, received: map[string][]string{}}
	for _, id := range open {
		m.open[id] = true
	}
	return m
}

func (m *managementAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.URL.EscapedPath(), "/@connections/")
	id, err := url.PathUnescape(raw)
	if !ok || err != nil {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") == "" {
		http.Error(w, `{"message":"Missing Authentication Token"}`, http.StatusForbidden)
		return
	}
	body, _ := io.ReadAll(r.Body)

	m.mu.Lock()
	m.inFlight++
	m.maxSeen = max(m.maxSeen, m.inFlight)
	gate := m.gate
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.inFlight--
		m.mu.Unlock()
	}()
	if gate != nil {
		<-gate
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if status, ok := m.failing[id]; ok {
		w.Header().Set("X-Amzn-ErrorType", "InternalServerErrorException")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"message":"boom"}`)
		return
	}
	if !m.open[id] {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "GoneException")
		w.WriteHeader(http.StatusGone)
		_, _ = io.WriteString(w, `{"message":null}`)
		return
	}
	switch r.Method {
	case http.MethodPost:
		m.received[id] = append(m.received[id], string(body))
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		delete(m.open, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (m *managementAPI) got(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.received[id])
}

// realClient is the SDK's client pointed at srv, as the local runner's
// functions use it: dummy static credentials, no retries.
func realClient(t *testing.T, srv *httptest.Server) *apigatewaymanagementapi.Client {
	t.Helper()
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint:     aws.String(srv.URL),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       srv.Client(),
	})
}

func newNotifier(t *testing.T, m *managementAPI, concurrency int) *fanout.Notifier {
	t.Helper()
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	n, err := fanout.New(fanout.Config{Client: realClient(t, srv), Concurrency: concurrency})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFanoutNewValidates(t *testing.T) {
	dummy := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{Region: "us-east-1"})
	tests := []struct {
		name string
		cfg  fanout.Config
		want error
	}{
		{"no client", fanout.Config{}, fanout.ErrNoClient},
		{"negative concurrency", fanout.Config{Client: dummy, Concurrency: -1}, fanout.ErrBadConcurrency},
		{"defaults", fanout.Config{Client: dummy}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fanout.New(tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("New: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFanoutBroadcastGoneDoesNotStopOthers(t *testing.T) {
	m := newManagementAPI("a", "c=", "e")
	m.failing["d"] = http.StatusInternalServerError
	n := newNotifier(t, m, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	res := n.Broadcast(ctx, []fanout.ConnectionID{"a", "b", "c=", "d", "e", "a"}, []byte(`{"type":"event"}`))

	if want := []fanout.ConnectionID{"a", "c=", "e"}; !slices.Equal(res.Delivered, want) {
		t.Errorf("Delivered = %v, want %v", res.Delivered, want)
	}
	if want := []fanout.ConnectionID{"b"}; !slices.Equal(res.Gone, want) {
		t.Errorf("Gone = %v, want %v", res.Gone, want)
	}
	if len(res.Failed) != 1 || res.Failed[0].ID != "d" || res.Err() == nil {
		t.Errorf("Failed = %v, want one failure for d", res.Failed)
	}
	if errors.Is(res.Err(), fanout.ErrGone) {
		t.Errorf("Err() = %v, a gone connection is not an error", res.Err())
	}
	for _, id := range []string{"a", "c=", "e"} {
		if got := m.got(id); !slices.Equal(got, []string{`{"type":"event"}`}) {
			t.Errorf("%s received %q, want the payload once", id, got)
		}
	}
}

func TestFanoutBroadcastBoundsConcurrency(t *testing.T) {
	const bound = 3
	ids := make([]fanout.ConnectionID, 10)
	m := newManagementAPI()
	for i := range ids {
		ids[i] = fanout.ConnectionID(string(rune('a' + i)))
		m.open[string(ids[i])] = true
	}
	gate := make(chan struct{})
	m.gate = gate
	n := newNotifier(t, m, bound)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	done := make(chan fanout.Result, 1)
	go func() { done <- n.Broadcast(ctx, ids, []byte("x")) }()
	waitFor(t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.inFlight == bound
	})
	close(gate)
	res := <-done

	if len(res.Delivered) != len(ids) {
		t.Fatalf("Delivered %d, want %d (%v)", len(res.Delivered), len(ids), res.Err())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.maxSeen != bound {
		t.Errorf("at most %d posts in flight, want %d", m.maxSeen, bound)
	}
}

func TestFanoutPostAndDisconnect(t *testing.T) {
	m := newManagementAPI("a")
	n := newNotifier(t, m, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	if err := n.Post(ctx, "a", []byte("hi")); err != nil {
		t.Fatalf("Post: %v", err)
	}
	if err := n.Disconnect(ctx, "a"); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	err := n.Post(ctx, "a", []byte("again"))
	var gone *types.GoneException
	if !errors.Is(err, fanout.ErrGone) || !errors.As(err, &gone) {
		t.Fatalf("Post after Disconnect: got %v, want ErrGone and a GoneException", err)
	}
	if err := n.Disconnect(ctx, "a"); !errors.Is(err, fanout.ErrGone) {
		t.Fatalf("second Disconnect: got %v, want ErrGone", err)
	}
	if got := m.got("a"); !slices.Equal(got, []string{"hi"}) {
		t.Errorf("received %q, want [hi]", got)
	}
}

func TestFanoutBroadcastEmptyAndCancelled(t *testing.T) {
	m := newManagementAPI("a")
	n := newNotifier(t, m, 0)
	if res := n.Broadcast(t.Context(), nil, []byte("x")); res.Err() != nil || len(res.Delivered)+len(res.Gone) != 0 {
		t.Errorf("empty Broadcast = %+v", res)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := n.Broadcast(ctx, []fanout.ConnectionID{"a"}, []byte("x"))
	if len(res.Failed) != 1 || !errors.Is(res.Err(), context.Canceled) {
		t.Errorf("cancelled Broadcast = %+v, want a context.Canceled failure", res)
	}
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
