// Package control is the SFU worker's internal control API: an HTTP
// server that wraps a worker for the session handlers (authenticated with
// a shared secret). The wire types and the client the handlers call it
// with are in shared/sfuapi, which links neither pion nor Prometheus;
// the worker takes the room state in those types as they are.
//
//	PUT    /v1/rooms/{room}                         sfuapi.RoomState → Worker.Apply
//	DELETE /v1/rooms/{room}                         Worker.CloseRoom
//	POST   /v1/rooms/{room}/members/{member}/signal {"type","payload"} → Worker.Signal
//	GET    /healthz                                 200 while the process serves
//	GET    /readyz                                  200, or 503 while draining
//	GET    /metrics                                 Prometheus text format
//
// The /v1/ routes need "Authorization: Bearer <secret>"; health and
// metrics do not. Successful calls answer 204 without a body; errors
// answer {"error":{"code":…,"message":…}} with a 4xx for bad input and a
// 5xx, whose detail is logged but not sent, for the worker's own faults.
package control

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

// Limits of the control API.
const (
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = sfuapi.MaxBodyBytes
	// MinSecretLen is the shortest shared secret accepted.
	MinSecretLen = sfuapi.MinSecretLen
	// maxIDLen bounds room, member and connection ids.
	maxIDLen = 256
)

// Signaling message types a member may send to the worker.
const (
	TypeOffer     = sfuapi.TypeOffer
	TypeAnswer    = sfuapi.TypeAnswer
	TypeCandidate = sfuapi.TypeCandidate
)

// Error codes of the control API's JSON errors.
const (
	codeUnauthorized = sfuapi.CodeUnauthorized
	codeBadRequest   = sfuapi.CodeBadRequest
	codeTooLarge     = sfuapi.CodeTooLarge
	codeNoRoom       = sfuapi.CodeNoRoom
	codeNoMember     = sfuapi.CodeNoMember
	codeBadSDP       = sfuapi.CodeBadSDP
	codeStaleAnswer  = sfuapi.CodeStaleAnswer
	codeBadMessage   = sfuapi.CodeBadMessage
	codeDraining     = sfuapi.CodeDraining
	codeClosed       = sfuapi.CodeClosed
	codeInternal     = sfuapi.CodeInternal
)

// Worker is the part of *sfu.Worker the control API drives.
type Worker interface {
	Apply(ctx context.Context, st sfu.RoomState) error
	Signal(ctx context.Context, room sfu.RoomID, member sfu.MemberID, msgType string, payload json.RawMessage) error
	CloseRoom(ctx context.Context, room sfu.RoomID) error
	Rooms() []sfu.RoomID
	Stats() sfu.Stats
}

// Config configures a Server.
type Config struct {
	// Worker is the worker the API drives (required).
	Worker Worker
	// Secret is the shared secret callers present as a bearer token
	// (at least MinSecretLen bytes).
	Secret string
	// Registry is where the metrics are registered and gathered from; a
	// fresh registry with the Go and process collectors when nil.
	Registry *prometheus.Registry
	// Logger discards when nil.
	Logger *slog.Logger
}

// Server is the control API of one worker; it is an http.Handler, safe
// for concurrent use. It starts no goroutines.
type Server struct {
	worker   Worker
	secret   [sha256.Size]byte
	log      *slog.Logger
	mux      *http.ServeMux
	draining atomic.Bool
	requests *prometheus.CounterVec
}

// New returns a Server for cfg, or ErrNoWorker or ErrShortSecret. It
// registers the worker's metrics in cfg.Registry.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Worker == nil:
		return nil, ErrNoWorker
	case len(cfg.Secret) < MinSecretLen:
		return nil, ErrShortSecret
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		if err := reg.Register(collectors.NewGoCollector()); err != nil {
			return nil, fmt.Errorf("control: metrics: %w", err)
		}
		if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, fmt.Errorf("control: metrics: %w", err)
		}
	}
	s := &Server{
		worker: cfg.Worker,
		secret: sha256.Sum256([]byte("Bearer " + cfg.Secret)),
		log:    cfg.Logger,
		mux:    http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "greenroom", Subsystem: "sfu", Name: "control_requests_total",
			Help: "Control API requests by route and status code.",
		}, []string{"route", "code"}),
	}
	if err := reg.Register(newCollector(cfg.Worker, &s.draining)); err != nil {
		return nil, fmt.Errorf("control: metrics: %w", err)
	}
	if err := reg.Register(s.requests); err != nil {
		return nil, fmt.Errorf("control: metrics: %w", err)
	}
	s.mux.Handle("PUT /v1/rooms/{room}", s.authed("apply", s.apply))
	s.mux.Handle("DELETE /v1/rooms/{room}", s.authed("close", s.closeRoom))
	s.mux.Handle("POST /v1/rooms/{room}/members/{member}/signal", s.authed("signal", s.signal))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}))
	return s, nil
}

// SetDraining marks the worker as draining (or not): it takes no new
// rooms and /readyz answers 503.
func (s *Server) SetDraining(d bool) { s.draining.Store(d) }

// Draining reports whether the worker is draining.
func (s *Server) Draining() bool { return s.draining.Load() }

// ServeHTTP serves the control API. A panic below it becomes a 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "control: panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
			writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// handlerFunc serves one authenticated route and returns the status it
// answered, for the metrics.
type handlerFunc func(w http.ResponseWriter, r *http.Request) int

// authed checks the bearer token in constant time, bounds the body and
// counts the request.
func (s *Server) authed(route string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var code int
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], s.secret[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="greenroom-sfu"`)
			code = writeError(w, http.StatusUnauthorized, codeUnauthorized, "missing or wrong bearer token")
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
			code = h(w, r)
		}
		s.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	})
}

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "draining\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// apply is PUT /v1/rooms/{room}: the room's whole desired state.
func (s *Server) apply(w http.ResponseWriter, r *http.Request) int {
	room := sfu.RoomID(r.PathValue("room"))
	var st sfuapi.RoomState
	if code, msg := decode(r.Body, &st); code != 0 {
		return writeError(w, code, errorCode(code), msg)
	}
	if st.Room == "" {
		st.Room = room
	}
	if msg := validState(room, st); msg != "" {
		return writeError(w, http.StatusBadRequest, codeBadRequest, msg)
	}
	if s.draining.Load() && !slices.Contains(s.worker.Rooms(), room) {
		return writeError(w, http.StatusServiceUnavailable, codeDraining, "the worker is draining and takes no new rooms")
	}
	return s.result(w, r, "apply", room, s.worker.Apply(r.Context(), st))
}

// closeRoom is DELETE /v1/rooms/{room}. Closing a room the worker does
// not have is not an error.
func (s *Server) closeRoom(w http.ResponseWriter, r *http.Request) int {
	room := sfu.RoomID(r.PathValue("room"))
	if msg := validID("room", string(room)); msg != "" {
		return writeError(w, http.StatusBadRequest, codeBadRequest, msg)
	}
	err := s.worker.CloseRoom(r.Context(), room)
	if errors.Is(err, sfu.ErrNoRoom) {
		err = nil
	}
	return s.result(w, r, "close", room, err)
}

// signalBody is the body of a signal request.
type signalBody struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// signal is POST /v1/rooms/{room}/members/{member}/signal.
func (s *Server) signal(w http.ResponseWriter, r *http.Request) int {
	room, member := sfu.RoomID(r.PathValue("room")), sfu.MemberID(r.PathValue("member"))
	for _, id := range [][2]string{{"room", string(room)}, {"member", string(member)}} {
		if msg := validID(id[0], id[1]); msg != "" {
			return writeError(w, http.StatusBadRequest, codeBadRequest, msg)
		}
	}
	var b signalBody
	if code, msg := decode(r.Body, &b); code != 0 {
		return writeError(w, code, errorCode(code), msg)
	}
	switch b.Type {
	case TypeOffer, TypeAnswer, TypeCandidate:
	default:
		return writeError(w, http.StatusBadRequest, codeBadMessage, "type must be media.offer, media.answer or media.candidate")
	}
	if !isObject(b.Payload) {
		return writeError(w, http.StatusBadRequest, codeBadRequest, "payload must be a JSON object")
	}
	return s.result(w, r, "signal", room, s.worker.Signal(r.Context(), room, member, b.Type, b.Payload))
}

// result answers 204 for nil, or the error's status.
func (s *Server) result(w http.ResponseWriter, r *http.Request, op string, room sfu.RoomID, err error) int {
	if err == nil {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	switch {
	case errors.Is(err, sfu.ErrNoRoom):
		return writeError(w, http.StatusNotFound, codeNoRoom, "no such room")
	case errors.Is(err, sfu.ErrNoMember):
		return writeError(w, http.StatusNotFound, codeNoMember, "no such member in the room")
	case errors.Is(err, sfu.ErrBadSDP):
		return writeError(w, http.StatusBadRequest, codeBadSDP, "malformed session description")
	case errors.Is(err, sfu.ErrStaleAnswer):
		return writeError(w, http.StatusConflict, codeStaleAnswer, "answer to an offer that is no longer pending")
	case errors.Is(err, sfu.ErrBadMessage):
		return writeError(w, http.StatusBadRequest, codeBadMessage, "unknown signaling message")
	case errors.Is(err, sfu.ErrClosed):
		return writeError(w, http.StatusServiceUnavailable, codeClosed, "the worker is closed")
	}
	s.log.ErrorContext(r.Context(), "control: "+op+" failed", "room", room, "err", err)
	return writeError(w, http.StatusInternalServerError, codeInternal, "internal error")
}

// decode reads one JSON value from body into v. It returns 0, or the
// status and message of the error to send.
func decode(body io.Reader, v any) (int, string) {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB"
		}
		return http.StatusBadRequest, "the body is not valid JSON of the expected shape"
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB"
		}
		return http.StatusBadRequest, "the body holds more than one JSON value"
	}
	return 0, ""
}

func errorCode(status int) string {
	if status == http.StatusRequestEntityTooLarge {
		return codeTooLarge
	}
	return codeBadRequest
}

// validID returns a message when id is empty or too long.
func validID(what, id string) string {
	switch {
	case id == "":
		return what + " id is empty"
	case len(id) > maxIDLen:
		return what + " id is longer than " + strconv.Itoa(maxIDLen) + " bytes"
	}
	return ""
}

// validState returns a message when st is not a room state for room.
func validState(room sfu.RoomID, st sfu.RoomState) string {
	if msg := validID("room", string(room)); msg != "" {
		return msg
	}
	if st.Room != room {
		return "the body's room is not the path's room"
	}
	if st.Version < 0 {
		return "version is negative"
	}
	seen := make(map[sfu.MemberID]bool, len(st.Members))
	for _, m := range st.Members {
		if msg := validID("member", string(m.ID)); msg != "" {
			return msg
		}
		if msg := validID("connection", string(m.Connection)); msg != "" {
			return msg
		}
		if seen[m.ID] {
			return "member " + string(m.ID) + " is listed twice"
		}
		seen[m.ID] = true
		if m.Group < sfu.MainGroup {
			return "member " + string(m.ID) + " has a bad group"
		}
	}
	return ""
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return len(raw) > 0 && json.Unmarshal(raw, &m) == nil && m != nil
}

// writeError sends a JSON error and returns its status.
func writeError(w http.ResponseWriter, status int, code, msg string) int {
	var b sfuapi.ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
	return status
}
