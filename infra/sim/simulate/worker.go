package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/registry"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/media"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

// errDead is what a killed worker's control API answers.
var errDead = errors.New("simulate: worker unreachable")

// worker is one SFU task: its rooms as the control API set them, and
// its heartbeat, the registry's own (registry.Heartbeat), on the
// simulated clock.
type worker struct {
	id      string
	az      int
	alive   bool
	ready   bool
	started time.Duration
	stopped time.Duration // when killed; 0 while alive
	hb      *registry.Heartbeat
	rooms   map[sfuapi.RoomID]int // members by room
	members int
}

var (
	_ media.Worker    = (*worker)(nil)
	_ registry.Source = (*worker)(nil)
)

func (w *worker) Apply(_ context.Context, st sfuapi.RoomState) error {
	if !w.alive {
		return errDead
	}
	w.members += len(st.Members) - w.rooms[st.Room]
	w.rooms[st.Room] = len(st.Members)
	return nil
}

func (w *worker) CloseRoom(_ context.Context, room sfuapi.RoomID) error {
	if !w.alive {
		return errDead
	}
	w.members -= w.rooms[room]
	delete(w.rooms, room)
	return nil
}

func (w *worker) Signal(context.Context, sfuapi.RoomID, sfuapi.MemberID, string, json.RawMessage) error {
	if !w.alive {
		return errDead
	}
	return nil
}

func (w *worker) Stats() sfu.Stats { return sfu.Stats{Rooms: len(w.rooms), Members: w.members} }

func (w *worker) Rooms() []sfu.RoomID {
	out := make([]sfu.RoomID, 0, len(w.rooms))
	for r := range w.rooms {
		out = append(out, sfu.RoomID(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// newWorker starts a task in cell c at now; it beats (and takes rooms)
// once ready.
func (s *sim) newWorker(c *cell, now, ready time.Duration) *worker {
	return s.newWorkerID(c, workerID(c.idx, len(c.workers)), now, ready)
}

// newWorkerID is newWorker with the worker's id.
func (s *sim) newWorkerID(c *cell, id string, now, ready time.Duration) *worker {
	w := &worker{id: id, az: len(c.workers) % s.sc.Workers.AZs, alive: true, started: now, rooms: map[sfuapi.RoomID]int{}}
	hb, err := registry.NewHeartbeat(registry.Config{
		Store: c.st, Source: w, ID: id, ControlURL: "http://" + id + ":7000",
		Capacity: s.capacity, Interval: sfuapi.DefaultInterval, Clock: s.clock,
	})
	if err != nil {
		panic(err) // the config above is complete
	}
	w.hb = hb
	c.workers = append(c.workers, w)
	c.byWorker[id] = w
	c.byURL["http://"+id+":7000"] = w
	s.at(ready, func() {
		if !w.alive {
			return
		}
		w.ready = true
		s.beat(c, w)
	})
	return w
}

// beat writes w's record and schedules the next heartbeat.
func (s *sim) beat(c *cell, w *worker) {
	if !w.alive {
		return
	}
	_ = w.hb.Beat(context.Background()) // the in-memory store does not fail
	s.chargePart(c, c.workerIndex, s.f.Heartbeat.IndexWCU, 0)
	s.usage.WriteUnits += s.f.Heartbeat.WCU + s.f.Heartbeat.IndexWCU
	s.after(sfuapi.DefaultInterval, func() { s.beat(c, w) })
}

// cpu is the vCPU w's rooms take at the measured CPU per forwarded
// packet: every member receives audio and one video layer of every
// publisher but itself.
func (s *sim) cpu(c *cell, w *worker) float64 {
	total := 0.0
	for room, n := range w.rooms {
		sess := c.byID[domain.SessionID(room)]
		if sess == nil {
			continue
		}
		total += float64(sess.g.Publishers) * s.streamPps(sess.g) * float64(max(n-1, 0))
	}
	return total * s.f.Media.CPUMicrosPerPacket / 1e6
}

func workerID(cell, n int) string { return fmt.Sprintf("c%d-w%04d", cell, n) }
