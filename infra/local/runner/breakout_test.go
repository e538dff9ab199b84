package runner_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// workshop is a live primetime session with a host and n participants.
func workshop(t *testing.T, n int) (*member, []*member) {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("P%d", i)
	}
	r := primetime(t, true, names...)
	return r.host, r.members
}

func rooms(names ...string) []map[string]any {
	out := make([]map[string]any, len(names))
	for i, n := range names {
		out[i] = map[string]any{"name": n}
	}
	return out
}

func TestBreakoutRoomsOverTheSocket(t *testing.T) {
	host, ps := workshop(t, 4)
	host.ok("breakout.configure", map[string]any{
		"rooms":  rooms("Red", "Blue"),
		"assign": map[string]any{ps[0].id.ID: 0, ps[1].id.ID: 1},
		"auto":   true,
	})
	ps[0].expect("breakout.configured", "")
	st := ps[0].state()
	b := st["breakout"].(map[string]any)
	if b["status"] != "configured" || len(b["rooms"].([]any)) != 2 {
		t.Fatalf("breakout state %v", b)
	}
	host.ok("breakout.open", nil)
	ps[0].expect("breakout.opened", "")
	self := ps[0].state()["self"].(map[string]any)
	if self["room"] != float64(0) {
		t.Fatalf("p0 in room %v", self["room"])
	}

	// Chat in a room reaches only that room.
	ps[0].ok("chat.send", map[string]any{"text": "red team here"})
	ps[0].expect("chat.message", ps[0].id.ID)
	ps[1].ok("chat.send", map[string]any{"text": "blue team here"})
	ps[1].expect("chat.message", ps[1].id.ID)
	if got := ps[1].state()["chat"].([]any); len(got) != 1 || got[0].(map[string]any)["text"] != "blue team here" {
		t.Fatalf("blue room history %v", got)
	}
	// The host, in the main room, sees neither.
	if got := host.state()["chat"].([]any); len(got) != 0 {
		t.Fatalf("main room history %v", got)
	}

	// A broadcast reaches every room.
	host.ok("breakout.broadcast", map[string]any{"text": "five minutes left"})
	for _, p := range ps {
		if e := p.expect("breakout.broadcast", host.id.ID); e["text"] != "five minutes left" {
			t.Fatalf("broadcast %v", e)
		}
	}

	// Moves; the host visits a room.
	host.ok("breakout.move", map[string]any{"userId": ps[0].id.ID, "room": 1})
	ps[0].expect("breakout.moved", ps[0].id.ID)
	host.ok("breakout.move", map[string]any{"userId": host.id.ID, "room": 1})
	ps[0].ok("chat.send", map[string]any{"text": "joined blue"})
	if e := host.expect("chat.message", ps[0].id.ID); e["text"] != "joined blue" {
		t.Fatalf("visiting host did not hear room 1: %v", e)
	}
	host.ok("breakout.timer", map[string]any{"minutes": 10})
	if host.state()["breakout"].(map[string]any)["endsAt"] == nil {
		t.Fatal("no timer in the state")
	}

	host.ok("breakout.close", nil)
	ps[2].expect("breakout.closed", "")
	host.ok("breakout.close", nil) // closing twice is harmless
	for _, p := range ps {
		if r := p.state()["self"].(map[string]any)["room"]; r != nil {
			t.Fatalf("%s still in room %v", p.id.ID, r)
		}
	}
}

func TestBreakoutReconnectLandsInTheRoom(t *testing.T) {
	r := primetime(t, true, "A")
	s, c, id, host, a := r.s, r.c, r.id, r.host, r.members[0]
	aID := a.id
	host.ok("breakout.configure", map[string]any{"rooms": rooms("Left", "Right"), "assign": map[string]any{aID.ID: 1}})
	host.ok("breakout.open", nil)
	host.ok("breakout.timer", map[string]any{"minutes": 5, "warnSeconds": 90})
	if e := a.expect("breakout.timer", ""); e["warnSeconds"] != float64(90) {
		t.Fatalf("timer %v", e)
	}
	a.leave(s, id)
	a = connect(t, c, aID, id, "mobile")
	if room := a.state()["self"].(map[string]any)["room"]; room != float64(1) {
		t.Fatalf("back in room %v, want 1", room)
	}
	a.ok("chat.send", map[string]any{"text": "back in Right"})
	if got := host.state()["chat"].([]any); len(got) != 0 {
		t.Fatalf("the main room heard the breakout room: %v", got)
	}
}

func TestBreakoutRulesRefused(t *testing.T) {
	host, ps := workshop(t, 2)
	v0 := host.state()["version"]
	long := strings.Repeat("n", 31)
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("R%d", i)
	}
	host.refused("invalid", "breakout.configure", map[string]any{"rooms": rooms(eleven...)})
	host.refused("invalid", "breakout.configure", map[string]any{"rooms": rooms(long)})
	host.refused("invalid", "breakout.configure", map[string]any{"rooms": rooms("")})
	host.refused("invalid", "breakout.configure", map[string]any{"rooms": rooms("Same", "same")})
	ps[0].refused("forbidden", "breakout.configure", map[string]any{"rooms": rooms("Mine")})
	ps[0].refused("forbidden", "breakout.broadcast", map[string]any{"text": "hi"})
	host.refused("conflict", "breakout.open", nil)
	if v := host.state()["version"]; v != v0 {
		t.Fatalf("refused configures changed the session: %v -> %v", v0, v)
	}
	host.ok("breakout.configure", map[string]any{"rooms": rooms(strings.Repeat("會", 30))})
}

func TestBreakoutRaces(t *testing.T) {
	host, ps := workshop(t, 3)
	host.ok("breakout.configure", map[string]any{"rooms": rooms("A", "B", "C"), "auto": true})
	host.ok("breakout.open", nil)

	// Concurrent moves of one member end with it in exactly one room.
	target := ps[0].id.ID
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { host.send("breakout.move", map[string]any{"userId": target, "room": i}) })
	}
	wg.Wait()
	st := host.state()
	in := 0
	for _, r := range st["breakout"].(map[string]any)["rooms"].([]any) {
		for _, m := range ids(r.(map[string]any)["members"]) {
			if m == target {
				in++
			}
		}
	}
	if in != 1 {
		t.Fatalf("member in %d rooms", in)
	}

	// Open and close racing leave a consistent state.
	for range 3 {
		wg.Go(func() { host.send("breakout.close", nil) })
		wg.Go(func() { host.send("breakout.open", nil) })
	}
	wg.Wait()
	st = host.state()
	status := st["breakout"].(map[string]any)["status"]
	for _, m := range members(st) {
		inRoom := m["room"] != nil
		if (status == "open") != inRoom && m["role"] == "participant" {
			t.Fatalf("status %v but member %v in room %v", status, m["userId"], m["room"])
		}
	}
}
