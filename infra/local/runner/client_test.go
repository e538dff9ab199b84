package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
)

const openAPIPath = "../../../docs/openapi.yaml"

// testStart is the time the whole-stack tests pretend it is when they
// start: 09:00 UTC tomorrow, derived from the wall clock so that no test
// carries a date that the calendar can overtake. Every part of the stack
// reads the one settable clock the tests hand it; TestOneClockAnyDate
// checks that nothing reads another.
var testStart = time.Now().UTC().Truncate(24 * time.Hour).Add(24*time.Hour + 9*time.Hour)

// stack starts the local runner in-process on 127.0.0.1 with the embedded
// store in a temporary directory and a settable clock.
func stack(t *testing.T) (*runner.Stack, *domain.ManualClock) {
	t.Helper()
	return stackWith(t, nil)
}

// stackWith is stack with the configuration adjusted by tune.
func stackWith(t *testing.T, tune func(*runner.Config)) (*runner.Stack, *domain.ManualClock) {
	t.Helper()
	return stackAt(t, testStart, tune)
}

// stackAt is stackWith with the clock standing at start.
func stackAt(t *testing.T, start time.Time, tune func(*runner.Config)) (*runner.Stack, *domain.ManualClock) {
	t.Helper()
	clock := domain.NewManualClock(start)
	var logger *slog.Logger
	if os.Getenv("GREENROOM_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := runner.Config{
		Addr:    "127.0.0.1:0",
		DataDir: t.TempDir(),
		Clock:   clock,
		Logger:  logger,
	}
	onDynamoDB(t, &cfg)
	if tune != nil {
		tune(&cfg)
	}
	s, err := runner.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, clock
}

// storeEnv, set to "dynamodb", runs the whole-stack tests on DynamoDB
// Local at $GREENROOM_DYNAMODB_ENDPOINT (`make e2e` does so for the crowd
// tests) instead of the embedded store: a table of their own per test.
const storeEnv = "GREENROOM_TEST_STORE"

// onDynamoDB points cfg at DynamoDB Local when storeEnv asks for it.
func onDynamoDB(t *testing.T, cfg *runner.Config) {
	t.Helper()
	if os.Getenv(storeEnv) != runner.StoreDynamoDB {
		return
	}
	endpoint := os.Getenv("GREENROOM_DYNAMODB_ENDPOINT")
	if endpoint == "" {
		t.Fatalf("%s=dynamodb needs GREENROOM_DYNAMODB_ENDPOINT (run under .ci/dynamodb-local.sh run)", storeEnv)
	}
	// The runner loads the SDK's default configuration: DynamoDB Local
	// with dummy credentials, never a developer's real profile.
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "us-east-1")
	table := "greenroom-test-" + domain.NewID(8)
	cfg.Store, cfg.DynamoDBEndpoint, cfg.Table = runner.StoreDynamoDB, endpoint, table
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dynamostore.DeleteTable(ctx, dynamostore.LocalClient(endpoint), table); err != nil {
			t.Errorf("drop table: %v", err)
		}
	})
}

var (
	docOnce sync.Once
	doc     *openapi3.T
	docErr  error
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	docOnce.Do(func() {
		doc, docErr = openapi3.NewLoader().LoadFromFile(openAPIPath)
		if docErr == nil {
			docErr = doc.Validate(context.Background())
		}
	})
	if docErr != nil {
		t.Fatalf("openapi document: %v", docErr)
	}
	return doc
}

// client drives the API over real HTTP and checks every response whose
// route the document knows against the document's schema.
type client struct {
	t      *testing.T
	base   string
	http   *http.Client
	router routers.Router
}

func newClient(t *testing.T, base string) *client {
	t.Helper()
	d := *loadDoc(t)
	d.Servers = openapi3.Servers{{URL: base}}
	r, err := legacyrouter.NewRouter(&d)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: base, http: &http.Client{Timeout: 30 * time.Second}, router: r}
}

// reply is one response: its status and body.
type reply struct {
	Status int
	Body   []byte
	Header http.Header
}

// decode unmarshals the body into v.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// errorCode returns the contract error's code, or "" if the body is not
// an error.
func (r reply) errorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// fields returns the contract error's fields.
func (r reply) fields() map[string]string {
	var e struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Fields
}

type header struct{ name, value string }

// do sends one request. body is JSON-encoded unless it is a string or
// []byte, which are sent as they are.
func (c *client) do(method, path, token string, body any, hs ...header) reply {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			c.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		c.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range hs {
		req.Header.Set(h.name, h.value)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := reply{Status: resp.StatusCode, Body: out, Header: resp.Header}
	if r.Status >= 500 {
		c.t.Errorf("%s %s: %d %s (never a 5xx for anything a client sent)", method, path, r.Status, out)
	}
	c.checkSchema(req, r)
	return r
}

// checkSchema validates a response against the OpenAPI document: its
// status must be documented for the route and its body must match the
// schema. Responses of routes the document does not know (404, 405) must
// still be contract errors.
func (c *client) checkSchema(req *http.Request, r reply) {
	c.t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if r.errorCode() == "" {
			c.t.Errorf("%s %s: undocumented route answered %d %s without a contract error", req.Method, req.URL.Path, r.Status, r.Body)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: r.Status,
		Header: r.Header,
		Body:   io.NopCloser(bytes.NewReader(r.Body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		c.t.Errorf("%s %s: response %d does not match the OpenAPI document: %v\nbody: %s",
			req.Method, req.URL.Path, r.Status, strings.ReplaceAll(err.Error(), "\n", " | "), r.Body)
	}
}

// want fails the test unless r has the status and, for errors, the code.
func want(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.Status != status || r.errorCode() != code {
		t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, status, code)
	}
}
