package runner_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
)

// The debug hook kills the worker that carries a session's media, only
// when the runner was started with it and only with the admin key.
func TestDebugHookKillsASessionsWorker(t *testing.T) {
	kill := func(s *runner.Stack, session, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/debug/sessions/"+session+"/kill-worker", nil)
		if key != "" {
			req.Header.Set("X-Admin-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ WorkerID string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.WorkerID
	}

	off, _ := stack(t)
	if code, _ := kill(off, "any", off.AdminKey); code/100 != 4 {
		t.Fatalf("without DebugHooks: %d, want it not served", code)
	}

	s, _ := stackWith(t, func(c *runner.Config) { c.DebugHooks, c.Workers = true, 2 })
	c := newClient(t, s.URL)
	hostID := newUser(t, c, "Host")
	id := hosted(t, c, hostID, "primetime")
	if code, _ := kill(s, id, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d, want 401", code)
	}
	if code, _ := kill(s, "nope", s.AdminKey); code != http.StatusNotFound {
		t.Fatalf("unknown session: %d, want 404", code)
	}
	if code, _ := kill(s, id, s.AdminKey); code != http.StatusConflict {
		t.Fatalf("a session without media: %d, want 409", code)
	}
	host := connect(t, c, hostID, id, "web")
	host.ok("session.start", nil)
	// A session gets its worker with its first media offer.
	newPeer(t, host, peerOpts{publish: true})
	var worker string
	deadline := time.Now().Add(waitFor)
	for worker == "" {
		sess, err := s.Store.GetSession(t.Context(), domain.SessionID(id))
		if err != nil {
			t.Fatal(err)
		}
		if worker = sess.Live.Media.WorkerID; worker == "" && time.Now().After(deadline) {
			t.Fatal("the live session never got a media worker")
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, killed := kill(s, id, s.AdminKey)
	if code != http.StatusOK || killed != worker {
		t.Fatalf("kill: %d %q, want 200 %q", code, killed, worker)
	}
	// The worker's control API is gone with it.
	ws, err := s.Store.ListWorkers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.ID != worker {
			continue
		}
		if resp, err := http.Get(w.ControlURL + "/healthz"); err == nil {
			resp.Body.Close()
			t.Fatalf("the killed worker's control API still answers: %d", resp.StatusCode)
		}
	}
}
