package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/publicip"
	"github.com/greenroom-live/greenroom/shared/publicip/publiciptest"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	var out strings.Builder
	if _, err := parse([]string{"--help"}, envOf(nil), &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "GREENROOM_WORKER_SECRET") {
		t.Errorf("--help = %v, %q", err, out.String())
	}
	base := map[string]string{"GREENROOM_WORKER_SECRET": "0123456789abcdef", "GREENROOM_WS_ENDPOINT": "http://127.0.0.1:8080"}
	c, err := parse([]string{"-public-ip", "203.0.113.7", "-control-addr", ":7100", "-id", "w1"}, envOf(base), io.Discard)
	if err != nil || c.publicIP != "203.0.113.7" || c.controlURL != "" || c.id != "w1" || c.udpPort != 50000 ||
		!slices.Equal(c.stunServers, publicip.DefaultSTUNServers) || !c.emf || c.emfService != "sfuworker" {
		t.Errorf("parse = %+v, %v", c, err)
	}
	auto := maps.Clone(base)
	auto["GREENROOM_WORKER_PUBLIC_IP"] = "auto"
	auto["GREENROOM_WORKER_STUN_SERVERS"] = "127.0.0.1:3478, 127.0.0.1:3479"
	auto["GREENROOM_WORKER_EMF"] = "false"
	c, err = parse(nil, envOf(auto), io.Discard)
	if err != nil || c.publicIP != "auto" || !slices.Equal(c.stunServers, []string{"127.0.0.1:3478", "127.0.0.1:3479"}) || c.emf {
		t.Errorf("parse auto = %+v, %v", c, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		args []string
	}{
		"no secret":         {map[string]string{"GREENROOM_WS_ENDPOINT": "x"}, nil},
		"short secret":      {map[string]string{"GREENROOM_WORKER_SECRET": "short", "GREENROOM_WS_ENDPOINT": "x"}, nil},
		"no ws endpoint":    {map[string]string{"GREENROOM_WORKER_SECRET": "0123456789abcdef"}, nil},
		"bad public IP":     {base, []string{"-public-ip", "nope"}},
		"auto without STUN": {base, []string{"-public-ip", "auto", "-stun-servers", " , "}},
		"no EMF service":    {base, []string{"-emf-service", ""}},
		"bad control addr":  {base, []string{"-control-addr", "7000"}},
	} {
		if _, err := parse(tc.args, envOf(tc.env), io.Discard); err == nil {
			t.Errorf("%s: parse succeeded", name)
		}
	}
}

func TestResolveAddrs(t *testing.T) {
	public := "203.0.113.7"
	stunAddr := publiciptest.STUNServer(t, netip.MustParseAddr(public))
	metadata := publiciptest.MetadataServer(t, "10.0.1.23")
	lookup := func(ips ...string) func(context.Context, string) ([]netip.Addr, error) {
		return func(_ context.Context, h string) ([]netip.Addr, error) {
			if h != "ip-10-0-9-9" {
				t.Errorf("lookup(%q)", h)
			}
			if ips == nil {
				return nil, errors.New("no such host")
			}
			var out []netip.Addr
			for _, ip := range ips {
				out = append(out, netip.MustParseAddr(ip))
			}
			return out, nil
		}
	}
	tests := []struct {
		name        string
		cfg         config
		metadataURI string
		lookup      func(context.Context, string) ([]netip.Addr, error)
		want        addrs
		wantErr     string
	}{
		{"given public IP: control URL on the private IP from the metadata, not the public one",
			config{publicIP: public, controlAddr: ":7100"}, metadata, lookup("10.0.9.9"),
			addrs{public, "http://10.0.1.23:7100"}, ""},
		{"auto: public IP from STUN, control URL from the metadata",
			config{publicIP: "auto", stunServers: []string{stunAddr}, controlAddr: ":7100"}, metadata, lookup("10.0.9.9"),
			addrs{public, "http://10.0.1.23:7100"}, ""},
		{"auto outside ECS: control URL on the host name's address",
			config{publicIP: "auto", stunServers: []string{stunAddr}, controlAddr: ":7100"}, "", lookup("127.0.1.1", "10.0.9.9"),
			addrs{public, "http://10.0.9.9:7100"}, ""},
		{"host name without an address",
			config{controlAddr: ":7100"}, "", lookup(), addrs{"", "http://ip-10-0-9-9:7100"}, ""},
		{"loopback host name address only",
			config{controlAddr: ":7100"}, "", lookup("127.0.0.1"), addrs{"", "http://ip-10-0-9-9:7100"}, ""},
		{"specific listen address",
			config{publicIP: public, controlAddr: "10.0.4.4:7100"}, "", lookup("10.0.9.9"), addrs{public, "http://10.0.4.4:7100"}, ""},
		{"listen host name",
			config{controlAddr: "worker.internal:7100"}, "", lookup("10.0.9.9"), addrs{"", "http://worker.internal:7100"}, ""},
		{"given control URL kept",
			config{publicIP: public, controlURL: "http://w1.internal:7000", controlAddr: ":7100"}, metadata, lookup("10.0.9.9"),
			addrs{public, "http://w1.internal:7000"}, ""},
		{"metadata down: host name",
			config{controlAddr: ":7100"}, publiciptest.MetadataServer(t) + "/gone", lookup("10.0.9.9"), addrs{"", "http://10.0.9.9:7100"}, ""},
		{"auto, no STUN answer: says what to set",
			config{publicIP: "auto", stunServers: []string{publiciptest.DeadSTUNServer(t)}, controlAddr: ":7100"}, "", lookup("10.0.9.9"),
			addrs{}, "GREENROOM_WORKER_PUBLIC_IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.wantErr != "" {
				// Not the 3.5 s three retransmissions take.
				c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				ctx = c
			}
			got, err := resolveAddrs(ctx, tt.cfg, tt.metadataURI, "ip-10-0-9-9", tt.lookup, slog.New(slog.DiscardHandler))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, publicip.ErrNotFound) {
					t.Fatalf("resolveAddrs = %+v, %v; want an error about %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("resolveAddrs = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestRunDrains starts the worker on the embedded store, waits until its
// control API answers, stops it and expects a clean drain.
func TestRunDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	env := envOf(map[string]string{
		"GREENROOM_WORKER_SECRET": "0123456789abcdef",
		"GREENROOM_WS_ENDPOINT":   "http://127.0.0.1:1",
		"AWS_REGION":              "us-east-1",
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-store", "embedded", "-data", t.TempDir(), "-control-addr", addr,
			"-udp-port", "0", "-tcp-port", "0", "-id", "w1", "-heartbeat", "50ms", "-emf=false"}, env, io.Discard, io.Discard)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the control API never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after the signal")
	}
}

// syncBuffer is a buffer the worker writes and the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRunAutoPublicIP starts the worker as on Fargate: -public-ip auto
// with a task metadata endpoint and a STUN server, both on 127.0.0.1. It
// must advertise the STUN address, register the private one, and print
// valid EMF lines on stdout at its heartbeats.
func TestRunAutoPublicIP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	env := envOf(map[string]string{
		"GREENROOM_WORKER_SECRET":       "0123456789abcdef",
		"GREENROOM_WS_ENDPOINT":         "http://127.0.0.1:1",
		"AWS_REGION":                    "us-east-1",
		"GREENROOM_WORKER_PUBLIC_IP":    "auto",
		"GREENROOM_WORKER_STUN_SERVERS": publiciptest.STUNServer(t, netip.MustParseAddr("203.0.113.7")),
		"ECS_CONTAINER_METADATA_URI_V4": publiciptest.MetadataServer(t, "10.0.1.23"),
	})
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-store", "embedded", "-data", t.TempDir(), "-control-addr", ":" + port,
			"-udp-port", "0", "-tcp-port", "0", "-id", "w1", "-heartbeat", "20ms"}, env, &stdout, &stderr)
	}()
	var started struct{ ControlURL, PublicIP string }
	var emfLines []string
	deadline := time.Now().Add(10 * time.Second)
	for started.ControlURL == "" || len(emfLines) < 2 {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start or no EMF lines:\nstderr %s\nstdout %s", stderr.String(), stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
		for _, l := range strings.Split(stderr.String(), "\n") {
			var rec struct{ Msg, ControlURL, PublicIP string }
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "sfuworker started" {
				started.ControlURL, started.PublicIP = rec.ControlURL, rec.PublicIP
			}
		}
		emfLines = strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if emfLines[0] == "" {
			emfLines = nil
		}
	}
	if started.PublicIP != "203.0.113.7" || started.ControlURL != "http://10.0.1.23:"+port {
		t.Errorf("started with %+v, want the STUN address for ICE and the private one for control", started)
	}
	for _, l := range emfLines[:2] {
		if doc := checkEMF(t, []byte(l)); doc["WorkerId"] != "w1" || doc["Members"] != 0.0 {
			t.Errorf("EMF line %s", l)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after the signal")
	}
}

func TestRunAutoWithoutAnswerFails(t *testing.T) {
	env := envOf(map[string]string{
		"GREENROOM_WORKER_SECRET": "0123456789abcdef",
		"GREENROOM_WS_ENDPOINT":   "http://127.0.0.1:1",
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"-store", "embedded", "-data", t.TempDir(), "-public-ip", "auto",
		"-stun-servers", publiciptest.DeadSTUNServer(t), "-id", "w1"}, env, io.Discard, io.Discard)
	if !errors.Is(err, publicip.ErrNotFound) || !strings.Contains(err.Error(), "-public-ip") {
		t.Fatalf("run = %v, want an error saying what to set", err)
	}
}
