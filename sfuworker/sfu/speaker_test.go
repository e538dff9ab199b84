package sfu

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestActiveSpeakerFromAudioLevels: two publishers send RFC 6464 audio
// levels; the loud one is the active speaker, reported to
// Config.ActiveSpeaker and as active.speaker to the group's members, only
// on change and at most every 500 ms; another group hears nothing of it.
func TestActiveSpeakerFromAudioLevels(t *testing.T) {
	h := newHarness(t)
	var aLevel, bLevel atomic.Uint32
	aLevel.Store(20)  // -20 dBov: speaking.
	bLevel.Store(127) // Silence.
	other := newClient(h, on("o", false, 3), clientOpts{})
	newClient(h, on("a", true, MainGroup), clientOpts{audio: true, level: func() uint8 { return uint8(aLevel.Load()) }})
	newClient(h, on("b", true, MainGroup), clientOpts{audio: true, level: func() uint8 { return uint8(bLevel.Load()) }})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})

	heard := func(c *client) []MemberID {
		c.mu.Lock()
		defer c.mu.Unlock()
		return slices.Clone(c.speakers)
	}
	spoken := func() []MemberID {
		h.mu.Lock()
		defer h.mu.Unlock()
		return slices.Clone(h.spoken)
	}
	eventually(t, wait, "a is the active speaker", func() bool {
		return slices.Equal(heard(s), []MemberID{"a"}) && slices.Equal(spoken(), []MemberID{"a"})
	})
	// Only on change: a speaking on sends nothing more.
	never(t, 600*time.Millisecond, "a repeated event", func() bool { return len(heard(s)) > 1 })

	// b speaks, a falls silent: one change to b.
	aLevel.Store(127)
	bLevel.Store(10)
	switched := time.Now()
	eventually(t, wait, "b is the active speaker", func() bool { return slices.Equal(heard(s), []MemberID{"a", "b"}) })
	if len(heard(other)) != 0 {
		t.Fatalf("another group heard %v", heard(other))
	}
	// Rapid flips are limited to one event per 500 ms.
	for i := 0; i < 6; i++ {
		aLevel.Store(uint32(10 + 117*(i%2)))
		bLevel.Store(uint32(127 - 117*(i%2)))
		time.Sleep(100 * time.Millisecond) // Flip the publishers' levels every 100 ms.
	}
	elapsed := time.Since(switched)
	if n, max := len(heard(s))-2, int(elapsed/(500*time.Millisecond))+1; n > max {
		t.Fatalf("%d events in %v, more than one per 500 ms", n, elapsed)
	}
}

// TestAudioLevelsReachSubscribers: the RFC 6464 audio level a publisher
// sends is forwarded, under the subscriber's extension id, so that
// subscribers can show who speaks; a change of level follows.
func TestAudioLevelsReachSubscribers(t *testing.T) {
	h := newHarness(t)
	var level atomic.Uint32
	level.Store(20)
	newClient(h, on("a", true, MainGroup), clientOpts{audio: true, level: func() uint8 { return uint8(level.Load()) }})
	s := newClient(h, on("s", false, MainGroup), clientOpts{})
	eventually(t, wait, "level 20 at the subscriber", func() bool { return s.level("a") == 20 })
	level.Store(90)
	eventually(t, wait, "level 90 at the subscriber", func() bool { return s.level("a") == 90 })
}
