package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

// Poster posts to one WebSocket connection; *fanout.Notifier is one.
type Poster interface {
	Post(ctx context.Context, id domain.ConnectionID, payload []byte) error
}

// SignalVia returns the worker's sfu.Signal that sends server-originated
// signaling to the member's connection through p (the management API),
// as {"type":"media.offer",…payload} or {"type":"media.candidate",…}:
// the payload's fields with the type added.
func SignalVia(p Poster) sfu.Signal {
	return func(ctx context.Context, room sfu.RoomID, member sfu.MemberID, conn sfu.ConnectionID, msgType string, payload json.RawMessage) error {
		msg, err := SignalMessage(msgType, payload)
		if err != nil {
			return fmt.Errorf("control: signal %s/%s: %w", room, member, err)
		}
		if err := p.Post(ctx, domain.ConnectionID(conn), msg); err != nil {
			return fmt.Errorf("control: signal %s/%s: %w", room, member, err)
		}
		return nil
	}
}

// SignalMessage is the WebSocket message of a server-originated signal:
// payload, a JSON object, with "type" set to msgType.
func SignalMessage(msgType string, payload json.RawMessage) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(payload), &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", sfuapi.ErrBadRequest)
	}
	// The message's type wins: a payload may carry its own "type" (an
	// SDP's "offer" or "answer"), which would otherwise override it.
	typ, err := json.Marshal(msgType)
	if err != nil {
		return nil, err
	}
	fields["type"] = typ
	return json.Marshal(fields)
}
