package simulate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

// Script is a small scenario told event by event, with the ids of a run
// of the real stack, so that the simulation's outcome can be compared
// with the stack's (infra/local/runner's TestSimulationAgreesWithStack):
// every worker starts and reports; each session's host joins, in order,
// through the same media layer, one process (one media.Media) for the
// handlers and the sweep as in the local stack; once every worker has
// reported its rooms, Kill dies, its heartbeat lapses while the others
// beat, and the scheduler's sweep moves its rooms.
type Script struct {
	Workers  []string
	Sessions []string
	Kill     string
}

// Outcome is where each session's room was before the failure and after
// the sweep.
type Outcome struct {
	Before map[string]string
	After  map[string]string
}

// RunScript runs sc on the simulation.
func RunScript(sc Script) (Outcome, error) {
	s := &sim{
		sc:      Scenario{Name: "script", Minutes: 10, Handlers: 1, Workers: WorkerPlan{VCPU: 1, MemoryGB: 2, AZs: 1}},
		clock:   domain.NewManualClock(epoch),
		parts:   map[partID]*part{},
		seconds: 600,
		rng:     rand.New(rand.NewPCG(1, 16)),
	}
	s.f.Messages = map[string]MessageFigure{}
	s.f.Media.Layers = make([]struct {
		Name string  `json:"name"`
		Kbps float64 `json:"kbps"`
		Pps  float64 `json:"pps"`
	}, 3)
	s.capacity = sfuapi.DefaultCapacity
	c := s.newCell(0)
	c.sweeper = c.handlers[0]
	s.cells = []*cell{c}
	ctx := context.Background()
	step := func(d time.Duration) {
		s.now += d
		s.clock.Set(epoch.Add(s.now))
	}
	beatAll := func() {
		for _, w := range c.workers {
			if w.alive {
				_ = w.hb.Beat(ctx)
			}
		}
	}
	for _, id := range sc.Workers {
		w := s.newWorkerID(c, id, 0, 0)
		w.ready = true
	}
	beatAll()
	for _, id := range sc.Sessions {
		sid := domain.SessionID(id)
		sess := &session{id: sid, g: &SessionGroup{Members: 1, Publishers: 1}, cell: c}
		c.byID[sid] = sess
		c.sessions = append(c.sessions, sess)
		c.st.sessions[sid] = &domain.Session{ID: sid, Status: domain.StatusLive, Stage: domain.DefaultStage}
		step(100 * time.Millisecond)
		s.join(c, sess, 0)
		if c.s.unplaced > 0 || c.s.mediaFailed > 0 {
			return Outcome{}, fmt.Errorf("simulate: script: session %s found no worker", id)
		}
	}
	out := Outcome{Before: map[string]string{}, After: map[string]string{}}
	for _, id := range sc.Sessions {
		out.Before[id] = c.st.sessions[domain.SessionID(id)].Live.Media.WorkerID
	}
	step(time.Second)
	beatAll()
	w := c.byWorker[sc.Kill]
	if w == nil {
		return Outcome{}, fmt.Errorf("simulate: script: no worker %s", sc.Kill)
	}
	w.alive = false
	step(LapseAfter + time.Second)
	beatAll()
	_, _ = c.sweeper.Reassign(ctx) // the outcome below is what counts
	for _, id := range sc.Sessions {
		out.After[id] = c.st.sessions[domain.SessionID(id)].Live.Media.WorkerID
	}
	return out, nil
}
