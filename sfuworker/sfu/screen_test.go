package sfu

import (
	"testing"
	"time"
)

// TestScreenShareIsASecondVideoTrack: a publisher sends its camera and a
// screen share (track id ScreenTrackID) on one connection. Subscribers get
// both, the share under the stream id "<publisher>~screen"; the share
// flows while the camera is switched off and stops when the publisher
// leaves the stage.
func TestScreenShareIsASecondVideoTrack(t *testing.T) {
	h := newHarness(t)
	p := on("p", true, MainGroup)
	newClient(h, p, clientOpts{video: true, audio: true, screen: true})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	share := MemberID("p" + ScreenStreamSuffix)

	eventually(t, wait, "camera and share reach the subscriber", func() bool {
		return s.count("p", "video") > 10 && s.count(share, "video") > 10 && s.count("p", "audio") > 5
	})
	if st := h.w.Stats(); st.Tracks != 3 {
		t.Fatalf("the worker reads %d tracks, want 3 (audio, camera, share)", st.Tracks)
	}

	// Camera off: the camera pauses, the share goes on.
	p.Cam = false
	h.apply(p)
	time.Sleep(100 * time.Millisecond) // Let in-flight packets land.
	v, sh := s.count("p", "video"), s.count(share, "video")
	eventually(t, wait, "the share flows with the camera off", func() bool { return s.count(share, "video") > sh+10 })
	if got := s.count("p", "video"); got > v+2 {
		t.Fatalf("camera video flowed with the camera off: %d -> %d", v, got)
	}

	// Off the stage: the share stops too.
	p.Publish = false
	h.apply(p)
	time.Sleep(100 * time.Millisecond)
	sh = s.count(share, "video")
	never(t, 700*time.Millisecond, "the share after leaving the stage", func() bool { return s.count(share, "video") > sh+2 })
}
