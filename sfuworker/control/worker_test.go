package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/greenroom-live/greenroom/sfuworker/control"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

// TestRealWorker drives a real sfu.Worker through the control API: a
// room is opened, a malformed offer is refused as a 400 without harm, and
// the room closes.
func TestRealWorker(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	var mu sync.Mutex
	var signals []string
	w, err := sfu.New(sfu.Config{UDP: udp, Signal: func(_ context.Context, _ sfu.RoomID, _ sfu.MemberID, _ sfu.ConnectionID, msgType string, _ json.RawMessage) error {
		mu.Lock()
		signals = append(signals, msgType)
		mu.Unlock()
		return nil
	}})
	if err != nil {
		t.Fatalf("sfu.New: %v", err)
	}
	defer w.Close()
	s, err := control.New(control.Config{Worker: w, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := client(t, srv.URL)
	ctx := t.Context()

	st := sfuapi.RoomState{Room: "s1", Version: 1, Members: []sfuapi.MemberState{{ID: "u1", Connection: "c1", Publish: true, Mic: true, Cam: true, Group: sfuapi.MainGroup}}}
	if err := c.Apply(ctx, st); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if rooms := w.Rooms(); len(rooms) != 1 || rooms[0] != "s1" {
		t.Fatalf("Rooms = %v", rooms)
	}
	err = c.Signal(ctx, "s1", "u1", control.TypeOffer, json.RawMessage(`{"sdp":"not an sdp"}`))
	var ae *sfuapi.APIError
	if !errors.As(err, &ae) || ae.Status/100 != 4 {
		t.Fatalf("Signal of a malformed offer = %v, want a 4xx", err)
	}
	if err := c.Signal(ctx, "nope", "u1", control.TypeOffer, json.RawMessage(`{"sdp":"v=0"}`)); !errors.Is(err, sfuapi.ErrNoRoom) {
		t.Errorf("Signal to an unknown room = %v, want ErrNoRoom", err)
	}
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if !strings.Contains(string(body), "greenroom_sfu_rooms 1") || !strings.Contains(string(body), "greenroom_sfu_members 1") {
		t.Errorf("metrics lack the room and its member")
	}
	if err := c.CloseRoom(ctx, "s1"); err != nil {
		t.Fatalf("CloseRoom: %v", err)
	}
	if err := c.CloseRoom(ctx, "s1"); err != nil {
		t.Fatalf("CloseRoom again: %v", err)
	}
	if rooms := w.Rooms(); len(rooms) != 0 {
		t.Fatalf("Rooms after CloseRoom = %v", rooms)
	}
}
