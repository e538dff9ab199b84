package runner_test

import (
	"testing"
)

// Through the socket, as a client sees it: an answer to an offer the
// worker does not wait for is refused with conflict (not acked), and a
// description the worker cannot use is invalid, naming the field.
func TestMediaRefusalsHaveCodes(t *testing.T) {
	r := primetime(t, true, "Viewer")
	v := r.members[0]
	p := newPeer(t, v, peerOpts{})
	ld := p.pc.LocalDescription()
	if ld == nil {
		t.Fatal("the peer has no local description")
	}
	// No offer of the worker is pending, and none has id 99.
	reply := v.send("media.answer", map[string]any{"sdp": ld.SDP, "negotiationId": 99})
	if reply["type"] != "error" || reply["code"] != "conflict" {
		t.Fatalf("stale answer: %v, want error conflict", reply)
	}
	reply = v.send("media.offer", map[string]any{"sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"})
	fields, _ := reply["fields"].(map[string]any)
	if reply["type"] != "error" || reply["code"] != "invalid" || fields["sdp"] == nil {
		t.Fatalf("unusable offer: %v, want error invalid with fields.sdp", reply)
	}
}
