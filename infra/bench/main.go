// Command bench prints Greenroom's performance figures for `make bench`:
// figures, never pass/fail. Every load loop is bounded in count and in
// time, and all traffic stays on 127.0.0.1.
//
// Usage:
//
//	bench store [-dynamodb]   registrations under contention
//	bench fanout              chat.send fan-out latency to a full session
//	bench throughput          messages per second through $default
//	bench rush [-dynamodb]    N members joining a live session at once
//	bench media               approve -> first video frame at a viewer
//	bench crowd [-dynamodb]   N members joining, switching devices, raising
//	                          hands and upvoting at once, with capacity units
//	bench procstat -pid N     another process's CPU per second and peak RSS
//	                          over a window (an SFU against LiveKit, docs/sfu.md)
//
// `bench store -dynamodb` runs against the DynamoDB Local endpoint in
// GREENROOM_DYNAMODB_ENDPOINT, which `.ci/dynamodb-local.sh run` sets.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// command is one measurement: it parses its own flags and prints its
// figures to out.
type command func(ctx context.Context, out io.Writer, args []string) error

var commands = map[string]command{
	"store":      runStore,
	"fanout":     runFanout,
	"throughput": runThroughput,
	"rush":       runRush,
	"media":      runMedia,
	"crowd":      runCrowd,
	"procstat":   runProcstat,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: bench store [-dynamodb] | fanout | throughput | rush [-dynamodb] | crowd [-dynamodb] | media | procstat -pid N  (-h for each one's flags)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// GREENROOM_BENCH_CPUPROFILE names a file for a CPU profile of the run,
	// to see where the time goes.
	if path := os.Getenv("GREENROOM_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() {
				pprof.StopCPUProfile()
				_ = f.Close()
			}()
		}
	}
	err := commands[os.Args[1]](ctx, os.Stdout, os.Args[2:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
