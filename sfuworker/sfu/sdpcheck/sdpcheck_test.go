package sdpcheck

import (
	"strconv"
	"strings"
	"testing"
)

// section is one media section of a test description.
type section struct {
	kind, mid, dir string
	port           int
	msid           string
	ssrc           string
}

func desc(bundle string, secs ...section) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
	if bundle != "" {
		b.WriteString("a=group:BUNDLE " + bundle + "\r\n")
	}
	for _, s := range secs {
		pt := "111"
		if s.kind == "video" {
			pt = "96"
		}
		port := s.port
		if port == 0 && s.dir != "" {
			port = 9
		}
		b.WriteString("m=" + s.kind + " " + strconv.Itoa(port) + " UDP/TLS/RTP/SAVPF " + pt + "\r\n")
		b.WriteString("c=IN IP4 0.0.0.0\r\n")
		b.WriteString("a=mid:" + s.mid + "\r\n")
		if s.dir != "" {
			b.WriteString("a=" + s.dir + "\r\n")
		}
		if s.msid != "" {
			b.WriteString("a=msid:" + s.msid + "\r\n")
		}
		if s.ssrc != "" {
			b.WriteString("a=ssrc:" + s.ssrc + " cname:x\r\n")
		}
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		sdp  string
		want string // a fragment of the error, "" for none
	}{
		{"fine", desc("0 1 s1", section{kind: "audio", mid: "0", dir: "recvonly"}, section{kind: "video", mid: "1", dir: "recvonly"},
			section{kind: "video", mid: "s1", dir: "sendonly", msid: "alice v1", ssrc: "11"}), ""},
		{"duplicate msid", desc("0 s1 s3", section{kind: "audio", mid: "0", dir: "recvonly"},
			section{kind: "video", mid: "s1", dir: "sendonly", msid: "alice v1"}, section{kind: "video", mid: "s3", dir: "sendonly", msid: "alice v1"}),
			`duplicate a=msid "alice v1"`},
		{"one track id in two streams", desc("s1 s2", section{kind: "video", mid: "s1", dir: "sendonly", msid: "alice v1"},
			section{kind: "video", mid: "s2", dir: "sendonly", msid: "bob v1"}), ""},
		{"rejected sections do not count", desc("s3", section{kind: "video", mid: "s1", msid: "alice v1"},
			section{kind: "video", mid: "s3", dir: "sendonly", msid: "alice v1"}), ""},
		{"ssrc twice", desc("s1 s2", section{kind: "video", mid: "s1", dir: "sendonly", msid: "a v", ssrc: "7"},
			section{kind: "audio", mid: "s2", dir: "sendonly", msid: "a a", ssrc: "7"}), "ssrc 7"},
		{"no mid", desc("", section{kind: "audio", dir: "recvonly"}), "has no mid"},
		{"mid twice", desc("0", section{kind: "audio", mid: "0", dir: "recvonly"}, section{kind: "video", mid: "0", dir: "recvonly"}), `mid "0" on media sections`},
		{"section outside bundle", desc("0", section{kind: "audio", mid: "0", dir: "recvonly"}, section{kind: "video", mid: "1", dir: "recvonly"}), "not in the BUNDLE group"},
		{"bundle names a missing mid", desc("0 9", section{kind: "audio", mid: "0", dir: "recvonly"}), "no media section has"},
		{"bundle names a rejected section", desc("0 1", section{kind: "audio", mid: "0", dir: "recvonly"}, section{kind: "video", mid: "1"}), "rejected media section"},
		{"no bundle", desc("", section{kind: "audio", mid: "0", dir: "recvonly"}, section{kind: "video", mid: "1", dir: "recvonly"}), "no BUNDLE group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.sdp)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	a := section{kind: "audio", mid: "0", dir: "recvonly"}
	v := section{kind: "video", mid: "1", dir: "recvonly"}
	s1 := section{kind: "video", mid: "s1", dir: "sendonly", msid: "alice v"}
	prev := desc("0 1 s1", a, v, s1)
	for _, tc := range []struct {
		name  string
		next  string
		offer bool
		want  string
	}{
		{"same", prev, true, ""},
		{"appended", desc("0 1 s1 s2", a, v, s1, section{kind: "audio", mid: "s2", dir: "sendonly", msid: "alice a"}), true, ""},
		{"reordered", desc("0 s1 1", a, s1, v), true, "media section 1 was video"},
		{"dropped", desc("0 1", a, v), true, "fewer than the 3 before"},
		{"kind changed", desc("0 1 s1", a, section{kind: "audio", mid: "1", dir: "recvonly"}, s1), true, "was video"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Next(prev, tc.next, tc.offer)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// An offer may recycle a rejected media section under a new mid; an
	// answer may not.
	rejected := desc("0 1", a, v, section{kind: "video", mid: "s1"})
	recycled := desc("0 1 s4", a, v, section{kind: "video", mid: "s4", dir: "sendonly", msid: "bob v"})
	if err := Next(rejected, recycled, true); err != nil {
		t.Fatalf("recycling in an offer: %v", err)
	}
	if err := Next(rejected, recycled, false); err == nil {
		t.Fatal("recycling in an answer was accepted")
	}
}
