package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"
)

// load is one kind of message the throughput bench sends.
type load struct {
	name string
	// next returns the fields of a member's i-th message.
	next func(i int) map[string]any
}

// loads are the kinds measured: state.get reads the session's items and
// its recent chat and answers with the state; devices.set toggles the
// member's microphone, a write of the member's own item whose
// devices.changed event goes to every member. A closed loop runs into the
// per-connection rate limits: the refusals are counted apart.
var loads = []load{
	{name: "state.get", next: func(int) map[string]any { return nil }},
	{name: "devices.set", next: func(i int) map[string]any { return map[string]any{"mic": i%2 == 0, "cam": false} }},
}

// runThroughput measures messages per second through $default: every
// member of a full session sends one kind of message in a closed loop
// (the next once the reply came), for a bounded time and count.
func runThroughput(ctx context.Context, out io.Writer, args []string) (err error) {
	fs := flag.NewFlagSet("throughput", flag.ContinueOnError)
	members := fs.Int("members", 50, "members of the session, each sending in a loop")
	duration := fs.Duration("duration", 5*time.Second, "how long each kind of message is sent")
	perMember := fs.Int("max", 2000, "most messages one member sends of each kind")
	timeout := fs.Duration("timeout", time.Minute, "bound on the whole measurement")
	if err = fs.Parse(args); err != nil {
		return err
	}
	if *members < 1 || *perMember < 1 || *duration <= 0 {
		return errors.New("-members, -max and -duration must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	l, err := startLive(ctx, *members, nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Close()) }()

	fmt.Fprintf(out, "== $default throughput: %d members of a primetime session each sending in a closed loop, %v per kind (local runner, embedded store)\n",
		*members, *duration)
	fmt.Fprintln(out, "   state.get reads the session's items and answers with the state; devices.set writes the member's own item and is fanned out to every member")
	fmt.Fprintln(out, "   each connection is rate-limited per message type: the errors are rate_limited replies, which store nothing and cost one read")
	for _, ld := range loads {
		r, err := measureLoad(ctx, l.members, ld, *duration, *perMember)
		if err != nil {
			return fmt.Errorf("%s: %w", ld.name, err)
		}
		p50, p99 := spread(r.latencies)
		fmt.Fprintf(out, "$default %-12s %6.0f msgs/s  reply p50 %s  p99 %s  (%d replies, %d errors, in %.2f s)\n",
			ld.name, float64(len(r.latencies))/r.elapsed.Seconds(), ms(p50), ms(p99), len(r.latencies), r.refused,
			r.elapsed.Seconds())
	}
	return nil
}

type loadResult struct {
	latencies []time.Duration // of every reply, errors included
	refused   int             // replies that were contract errors
	elapsed   time.Duration
}

func measureLoad(ctx context.Context, members []*member, ld load, duration time.Duration, perMember int) (loadResult, error) {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	errs := make([]error, len(members))
	start := make(chan struct{})
	for i, m := range members {
		wg.Go(func() {
			<-start
			deadline := time.Now().Add(duration)
			lat := make([]time.Duration, 0, 256)
			refused := 0
			for n := 0; n < perMember && time.Now().Before(deadline); n++ {
				t0 := time.Now()
				f, err := m.callOnce(ctx, ld.name, ld.next(n))
				if err != nil && f.Type != "error" {
					errs[i] = err
					break
				}
				lat = append(lat, time.Since(t0))
				if err != nil {
					refused++
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.refused += refused
			mu.Unlock()
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	res.elapsed = time.Since(began)
	return res, errors.Join(errs...)
}
