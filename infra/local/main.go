// Command local runs Greenroom's whole stack in one process on this
// machine: `make dev`. See docs/protocol.md, "Local runner".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "greenroom:", err)
		os.Exit(1)
	}
}

// run parses the flags (each with an environment fallback), starts the
// stack, prints the ready line and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var cfg runner.Config
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", env("GREENROOM_ADDR", "127.0.0.1:8080"), "HTTP API, WebSocket (/ws), @connections and web client `address`")
	fs.StringVar(&cfg.DataDir, "data-dir", env("GREENROOM_DATA_DIR", "./.greenroom"), "embedded store `directory`")
	fs.StringVar(&cfg.AdminKey, "admin-key", env("GREENROOM_ADMIN_KEY", ""), "`key` that mints organizer tokens (random, printed at start, when empty)")
	fs.StringVar(&cfg.Store, "store", env("GREENROOM_STORE", runner.StoreEmbedded), "`kind` of store: embedded or dynamodb")
	fs.StringVar(&cfg.DynamoDBEndpoint, "dynamodb-endpoint", env("AWS_ENDPOINT_URL_DYNAMODB", ""), "DynamoDB `URL` (for example DynamoDB Local) with --store dynamodb")
	fs.StringVar(&cfg.Table, "table", env("GREENROOM_TABLE", "greenroom"), "DynamoDB table `name`, created when missing")
	workers, err := strconv.Atoi(env("GREENROOM_WORKERS", "1"))
	if err != nil {
		return fmt.Errorf("GREENROOM_WORKERS: %w", err)
	}
	fs.IntVar(&cfg.Workers, "workers", workers, "`number` of in-process SFU workers (1 to 8)")
	level := fs.String("log-level", env("GREENROOM_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error")
	debug, _ := strconv.ParseBool(env("GREENROOM_DEBUG_HOOKS", "false"))
	fs.BoolVar(&cfg.DebugHooks, "debug-hooks", debug, "serve the test-only /debug/ routes (killing a session's SFU worker), loopback and admin key only")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if cfg.Workers < 1 || cfg.Workers > 8 {
		return fmt.Errorf("--workers %d: want 1 to 8", cfg.Workers)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *level)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	cfg.Logger = logger
	printKey := cfg.AdminKey == ""

	stack, err := runner.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if printKey {
		fmt.Fprintf(stdout, "admin key %s\n", stack.AdminKey)
	}
	fmt.Fprintf(stdout, "ready %s\n", stack.URL)
	<-ctx.Done()
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return stack.Close(shutdown)
}
