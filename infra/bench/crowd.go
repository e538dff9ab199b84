package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
)

// runCrowd measures a crowd acting at once, the way a full room does when
// something happens on stage: N members of a live PrimeTime session join
// at the same moment, then all switch their devices at once, all raise
// their hands at once, and all upvote one question at once. For each
// phase it prints the reply latency (p50, p99), the refusals (error
// replies), the lost updates (what the host's state misses afterwards)
// and, on DynamoDB, the capacity each message type consumed per message
// (ReturnConsumedCapacity TOTAL, charged to the message by its label).
func runCrowd(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("crowd", flag.ContinueOnError)
	sizes := fs.String("members", "50,200", "comma list of crowd sizes, each one run")
	questions := fs.Int("questions", 20, "questions asked before the upvotes (the state.get figure is read with them)")
	dynamo := fs.Bool("dynamodb", false, "run the runner on DynamoDB Local at $"+endpointEnv+" instead of the embedded store")
	timeout := fs.Duration("timeout", 3*time.Minute, "bound on each run")
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
	if *questions < 1 {
		return errors.New("-questions must be at least 1")
	}
	name := "embedded"
	if *dynamo {
		name = "DynamoDB Local"
	}
	fmt.Fprintf(out, "== crowd (%s): N members of a live PrimeTime act at once\n", name)
	for _, n := range ns {
		cfg, drop, err := rushStore(ctx, *dynamo)
		if err != nil {
			return err
		}
		meter := newMeter()
		if *dynamo {
			cfg.DynamoDBMeter = meter.add
		}
		runCtx, cancel := context.WithTimeout(ctx, *timeout)
		phases, err := crowd(runCtx, cfg, n, min(*questions, n), meter)
		cancel()
		err = errors.Join(err, drop())
		for _, p := range phases {
			p50, p99 := spread(p.latencies)
			line := fmt.Sprintf("crowd %3d %-11s p50 %9s p99 %9s  all heard %9s  refused %3d  lost %3d", n, p.name, ms(p50), ms(p99), ms(p.heard), p.refused, p.lost)
			if *dynamo {
				line += "  " + p.capacity
			}
			fmt.Fprintln(out, line)
			if p.why != nil {
				fmt.Fprintf(out, "crowd %3d %-11s first refusal: %v\n", n, p.name, p.why)
			}
		}
		if err != nil {
			return fmt.Errorf("%d members: %w", n, err)
		}
	}
	return nil
}

// phase is what one phase of a crowd measured.
type phase struct {
	name      string
	latencies []time.Duration
	refused   int
	why       error // the first refusal's cause, if any
	lost      int
	// heard is how long from the phase's start until the last event it
	// caused reached the last member (the fan-out done).
	heard    time.Duration
	capacity string // consumed capacity per message, by label
}

// events counts the events the members receive and when the last came.
type events struct {
	mu   sync.Mutex
	n    int
	last time.Time
}

func (e *events) on(_ *member, _ frame, at time.Time) {
	e.mu.Lock()
	e.n++
	if at.After(e.last) {
		e.last = at
	}
	e.mu.Unlock()
}

// quiet waits until no event has come for quietFor (at most
// maxSettle) and returns when the last one came.
func (e *events) quiet(ctx context.Context) time.Time {
	deadline := time.Now().Add(maxSettle)
	for {
		e.mu.Lock()
		last := e.last
		e.mu.Unlock()
		if time.Since(last) >= quietFor || time.Now().After(deadline) {
			return last
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A phase ends once no event has reached anyone for quietFor, so that
// one phase's fan-out never runs into the next one's figures.
const (
	quietFor  = 300 * time.Millisecond
	maxSettle = 30 * time.Second
)

// meter sums the capacity DynamoDB reports, by label.
type meter struct {
	mu    sync.Mutex
	usage map[string]*usage
}

type usage struct {
	calls, failed int
	rcu, wcu      float64
}

func newMeter() *meter { return &meter{usage: map[string]*usage{}} }

func (m *meter) add(u dynamostore.Usage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x := m.usage[u.Label]
	if x == nil {
		x = &usage{}
		m.usage[u.Label] = x
	}
	x.calls++
	if u.Failed {
		x.failed++
	}
	x.rcu += u.RCU
	x.wcu += u.WCU
}

// snapshot copies the sums so far.
func (m *meter) snapshot() map[string]usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]usage, len(m.usage))
	for k, v := range m.usage {
		out[k] = *v
	}
	return out
}

// since describes what each of labels consumed since before, per message
// of the phase (n messages each).
func (m *meter) since(before map[string]usage, n int, labels ...string) string {
	now := m.snapshot()
	var parts []string
	for _, l := range labels {
		a, b := before[l], now[l]
		d := usage{calls: b.calls - a.calls, failed: b.failed - a.failed, rcu: b.rcu - a.rcu, wcu: b.wcu - a.wcu}
		if d.calls == 0 {
			continue
		}
		name := l
		if strings.HasPrefix(l, "POST ") {
			name = "join"
		}
		parts = append(parts, fmt.Sprintf("%s %.1f WCU %.1f RCU/msg (%d calls, %d failed)",
			name, d.wcu/float64(n), d.rcu/float64(n), d.calls, d.failed))
	}
	return strings.Join(parts, "; ")
}

const joinLabel = "POST /v1/sessions/{sessionId}/join"

func crowd(ctx context.Context, cfg runner.Config, n, questions int, mt *meter) (phases []phase, err error) {
	l, err := startRunner(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	users, err := l.users(ctx, n+1)
	if err != nil {
		return nil, err
	}
	id, err := l.primetime(ctx, users[0])
	if err != nil {
		return nil, err
	}
	j, err := l.join(ctx, id, users[0])
	if err != nil {
		return nil, err
	}
	ev := &events{}
	host, err := dial(ctx, 0, users[0].User.ID, j.WSURL+"?token="+j.JoinToken, hooks{event: ev.on})
	if err != nil {
		return nil, err
	}
	l.members = append(l.members, host)
	if _, err := host.call(ctx, "state.get", nil); err != nil {
		return nil, err
	}
	if _, err := host.call(ctx, "session.start", nil); err != nil {
		return nil, err
	}

	// Join: HTTP join, the socket, the first state, all at once.
	ev.quiet(ctx)
	before := mt.snapshot()
	began := time.Now()
	crowd := make([]*member, n)
	join := phase{name: "join"}
	lat, errs := together(n, func(i int) error {
		j, err := l.join(ctx, id, users[i+1])
		if err != nil {
			return err
		}
		m, err := dial(ctx, i+1, users[i+1].User.ID, j.WSURL+"?token="+j.JoinToken, hooks{event: ev.on})
		if err != nil {
			return err
		}
		crowd[i] = m
		_, err = m.call(ctx, "state.get", nil)
		return err
	})
	for i, m := range crowd {
		if m != nil {
			l.members = append(l.members, m)
		}
		if errs[i] != nil {
			join.refused++
			if join.why == nil {
				join.why = errs[i]
			}
		} else {
			join.latencies = append(join.latencies, lat[i])
		}
	}
	join.heard = ev.quiet(ctx).Sub(began)
	join.capacity = mt.since(before, n, joinLabel, "$connect", "state.get")
	st, err := settled(ctx, host, func(f frame) int {
		c := 0
		for _, m := range f.Members {
			if m.Connected {
				c++
			}
		}
		return n + 1 - c
	})
	if err != nil {
		return append(phases, join), err
	}
	join.lost = st
	phases = append(phases, join)
	if join.refused > 0 {
		return phases, fmt.Errorf("%d of %d joins failed", join.refused, n)
	}

	// Every member switches microphone and camera on at once.
	p, err := act(ctx, "devices.set", crowd, mt, ev, func(int) map[string]any { return map[string]any{"mic": true, "cam": true} },
		host, func(f frame) int {
			on := 0
			for _, m := range f.Members {
				if m.Mic && m.Cam && m.UserID != users[0].User.ID {
					on++
				}
			}
			return n - on
		})
	phases = append(phases, p)
	if err != nil {
		return phases, err
	}

	// Every member raises a hand at once.
	p, err = act(ctx, "hand.raise", crowd, mt, ev, func(int) map[string]any { return nil },
		host, func(f frame) int { return n - len(f.Hands) })
	phases = append(phases, p)
	if err != nil {
		return phases, err
	}

	// Questions from the first members, then everyone upvotes one.
	for i := range questions {
		if _, err := crowd[i].call(ctx, "qa.ask", map[string]any{"text": fmt.Sprintf("Question %d from the crowd?", i)}); err != nil {
			return phases, err
		}
	}
	f, err := host.call(ctx, "state.get", nil)
	if err != nil {
		return phases, err
	}
	if len(f.Questions) == 0 {
		return phases, errors.New("no question in the state after asking")
	}
	qid := f.Questions[len(f.Questions)-1].ID
	p, err = act(ctx, "qa.upvote", crowd, mt, ev, func(int) map[string]any { return map[string]any{"questionId": qid} },
		host, func(f frame) int {
			for _, q := range f.Questions {
				if q.ID == qid {
					return n - q.Votes
				}
			}
			return n
		})
	phases = append(phases, p)
	if err != nil {
		return phases, err
	}

	// Everyone reads the state of the session with its questions.
	p, err = act(ctx, "state.get", crowd, mt, ev, func(int) map[string]any { return nil }, nil, nil)
	return append(phases, p), err
}

// act has every member send one message of typ at once and measures the
// replies; lost, when not nil, counts what the host's state misses once
// the replies are in.
func act(ctx context.Context, typ string, crowd []*member, mt *meter, ev *events, fields func(i int) map[string]any,
	host *member, lost func(frame) int) (phase, error) {
	p := phase{name: typ}
	ev.quiet(ctx)
	before := mt.snapshot()
	began := time.Now()
	lat, errs := together(len(crowd), func(i int) error {
		_, err := crowd[i].call(ctx, typ, fields(i))
		return err
	})
	for i, err := range errs {
		if err != nil {
			p.refused++
			if p.why == nil {
				p.why = err
			}
			continue
		}
		p.latencies = append(p.latencies, lat[i])
	}
	if last := ev.quiet(ctx); last.After(began) {
		p.heard = last.Sub(began)
	}
	p.capacity = mt.since(before, len(crowd), typ)
	if lost == nil {
		return p, nil
	}
	var err error
	p.lost, err = settled(ctx, host, lost)
	return p, err
}

// together runs f(0) … f(n-1) at once and returns each one's latency and
// error once all have returned.
func together(n int, f func(i int) error) ([]time.Duration, []error) {
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			errs[i] = f(i)
			lat[i] = time.Since(t0)
		})
	}
	close(start)
	wg.Wait()
	return lat, errs
}

// settled reads the host's state until missing (what it misses) is zero
// or two seconds pass, and returns the last count: an update the replies
// acknowledged but the state never shows is lost.
func settled(ctx context.Context, host *member, missing func(frame) int) (int, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		f, err := host.call(ctx, "state.get", nil)
		if err != nil {
			return 0, err
		}
		m := missing(f)
		if m == 0 || time.Now().After(deadline) {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
