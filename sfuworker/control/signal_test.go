package control_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/greenroom-live/greenroom/sfuworker/control"
	"github.com/greenroom-live/greenroom/shared/domain"
)

type poster struct {
	conn domain.ConnectionID
	msg  []byte
}

func (p *poster) Post(_ context.Context, id domain.ConnectionID, payload []byte) error {
	p.conn, p.msg = id, payload
	return nil
}

func TestSignalVia(t *testing.T) {
	p := &poster{}
	sig := control.SignalVia(p)
	if err := sig(t.Context(), "r1", "m1", "c1", "media.offer", json.RawMessage(` {"sdp":"v=0\r\n"} `)); err != nil {
		t.Fatalf("signal: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal(p.msg, &got); err != nil || p.conn != "c1" || got["type"] != "media.offer" || got["sdp"] != "v=0\r\n" || len(got) != 2 {
		t.Fatalf("posted %s to %s (%v)", p.msg, p.conn, err)
	}
	if b, err := control.SignalMessage("media.candidate", json.RawMessage(`{}`)); err != nil || string(b) != `{"type":"media.candidate"}` {
		t.Errorf("SignalMessage of an empty payload = %s, %v", b, err)
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{`} {
		if _, err := control.SignalMessage("media.offer", json.RawMessage(bad)); err == nil {
			t.Errorf("SignalMessage(%q) succeeded", bad)
		}
	}
}

func TestSignalMessageTypeWinsOverThePayloads(t *testing.T) {
	b, err := control.SignalMessage("media.answer", json.RawMessage(`{"sdp":"v=0","type":"answer","negotiationId":3}`))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["type"] != "media.answer" || m["sdp"] != "v=0" || m["negotiationId"] != float64(3) {
		t.Fatalf("message %s", b)
	}
}
