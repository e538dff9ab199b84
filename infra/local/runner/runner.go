// Package runner is Greenroom's whole stack in one process: the same
// handlers Lambda runs, behind faithful emulations of the AWS edges, on an
// embedded store (or DynamoDB). The `infra/local` command and the
// whole-stack tests both start it.
package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/logging"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/fanout"
	"github.com/greenroom-live/greenroom/shared/groupfeed"
	"github.com/greenroom-live/greenroom/shared/httpapi"
	"github.com/greenroom-live/greenroom/shared/scheduler"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
	"github.com/greenroom-live/greenroom/shared/wsapi"
	"github.com/greenroom-live/greenroom/web"
)

// managementRegion is the region the runner's management API signs for.
const managementRegion = "us-east-1"

// Store kinds.
const (
	StoreEmbedded = "embedded"
	StoreDynamoDB = "dynamodb"
)

// Config configures the local stack. Zero values are the defaults of the
// `infra/local` command's flags.
type Config struct {
	// Addr is where everything listens (default 127.0.0.1:8080; port 0
	// picks a free one).
	Addr string
	// DataDir holds the embedded store and the token signing key
	// (default ./.greenroom).
	DataDir string
	// AdminKey mints organizer tokens; random when empty.
	AdminKey string
	// Store is StoreEmbedded (default) or StoreDynamoDB.
	Store string
	// DynamoDBEndpoint and Table address DynamoDB (Local) in StoreDynamoDB
	// mode; the table is created when missing.
	DynamoDBEndpoint string
	Table            string
	// Clock is the one clock of the whole stack: the HTTP and WebSocket
	// handlers, the gateway, the store's expiry, the scheduler, the
	// worker registry and TURN credentials all read it. The system clock
	// when nil; tests set one.
	Clock domain.Clock
	// Logger discards when nil.
	Logger *slog.Logger
	// Workers is how many SFU workers run in-process (1 when zero).
	Workers int
	// SweepEvery is how often the scheduler runs (every 2 seconds when
	// zero; AWS runs it every minute).
	SweepEvery time.Duration
	// DebugHooks serves the test-only routes under /debug/ (debughooks.go):
	// killing a session's SFU worker. Never on in production.
	DebugHooks bool
	// DynamoDBMeter, in StoreDynamoDB mode, hears the capacity every
	// DynamoDB call consumed, labelled with the message or route that
	// made it (benchmarks); nil asks DynamoDB for nothing.
	DynamoDBMeter dynamostore.Meter
}

// Stack is a running local stack. Close stops it.
type Stack struct {
	// URL is the base URL, for example http://127.0.0.1:8080.
	URL string
	// AdminKey is the key that mints organizer tokens.
	AdminKey string
	// Store is the stack's store, for tests that look behind the API.
	Store store.Store
	// TURNURLs are the in-process TURN server's addresses.
	TURNURLs []string
	// DataDir is where the store and the keys live.
	DataDir string

	srv       *http.Server
	ws        *wsGateway
	media     *mediaPlane
	closeDB   func() error
	served    chan error
	stopSweep context.CancelFunc
	swept     chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start opens the store, builds the handlers and starts listening. The
// stack serves until Close.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	cfg = withDefaults(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("runner: data dir: %w", err)
	}
	st, closeDB, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := start(ctx, cfg, st, closeDB)
	if err != nil {
		_ = closeDB()
		return nil, err
	}
	return s, nil
}

func start(ctx context.Context, cfg Config, st store.Store, closeDB func() error) (*Stack, error) {
	key, err := tokenKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	tokens, err := auth.NewIssuer(auth.Config{Key: key, Clock: cfg.Clock})
	if err != nil {
		return nil, fmt.Errorf("runner: tokens: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("runner: listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	fail := func(what string, err error) (*Stack, error) {
		_ = ln.Close()
		return nil, fmt.Errorf("runner: %s: %w", what, err)
	}
	turnSecret, err := secretFile(cfg.DataDir, "turn.key")
	if err != nil {
		return fail("turn secret", err)
	}
	workerSecret, err := secretFile(cfg.DataDir, "worker.key")
	if err != nil {
		return fail("worker secret", err)
	}
	// The real management API client, pointed at the runner's own
	// @connections endpoint, is the notifier, exactly as in AWS. It signs
	// with credentials made for this run alone, and the endpoint takes
	// no others: only the runner's handlers (and its SFU workers) post.
	creds := aws.Credentials{AccessKeyID: "AKIA" + strings.ToUpper(randomHex(8)), SecretAccessKey: randomHex(20), Source: "greenroom runner"}
	mgmt := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(base),
		Region:       managementRegion,
		Credentials:  credentials.StaticCredentialsProvider{Value: creds},
		HTTPClient:   fanout.HTTPClient(),
	})
	notifier, err := fanout.New(fanout.Config{Client: mgmt, Logger: cfg.Logger})
	if err != nil {
		return fail("notifier", err)
	}
	plane, err := startMedia(ctx, cfg, st, notifier, string(turnSecret), string(workerSecret))
	if err != nil {
		return fail("media", err)
	}
	fail = func(what string, err error) (*Stack, error) {
		_ = ln.Close()
		_ = plane.close()
		return nil, fmt.Errorf("runner: %s: %w", what, err)
	}
	groups, err := groupfeed.New(groupfeed.Config{Store: st, Sender: notifier, Clock: cfg.Clock, Logger: cfg.Logger})
	if err != nil {
		return fail("group feed", err)
	}
	api, err := httpapi.New(httpapi.Config{
		Store: st, Tokens: tokens, AdminKey: cfg.AdminKey, Clock: cfg.Clock,
		Logger: cfg.Logger, WebURL: base, WSURL: "ws://" + ln.Addr().String() + "/ws",
		TURN:   httpapi.TURNConfig{Secret: string(turnSecret), URLs: plane.turnURLs},
		Groups: groups,
	})
	if err != nil {
		return fail("api", err)
	}
	live, err := wsapi.New(wsapi.Config{Store: st, Tokens: tokens, Sender: notifier, Media: plane.media, Groups: groups, Clock: cfg.Clock, Logger: cfg.Logger})
	if err != nil {
		return fail("websocket handlers", err)
	}
	ws, err := newWSGateway(wsGatewayConfig{
		Connect: live.Connect, Default: live.Default, Disconnect: live.Disconnect,
		RouteResponse: true, Clock: cfg.Clock, Logger: cfg.Logger,
		Credentials: creds, Region: managementRegion,
	})
	if err != nil {
		return fail("websocket gateway", err)
	}
	sweeper, err := scheduler.New(scheduler.Config{Store: st, Sessions: live, Media: plane.media, Clock: cfg.Clock, Logger: cfg.Logger})
	if err != nil {
		return fail("scheduler", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", apiGateway{handler: api.Handle, clock: cfg.Clock})
	mux.HandleFunc("GET /ws", ws.ServeWS)
	mux.HandleFunc("/@connections/", ws.ServeConnections)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.Handle("/", web.Handler())
	s := &Stack{
		URL:      base,
		AdminKey: cfg.AdminKey,
		Store:    st,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
		ws:       ws,
		media:    plane,
		TURNURLs: plane.turnURLs,
		DataDir:  cfg.DataDir,
		closeDB:  closeDB,
		served:   make(chan error, 1),
		swept:    make(chan struct{}),
	}
	if cfg.DebugHooks {
		debugHooks{stack: s, adminKey: cfg.AdminKey}.register(mux)
	}
	go func() { s.served <- s.srv.Serve(ln) }()
	sweepCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopSweep = stop
	go func() {
		defer close(s.swept)
		sweeper.Every(sweepCtx, cfg.SweepEvery)
	}()
	return s, nil
}

// Close shuts the server down gracefully (in-flight requests finish until
// ctx ends), then closes the store. It is idempotent.
func (s *Stack) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.stopSweep()
		<-s.swept
		// Sockets first: their $disconnect handlers still need the store,
		// and Shutdown does not wait for hijacked connections.
		err := s.ws.Close()
		err = errors.Join(err, shutdownWithin(ctx, s.srv))
		if serveErr := <-s.served; !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
		err = errors.Join(err, s.media.close())
		s.closeErr = errors.Join(err, s.closeDB())
	})
	return s.closeErr
}

// shutdownWithin stops the public server: requests in flight get until
// ctx ends; connections a client opened but never used do not hold it up.
func shutdownWithin(ctx context.Context, srv *http.Server) error {
	grace, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := srv.Shutdown(grace)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return srv.Close()
	}
	return err
}

func withDefaults(cfg Config) Config {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = ".greenroom"
	}
	if cfg.AdminKey == "" {
		cfg.AdminKey = randomHex(24)
	}
	if cfg.Store == "" {
		cfg.Store = StoreEmbedded
	}
	if cfg.Table == "" {
		cfg.Table = "greenroom"
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = 2 * time.Second
	}
	return cfg
}

func openStore(ctx context.Context, cfg Config) (store.Store, func() error, error) {
	switch cfg.Store {
	case StoreEmbedded:
		db, err := boltstore.Open(filepath.Join(cfg.DataDir, "greenroom.db"), boltstore.WithClock(cfg.Clock))
		if err != nil {
			return nil, nil, fmt.Errorf("runner: embedded store: %w", err)
		}
		return db, db.Close, nil
	case StoreDynamoDB:
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("runner: aws config: %w", err)
		}
		client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
			o.Retryer = dynamostore.Retryer() // as the Lambdas: no client-side retry quota
			if cfg.DynamoDBEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
				// DynamoDB Local's CRC32 headers make the SDK warn on
				// stderr for every conditional write it loses ("response
				// did not match expected checksum"): noise in a crowd.
				o.Logger = logging.Nop{}
			}
		})
		if err := dynamostore.CreateTable(ctx, client, cfg.Table); err != nil {
			return nil, nil, fmt.Errorf("runner: table: %w", err)
		}
		var c dynamostore.Client = client
		if cfg.DynamoDBMeter != nil {
			c = dynamostore.MeterClient(client, cfg.DynamoDBMeter)
		}
		return dynamostore.New(c, cfg.Table, dynamostore.WithClock(cfg.Clock)), func() error { return nil }, nil
	default:
		return nil, nil, fmt.Errorf("runner: unknown store %q (want %s or %s)", cfg.Store, StoreEmbedded, StoreDynamoDB)
	}
}

// tokenKey returns the signing key kept in the data dir, making one the
// first time, so tokens survive a restart just as the data does.
func tokenKey(dir string) ([]byte, error) { return secretFile(dir, "token.key") }

// secretFile returns the secret kept in a file of the data dir, making a
// random one the first time.
func secretFile(dir, name string) ([]byte, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		if k := strings.TrimSpace(string(b)); len(k) >= auth.MinKeyLen {
			return []byte(k), nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("runner: %s: %w", name, err)
	}
	k := randomHex(32)
	if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("runner: %s: %w", name, err)
	}
	return []byte(k), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
