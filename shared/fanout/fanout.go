// Package fanout sends events to WebSocket clients through the API Gateway
// management API (PostToConnection, DeleteConnection), the way every
// Greenroom function that talks to clients does: in AWS against the
// WebSocket API's endpoint, locally against the runner's emulation of it.
//
// A connection that answers 410 (GoneException) is gone: Broadcast reports
// it to the caller, who removes that connection (never the sender's), and
// carries on with the others.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// ConnectionID is an API Gateway WebSocket connection id, as found in
// events.APIGatewayWebsocketProxyRequestContext.ConnectionID.
type ConnectionID = domain.ConnectionID

// DefaultConcurrency is how many posts a Broadcast has in flight at most
// when Config.Concurrency is zero.
const DefaultConcurrency = 16

// HTTPClient returns the HTTP client a management API client should post
// with: the SDK's, keeping enough idle connections to the endpoint for a
// broadcast's posts in flight and the replies beside them. The SDK's
// default keeps 10, so that posts beyond them open (in AWS, TLS-handshake)
// a fresh connection each.
func HTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = 4 * DefaultConcurrency
		tr.MaxIdleConns = max(tr.MaxIdleConns, 4*DefaultConcurrency)
	})
}

// Client is the part of the management API client a Notifier uses.
// *apigatewaymanagementapi.Client satisfies it.
type Client interface {
	PostToConnection(ctx context.Context, in *apigatewaymanagementapi.PostToConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error)
	DeleteConnection(ctx context.Context, in *apigatewaymanagementapi.DeleteConnectionInput, optFns ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.DeleteConnectionOutput, error)
}

var _ Client = (*apigatewaymanagementapi.Client)(nil)

// Config configures a Notifier. Zero values are defaults.
type Config struct {
	// Client is the management API client (required).
	Client Client
	// Concurrency bounds the posts one Broadcast has in flight
	// (DefaultConcurrency when zero).
	Concurrency int
	// Logger discards when nil.
	Logger *slog.Logger
}

func (c Config) validate() error {
	if c.Client == nil {
		return ErrNoClient
	}
	if c.Concurrency < 0 {
		return ErrBadConcurrency
	}
	return nil
}

// Notifier posts payloads to WebSocket connections. It is safe for
// concurrent use; every goroutine it starts has ended when the call that
// started it returns. At most Lanes broadcasts run at once, each with up
// to Concurrency posts in flight; the others wait their turn in the order
// they came. So many broadcasts at once (a crowd acting together, in a
// process that serves many invocations like the local runner) finish one
// after another, the first first, instead of all at the end, and do not
// crowd out everything else; a post to a single connection (a reply)
// never waits behind them.
type Notifier struct {
	client      Client
	concurrency int
	lanes       chan struct{}
	log         *slog.Logger
}

// Lanes is how many broadcasts of one Notifier run at once.
const Lanes = 4

// New returns a Notifier, or ErrNoClient or ErrBadConcurrency.
func New(cfg Config) (*Notifier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{client: cfg.Client, concurrency: cfg.Concurrency, lanes: make(chan struct{}, Lanes), log: cfg.Logger}, nil
}

// Result says what became of each connection a Broadcast posted to. Every
// id passed to Broadcast (once each, duplicates dropped) is in exactly one
// of the three lists, in the order given.
type Result struct {
	// Delivered lists the connections API Gateway accepted the payload
	// for.
	Delivered []ConnectionID
	// Gone lists the connections that answered 410: the caller should
	// delete them.
	Gone []ConnectionID
	// Failed lists the connections whose post failed otherwise
	// (throttling, a 5xx, a cancelled context): they may still exist.
	Failed []Failure
}

// Failure is one post that failed for a reason other than a gone
// connection.
type Failure struct {
	ID  ConnectionID
	Err error
}

// Err joins the failures, or returns nil when there are none. Gone
// connections are not errors.
func (r Result) Err() error {
	errs := make([]error, len(r.Failed))
	for i, f := range r.Failed {
		errs[i] = f.Err
	}
	return errors.Join(errs...)
}

// Broadcast posts payload to every connection in ids, at most the
// configured number at a time, once one of the Notifier's lanes is free,
// and returns once every post has finished. A gone connection or a failed
// post never stops the others.
func (n *Notifier) Broadcast(ctx context.Context, ids []ConnectionID, payload []byte) Result {
	ids = unique(ids)
	errs := make([]error, len(ids))
	select {
	case n.lanes <- struct{}{}:
		defer func() { <-n.lanes }()
	case <-ctx.Done():
		var res Result
		for _, id := range ids {
			res.Failed = append(res.Failed, Failure{ID: id, Err: fmt.Errorf("fanout: post to %s: %w", id, ctx.Err())})
		}
		return res
	}
	workers := min(n.concurrency, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				errs[i] = n.Post(ctx, ids[i], payload)
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()

	var res Result
	for i, err := range errs {
		switch {
		case err == nil:
			res.Delivered = append(res.Delivered, ids[i])
		case errors.Is(err, ErrGone):
			res.Gone = append(res.Gone, ids[i])
		default:
			res.Failed = append(res.Failed, Failure{ID: ids[i], Err: err})
		}
	}
	return res
}

// Post sends payload to one connection. It returns an error wrapping
// ErrGone (and the SDK's *types.GoneException) when the connection no
// longer exists.
func (n *Notifier) Post(ctx context.Context, id ConnectionID, payload []byte) error {
	_, err := n.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: (*string)(&id),
		Data:         payload,
	})
	if err == nil {
		return nil
	}
	if isGone(err) {
		n.log.DebugContext(ctx, "fanout: connection gone", "connectionId", id)
		return fmt.Errorf("fanout: post to %s: %w (%w)", id, ErrGone, err)
	}
	n.log.WarnContext(ctx, "fanout: post failed", "connectionId", id, "err", err)
	return fmt.Errorf("fanout: post to %s: %w", id, err)
}

// Disconnect closes one connection (DeleteConnection); API Gateway then
// calls the $disconnect route. It returns an error wrapping ErrGone when
// the connection was already gone.
func (n *Notifier) Disconnect(ctx context.Context, id ConnectionID) error {
	_, err := n.client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{
		ConnectionId: (*string)(&id),
	})
	if err == nil {
		return nil
	}
	if isGone(err) {
		return fmt.Errorf("fanout: disconnect %s: %w (%w)", id, ErrGone, err)
	}
	n.log.WarnContext(ctx, "fanout: disconnect failed", "connectionId", id, "err", err)
	return fmt.Errorf("fanout: disconnect %s: %w", id, err)
}

// isGone reports whether err is API Gateway's answer for a connection that
// no longer exists: a GoneException, or any 410.
func isGone(err error) bool {
	var gone *types.GoneException
	if errors.As(err, &gone) {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusGone
}

// unique drops repeated ids, keeping the first of each.
func unique(ids []ConnectionID) []ConnectionID {
	seen := make(map[ConnectionID]struct{}, len(ids))
	out := make([]ConnectionID, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}

// Send posts payload to every connection in ids and returns those that are
// gone, for the session handlers (wsapi.Sender). Other failures are logged
// by Broadcast. A post to one connection (a reply) goes at once, outside
// the broadcasts' budget.
func (n *Notifier) Send(ctx context.Context, ids []ConnectionID, payload []byte) []ConnectionID {
	if len(ids) == 1 {
		if err := n.Post(ctx, ids[0], payload); errors.Is(err, ErrGone) {
			return ids
		}
		return nil
	}
	return n.Broadcast(ctx, ids, payload).Gone
}

// Close closes a connection; one that is already gone is not an error.
func (n *Notifier) Close(ctx context.Context, id ConnectionID) error {
	if err := n.Disconnect(ctx, id); err != nil && !errors.Is(err, ErrGone) {
		return err
	}
	return nil
}
