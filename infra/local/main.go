// Command local runs Greenroom's whole stack in one process on this
// machine: `make dev`. See PROTOCOL.md, "Local runner".
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "greenroom:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func run() error {
	var cfg runner.Config
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", env("GREENROOM_ADDR", "127.0.0.1:8080"), "HTTP API, WebSocket (/ws), @connections and web client `address`")
	fs.StringVar(&cfg.DataDir, "data-dir", env("GREENROOM_DATA_DIR", "./.greenroom"), "embedded store `directory`")
	fs.StringVar(&cfg.AdminKey, "admin-key", env("GREENROOM_ADMIN_KEY", ""), "`key` that mints organizer tokens (random, printed at start, when empty)")
	fs.StringVar(&cfg.Store, "store", env("GREENROOM_STORE", runner.StoreEmbedded), "`kind` of store: embedded or dynamodb")
	fs.StringVar(&cfg.DynamoDBEndpoint, "dynamodb-endpoint", env("AWS_ENDPOINT_URL_DYNAMODB", ""), "DynamoDB `URL` (for example DynamoDB Local) with --store dynamodb")
	fs.StringVar(&cfg.Table, "table", env("GREENROOM_TABLE", "greenroom"), "DynamoDB table `name`, created when missing")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg.Logger = logger
	printKey := cfg.AdminKey == ""

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stack, err := runner.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if printKey {
		fmt.Printf("admin key %s\n", stack.AdminKey)
	}
	fmt.Printf("ready %s\n", stack.URL)
	<-ctx.Done()
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return stack.Close(shutdown)
}
