package sfu

import (
	"encoding/json"
	"testing"
)

// FuzzParseSDP feeds signaling payloads to the worker's decoder of
// untrusted session descriptions.
func FuzzParseSDP(f *testing.F) {
	f.Add([]byte(`{"sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF\r\n"}`), "offer")
	f.Add([]byte(`{"sdp":"","type":"answer","negotiationId":3}`), "answer")
	f.Add([]byte(`{"sdp":"v=0\r\nm=\r\n"}`), "offer")
	f.Fuzz(func(t *testing.T, b []byte, want string) {
		p, s, err := parseSDP(json.RawMessage(b), want)
		if err == nil && (p.SDP == "" || len(p.SDP) > maxSDP || s == nil || len(s.MediaDescriptions) == 0) {
			t.Fatal("accepted an empty, oversized or media-less description")
		}
	})
}
