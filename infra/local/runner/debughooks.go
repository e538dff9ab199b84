package runner

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// debugHooks serves the routes Config.DebugHooks turns on, for tests of
// the whole stack (the browser suite kills a session's SFU worker
// mid-sequence with it):
//
//	POST /debug/sessions/{sessionId}/kill-worker   X-Admin-Key required
//
// It stops the in-process worker that carries the session's media as a
// crash would (Stack.KillWorker) and answers {"workerId"}. It answers only
// requests from a loopback address with the admin key, whatever address
// the runner listens on.
type debugHooks struct {
	stack    *Stack
	adminKey string
}

func (d debugHooks) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /debug/sessions/{sessionId}/kill-worker", d.killWorker)
}

func (d debugHooks) killWorker(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "debug hooks answer loopback only", http.StatusForbidden)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Admin-Key")), []byte(d.adminKey)) != 1 {
		http.Error(w, "X-Admin-Key required", http.StatusUnauthorized)
		return
	}
	s, err := d.stack.Store.GetSession(r.Context(), domain.SessionID(r.PathValue("sessionId")))
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.Error(w, "no such session", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "store: "+err.Error(), http.StatusInternalServerError)
		return
	}
	id := s.Live.Media.WorkerID
	if id == "" {
		http.Error(w, "the session has no media worker", http.StatusConflict)
		return
	}
	if err := d.stack.KillWorker(id); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"workerId": id})
}
