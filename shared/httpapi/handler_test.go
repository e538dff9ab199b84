package httpapi

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
)

const testAdminKey = "test-admin-key"

// newTestHandler returns a handler on a fresh embedded store, a clock and
// tokens for an organizer, an employer and a user.
func newTestHandler(tb testing.TB) (*Handler, map[string]string) {
	tb.Helper()
	// One clock for the handler, the tokens and the store's expiry.
	clock := domain.NewManualClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	db, err := boltstore.Open(filepath.Join(tb.TempDir(), "db"), boltstore.WithClock(clock))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	tokens, err := auth.NewIssuer(auth.Config{Key: []byte(strings.Repeat("k", 32)), Clock: clock})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := New(Config{Store: db, Tokens: tokens, AdminKey: testAdminKey, Clock: clock})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	ev := domain.Event{ID: "ev1", OrganizerID: "org1", Name: "Fair", SlotMinutes: 30,
		Windows: []domain.Window{{Start: clock.Now().Add(time.Hour), End: clock.Now().Add(3 * time.Hour)}}}
	ev.Normalize()
	if err := db.CreateEvent(ctx, ev); err != nil {
		tb.Fatal(err)
	}
	if err := db.CreateEmployer(ctx, domain.Employer{ID: "emp1", EventID: "ev1", Name: "Acme"}); err != nil {
		tb.Fatal(err)
	}
	s, err := domain.NewHostedSession(domain.KindInstant, "user1", "Sync", "", clock.Now())
	if err != nil {
		tb.Fatal(err)
	}
	s.ID = "sess1"
	if err := db.CreateSession(ctx, s); err != nil {
		tb.Fatal(err)
	}
	toks := map[string]string{}
	for name, c := range map[string]auth.Claims{
		"organizer": {Role: auth.RoleOrganizer},
		"employer":  {Role: auth.RoleEmployer, EventID: "ev1"},
		"user":      {Role: auth.RoleUser},
	} {
		sub := map[string]string{"organizer": "org1", "employer": "emp1", "user": "user1"}[name]
		tok, err := tokens.Mint(sub, c)
		if err != nil {
			tb.Fatal(err)
		}
		toks[name] = tok
	}
	return h, toks
}

func httpEvent(method, path, token, body string) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "$default", RawPath: path, Body: body,
		Headers: map[string]string{"content-type": "application/json"},
	}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.HTTP.Path = path
	ev.RequestContext.DomainName = "api.example.com"
	if token != "" {
		ev.Headers["authorization"] = "Bearer " + token
	}
	return ev
}

// checkContract fails unless resp is a well-formed answer: never a 5xx,
// and every error in the contract's shape with a known code.
func checkContract(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	if resp.StatusCode >= 500 || resp.StatusCode < 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
	}
	if resp.StatusCode < 400 {
		return
	}
	var e struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d with a body outside the contract: %s", resp.StatusCode, resp.Body)
	}
	if e.Error.Code == CodeInvalid && len(e.Error.Fields) == 0 {
		t.Fatalf("invalid without fields: %s", resp.Body)
	}
}

// FuzzHandle throws arbitrary routes, bodies and tokens at the handler:
// nothing a client sends may crash it or earn a 5xx. Seeds are in
// testdata/fuzz/FuzzHandle and run with every `go test`.
func FuzzHandle(f *testing.F) {
	f.Add("POST", "/v1/users", "", `{"name":"Frida","device":"mobile"}`)
	f.Add("POST", "/v1/events", "organizer", `{"name":"Fair","windows":[{"start":"2026-11-23T10:00:00Z","end":"2026-11-23T12:00:00Z"}],"slotMinutes":30}`)
	f.Add("POST", "/v1/events/ev1/sessions", "employer", `{"start":"2026-11-23T10:00:00Z","title":"Meet","speakers":["user1"]}`)
	f.Add("POST", "/v1/sessions", "user", `{"kind":"instant","title":"x"}`)
	f.Add("POST", "/v1/sessions/sess1/registrations", "user", ``)
	f.Add("DELETE", "/v1/sessions/sess1/registrations/me", "user", ``)
	f.Add("POST", "/v1/events", "organizer", `{"windows":[{"start":1}],"stage":{"maxSpeakers":1e309}}`)
	f.Add("POST", "/v1/organizers", "", `{"name":"\u0000"}`)
	f.Add("POST", "/v1/sessions/sess1/speakers", "employer", `{"userId":"user1"}`)
	f.Add("POST", "/v1/sessions/sess1/speaker-invites", "employer", ``)
	f.Add("POST", "/v1/sessions/sess1/speakers/me", "user", `{"invite":"x.y.z"}`)
	f.Add("DELETE", "/v1/sessions/sess1/speakers/user1", "employer", ``)
	f.Add("POST", "/v1/groups", "user", `{"name":"Marketing Analysis"}`)
	f.Add("GET", "/v1/groups", "user", ``)
	f.Add("GET", "/v1/me/sessions", "user", ``)
	f.Add("GET", "/v1/me/sessions", "employer", ``)
	f.Add("GET", "/v1/groups/grp1", "user", ``)
	f.Add("POST", "/v1/groups/grp1/invites", "user", ``)
	f.Add("POST", "/v1/groups/grp1/members/me", "user", `{"invite":"x.y.z"}`)
	f.Add("DELETE", "/v1/groups/grp1/members/me", "user", ``)
	f.Add("DELETE", "/v1/groups/grp1/members/user1", "user", ``)
	f.Add("GET", "/v1/groups/grp1/messages", "user", ``)
	f.Add("POST", "/v1/groups/grp1/messages", "user", `{"text":"hello"}`)
	f.Add("POST", "/v1/sessions", "user", `{"kind":"primetime","title":"x","groupId":"grp1"}`)
	h, toks := newTestHandler(f)
	f.Fuzz(func(t *testing.T, method, path, token, body string) {
		if tok, ok := toks[token]; ok {
			token = tok
		}
		resp, err := h.Handle(context.Background(), httpEvent(method, path, token, body))
		if err != nil {
			t.Fatalf("Handle returned an error for a client request: %v", err)
		}
		checkContract(t, resp)
	})
}

// FuzzDecode feeds arbitrary bodies to the decoder of every request type.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"name":1}`, `{"windows":[{"start":"x"}]}`, `{"stage":{"maxSpeakers":-1}}`, `{"speakers":[""]}`, `{"a":1}{"b":2}`, `"\ud800"`} {
		f.Add(s)
	}
	h, _ := newTestHandler(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, dst := range []any{&createUserRequest{}, &nameRequest{}, &createEventRequest{}, &bookSessionRequest{}, &createSessionRequest{}} {
			err := h.decode([]byte(body), dst)
			if err == nil {
				continue
			}
			e := toError(err)
			if e.Code != CodeInvalid || len(e.Fields) == 0 {
				t.Fatalf("decode %q: %v is not an invalid error with fields", body, err)
			}
		}
	})
}

func TestHandleIsBase64Aware(t *testing.T) {
	h, _ := newTestHandler(t)
	ev := httpEvent("POST", "/v1/users", "", "eyJuYW1lIjoiRnJpZGEifQ==") // {"name":"Frida"}
	ev.IsBase64Encoded = true
	resp, _ := h.Handle(context.Background(), ev)
	if resp.StatusCode != 201 {
		t.Fatalf("base64 body: %d %s", resp.StatusCode, resp.Body)
	}
	ev.Body = "!!!"
	resp, _ = h.Handle(context.Background(), ev)
	checkContract(t, resp)
	if resp.StatusCode != 400 {
		t.Fatalf("bad base64: %d", resp.StatusCode)
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	if _, err := New(Config{}); err != ErrNoStore {
		t.Fatalf("got %v", err)
	}
}
