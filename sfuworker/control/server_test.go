package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/greenroom-live/greenroom/sfuworker/control"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

const secret = "0123456789abcdef-test-secret"

// call is one call the fake worker received.
type call struct {
	Op      string
	State   sfu.RoomState
	Room    sfu.RoomID
	Member  sfu.MemberID
	Type    string
	Payload string
}

// fakeWorker records calls and answers with err (or panics when panic is
// set).
type fakeWorker struct {
	mu    sync.Mutex
	calls []call
	rooms []sfu.RoomID
	err   error
	panic bool
	stats sfu.Stats
}

func (f *fakeWorker) record(c call) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panic {
		panic("fake worker panics")
	}
	f.calls = append(f.calls, c)
	return f.err
}

func (f *fakeWorker) Apply(_ context.Context, st sfu.RoomState) error {
	return f.record(call{Op: "apply", State: st, Room: st.Room})
}

func (f *fakeWorker) Signal(_ context.Context, room sfu.RoomID, member sfu.MemberID, msgType string, payload json.RawMessage) error {
	return f.record(call{Op: "signal", Room: room, Member: member, Type: msgType, Payload: string(payload)})
}

func (f *fakeWorker) CloseRoom(_ context.Context, room sfu.RoomID) error {
	return f.record(call{Op: "close", Room: room})
}

func (f *fakeWorker) Rooms() []sfu.RoomID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rooms)
}

func (f *fakeWorker) Stats() sfu.Stats { return f.stats }

func (f *fakeWorker) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// serve starts a control server for a fake worker on 127.0.0.1.
func serve(t *testing.T) (*fakeWorker, *control.Server, *httptest.Server) {
	t.Helper()
	w := &fakeWorker{}
	s, err := control.New(control.Config{Worker: w, Secret: secret})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return w, s, srv
}

func client(t *testing.T, base string) *sfuapi.Client {
	t.Helper()
	c, err := sfuapi.NewClient(sfuapi.ClientConfig{BaseURL: base, Secret: secret})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// send makes one raw request and returns the status and body.
func send(t *testing.T, method, url, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestNewValidates(t *testing.T) {
	if _, err := control.New(control.Config{Secret: secret}); !errors.Is(err, control.ErrNoWorker) {
		t.Errorf("New without a worker = %v, want ErrNoWorker", err)
	}
	if _, err := control.New(control.Config{Worker: &fakeWorker{}, Secret: "short"}); !errors.Is(err, control.ErrShortSecret) {
		t.Errorf("New with a short secret = %v, want ErrShortSecret", err)
	}
	for _, base := range []string{"", "10.0.0.1:7000", "ftp://x", "http://"} {
		if _, err := sfuapi.NewClient(sfuapi.ClientConfig{BaseURL: base, Secret: secret}); !errors.Is(err, sfuapi.ErrBadURL) {
			t.Errorf("NewClient(%q) = %v, want ErrBadURL", base, err)
		}
	}
}

func TestAuth(t *testing.T) {
	w, _, srv := serve(t)
	state := `{"room":"r1","version":1,"members":[]}`
	for _, auth := range []string{"", "Bearer", "Bearer wrong-secret-wrong-secret", "Basic " + secret, "bearer " + secret, "Bearer " + secret + "x"} {
		for _, r := range []struct{ method, path, body string }{
			{http.MethodPut, "/v1/rooms/r1", state},
			{http.MethodDelete, "/v1/rooms/r1", ""},
			{http.MethodPost, "/v1/rooms/r1/members/m1/signal", `{"type":"media.offer","payload":{"sdp":"v=0"}}`},
		} {
			code, body := send(t, r.method, srv.URL+r.path, auth, r.body)
			if code != http.StatusUnauthorized || !strings.Contains(body, `"unauthorized"`) {
				t.Errorf("%s %s with %q = %d %s, want 401", r.method, r.path, auth, code, body)
			}
		}
	}
	wrong, err := sfuapi.NewClient(sfuapi.ClientConfig{BaseURL: srv.URL, Secret: "another-secret-of-16"})
	if err != nil {
		t.Fatal(err)
	}
	if err := wrong.CloseRoom(t.Context(), "r1"); !errors.Is(err, sfuapi.ErrUnauthorized) {
		t.Errorf("CloseRoom with a wrong secret = %v, want ErrUnauthorized", err)
	}
	if calls := w.Calls(); len(calls) != 0 {
		t.Errorf("the worker was called without authentication: %+v", calls)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _ := send(t, http.MethodGet, srv.URL+path, "", ""); code != http.StatusOK {
			t.Errorf("GET %s without auth = %d, want 200", path, code)
		}
	}
}

func TestBadInput(t *testing.T) {
	w, _, srv := serve(t)
	auth := "Bearer " + secret
	big := `{"room":"r1","version":1,"members":[],"pad":"` + strings.Repeat("x", control.MaxBodyBytes) + `"}`
	long := strings.Repeat("m", 300)
	tests := []struct {
		name, method, path, body string
		code                     int
	}{
		{"not JSON", "PUT", "/v1/rooms/r1", `{`, 400},
		{"empty", "PUT", "/v1/rooms/r1", ``, 400},
		{"two values", "PUT", "/v1/rooms/r1", `{"room":"r1"} {}`, 400},
		{"wrong shape", "PUT", "/v1/rooms/r1", `{"room":"r1","members":"all"}`, 400},
		{"array", "PUT", "/v1/rooms/r1", `[]`, 400},
		{"other room", "PUT", "/v1/rooms/r1", `{"room":"r2","version":1}`, 400},
		{"negative version", "PUT", "/v1/rooms/r1", `{"room":"r1","version":-1}`, 400},
		{"member without id", "PUT", "/v1/rooms/r1", `{"room":"r1","members":[{"connection":"c1"}]}`, 400},
		{"member without connection", "PUT", "/v1/rooms/r1", `{"room":"r1","members":[{"id":"m1"}]}`, 400},
		{"member twice", "PUT", "/v1/rooms/r1", `{"room":"r1","members":[{"id":"m1","connection":"c1"},{"id":"m1","connection":"c2"}]}`, 400},
		{"bad group", "PUT", "/v1/rooms/r1", `{"room":"r1","members":[{"id":"m1","connection":"c1","group":-2}]}`, 400},
		{"long member id", "PUT", "/v1/rooms/r1", `{"room":"r1","members":[{"id":"` + long + `","connection":"c1"}]}`, 400},
		{"too large", "PUT", "/v1/rooms/r1", big, 413},
		{"signal not JSON", "POST", "/v1/rooms/r1/members/m1/signal", `nope`, 400},
		{"signal unknown type", "POST", "/v1/rooms/r1/members/m1/signal", `{"type":"chat.send","payload":{}}`, 400},
		{"signal no payload", "POST", "/v1/rooms/r1/members/m1/signal", `{"type":"media.offer"}`, 400},
		{"signal null payload", "POST", "/v1/rooms/r1/members/m1/signal", `{"type":"media.offer","payload":null}`, 400},
		{"signal string payload", "POST", "/v1/rooms/r1/members/m1/signal", `{"type":"media.offer","payload":"v=0"}`, 400},
		{"signal long member", "POST", "/v1/rooms/r1/members/" + long + "/signal", `{"type":"media.offer","payload":{}}`, 400},
		{"signal too large", "POST", "/v1/rooms/r1/members/m1/signal", `{"type":"media.offer","payload":{"sdp":"` + strings.Repeat("x", control.MaxBodyBytes) + `"}}`, 413},
		{"unknown route", "GET", "/v1/rooms/r1", ``, 405},
		{"no room", "PUT", "/v1/rooms/", `{}`, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := send(t, tt.method, srv.URL+tt.path, auth, tt.body)
			if code != tt.code {
				t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, code, body, tt.code)
			}
			if code < 405 && !strings.Contains(body, `"error"`) && code != http.StatusNotFound {
				t.Errorf("body %s is not a JSON error", body)
			}
		})
	}
	if calls := w.Calls(); len(calls) != 0 {
		t.Errorf("the worker was called with bad input: %+v", calls)
	}
}

func TestRoutesToWorker(t *testing.T) {
	w, _, srv := serve(t)
	c := client(t, srv.URL+"/")
	ctx := t.Context()
	wire := sfuapi.RoomState{Room: "session/1", Version: 7, Members: []sfuapi.MemberState{
		{ID: "u1", Connection: "c1", Publish: true, Mic: true, Cam: true, Group: sfuapi.MainGroup},
		{ID: "u2", Connection: "c2", Group: 3},
	}}
	// What the worker is handed: its own types, field for field.
	st := sfu.RoomState{Room: "session/1", Version: 7, Members: []sfu.MemberState{
		{ID: "u1", Connection: "c1", Publish: true, Mic: true, Cam: true, Group: sfu.MainGroup},
		{ID: "u2", Connection: "c2", Group: 3},
	}}
	if err := c.Apply(ctx, wire); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := c.Signal(ctx, "session/1", "u 2", control.TypeCandidate, json.RawMessage(`{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host"}`)); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	if err := c.CloseRoom(ctx, "session/1"); err != nil {
		t.Fatalf("CloseRoom: %v", err)
	}
	calls := w.Calls()
	if len(calls) != 3 {
		t.Fatalf("calls = %+v, want 3", calls)
	}
	if calls[0].Op != "apply" || calls[0].State.Room != st.Room || calls[0].State.Version != 7 || !slices.Equal(calls[0].State.Members, st.Members) {
		t.Errorf("apply call = %+v, want %+v", calls[0], st)
	}
	if c := calls[1]; c.Op != "signal" || c.Room != "session/1" || c.Member != "u 2" || c.Type != control.TypeCandidate || !strings.Contains(c.Payload, "typ host") {
		t.Errorf("signal call = %+v", c)
	}
	if c := calls[2]; c.Op != "close" || c.Room != "session/1" {
		t.Errorf("close call = %+v", c)
	}
}

func TestWorkerErrors(t *testing.T) {
	tests := []struct {
		err  error
		want error
		code int
	}{
		{sfu.ErrNoRoom, sfuapi.ErrNoRoom, 404},
		{sfu.ErrNoMember, sfuapi.ErrNoMember, 404},
		{sfu.ErrBadSDP, sfuapi.ErrBadSDP, 400},
		{sfu.ErrStaleAnswer, sfuapi.ErrStaleAnswer, 409},
		{sfu.ErrBadMessage, sfuapi.ErrBadMessage, 400},
		{sfu.ErrClosed, sfuapi.ErrClosed, 503},
		{errors.New("disk on fire at 10.0.0.1"), nil, 500},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			w, _, srv := serve(t)
			w.err = tt.err
			err := client(t, srv.URL).Signal(t.Context(), "r1", "m1", control.TypeOffer, json.RawMessage(`{"sdp":"v=0"}`))
			var ae *sfuapi.APIError
			if !errors.As(err, &ae) || ae.Status != tt.code {
				t.Fatalf("Signal = %v, want an APIError with status %d", err, tt.code)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Signal = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), "disk on fire") {
				t.Errorf("a 500 leaks the detail: %v", err)
			}
		})
	}
	t.Run("CloseRoom of an unknown room", func(t *testing.T) {
		w, _, srv := serve(t)
		w.err = sfu.ErrNoRoom
		if err := client(t, srv.URL).CloseRoom(t.Context(), "r1"); err != nil {
			t.Errorf("CloseRoom = %v, want nil", err)
		}
	})
	t.Run("panic", func(t *testing.T) {
		w, _, srv := serve(t)
		w.panic = true
		err := client(t, srv.URL).Apply(t.Context(), sfuapi.RoomState{Room: "r1"})
		var ae *sfuapi.APIError
		if !errors.As(err, &ae) || ae.Status != 500 || ae.Code != "internal" {
			t.Errorf("Apply on a panicking worker = %v, want a 500", err)
		}
		if code, _ := send(t, http.MethodGet, srv.URL+"/healthz", "", ""); code != 200 {
			t.Errorf("healthz after a panic = %d", code)
		}
	})
}

func TestDraining(t *testing.T) {
	w, s, srv := serve(t)
	w.rooms = []sfu.RoomID{"old"}
	s.SetDraining(true)
	c := client(t, srv.URL)
	if err := c.Apply(t.Context(), sfuapi.RoomState{Room: "new", Version: 1}); !errors.Is(err, sfuapi.ErrDraining) {
		t.Errorf("Apply of a new room while draining = %v, want ErrDraining", err)
	}
	if err := c.Apply(t.Context(), sfuapi.RoomState{Room: "old", Version: 2}); err != nil {
		t.Errorf("Apply of an existing room while draining = %v", err)
	}
	if code, _ := send(t, http.MethodGet, srv.URL+"/readyz", "", ""); code != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining = %d, want 503", code)
	}
	if calls := w.Calls(); len(calls) != 1 || calls[0].Room != "old" {
		t.Errorf("calls = %+v, want the old room's apply only", calls)
	}
}

func TestMetrics(t *testing.T) {
	w, _, srv := serve(t)
	w.stats = sfu.Stats{Rooms: 2, Members: 11, Tracks: 5, PacketsForwarded: 123456, BytesForwarded: 98765432, NACKs: 17, PLIs: 4,
		Estimates: []int64{250_000, 1_200_000, 4_000_000}}
	_ = client(t, srv.URL).CloseRoom(t.Context(), "r1")
	code, body := send(t, http.MethodGet, srv.URL+"/metrics", "", "")
	if code != 200 {
		t.Fatalf("metrics = %d", code)
	}
	for _, want := range []string{
		"greenroom_sfu_rooms 2", "greenroom_sfu_members 11", "greenroom_sfu_tracks 5",
		"greenroom_sfu_packets_forwarded_total 123456", "greenroom_sfu_bytes_forwarded_total 9.8765432e+07",
		"greenroom_sfu_nacks_total 17", "greenroom_sfu_plis_total 4", "greenroom_sfu_draining 0",
		`greenroom_sfu_control_requests_total{code="204",route="close"} 1`, "go_goroutines",
		`greenroom_sfu_bandwidth_estimate_bps_bucket{le="300000"} 1`,
		`greenroom_sfu_bandwidth_estimate_bps_bucket{le="1.5e+06"} 2`,
		`greenroom_sfu_bandwidth_estimate_bps_bucket{le="+Inf"} 3`,
		"greenroom_sfu_bandwidth_estimate_bps_count 3", "greenroom_sfu_bandwidth_estimate_bps_sum 5.45e+06",
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") {
			t.Errorf("metrics lack %q", want)
		}
	}
}
