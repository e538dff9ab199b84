package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
)

// waitFor bounds every wait of the WebSocket tests.
const waitFor = 10 * time.Second

// member is one real WebSocket client of a session.
type member struct {
	t       *testing.T
	id      identity
	conn    *websocket.Conn
	cancel  context.CancelFunc
	nextID  atomic.Int64
	mu      sync.Mutex
	replies map[string]chan map[string]any
	events  chan map[string]any
	// media receives the worker's signaling (media.offer, media.answer,
	// media.candidate) and media.reconnect events, in order.
	media  chan map[string]any
	done   chan struct{}
	closed chan struct{}
	// JoinReply is the body of the join response.
	JoinReply map[string]any
}

type joinOut struct {
	WSURL      string           `json:"wsUrl"`
	JoinToken  string           `json:"joinToken"`
	IceServers []map[string]any `json:"iceServers"`
}

// join asks the API to join sessionID and returns the reply.
func join(t *testing.T, c *client, who identity, sessionID, device string) reply {
	t.Helper()
	return c.do(http.MethodPost, "/v1/sessions/"+sessionID+"/join", who.Token, map[string]any{"device": device})
}

// connect joins and opens the session's WebSocket, then waits for the
// first state.
func connect(t *testing.T, c *client, who identity, sessionID, device string) *member {
	t.Helper()
	r := join(t, c, who, sessionID, device)
	want(t, r, http.StatusOK, "")
	var out joinOut
	r.decode(t, &out)
	m := dial(t, out.WSURL+"?token="+out.JoinToken)
	m.id = who
	_ = json.Unmarshal(r.Body, &m.JoinReply)
	m.state()
	return m
}

// dial opens a WebSocket and starts reading it.
func dial(t *testing.T, url string) *member {
	t.Helper()
	m, _, err := tryDial(t, url)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return m
}

func tryDial(t *testing.T, url string) (*member, *http.Response, error) {
	return tryDialWithin(t, url, waitFor)
}

// tryDialWithin is tryDial with the handshake bounded by d.
func tryDialWithin(t *testing.T, url string, d time.Duration) (*member, *http.Response, error) {
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, d)
	defer dcancel()
	conn, resp, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		cancel()
		return nil, resp, err
	}
	conn.SetReadLimit(1 << 20)
	m := &member{t: t, conn: conn, cancel: cancel, replies: map[string]chan map[string]any{},
		events: make(chan map[string]any, 1024), media: make(chan map[string]any, 1024),
		done: make(chan struct{}), closed: make(chan struct{})}
	go m.read(ctx)
	t.Cleanup(m.close)
	return m, resp, nil
}

func (m *member) read(ctx context.Context) {
	defer close(m.done)
	for {
		_, data, err := m.conn.Read(ctx)
		if err != nil {
			close(m.closed)
			return
		}
		var msg map[string]any
		if err := json.Unmarshal(data, &msg); err != nil {
			m.t.Errorf("server sent a frame that is not JSON: %q", data)
			continue
		}
		if id, ok := msg["id"]; ok && msg["type"] != "event" {
			key := fmt.Sprint(id)
			m.mu.Lock()
			ch := m.replies[key]
			m.mu.Unlock()
			if ch != nil {
				ch <- msg
				continue
			}
		}
		typ, _ := msg["type"].(string)
		if strings.HasPrefix(typ, "media.") || msg["event"] == "media.reconnect" || typ == "active.speaker" {
			select {
			case m.media <- msg:
			default:
				m.t.Errorf("media buffer full")
			}
			if typ != "event" {
				continue
			}
		}
		select {
		case m.events <- msg:
		default:
			m.t.Errorf("event buffer full")
		}
	}
}

func (m *member) close() {
	_ = m.conn.Close(websocket.StatusNormalClosure, "")
	m.cancel()
	<-m.done
}

// send sends a message with a fresh id and waits for the reply with that id.
func (m *member) send(typ string, fields map[string]any) map[string]any {
	m.t.Helper()
	id, b := m.frame(typ, fields)
	return m.sendRaw(id, b)
}

// trySend is send for callbacks that may outlive the test: it never calls
// t, and gives up when ctx ends.
func (m *member) trySend(ctx context.Context, typ string, fields map[string]any) (map[string]any, error) {
	id, b := m.frame(typ, fields)
	return m.request(ctx, id, b)
}

// frame builds a message with a fresh id.
func (m *member) frame(typ string, fields map[string]any) (string, []byte) {
	id := fmt.Sprintf("m%d", m.nextID.Add(1))
	msg := map[string]any{"type": typ, "id": id}
	for k, v := range fields {
		msg[k] = v
	}
	b, _ := json.Marshal(msg)
	return id, b
}

// sendRaw sends a frame and waits for the reply with id ("" waits for any
// reply without an id, as an error to an undecodable frame).
func (m *member) sendRaw(id string, frame []byte) map[string]any {
	m.t.Helper()
	if id == "" {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := m.conn.Write(ctx, websocket.MessageText, frame); err != nil {
			m.t.Fatalf("write: %v", err)
		}
		return m.event(func(e map[string]any) bool { return e["type"] == "error" })
	}
	r, err := m.request(context.Background(), id, frame)
	if err != nil {
		m.t.Fatalf("%s: %v", m.id.ID, err)
	}
	return r
}

// request writes a frame with id and waits, at most waitFor, for its reply.
func (m *member) request(ctx context.Context, id string, frame []byte) (map[string]any, error) {
	ch := make(chan map[string]any, 1)
	m.mu.Lock()
	m.replies[id] = ch
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.replies, id)
		m.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	if err := m.conn.Write(ctx, websocket.MessageText, frame); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no reply to %s", frame)
	}
}

// ok sends a message and fails unless the reply is an ack (or a state).
func (m *member) ok(typ string, fields map[string]any) map[string]any {
	m.t.Helper()
	r := m.send(typ, fields)
	if r["type"] == "error" {
		m.t.Fatalf("%s %v: %v", typ, fields, r)
	}
	return r
}

// refused sends a message and fails unless the reply is the error code.
func (m *member) refused(code, typ string, fields map[string]any) {
	m.t.Helper()
	r := m.send(typ, fields)
	if r["type"] != "error" || r["code"] != code {
		m.t.Fatalf("%s %v: got %v, want error %q", typ, fields, r, code)
	}
}

// state asks for a fresh state.
func (m *member) state() map[string]any {
	m.t.Helper()
	r := m.ok("state.get", nil)
	if r["type"] != "state" {
		m.t.Fatalf("state.get answered %v", r)
	}
	return r
}

// event waits for the next message that matches, dropping the others.
func (m *member) event(match func(map[string]any) bool) map[string]any {
	m.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case e := <-m.events:
			if match(e) {
				return e
			}
		case <-deadline:
			m.t.Fatalf("%s: no matching event within %s", m.id.ID, waitFor)
			return nil
		}
	}
}

// expect waits for the event name about user (any user when "").
func (m *member) expect(name, user string) map[string]any {
	m.t.Helper()
	return m.event(func(e map[string]any) bool {
		return e["type"] == "event" && e["event"] == name && (user == "" || e["userId"] == user)
	})
}

// waitClosed waits until the server closes the socket.
func (m *member) waitClosed() {
	m.t.Helper()
	select {
	case <-m.closed:
	case <-time.After(waitFor):
		m.t.Fatalf("%s: the socket stayed open", m.id.ID)
	}
}

// leave closes the member's socket and waits until the server has handled
// the $disconnect (it runs asynchronously, as in AWS).
func (m *member) leave(s *runner.Stack, sessionID string) {
	m.t.Helper()
	m.close()
	deadline := time.Now().Add(waitFor)
	for {
		sess, err := s.Store.GetSession(context.Background(), domain.SessionID(sessionID))
		if err != nil {
			m.t.Fatal(err)
		}
		if mm, ok := sess.Member(domain.UserID(m.id.ID)); ok && !mm.Connected {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: the server never saw the disconnect", m.id.ID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// members returns the state's members by id.
func members(state map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := state["members"].([]any)
	for _, x := range list {
		mm := x.(map[string]any)
		out[mm["userId"].(string)] = mm
	}
	return out
}

// ids returns a JSON list of strings.
func ids(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func joined(l []string) string { return strings.Join(l, ",") }
