package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/publicip/publiciptest"
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
		{"public IP auto, no STUN server", []string{"--public-ip", "auto", "--stun-servers", ""}, map[string]string{secretEnv: "s"}, "--stun-servers"},
		{"public IP auto, no STUN answer", []string{"--public-ip", "auto", "--udp", "127.0.0.1:0", "--tcp", "", "--metrics-addr", ""},
			map[string]string{secretEnv: "s", "GREENROOM_TURN_STUN_SERVERS": publiciptest.DeadSTUNServer(t)}, "GREENROOM_TURN_PUBLIC_IP"},
		{"bad public IP", []string{"--public-ip", "nope"}, map[string]string{secretEnv: "s"}, "--public-ip"},
		{"bad CIDR", []string{"--allow-peers", "127.0.0.1"}, map[string]string{secretEnv: "s"}, "--allow-peers"},
		{"bad env", nil, map[string]string{"GREENROOM_TURN_MAX_LIFETIME": "soon"}, "GREENROOM_TURN_MAX_LIFETIME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every case fails before serving; the deadline cuts the
			// STUN retransmissions short.
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			err := run(ctx, tt.args, env(tt.env), io.Discard)
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

// TestPublicIPAuto starts the server as on Fargate: --public-ip auto with
// a task metadata endpoint (private address only) and a STUN server, both
// on 127.0.0.1. The relay address must be the one STUN saw.
func TestPublicIPAuto(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs logBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--udp", "127.0.0.1:0", "--tcp", "", "--metrics-addr", ""}, env(map[string]string{
			secretEnv:                       "s",
			"GREENROOM_TURN_PUBLIC_IP":      "auto",
			"GREENROOM_TURN_STUN_SERVERS":   publiciptest.STUNServer(t, netip.MustParseAddr("203.0.113.7")),
			"ECS_CONTAINER_METADATA_URI_V4": publiciptest.MetadataServer(t, "10.0.1.23"),
		}), &logs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for relayIP := ""; relayIP == ""; {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never listened: %s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct {
				Msg     string
				RelayIP string `json:"relay_ip"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "turn server listening" {
				relayIP = rec.RelayIP
				if relayIP != "203.0.113.7" {
					t.Errorf("relay_ip = %q, want the address STUN saw", relayIP)
				}
			}
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
}
