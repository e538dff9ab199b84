package wsapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeNamesBadFields(t *testing.T) {
	d := newDecoder()
	for name, tc := range map[string]struct {
		frame, field string
	}{
		"not JSON":           {`hello`, "body"},
		"a list":             {`[1]`, "body"},
		"no type":            {`{"id":1}`, "type"},
		"unknown type":       {`{"type":"nope"}`, "type"},
		"missing userId":     {`{"type":"hand.approve"}`, "userId"},
		"mic not a bool":     {`{"type":"devices.set","mic":"on","cam":true}`, "mic"},
		"missing cam":        {`{"type":"devices.set","mic":true}`, "cam"},
		"blank chat":         {`{"type":"chat.send","text":"   "}`, "text"},
		"chat too long":      {`{"type":"chat.send","text":"` + strings.Repeat("x", 1001) + `"}`, "text"},
		"question too long":  {`{"type":"qa.ask","text":"` + strings.Repeat("x", 501) + `"}`, "text"},
		"id an object":       {`{"type":"state.get","id":{}}`, "id"},
		"eleven rooms":       {`{"type":"breakout.configure","rooms":[{},{},{},{},{},{},{},{},{},{},{}]}`, "rooms"},
		"timer of zero":      {`{"type":"breakout.timer","minutes":0}`, "minutes"},
		"candidate missing":  {`{"type":"media.candidate"}`, "candidate"},
		"chat too heavy":     {`{"type":"chat.send","text":"` + strings.Repeat("🙂", 1000) + `"}`, "text"},
		"question too heavy": {`{"type":"qa.ask","text":"` + strings.Repeat("🙂", 500) + `"}`, "text"},
		"cursor too long":    {`{"type":"qa.list","cursor":"` + strings.Repeat("1", 200) + `"}`, "cursor"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := d.decode([]byte(tc.frame))
			we := toWire(err)
			if we.code != CodeInvalid || we.fields[tc.field] == "" {
				t.Fatalf("got %v %v, want invalid naming %q", we.code, we.fields, tc.field)
			}
		})
	}
	// Characters, and bytes up to three a character: 1000 two-byte
	// characters are fine, 1000 emoji (4000 bytes) are not.
	if _, err := d.decode([]byte(`{"type":"chat.send","text":"` + strings.Repeat("é", 1000) + `"}`)); err != nil {
		t.Fatalf("1000 characters: %v", err)
	}
	m, err := d.decode([]byte(`{"type":"hand.approve","id":7,"userId":"u1"}`))
	if err != nil || m.Body.(*userMsg).UserID != "u1" || string(m.ID) != "7" {
		t.Fatalf("decode: %+v %v", m, err)
	}
}

// FuzzDecode: no frame may panic the decoder, and every refusal is an
// invalid error naming at least one field. Seeds in testdata/fuzz run with
// every go test.
func FuzzDecode(f *testing.F) {
	for typ := range bodies {
		f.Add([]byte(`{"type":"` + typ + `","id":"1"}`))
	}
	for _, s := range []string{``, `{}`, `null`, `"x"`, `{"type":1}`, `{"type":"chat.send","text":"\u0000"}`,
		`{"type":"breakout.configure","rooms":[{"name":"a"}],"assign":{"u":99}}`, `{"type":"media.offer","sdp":"v=0"}`,
		`{"type":"devices.set","mic":true,"cam":false,"extra":[1,2,3]}`, `{"type":"breakout.move","userId":"u","room":-1}`} {
		f.Add([]byte(s))
	}
	d := newDecoder()
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := d.decode(frame)
		if err != nil {
			we := toWire(err)
			if we.code != CodeInvalid || len(we.fields) == 0 {
				t.Fatalf("decode %q: %v %v", frame, we.code, we.fields)
			}
			return
		}
		if _, ok := bodies[m.Type]; !ok || m.Body == nil {
			t.Fatalf("decoded an unknown type %q", m.Type)
		}
		if len(m.ID) > 0 && !json.Valid(m.ID) {
			t.Fatalf("id %q", m.ID)
		}
	})
}

// An answer's negotiationId reaches the worker, which drops answers to
// offers it has replaced.
func TestAnswerKeepsItsNegotiationID(t *testing.T) {
	m, err := newDecoder().decode([]byte(`{"type":"media.answer","id":1,"sdp":"v=0","negotiationId":7}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"sdp":"v=0","negotiationId":7}` {
		t.Fatalf("forwarded %s", b)
	}
	m, _ = newDecoder().decode([]byte(`{"type":"media.offer","sdp":"v=0"}`))
	if b, _ := json.Marshal(m.Body); string(b) != `{"sdp":"v=0"}` {
		t.Fatalf("forwarded %s", b)
	}
}
