package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/greenroom-live/greenroom/infra/local/runner"
)

// waitFor bounds every single wait: an HTTP call, a reply, an event.
const waitFor = 10 * time.Second

// liveStack is the local runner started in-process on 127.0.0.1 with the
// embedded store in a temporary directory, and a session full of real
// WebSocket members. Close stops all of it.
type liveStack struct {
	stack   *runner.Stack
	dir     string
	http    *http.Client
	members []*member
}

// startLive starts the runner, creates n users, a primetime session
// hosted by the first, and connects every user to it over a WebSocket.
// onEvent, when not nil, sees every event frame a member receives.
func startLive(ctx context.Context, n int, onEvent func(m *member, f frame, at time.Time)) (l *liveStack, err error) {
	return startLiveWith(ctx, n, hooks{event: onEvent})
}

// hooks see what members receive: event frames, and the other frames
// that answer no call (the SFU worker's media.* signaling).
type hooks struct {
	event func(m *member, f frame, at time.Time)
	other func(m *member, data []byte, at time.Time)
}

// startLiveWith is startLive with hooks for every kind of frame.
func startLiveWith(ctx context.Context, n int, h hooks) (l *liveStack, err error) {
	l, err = startRunner(ctx, runner.Config{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
		}
	}()
	users, err := l.users(ctx, n)
	if err != nil {
		return nil, err
	}
	sessionID, err := l.primetime(ctx, users[0])
	if err != nil {
		return nil, err
	}
	for i, u := range users {
		j, err := l.join(ctx, sessionID, u)
		if err != nil {
			return nil, fmt.Errorf("join member %d: %w", i, err)
		}
		m, err := dial(ctx, i, u.User.ID, j.WSURL+"?token="+j.JoinToken, h)
		if err != nil {
			return nil, fmt.Errorf("dial member %d: %w", i, err)
		}
		l.members = append(l.members, m)
		// The state reply says the server knows the connection.
		if _, err := m.call(ctx, "state.get", nil); err != nil {
			return nil, fmt.Errorf("member %d: %w", i, err)
		}
	}
	return l, nil
}

// startRunner starts the local runner in-process on 127.0.0.1 with cfg
// (the embedded store in a fresh temporary directory unless cfg says
// otherwise), with no members yet.
func startRunner(ctx context.Context, cfg runner.Config) (*liveStack, error) {
	dir, err := os.MkdirTemp("", "greenroom-bench-")
	if err != nil {
		return nil, err
	}
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	s, err := runner.Start(ctx, cfg)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &liveStack{stack: s, dir: dir, http: &http.Client{
		Timeout:   waitFor,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256},
	}}, nil
}

// account is a user as the API creates it.
type account struct {
	User  struct{ ID string } `json:"user"`
	Token string              `json:"token"`
}

// joinReply is what the API's join hands a member.
type joinReply struct {
	WSURL     string `json:"wsUrl"`
	JoinToken string `json:"joinToken"`
}

// users creates n web users, one after another.
func (l *liveStack) users(ctx context.Context, n int) ([]account, error) {
	users := make([]account, n)
	for i := range users {
		if err := l.post(ctx, "/v1/users", "", map[string]any{"name": fmt.Sprintf("Bench %d", i), "device": "web"}, &users[i]); err != nil {
			return nil, fmt.Errorf("create user: %w", err)
		}
	}
	return users, nil
}

// primetime creates a primetime session hosted by host and returns its id.
func (l *liveStack) primetime(ctx context.Context, host account) (string, error) {
	var sess struct{ Session struct{ ID string } }
	if err := l.post(ctx, "/v1/sessions", host.Token, map[string]any{"kind": "primetime", "title": "Bench"}, &sess); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return sess.Session.ID, nil
}

// join admits u to the session over HTTP.
func (l *liveStack) join(ctx context.Context, sessionID string, u account) (joinReply, error) {
	var j joinReply
	err := l.post(ctx, "/v1/sessions/"+sessionID+"/join", u.Token, map[string]any{"device": "web"}, &j)
	return j, err
}

// post sends a JSON request to the API and decodes a 2xx reply into out.
func (l *liveStack) post(ctx context.Context, path, token string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.stack.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, out)
}

// Close closes the members' sockets, stops the runner and removes its
// data. It waits for everything it started.
func (l *liveStack) Close() error {
	for _, m := range l.members {
		m.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := l.stack.Close(ctx)
	l.http.CloseIdleConnections()
	return errors.Join(err, os.RemoveAll(l.dir))
}

// frame is what the bench reads of a server message: replies carry the id
// sent; events carry their name and, for chat, the text; states carry
// their members.
type frame struct {
	Type  string          `json:"type"`
	ID    json.RawMessage `json:"id"`
	Event string          `json:"event"`
	Text  string          `json:"text"`
	Code  string          `json:"code"`
	// RetryAfterMs comes with rate_limited: when to try again.
	RetryAfterMs int64 `json:"retryAfterMs"`
	// Members is a state's member list, as far as the bench reads it.
	Members []struct {
		UserID    string `json:"userId"`
		Connected bool   `json:"connected"`
		Mic       bool   `json:"mic"`
		Cam       bool   `json:"cam"`
	} `json:"members"`
	// Hands and Questions are a state's hand queue and questions.
	Hands     []string `json:"hands"`
	Questions []struct {
		ID    string `json:"id"`
		Votes int    `json:"votes"`
	} `json:"questions"`
}

// member is one real WebSocket client of the session. A reader goroutine,
// stopped and awaited by close, hands replies to the calls waiting for
// them and events to onEvent.
type member struct {
	index   int
	id      string // The user id, once known.
	conn    *websocket.Conn
	hooks   hooks
	nextID  atomic.Int64
	mu      sync.Mutex
	waiting map[string]chan frame
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
}

func dial(ctx context.Context, index int, id, url string, h hooks) (*member, error) {
	dctx, dcancel := context.WithTimeout(ctx, waitFor)
	defer dcancel()
	conn, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &member{index: index, id: id, conn: conn, hooks: h, waiting: map[string]chan frame{}, cancel: cancel, done: make(chan struct{})}
	go m.read(rctx)
	return m, nil
}

func (m *member) read(ctx context.Context) {
	defer close(m.done)
	for {
		_, data, err := m.conn.Read(ctx)
		if err != nil {
			return
		}
		at := time.Now()
		var f frame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		if f.Type == "event" {
			if m.hooks.event != nil {
				m.hooks.event(m, f, at)
			}
			continue
		}
		if len(f.ID) == 0 || string(f.ID) == "null" {
			if m.hooks.other != nil {
				m.hooks.other(m, data, at)
			}
			continue
		}
		m.mu.Lock()
		ch := m.waiting[string(f.ID)]
		m.mu.Unlock()
		if ch != nil {
			ch <- f // buffered, one reply per id
		}
	}
}

// call sends a message with a fresh id and waits for its reply. A
// contract error in the reply is returned as an error. Like a client that
// reads the contract, it waits out a rate_limited reply's retryAfterMs and
// sends again, a few times at most: a bench that plays a member's turns
// faster than a person would meets the per-connection limits, which are
// not what it measures.
func (m *member) call(ctx context.Context, typ string, fields map[string]any) (frame, error) {
	for attempt := 0; ; attempt++ {
		f, err := m.callOnce(ctx, typ, fields)
		if err == nil || f.Code != "rate_limited" || attempt == maxRateRetries {
			return f, err
		}
		wait := time.Duration(max(f.RetryAfterMs, 1)) * time.Millisecond
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return f, err
		}
	}
}

// maxRateRetries bounds call's retries of a rate-limited message.
const maxRateRetries = 3

func (m *member) callOnce(ctx context.Context, typ string, fields map[string]any) (frame, error) {
	id := strconv.FormatInt(m.nextID.Add(1), 10)
	msg := map[string]any{"type": typ, "id": json.RawMessage(id)}
	for k, v := range fields {
		msg[k] = v
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return frame{}, err
	}
	ch := make(chan frame, 1)
	m.mu.Lock()
	m.waiting[id] = ch
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.waiting, id)
		m.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if err := m.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return frame{}, fmt.Errorf("%s: %w", typ, err)
	}
	select {
	case f := <-ch:
		if f.Type == "error" {
			return f, fmt.Errorf("%s: error %s", typ, f.Code)
		}
		return f, nil
	case <-ctx.Done():
		return frame{}, fmt.Errorf("%s: no reply: %w", typ, ctx.Err())
	}
}

// close closes the socket and waits for the reader. It is idempotent.
func (m *member) close() {
	m.once.Do(func() {
		_ = m.conn.Close(websocket.StatusNormalClosure, "")
		m.cancel()
		<-m.done
	})
}
