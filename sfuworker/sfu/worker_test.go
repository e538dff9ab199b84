package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

const wait = 10 * time.Second

func on(id MemberID, publish bool, group int) MemberState {
	return MemberState{ID: id, Connection: ConnectionID("c-" + id), Publish: publish, Mic: true, Cam: true, Group: group}
}

func TestPublisherReachesEverySubscriber(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("pub", true, MainGroup), clientOpts{video: true, audio: true})
	subs := []*client{
		newClient(h, on("s1", false, MainGroup), clientOpts{}),
		newClient(h, on("s2", false, MainGroup), clientOpts{}),
		newClient(h, on("s3", false, MainGroup), clientOpts{}),
	}
	for _, s := range subs {
		eventually(t, wait, "video and audio reach "+string(s.id), func() bool {
			return s.count("pub", "video") > 20 && s.count("pub", "audio") > 10
		})
	}
	if st := h.w.Stats(); st.Rooms != 1 || st.Members != 4 || st.Tracks != 2 || st.PacketsForwarded == 0 || st.DirectSRTP < st.PacketsForwarded || st.FastReads == 0 || st.FastFeedbacks == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStageRules(t *testing.T) {
	h := newHarness(t)
	p := on("p", false, MainGroup)
	newClient(h, p, clientOpts{video: true, audio: true})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})

	// Off stage: its packets reach no one.
	eventually(t, wait, "the worker reads the off-stage tracks", func() bool { return h.w.Stats().Tracks == 2 })
	never(t, 700*time.Millisecond, "off-stage media forwarded", func() bool {
		return s.count("p", "video")+s.count("p", "audio") > 0 || h.w.Stats().PacketsForwarded > 0
	})

	// Approval: flows without a new connection.
	p.Publish = true
	h.apply(p)
	eventually(t, wait, "approved tracks reach the subscriber", func() bool {
		return s.count("p", "video") > 10 && s.count("p", "audio") > 5
	})

	// Camera off: video stops, audio flows.
	p.Cam = false
	h.apply(p)
	time.Sleep(100 * time.Millisecond) // Let in-flight packets land.
	v, a := s.count("p", "video"), s.count("p", "audio")
	eventually(t, wait, "audio keeps flowing", func() bool { return s.count("p", "audio") > a+10 })
	if got := s.count("p", "video"); got > v+2 {
		t.Fatalf("video flowed with the camera off: %d -> %d", v, got)
	}
	p.Cam = true
	h.apply(p)
	eventually(t, wait, "video resumes", func() bool { return s.count("p", "video") > v+10 })

	// Leaving the stage stops everything.
	p.Publish = false
	h.apply(p)
	time.Sleep(100 * time.Millisecond)
	v, a = s.count("p", "video"), s.count("p", "audio")
	never(t, 700*time.Millisecond, "media after leaving the stage", func() bool {
		return s.count("p", "video") > v+2 || s.count("p", "audio") > a+2
	})
}

func TestGroupsIsolateMedia(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("a", true, 0), clientOpts{video: true, audio: true})
	newClient(h, on("b", true, 1), clientOpts{video: true, audio: true})
	sa := newClient(h, on("sa", false, 0), clientOpts{})
	sb := newClient(h, on("sb", false, 1), clientOpts{})
	eventually(t, wait, "each group hears its own", func() bool {
		return sa.count("a", "audio") > 10 && sb.count("b", "audio") > 10
	})
	if sa.count("b", "audio")+sa.count("b", "video")+sb.count("a", "audio")+sb.count("a", "video") > 0 {
		t.Fatal("media crossed groups")
	}
	// Moving sa to group 1 rewires it without a new connection.
	h.apply(on("sa", false, 1))
	eventually(t, 3*time.Second, "moved member gets the new group", func() bool { return sa.count("b", "audio") > 10 })
	n := sa.count("a", "audio")
	time.Sleep(100 * time.Millisecond)
	n = max(n, sa.count("a", "audio"))
	never(t, 500*time.Millisecond, "old group still flows", func() bool { return sa.count("a", "audio") > n+2 })
}

// TestNACKAnsweredFromSharedCache: the worker has no NACK responder per
// subscriber; a subscriber's NACKs, in its own numbering, are answered
// from the publisher track's one retransmission cache, rewritten to that
// subscriber's sequence numbers and SSRC, and only to it.
func TestNACKAnsweredFromSharedCache(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true})
	clean := newClient(h, on("clean", false, MainGroup), clientOpts{})
	dropped := func(seq uint16) bool { return seq%13 == 5 }
	lossy := newClient(h, on("lossy", false, MainGroup), clientOpts{dropSeqs: dropped})
	eventually(t, wait, "dropped packets recovered", func() bool {
		_, seqs, _ := lossy.got("p", "video")
		recovered := 0
		for q, n := range seqs {
			if dropped(q) && n > 0 {
				recovered++
			}
		}
		return recovered >= 3
	})
	resent := func(id MemberID) (nacks, resent uint64) {
		h.w.mu.Lock()
		defer h.w.mu.Unlock()
		for _, r := range h.w.rooms {
			if m := r.members[id]; m != nil {
				for pt, s := range m.subs {
					if pt.kind == webrtc.RTPCodecTypeVideo {
						st := s.dt.Stats()
						nacks, resent = nacks+st.NACKs, resent+st.Resent
					}
				}
			}
		}
		return nacks, resent
	}
	if n, r := resent("lossy"); n == 0 || r == 0 {
		t.Fatalf("lossy subscriber: %d NACKed, %d resent from the cache", n, r)
	}
	if n, r := resent("clean"); n != 0 || r != 0 {
		t.Fatalf("clean subscriber: %d NACKed, %d resent; want none", n, r)
	}
	if st := h.w.Stats(); st.Resent == 0 || st.NACKs == 0 {
		t.Fatalf("worker stats: %d NACKs, %d resent", st.NACKs, st.Resent)
	}
	// Each subscriber has its own SSRC and numbering, so the recovered
	// packets were rewritten for the lossy one.
	lossy.mu.Lock()
	ls := lossy.recv["p/video"].ssrc
	lossy.mu.Unlock()
	clean.mu.Lock()
	cs := clean.recv["p/video"].ssrc
	clean.mu.Unlock()
	if ls == cs {
		t.Fatalf("both subscribers on SSRC %d", ls)
	}
	_, lseqs, _ := lossy.got("p", "video")
	_, cseqs, _ := clean.got("p", "video")
	common := 0
	for q := range lseqs {
		if cseqs[q] > 0 {
			common++
		}
	}
	if common == len(lseqs) {
		t.Fatal("both subscribers share one numbering")
	}
}

func TestNewSubscriberTriggersKeyframeRequest(t *testing.T) {
	h := newHarness(t)
	p := newClient(h, on("p", true, MainGroup), clientOpts{video: true})
	s1 := newClient(h, on("s1", false, MainGroup), clientOpts{})
	eventually(t, wait, "first subscriber gets video", func() bool { return s1.count("p", "video") > 5 })
	before := p.plis.Load()
	s2 := newClient(h, on("s2", false, MainGroup), clientOpts{})
	eventually(t, wait, "PLI at the publisher", func() bool { return p.plis.Load() > before })
	eventually(t, wait, "second subscriber gets video", func() bool { return s2.count("p", "video") > 5 })
	if h.w.Stats().PLIs == 0 {
		t.Fatal("no PLI counted")
	}
}

func TestSimulcastSwitchesWithoutGaps(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true, simulcast: true})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	layer := func() byte {
		_, _, pl := s.got("p", "video")
		if len(pl) < 3 {
			return 255
		}
		return pl[2]
	}
	eventually(t, wait, "video arrives", func() bool { return s.count("p", "video") > 5 })
	for _, c := range []struct {
		bps   int64
		layer byte
	}{{100_000, 0}, {10_000_000, 2}, {600_000, 1}, {100_000, 0}} {
		if err := h.w.ForceEstimate(h.room, "s", c.bps); err != nil {
			t.Fatal(err)
		}
		eventually(t, wait, "switch to the layer the estimate carries", func() bool { return layer() == c.layer })
		if st := h.w.Stats(); !slices.Contains(st.Estimates, c.bps) {
			t.Fatalf("Stats().Estimates = %v, want %d among them", st.Estimates, c.bps)
		}
	}
	n := s.count("p", "video")
	eventually(t, wait, "more video", func() bool { return s.count("p", "video") > n+20 })
	_, seqs, _ := s.got("p", "video")
	lo, hi := uint16(0), uint16(0)
	first := true
	for q := range seqs {
		if first || int16(q-lo) < 0 {
			lo = q
		}
		if first || int16(q-hi) > 0 {
			hi = q
		}
		first = false
	}
	if span := int(hi-lo) + 1; span != len(seqs) {
		t.Fatalf("sequence numbers have gaps: %d received over a span of %d", len(seqs), span)
	}
}

func TestMalformedInputNeverCrashes(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "media flows", func() bool { return s.count("p", "audio") > 5 })

	ctx := context.Background()
	huge := strings.Repeat("a", 1<<20)
	offer := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
	noCodecs := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF\r\n"
	for _, c := range []struct{ typ, payload string }{
		{"media.answer", `{"sdp":` + quote(offer) + `,"type":"offer"}`},
		{"media.answer", `{"sdp":` + quote(offer) + `}`},
		{"media.offer", `{"sdp":""}`},
		{"media.offer", `{}`},
		{"media.offer", `not json`},
		{"media.offer", `{"sdp":` + quote(noCodecs) + `}`},
		{"media.offer", `{"sdp":"` + huge + `"}`},
		{"media.candidate", `{"candidate":{"candidate":"garbage"}}`},
		{"media.candidate", `{"candidate":12}`},
		{"media.bogus", `{}`},
	} {
		err := h.w.Signal(ctx, h.room, "s", c.typ, json.RawMessage(c.payload))
		if c.typ == "media.bogus" && !errors.Is(err, ErrBadMessage) {
			t.Errorf("bogus type: %v", err)
		}
	}
	if err := h.w.Signal(ctx, h.room, "s", "media.offer", json.RawMessage(`{"sdp":""}`)); !errors.Is(err, ErrBadSDP) {
		t.Errorf("empty sdp: %v", err)
	}
	if err := h.w.Signal(ctx, "nope", "s", "media.offer", nil); !errors.Is(err, ErrNoRoom) {
		t.Errorf("no room: %v", err)
	}

	// Malformed RTP and RTCP at the worker's one UDP port.
	conn, err := net.Dial("udp4", h.udp.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, b := range [][]byte{
		{},
		{0x80},
		{0xa0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xff},             // Padding longer than the payload.
		{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9}, // Truncated extension.
		{0x80, 200, 0, 0},  // Empty compound RTCP.
		{0x81, 201, 0, 40}, // RTCP longer than the datagram.
	} {
		_, _ = conn.Write(b)
	}
	a := s.count("p", "audio")
	eventually(t, wait, "media keeps flowing", func() bool { return s.count("p", "audio") > a+10 })
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestApplyIgnoresOlderVersionsAndCloseRoom(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.w.Apply(ctx, RoomState{Room: "r", Version: 5, Members: []MemberState{on("a", true, MainGroup)}}); err != nil {
		t.Fatal(err)
	}
	if err := h.w.Apply(ctx, RoomState{Room: "r", Version: 4}); err != nil {
		t.Fatal(err)
	}
	if st := h.w.Stats(); st.Members != 1 {
		t.Fatalf("older version applied: %+v", st)
	}
	if err := h.w.CloseRoom(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if err := h.w.CloseRoom(ctx, "r"); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("second close: %v", err)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrNoSignal) {
		t.Fatal(err)
	}
}

// A member who leaves the room (drops out of its state) stops its tracks
// for everyone, and the worker lets go of its connection and tracks.
func TestMemberLeavingStopsItsTracks(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "media flows", func() bool { return s.count("p", "video") > 10 })

	h.remove("p")
	eventually(t, wait, "the worker lets the member go", func() bool {
		st := h.w.Stats()
		return st.Members == 1 && st.Tracks == 0
	})
	time.Sleep(100 * time.Millisecond) // Let in-flight packets land.
	n := s.count("p", "video")
	never(t, 500*time.Millisecond, "a departed member's media forwarded", func() bool { return s.count("p", "video") > n })
}

// TestDirectWritesOnlyOverUDP: a subscriber over UDP has its packets
// written by the publisher's readers (a write only queues them for the
// batched send); one over ICE-TCP, whose writes may block, keeps its own
// writer goroutine. Both get the video.
func TestDirectWritesOnlyOverUDP(t *testing.T) {
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcp.Close() })
	h := newHarnessWith(t, func(c *Config) { c.TCP = tcp })
	newClient(h, on("p", true, MainGroup), clientOpts{video: true})
	overUDP := newClient(h, on("u", false, MainGroup), clientOpts{})
	overTCP := newClient(h, on("t", false, MainGroup), clientOpts{tcpOnly: true})
	for _, c := range []*client{overUDP, overTCP} {
		eventually(t, wait, string(c.id)+" gets video", func() bool { return c.count("p", "video") > 20 })
	}
	direct := func(id MemberID) (direct, all int) {
		h.w.mu.Lock()
		defer h.w.mu.Unlock()
		for _, r := range h.w.rooms {
			if m := r.members[id]; m != nil {
				for _, s := range m.subs {
					all++
					if s.dt.Direct() {
						direct++
					}
				}
			}
		}
		return direct, all
	}
	if d, n := direct("u"); n == 0 || d != n {
		t.Fatalf("over UDP: %d of %d tracks direct", d, n)
	}
	if d, n := direct("t"); n == 0 || d != 0 {
		t.Fatalf("over TCP: %d of %d tracks direct", d, n)
	}
	// Both connections' packets were protected by the worker's own SRTP
	// writer (srtpdirect.go) and decrypted by pion's receiver: over UDP
	// into the send batch, over TCP through pion's SRTP endpoint.
	for _, id := range []MemberID{"u", "t"} {
		h.w.mu.Lock()
		var sent uint64
		for _, r := range h.w.rooms {
			if m := r.members[id]; m != nil && m.srtp.Load() != nil {
				sent = m.srtp.Load().packets.Load()
			}
		}
		h.w.mu.Unlock()
		if sent < 20 {
			t.Fatalf("%s: %d packets through the worker's SRTP writer", id, sent)
		}
	}
}

// TestPublisherRTCPWhileReadBelowPion: the worker reads what publishers
// send below pion's receive pipeline (fastread.go), and pion's
// interceptors still see every packet: a publisher whose packets are
// lost before the worker is asked for them again (NACK), and its
// receiver reports follow its sequence numbers; its media reaches the
// subscriber, and the worker read it below pion.
func TestPublisherRTCPWhileReadBelowPion(t *testing.T) {
	h := newHarness(t)
	lost := func(seq uint16) bool { return seq%40 == 20 }
	p := newClient(h, on("p", true, MainGroup), clientOpts{video: true, audio: true, skipSend: lost})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "video reaches the subscriber", func() bool { return s.count("p", "video") > 100 })
	eventually(t, wait, "the publisher is asked again for lost packets", func() bool {
		n := 0
		p.nacked.Range(func(k, _ any) bool {
			if !lost(k.(uint16)) {
				t.Errorf("NACK for %d, which was sent", k)
			}
			n++
			return true
		})
		return n >= 3
	})
	first := p.reported.Load()
	eventually(t, wait, "receiver reports follow the publisher's sequence numbers", func() bool {
		return first != 0 && p.reported.Load() > first+50
	})
	if st := h.w.Stats(); st.FastReads < 100 {
		t.Fatalf("stats %+v: the publisher's packets were not read below pion", st)
	}
}

// TestMediaFlowsWhenTheReadBelowPionCannotDecrypt: packets the worker's
// own SRTP context cannot authenticate (here: it has the wrong keys) go
// on to pion, and after maxFails in a row the stream is pion's: the
// subscriber keeps receiving the publisher's video.
func TestMediaFlowsWhenTheReadBelowPionCannotDecrypt(t *testing.T) {
	h := newHarness(t)
	newClient(h, on("p", true, MainGroup), clientOpts{video: true})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "video arrives", func() bool { return s.count("p", "video") > 20 })
	h.w.mu.Lock()
	c := h.w.rooms[h.room].members["p"].fastc.Load()
	h.w.mu.Unlock()
	if c == nil {
		t.Fatal("the publisher is not read below pion")
	}
	wrong, err := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.ctx = wrong
	c.mu.Unlock()
	time.Sleep(200 * time.Millisecond)
	before, fast := s.count("p", "video"), h.w.Stats().FastReads
	eventually(t, wait, "video keeps arriving through pion", func() bool { return s.count("p", "video") > before+100 })
	if got := h.w.Stats().FastReads; got != fast {
		t.Fatalf("%d packets read below pion with the wrong keys", got-fast)
	}
}
