package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	var out strings.Builder
	if _, err := parse([]string{"--help"}, envOf(nil), &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "GREENROOM_WORKER_SECRET") {
		t.Errorf("--help = %v, %q", err, out.String())
	}
	base := map[string]string{"GREENROOM_WORKER_SECRET": "0123456789abcdef", "GREENROOM_WS_ENDPOINT": "http://127.0.0.1:8080"}
	c, err := parse([]string{"-public-ip", "203.0.113.7", "-control-addr", ":7100", "-id", "w1"}, envOf(base), io.Discard)
	if err != nil || c.controlURL != "http://203.0.113.7:7100" || c.id != "w1" || c.udpPort != 50000 {
		t.Errorf("parse = %+v, %v", c, err)
	}
	for name, env := range map[string]map[string]string{
		"no secret":      {"GREENROOM_WS_ENDPOINT": "x"},
		"short secret":   {"GREENROOM_WORKER_SECRET": "short", "GREENROOM_WS_ENDPOINT": "x"},
		"no ws endpoint": {"GREENROOM_WORKER_SECRET": "0123456789abcdef"},
	} {
		if _, err := parse(nil, envOf(env), io.Discard); err == nil {
			t.Errorf("%s: parse succeeded", name)
		}
	}
	if _, err := parse([]string{"-public-ip", "nope"}, envOf(base), io.Discard); err == nil {
		t.Error("a bad public IP was accepted")
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
			"-udp-port", "0", "-tcp-port", "0", "-id", "w1", "-heartbeat", "50ms"}, env, io.Discard)
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
