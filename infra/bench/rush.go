package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
)

// runRush measures a rush at the start of a session: N members of a live
// PrimeTime session join at the same moment (HTTP join, WebSocket, first
// state.get), as a room fills when a session starts. It prints, per N, the
// time from the HTTP join to each member's first state (p50, p99), the
// dial alone, and what the rush cost anyone: members dropped (refused as
// unknown two seconds later), member.left events heard, and members the
// host does not see connected.
func runRush(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("rush", flag.ContinueOnError)
	sizes := fs.String("members", "50,200", "comma list of crowd sizes, each one run")
	dynamo := fs.Bool("dynamodb", false, "run the runner on DynamoDB Local at $"+endpointEnv+" instead of the embedded store")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on each run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var ns []int
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > domain.PrimetimeCapacity {
			return fmt.Errorf("-members: %q is not a crowd size from 1 to %d", f, domain.PrimetimeCapacity)
		}
		ns = append(ns, n)
	}
	name := "embedded"
	if *dynamo {
		name = "DynamoDB Local"
	}
	fmt.Fprintf(out, "== join rush (%s): N members of a live PrimeTime join at once\n", name)
	for _, n := range ns {
		cfg, drop, err := rushStore(ctx, *dynamo)
		if err != nil {
			return err
		}
		runCtx, cancel := context.WithTimeout(ctx, *timeout)
		r, err := rush(runCtx, cfg, n)
		cancel()
		err = errors.Join(err, drop())
		if err != nil {
			return fmt.Errorf("%d members: %w", n, err)
		}
		first50, first99 := spread(r.firstState)
		dial50, dial99 := spread(r.dial)
		fmt.Fprintf(out, "rush %3d: join -> first state p50 %s p99 %s; dial p50 %s p99 %s; failed %d, dropped %d of %d, member.left heard %d, host sees %d of %d connected\n",
			n, ms(first50), ms(first99), ms(dial50), ms(dial99), r.failed, r.dropped, n, r.left, r.connected, n+1)
	}
	return nil
}

// rushStore is the runner configuration of one run and what removes its
// store afterwards.
func rushStore(ctx context.Context, dynamo bool) (runner.Config, func() error, error) {
	if !dynamo {
		return runner.Config{}, func() error { return nil }, nil
	}
	endpoint := os.Getenv(endpointEnv)
	if endpoint == "" {
		return runner.Config{}, nil, fmt.Errorf("%s is not set: run under `bash .ci/dynamodb-local.sh run -- …`", endpointEnv)
	}
	// The runner loads the SDK's default configuration: point it at
	// DynamoDB Local with dummy credentials, never a real profile.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1"} {
		if os.Getenv(k) == "" {
			_ = os.Setenv(k, v)
		}
	}
	table := "greenroom-rush-" + domain.NewID(8)
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return dynamostore.DeleteTable(ctx, dynamostore.LocalClient(endpoint), table)
	}
	return runner.Config{Store: runner.StoreDynamoDB, DynamoDBEndpoint: endpoint, Table: table}, drop, nil
}

// rushResult is what one rush measured.
type rushResult struct {
	firstState []time.Duration // HTTP join to the first state, per member
	dial       []time.Duration // the WebSocket dial alone, per member
	failed     int             // joins or dials that failed
	dropped    int             // members refused as unknown two seconds later
	left       int64           // member.left events anyone heard
	connected  int             // members the host's state lists as connected
}

func rush(ctx context.Context, cfg runner.Config, n int) (res rushResult, err error) {
	l, err := startRunner(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	var left atomic.Int64
	onEvent := func(_ *member, f frame, _ time.Time) {
		if f.Event == "member.left" {
			left.Add(1)
		}
	}
	users, err := l.users(ctx, n+1)
	if err != nil {
		return res, err
	}
	id, err := l.primetime(ctx, users[0])
	if err != nil {
		return res, err
	}
	j, err := l.join(ctx, id, users[0])
	if err != nil {
		return res, err
	}
	host, err := dial(ctx, 0, users[0].User.ID, j.WSURL+"?token="+j.JoinToken, hooks{event: onEvent})
	if err != nil {
		return res, err
	}
	l.members = append(l.members, host)
	if _, err := host.call(ctx, "state.get", nil); err != nil {
		return res, err
	}
	if _, err := host.call(ctx, "session.start", nil); err != nil {
		return res, err
	}

	crowd := make([]*member, n)
	first := make([]time.Duration, n)
	dials := make([]time.Duration, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			j, err := l.join(ctx, id, users[i+1])
			if err != nil {
				errs[i] = err
				return
			}
			t1 := time.Now()
			m, err := dial(ctx, i+1, users[i+1].User.ID, j.WSURL+"?token="+j.JoinToken, hooks{event: onEvent})
			if err != nil {
				errs[i] = err
				return
			}
			dials[i] = time.Since(t1)
			crowd[i] = m
			if _, err := m.call(ctx, "state.get", nil); err != nil {
				errs[i] = err
				return
			}
			first[i] = time.Since(t0)
		})
	}
	close(start)
	wg.Wait()
	for i, m := range crowd {
		if m != nil {
			l.members = append(l.members, m)
		}
		if errs[i] != nil {
			res.failed++
			continue
		}
		res.firstState = append(res.firstState, first[i])
		res.dial = append(res.dial, dials[i])
	}

	// Two seconds later: who is still known?
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	for i, m := range crowd {
		if m == nil || errs[i] != nil {
			continue
		}
		if f, err := m.call(ctx, "state.get", nil); err != nil && f.Code == "forbidden" {
			res.dropped++
		} else if err != nil {
			return res, err
		}
	}
	st, err := host.call(ctx, "state.get", nil)
	if err != nil {
		return res, err
	}
	for _, mm := range st.Members {
		if mm.Connected {
			res.connected++
		}
	}
	res.left = left.Load()
	return res, nil
}
