// Package media is the session handlers' side of the SFU: it implements
// wsapi.Media by keeping each session's room on an SFU worker in step
// with the session, and forwarding members' signaling to that worker
// over its control API (shared/sfuapi: it links no pion).
//
// The worker hears of a session only when something changes who publishes
// or who sees whom (wsapi decides: domain.Change.AffectsMedia), and
// signaling reads the session's own item, not its members.
//
// A session is assigned to a worker (sfuapi.Assign) the first time
// its room needs one, and again when its worker's heartbeat lapses: then
// the assignment's Epoch grows and Sync and Signal return a
// *ReassignedError, so the caller tells the session's members to
// reconnect their media (media.reconnect). The scheduler's sweep calls
// Reassign, which moves every room of every lapsed worker at once.
//
// An assignment claims its worker at once: until the worker's heartbeat
// reports the room, this process counts the room and its members against
// the worker, so that a rush (or a dead worker's rooms) picked from one
// list of workers is spread over them rather than sent to the one that
// looked least loaded.
package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Store is the part of store.Store the media layer uses.
type Store interface {
	Update(ctx context.Context, id domain.SessionID, load store.Load, fn func(*domain.Session) error) (domain.Session, error)
	ReadSession(ctx context.Context, id domain.SessionID, load store.Load) (domain.Session, error)
	ListWorkers(ctx context.Context) ([]store.Worker, error)
	DeleteWorker(ctx context.Context, id string) error
}

// Worker is one worker's control API; *sfuapi.Client is one.
type Worker interface {
	Apply(ctx context.Context, st sfuapi.RoomState) error
	CloseRoom(ctx context.Context, room sfuapi.RoomID) error
	Signal(ctx context.Context, room sfuapi.RoomID, member sfuapi.MemberID, msgType string, payload json.RawMessage) error
}

var _ Worker = (*sfuapi.Client)(nil)

var (
	// ErrNoStore is returned by New without a store.
	ErrNoStore = errors.New("media: no store")
	// ErrNoSecret is returned by New without a control secret or a Dial
	// function.
	ErrNoSecret = errors.New("media: no control secret")
	// ErrReassigned is wrapped by *ReassignedError.
	ErrReassigned = errors.New("media: session moved to another worker")
)

// ReassignedError is returned by Sync and Signal when the call moved the
// session to another worker (its previous one lapsed or refused it). The
// call itself succeeded: the new worker has the room's state (and the
// signaling message). The caller must tell the session's members to
// reconnect their media, for example with
// {"type":"media.reconnect","epoch":Session.Live.Media.Epoch}.
type ReassignedError struct {
	// Session is the session as stored after the move.
	Session domain.Session
	// Previous is the assignment it moved from.
	Previous domain.MediaAssignment
}

func (e *ReassignedError) Error() string {
	return fmt.Sprintf("media: session %s moved from worker %s to %s (epoch %d)",
		e.Session.ID, e.Previous.WorkerID, e.Session.Live.Media.WorkerID, e.Session.Live.Media.Epoch)
}

// Unwrap returns ErrReassigned.
func (e *ReassignedError) Unwrap() error { return ErrReassigned }

// MovedSession returns the session as it stands on its new worker.
func (e *ReassignedError) MovedSession() domain.Session { return e.Session }

// Config configures a Media.
type Config struct {
	// Store holds the sessions and the worker registry (required).
	Store Store
	// Secret is the workers' shared control secret (required unless Dial
	// is set).
	Secret string
	// HTTP carries the control calls; sfuapi.NewHTTPClient() when nil.
	HTTP *http.Client
	// Dial returns the control API client of the worker at a control
	// URL; sfuapi.NewClient with Secret and HTTP when nil.
	Dial func(controlURL string) (Worker, error)
	// Interval is the workers' heartbeat interval
	// (sfuapi.DefaultInterval when zero).
	Interval time.Duration
	// CacheFor is how long a list of workers is used before it is read
	// again (Interval when zero). A worker that looks lapsed in the cache
	// is always read again before the session leaves it.
	CacheFor time.Duration
	Clock    domain.Clock
	Logger   *slog.Logger
}

// Media keeps sessions' rooms on SFU workers. It is safe for concurrent
// use and starts no goroutines; one Media per process (per Lambda cold
// start) shares its cache of workers and their clients.
type Media struct {
	store    Store
	dial     func(string) (Worker, error)
	interval time.Duration
	cacheFor time.Duration
	clock    domain.Clock
	log      *slog.Logger

	mu      sync.Mutex
	workers []store.Worker
	fetched time.Time
	clients map[string]Worker
	claims  map[domain.SessionID]claim
}

// claim is a room this process assigned to a worker whose heartbeat has
// not reported it yet.
type claim struct {
	worker  string
	members int
	at      time.Time
}

// New returns a Media for cfg, or ErrNoStore or ErrNoSecret.
func New(cfg Config) (*Media, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	if cfg.Dial == nil {
		if cfg.Secret == "" {
			return nil, ErrNoSecret
		}
		if len(cfg.Secret) < sfuapi.MinSecretLen {
			return nil, sfuapi.ErrShortSecret
		}
		hc := cfg.HTTP
		if hc == nil {
			hc = sfuapi.NewHTTPClient()
		}
		cfg.Dial = func(u string) (Worker, error) {
			return sfuapi.NewClient(sfuapi.ClientConfig{BaseURL: u, Secret: cfg.Secret, HTTP: hc})
		}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = sfuapi.DefaultInterval
	}
	if cfg.CacheFor <= 0 {
		cfg.CacheFor = cfg.Interval
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Media{
		store: cfg.Store, dial: cfg.Dial, interval: cfg.Interval, cacheFor: cfg.CacheFor,
		clock: cfg.Clock, log: cfg.Logger, clients: map[string]Worker{},
		claims: map[domain.SessionID]claim{},
	}, nil
}

// RoomState is the worker's view of a session, which holds every member:
// its connected members that were not removed, who may publish, their
// mic and camera, and which group (main or breakout room) each is in.
// Version is the session's StateVersion, which grows with every write of
// any of its items.
func RoomState(s domain.Session) sfuapi.RoomState {
	st := sfuapi.RoomState{Room: sfuapi.RoomID(s.ID), Version: s.StateVersion(), Members: []sfuapi.MemberState{}}
	open := s.Live.Breakout.Status == domain.BreakoutOpen
	// The session decides who publishes: the main stage, and in open
	// breakout rooms the rooms' members up to the stage limits.
	publishers := s.Publishers()
	for i := range s.Live.Members {
		m := &s.Live.Members[i]
		if !m.Connected || m.Removed || m.ConnectionID == "" {
			continue
		}
		group := sfuapi.MainGroup
		if open && m.Room != nil {
			group = *m.Room
		}
		st.Members = append(st.Members, sfuapi.MemberState{
			ID:         sfuapi.MemberID(m.UserID),
			Connection: sfuapi.ConnectionID(m.ConnectionID),
			Publish:    publishers[m.UserID],
			Mic:        m.Mic,
			Cam:        m.Cam,
			Group:      group,
		})
	}
	return st
}

// Sync implements wsapi.Media: it makes the session's room on its worker
// match the session, assigning a worker first if the session has none or
// its worker lapsed, and closes the room once the session is over. It
// returns a *ReassignedError (after the new worker has the room) when
// the session moved.
func (m *Media) Sync(ctx context.Context, s domain.Session) error {
	_, err := m.sync(ctx, s)
	return err
}

// sync is Sync, returning the assignment used.
func (m *Media) sync(ctx context.Context, s domain.Session) (sfuapi.Assignment, error) {
	if s.Status.Over() {
		return sfuapi.Assignment{Session: s}, m.closeRoom(ctx, s)
	}
	if s.Live.Media.WorkerID == "" && len(RoomState(s).Members) == 0 {
		return sfuapi.Assignment{Session: s}, nil // No one needs media yet.
	}
	a, err := m.ensure(ctx, s)
	if err != nil {
		return a, err
	}
	if err := m.push(ctx, &a); err != nil {
		return a, err
	}
	return a, reassigned(a)
}

// push sends the session's state to its worker. A worker that refuses
// the room because it drains (it lost the room, having restarted) gives
// the session to another worker.
func (m *Media) push(ctx context.Context, a *sfuapi.Assignment) error {
	full, err := m.full(ctx, a.Session)
	if err != nil {
		return err
	}
	err = m.apply(ctx, a.Worker, RoomState(full))
	if !errors.Is(err, sfuapi.ErrDraining) {
		return err
	}
	workers, lerr := m.list(ctx, true)
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	// The record may not say draining yet: leave the refusing worker out.
	others := slices.DeleteFunc(slices.Clone(workers), func(w store.Worker) bool { return w.ID == a.Worker.ID })
	orig := a.Previous
	moved, merr := sfuapi.Move(ctx, m.store, a.Session.ID, a.Worker.ID, others, m.clock.Now(), m.interval)
	if merr == nil && !moved.Changed {
		// Someone else moved it first: use theirs.
		moved, merr = m.ensure(ctx, moved.Session)
	}
	if merr != nil {
		return errors.Join(err, merr)
	}
	moved.Previous = orig
	moved.Changed = moved.Session.Live.Media != orig
	if moved.Changed {
		m.claim(moved.Session, moved.Worker.ID)
	}
	*a = moved
	full, err = m.full(ctx, a.Session)
	if err != nil {
		return err
	}
	return m.apply(ctx, a.Worker, RoomState(full))
}

// full returns s with every member, read afresh when s holds only some
// (an assignment writes the session's own item alone).
func (m *Media) full(ctx context.Context, s domain.Session) (domain.Session, error) {
	if !s.Live.Partial {
		return s, nil
	}
	full, err := m.store.ReadSession(ctx, s.ID, store.Load{AllMembers: true})
	if err != nil {
		return s, fmt.Errorf("media: read %s: %w", s.ID, err)
	}
	return full, nil
}

// reassigned returns a *ReassignedError when a moved the session.
func reassigned(a sfuapi.Assignment) error {
	if a.Moved() {
		return &ReassignedError{Session: a.Session, Previous: a.Previous}
	}
	return nil
}

// Signal implements wsapi.Media: it hands a member's media.offer,
// media.answer or media.candidate to the session's worker, assigning one
// first if needed (then, as for Sync, the room's state goes first and a
// move is reported as a *ReassignedError). A worker that does not know
// the room or the member is sent the room's state, and the message
// again.
func (m *Media) Signal(ctx context.Context, s domain.Session, mem domain.Member, msgType string, payload json.RawMessage) error {
	if s.Status.Over() {
		return fmt.Errorf("media: signal %s: %w", s.ID, domain.ErrSessionOver)
	}
	a, err := m.ensure(ctx, s)
	if err != nil {
		return err
	}
	if a.Changed {
		if err := m.push(ctx, &a); err != nil {
			return err
		}
	}
	c, err := m.client(a.Worker)
	if err != nil {
		return err
	}
	room, member := sfuapi.RoomID(s.ID), sfuapi.MemberID(mem.UserID)
	err = c.Signal(ctx, room, member, msgType, payload)
	if errors.Is(err, sfuapi.ErrNoRoom) || errors.Is(err, sfuapi.ErrNoMember) {
		// Only now are the members read: the worker lost the room (it
		// restarted) or has not heard of the member yet.
		full, rerr := m.store.ReadSession(ctx, s.ID, store.Load{AllMembers: true})
		if rerr != nil {
			return errors.Join(err, rerr)
		}
		if aerr := c.Apply(ctx, RoomState(full)); aerr != nil {
			return errors.Join(err, aerr)
		}
		err = c.Signal(ctx, room, member, msgType, payload)
	}
	if err != nil {
		return fmt.Errorf("media: signal %s/%s: %w", s.ID, mem.UserID, refusal(err))
	}
	return reassigned(a)
}

// refusal maps the worker's refusals of a member's signaling to the
// domain's errors, so that the socket's edge answers with the contract's
// codes instead of "internal": an answer to an offer the worker no longer
// waits for is a conflict; a description or candidate it cannot use is
// invalid, naming the field. The worker's error stays in the chain.
func refusal(err error) error {
	switch {
	case errors.Is(err, sfuapi.ErrStaleAnswer):
		return fmt.Errorf("%w: %w", domain.ErrConflict, err)
	case errors.Is(err, sfuapi.ErrBadSDP):
		return errors.Join(domain.FieldErrors{"sdp": "is a session description the media server cannot use"}, err)
	case errors.Is(err, sfuapi.ErrBadMessage):
		return errors.Join(domain.FieldErrors{"candidate": "is not an ICE candidate the media server can use"}, err)
	}
	return err
}

// ensure returns the session's live worker, assigning one if needed.
func (m *Media) ensure(ctx context.Context, s domain.Session) (sfuapi.Assignment, error) {
	now := m.clock.Now()
	workers, err := m.list(ctx, false)
	if err != nil {
		return sfuapi.Assignment{Session: s}, err
	}
	if id := s.Live.Media.WorkerID; id != "" {
		w, ok := sfuapi.Find(workers, id)
		if !ok || !sfuapi.Live(w, now, m.interval) {
			// The cache may be old: look again before leaving a worker.
			if workers, err = m.list(ctx, true); err != nil {
				return sfuapi.Assignment{Session: s}, err
			}
			w, ok = sfuapi.Find(workers, id)
		}
		if ok && sfuapi.Live(w, now, m.interval) {
			return sfuapi.Assignment{Session: s, Worker: w, Previous: s.Live.Media}, nil
		}
	} else if _, ok := sfuapi.PickFor(string(s.ID), workers, now, m.interval); !ok {
		if workers, err = m.list(ctx, true); err != nil {
			return sfuapi.Assignment{Session: s}, err
		}
	}
	a, err := sfuapi.Assign(ctx, m.store, s.ID, workers, now, m.interval)
	if err != nil {
		return a, fmt.Errorf("media: %w", err)
	}
	if a.Changed {
		m.claim(a.Session, a.Worker.ID)
		m.log.InfoContext(ctx, "media assigned", "sessionId", s.ID, "workerId", a.Worker.ID,
			"epoch", a.Session.Live.Media.Epoch, "previous", a.Previous.WorkerID)
	}
	return a, nil
}

// Reassign moves the rooms of every worker whose heartbeat lapsed while
// its record still lists rooms: each session still assigned to it goes
// to a live worker (a conditional write of the session item), which is sent
// the room's state. It returns the sessions moved, as stored after the
// move, so that the caller tells their members to reconnect their
// media. A lapsed worker whose rooms were all dealt with is deleted from
// the registry. The scheduler calls it on every sweep.
func (m *Media) Reassign(ctx context.Context) ([]domain.Session, error) {
	workers, err := m.list(ctx, true)
	if err != nil {
		return nil, err
	}
	now := m.clock.Now()
	var moved []domain.Session
	var errs []error
	for _, dead := range slices.Clone(workers) {
		if sfuapi.Live(dead, now, m.interval) {
			continue
		}
		ok := true
		// In order, each move claiming its worker before the next pick.
		rooms := slices.Clone(dead.Rooms)
		slices.Sort(rooms)
		for _, room := range rooms {
			a, err := sfuapi.Move(ctx, m.store, domain.SessionID(room), dead.ID, workers, now, m.interval)
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue
			case err != nil:
				ok = false
				errs = append(errs, err)
				continue
			case !a.Changed:
				continue
			}
			if a.Session.Status.Over() {
				continue
			}
			moved = append(moved, a.Session)
			m.log.InfoContext(ctx, "media reassigned", "sessionId", room, "from", dead.ID, "to", a.Worker.ID, "epoch", a.Session.Live.Media.Epoch)
			full, err := m.full(ctx, a.Session)
			if err == nil {
				m.claim(full, a.Worker.ID)
				workers = sfuapi.Claim(workers, a.Worker.ID, room, claimed(full))
				err = m.apply(ctx, a.Worker, RoomState(full))
			}
			if err != nil {
				// The session has its new worker; the next Sync or Signal
				// pushes the state again.
				errs = append(errs, err)
			}
		}
		if ok {
			if err := m.store.DeleteWorker(ctx, dead.ID); err != nil {
				errs = append(errs, fmt.Errorf("media: forget worker %s: %w", dead.ID, err))
			}
		}
	}
	if len(moved) > 0 || len(errs) > 0 {
		m.invalidate()
	}
	return moved, errors.Join(errs...)
}

// closeRoom closes an ended session's room on its worker, if it has one
// that is known.
func (m *Media) closeRoom(ctx context.Context, s domain.Session) error {
	if s.Live.Media.WorkerID == "" {
		return nil
	}
	workers, err := m.list(ctx, false)
	if err != nil {
		return err
	}
	w, ok := sfuapi.Find(workers, s.Live.Media.WorkerID)
	if !ok {
		return nil // The worker is gone, and its rooms with it.
	}
	c, err := m.client(w)
	if err != nil {
		return err
	}
	if err := c.CloseRoom(ctx, sfuapi.RoomID(s.ID)); err != nil {
		return fmt.Errorf("media: close %s on %s: %w", s.ID, w.ID, err)
	}
	return nil
}

// apply sends st to worker w.
func (m *Media) apply(ctx context.Context, w store.Worker, st sfuapi.RoomState) error {
	c, err := m.client(w)
	if err != nil {
		return err
	}
	if err := c.Apply(ctx, st); err != nil {
		return fmt.Errorf("media: apply %s on %s: %w", st.Room, w.ID, err)
	}
	return nil
}

// list returns the workers, read again when force is set or the cache is
// older than CacheFor, with this process's claims counted.
func (m *Media) list(ctx context.Context, force bool) ([]store.Worker, error) {
	now := m.clock.Now()
	m.mu.Lock()
	if !force && !m.fetched.IsZero() && now.Sub(m.fetched) < m.cacheFor {
		ws := m.claimedLocked(m.workers, now)
		m.mu.Unlock()
		return ws, nil
	}
	m.mu.Unlock()
	ws, err := m.store.ListWorkers(ctx)
	if err != nil {
		return nil, fmt.Errorf("media: list workers: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.workers, m.fetched = ws, now
	return m.claimedLocked(ws, now), nil
}

// claim counts session s's room against worker id until its heartbeat
// reports it.
func (m *Media) claim(s domain.Session, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.claims[s.ID] = claim{worker: id, members: claimed(s), at: m.clock.Now()}
}

// claimed is the load a room of s is counted for: its members, at least
// one.
func claimed(s domain.Session) int {
	return max(1, len(RoomState(s).Members))
}

// claimedLocked returns ws with the claims not yet reported counted. A
// claim ends when a heartbeat after it lists the room, or when it is as
// old as a lapse (the worker reported, or died).
func (m *Media) claimedLocked(ws []store.Worker, now time.Time) []store.Worker {
	if len(m.claims) == 0 {
		return ws
	}
	out := slices.Clone(ws)
	for id, c := range m.claims {
		i := slices.IndexFunc(out, func(w store.Worker) bool { return w.ID == c.worker })
		reported := i >= 0 && !out[i].HeartbeatAt.Before(c.at) && slices.Contains(out[i].Rooms, string(id))
		if reported || now.Sub(c.at) >= sfuapi.LapseAfter*m.interval {
			delete(m.claims, id)
			continue
		}
		if i >= 0 && !slices.Contains(out[i].Rooms, string(id)) {
			out[i].Load += c.members
			out[i].Rooms = append(slices.Clip(out[i].Rooms), string(id))
		}
	}
	return out
}

// invalidate makes the next list read the store.
func (m *Media) invalidate() {
	m.mu.Lock()
	m.fetched = time.Time{}
	m.mu.Unlock()
}

// client returns the control client of w, made once per control URL.
func (m *Media) client(w store.Worker) (Worker, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.clients[w.ControlURL]; ok {
		return c, nil
	}
	c, err := m.dial(w.ControlURL)
	if err != nil {
		return nil, fmt.Errorf("media: worker %s: %w", w.ID, err)
	}
	m.clients[w.ControlURL] = c
	return c, nil
}
