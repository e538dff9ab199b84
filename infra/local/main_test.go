package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRunPrintsReadyAndShutsDown starts the command as make dev does, with
// flags and environment, waits for the ready line, calls the API, and
// stops it as SIGINT would.
func TestRunPrintsReadyAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"GREENROOM_DATA_DIR": dir, "GREENROOM_ADMIN_KEY": "from-env"}
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	var url string
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "ready "); ok {
			url = u
			break
		}
		if strings.HasPrefix(lines.Text(), "admin key") {
			t.Fatal("printed an admin key although one was given")
		}
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("ready line: %q", url)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/organizers", strings.NewReader(`{"name":"Org"}`))
	req.Header.Set("X-Admin-Key", "from-env")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("the admin key from the environment was not used: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not shut down")
	}
}

func TestRunRefusesUnknownFlags(t *testing.T) {
	err := run(context.Background(), []string{"--nope"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("an unknown flag was accepted")
	}
}

func TestRunRefusesUnknownStore(t *testing.T) {
	err := run(context.Background(), []string{"--store", "mongodb", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unknown store") {
		t.Fatalf("got %v", err)
	}
}
