package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer is a buffer the server's logger and the test share.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]

		return v, ok
	}
}

func TestHelp(t *testing.T) {
	var out logBuffer
	err := run(context.Background(), []string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "Usage: turnserver") {
		t.Fatalf("run --help = %v, output %q", err, out.String())
	}
}

func TestRefusesToStart(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no secret", []string{"--udp", "127.0.0.1:0", "--tcp", "", "--metrics-addr", ""}, nil, "GREENROOM_TURN_SECRET"},
		{"public IP auto", []string{"--public-ip", "auto"}, map[string]string{secretEnv: "s"}, "auto"},
		{"bad CIDR", []string{"--allow-peers", "127.0.0.1"}, map[string]string{secretEnv: "s"}, "--allow-peers"},
		{"bad env", nil, map[string]string{"GREENROOM_TURN_MAX_LIFETIME": "soon"}, "GREENROOM_TURN_MAX_LIFETIME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, env(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

func TestServesMetricsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs logBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--udp", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"},
			env(map[string]string{secretEnv: "s", "GREENROOM_TURN_ALLOW_PEERS": "127.0.0.0/8,::1/128"}), &logs)
	}()
	var addr string
	deadline := time.Now().Add(5 * time.Second)
	for addr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no metrics address in the logs: %s", logs.String())
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics listening" {
				addr = rec.Addr
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "greenroom_turn_allocations_active"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, body without %q", path, resp.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(logs.String(), `"msg":"turn server closed"`) {
		t.Errorf("no close in the logs: %s", logs.String())
	}
}
