// Package groupfeed posts a group's live chat events (group.message) to
// the sockets its members hold on the group page, through the same
// management API fan-out as a session's events. The HTTP API posts a
// member's message and the card of a PrimeTime session started in the
// group; the WebSocket handlers post the card again when its session goes
// live or ends.
//
// A connection that answers 410 is removed only once it connected more
// than domain.ConnectGrace ago: until then it may still be inside its
// $connect, where API Gateway refuses posts (docs/protocol.md).
package groupfeed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Sender posts to WebSocket connections and returns those that are gone
// (410). *fanout.Notifier satisfies it.
type Sender interface {
	Send(ctx context.Context, conns []domain.ConnectionID, payload []byte) (gone []domain.ConnectionID)
}

// Store is what a Feed needs of the store.
type Store interface {
	ListGroupConnections(ctx context.Context, group domain.GroupID) ([]store.Connection, error)
	DeleteGroupConnection(ctx context.Context, group domain.GroupID, id domain.ConnectionID) error
}

var _ Store = store.Store(nil)

var (
	// ErrNoStore and ErrNoSender are returned by New for an incomplete
	// Config.
	ErrNoStore  = errors.New("groupfeed: no store")
	ErrNoSender = errors.New("groupfeed: no sender")
)

// Config configures a Feed. Clock and Logger default to the system clock
// and a discarding logger.
type Config struct {
	Store  Store
	Sender Sender
	Clock  domain.Clock
	Logger *slog.Logger
}

// Feed posts group events. It is safe for concurrent use.
type Feed struct {
	store  Store
	sender Sender
	clock  domain.Clock
	log    *slog.Logger
}

// New returns a Feed, or ErrNoStore or ErrNoSender.
func New(cfg Config) (*Feed, error) {
	switch {
	case cfg.Store == nil:
		return nil, ErrNoStore
	case cfg.Sender == nil:
		return nil, ErrNoSender
	}
	f := &Feed{store: cfg.Store, sender: cfg.Sender, clock: cfg.Clock, log: cfg.Logger}
	if f.clock == nil {
		f.clock = domain.SystemClock{}
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f, nil
}

// Card is a session as its card in a group's chat shows it: what the Join
// button needs.
type Card struct {
	ID     domain.SessionID `json:"id"`
	Kind   domain.Kind      `json:"kind"`
	Status domain.Status    `json:"status"`
	Title  string           `json:"title"`
	HostID *domain.UserID   `json:"hostId"`
}

// CardOf returns the card of s.
func CardOf(s domain.Session) *Card {
	c := &Card{ID: s.ID, Kind: s.Kind, Status: s.Status, Title: s.Title}
	if s.HostID != "" {
		c.HostID = &s.HostID
	}
	return c
}

// Message is one entry of a group's chat as the API and the socket show
// it.
type Message struct {
	ID        string           `json:"id"`
	Kind      string           `json:"kind"`
	UserID    domain.UserID    `json:"userId"`
	Name      string           `json:"name"`
	Text      string           `json:"text,omitempty"`
	SessionID domain.SessionID `json:"sessionId,omitempty"`
	// Session is the card's session as it is now; null when it is gone.
	Session *Card     `json:"session,omitempty"`
	At      time.Time `json:"at"`
}

// MessageOf returns the view of a stored message (without its card).
func MessageOf(m store.GroupMessage) Message {
	return Message{ID: m.ID, Kind: m.Kind, UserID: m.UserID, Name: m.Name, Text: m.Text, SessionID: m.SessionID, At: m.At}
}

// event is the frame a group's sockets receive.
type event struct {
	Type    string         `json:"type"`
	Event   string         `json:"event"`
	GroupID domain.GroupID `json:"groupId"`
	Message Message        `json:"message"`
}

// Publish posts m as a group.message event to every socket of the group
// and removes those found gone past the grace of their $connect. Failures
// are logged: the message is stored already and the polling read shows it.
func (f *Feed) Publish(ctx context.Context, group domain.GroupID, m Message) {
	conns, err := f.store.ListGroupConnections(ctx, group)
	if err != nil {
		f.log.WarnContext(ctx, "group feed: list connections", "groupId", group, "err", err)
		return
	}
	if len(conns) == 0 {
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(event{Type: "event", Event: "group.message", GroupID: group, Message: m}); err != nil {
		f.log.ErrorContext(ctx, "group feed: encode", "groupId", group, "err", err)
		return
	}
	payload := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	ids := make([]domain.ConnectionID, len(conns))
	byID := make(map[domain.ConnectionID]store.Connection, len(conns))
	for i, c := range conns {
		ids[i] = c.ID
		byID[c.ID] = c
	}
	now := f.clock.Now()
	for _, id := range f.sender.Send(ctx, ids, payload) {
		c, ok := byID[id]
		if !ok || now.Sub(c.ConnectedAt) <= domain.ConnectGrace {
			continue
		}
		if err := f.store.DeleteGroupConnection(ctx, group, id); err != nil {
			f.log.WarnContext(ctx, "group feed: forget gone connection", "groupId", group, "connectionId", id, "err", err)
		}
	}
}
