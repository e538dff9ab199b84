package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Result is what MeasureContention measured. It is a figure for `make
// bench`, never a pass/fail threshold.
type Result struct {
	// Attempts is the number of Register calls made (one per user).
	Attempts int
	// Registered and Full count the calls that held a spot and those
	// refused with store.ErrSessionFull.
	Registered int
	Full       int
	// Elapsed is the wall time from the first call to the last return.
	Elapsed time.Duration
	// PerSecond is Attempts divided by Elapsed: Register calls answered
	// per second, successful or refused.
	PerSecond float64
	// P50 and P99 are the median and 99th percentile latency of one
	// Register call.
	P50 time.Duration
	P99 time.Duration
}

// String formats the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("%d attempts, %d registered, %d full in %v: %.0f/s, p50 %v, p99 %v",
		r.Attempts, r.Registered, r.Full, r.Elapsed, r.PerSecond, r.P50, r.P99)
}

// MeasureContention creates an open instant session of the given capacity
// in s, then has workers goroutines register users distinct users in it
// at once, and measures the calls. It checks what it measures: exactly
// min(users, capacity) registrations succeed, the rest are refused with
// store.ErrSessionFull, and the session counts them; anything else is an
// error. It stops early when ctx is done.
//
// Use a store made for the measurement: the session and registrations it
// creates stay in s.
func MeasureContention(ctx context.Context, s store.Store, users, capacity, workers int) (Result, error) {
	if users < 1 || capacity < 1 || workers < 1 {
		return Result{}, fmt.Errorf("storetest: measure contention: users (%d), capacity (%d) and workers (%d) must be at least 1",
			users, capacity, workers)
	}
	now := time.Now().UTC()
	sess, err := domain.NewHostedSession(domain.KindInstant, domain.UserID(domain.NewID(12)), "Contention", "", now)
	if err != nil {
		return Result{}, fmt.Errorf("storetest: measure contention: %w", err)
	}
	sess.Capacity = capacity
	if err := s.CreateSession(ctx, sess); err != nil {
		return Result{}, fmt.Errorf("storetest: measure contention: create session: %w", err)
	}

	regs := make([]domain.Registration, users)
	for i := range regs {
		regs[i] = domain.Registration{SessionID: sess.ID, UserID: domain.UserID(domain.NewID(12)), CreatedAt: now}
	}
	latencies := make([]time.Duration, users)
	errs := make([]error, users)

	// Workers take the next user from a channel that holds every user,
	// so the loop of each worker ends when the channel is drained.
	next := make(chan int, users)
	for i := range users {
		next <- i
	}
	close(next)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range min(workers, users) {
		wg.Go(func() {
			<-start
			for i := range next {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				t0 := time.Now()
				_, _, errs[i] = s.Register(ctx, regs[i])
				latencies[i] = time.Since(t0)
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)

	res := Result{Attempts: users, Elapsed: elapsed}
	for _, err := range errs {
		switch {
		case err == nil:
			res.Registered++
		case errors.Is(err, store.ErrSessionFull):
			res.Full++
		default:
			return res, fmt.Errorf("storetest: measure contention: register: %w", err)
		}
	}
	if want := min(users, capacity); res.Registered != want {
		return res, fmt.Errorf("storetest: measure contention: %d registrations succeeded, want %d", res.Registered, want)
	}
	got, err := s.GetSession(ctx, sess.ID)
	if err != nil {
		return res, fmt.Errorf("storetest: measure contention: get session: %w", err)
	}
	if got.Registered != res.Registered {
		return res, fmt.Errorf("storetest: measure contention: session counts %d registrations, %d succeeded",
			got.Registered, res.Registered)
	}
	if elapsed > 0 {
		res.PerSecond = float64(users) / elapsed.Seconds()
	}
	slices.Sort(latencies)
	res.P50 = percentile(latencies, 50)
	res.P99 = percentile(latencies, 99)
	return res, nil
}

// percentile returns the p-th percentile of sorted latencies by the
// nearest-rank method.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}
