package simulate

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/greenroom-live/greenroom/infra/sim/internal/cost"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/media"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
)

// epoch is the simulated clock's zero: the run's first second.
var epoch = time.Date(2030, time.January, 7, 8, 0, 0, 0, time.UTC)

// event is one thing that happens at a time; seq keeps equal times in
// the order they were scheduled.
type event struct {
	at  time.Duration
	seq int
	fn  func()
}

type events []event

func (q events) Len() int { return len(q) }
func (q events) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q events) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)   { *q = append(*q, x.(event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// sim is one run.
type sim struct {
	sc       Scenario
	f        Figures
	clock    *domain.ManualClock
	now      time.Duration
	q        events
	seq      int
	rng      *rand.Rand
	cells    []*cell
	parts    map[partID]*part
	usage    cost.Usage
	capacity int
	seconds  int
	failures []*failureRun
	// rateTypes, joinTypes and reconnectTypes are the message types in
	// order, so that sums come out the same in every run.
	rateTypes, joinTypes, reconnectTypes []string
	// steadyW and steadyR are the session partition's units per member
	// per second from the steady message rates.
	steadyW, steadyR float64
}

// cell is one deployment: its table, handlers, workers and gate.
type cell struct {
	idx       int
	st        *memStore
	handlers  []*media.Media
	sweeper   *media.Media
	workers   []*worker
	byWorker  map[string]*worker
	byURL     map[string]*worker
	byID      map[domain.SessionID]*session
	sessions  []*session
	arrivals  []arrival // sorted by time
	next      int       // first arrival not yet queued
	queue     []arrival
	leaves    []leave
	nextLeave int

	members int
	sumSq   float64 // Σ members² over sessions: the fan-out of a session-wide event
	kbps    float64 // media sent to members now

	workerRep, workerIndex, connRep string
	indexShards                     []string

	s series
}

// series are a cell's per-second figures.
type series struct {
	arrivals, admitted, queue, msgs, posts, invocations, lambdaMs, wcu, rcu []float64
	workers                                                                 []WorkerPoint
	maxWait                                                                 float64
	unplaced, mediaFailed                                                   int
}

// session is one simulated session.
type session struct {
	id      domain.SessionID
	g       *SessionGroup
	cell    *cell
	start   time.Duration
	end     time.Duration
	members int
	max     int
	joined  int
	ended   bool
	partKey string
	dueKey  string
}

type arrival struct {
	at   float64
	sess *session
}

type leave struct {
	at   float64
	sess *session
}

// partID names a partition of a cell's table.
type partID struct {
	cell int
	key  string
}

// part is one partition's load: units in the current second and the
// peaks.
type part struct {
	key          string
	cell         int
	index        bool
	sess         *session
	sec          int
	w, r         float64
	peakW, peakR float64
	atW, atR     int
}

// Run simulates sc with figures f. It is deterministic for a scenario's
// seed.
func Run(sc Scenario, f Figures) (Result, error) {
	if err := sc.validate(); err != nil {
		return Result{}, err
	}
	s := &sim{
		sc: sc, f: f, clock: domain.NewManualClock(epoch),
		rng:     rand.New(rand.NewPCG(uint64(sc.Seed), 16)),
		parts:   map[partID]*part{},
		seconds: sc.Minutes * 60,
	}
	s.capacity = sc.Workers.Capacity
	if s.capacity <= 0 {
		s.capacity = s.sizeCapacity()
	}
	s.rateTypes = sortedKeys(sc.Rates)
	s.joinTypes = sortedKeys(f.JoinSequence)
	s.reconnectTypes = sortedKeys(f.ReconnectSequence)
	for _, typ := range s.rateTypes {
		r := sc.Rates[typ]
		m, ok := f.Messages[typ]
		if !ok {
			return Result{}, fmt.Errorf("%w: %s: no figure for message %s", ErrScenario, sc.Name, typ)
		}
		s.steadyW += r / 60 * m.WCU["session"]
		s.steadyR += r / 60 * m.RCU["session"]
	}
	for i := range sc.Cells {
		s.cells = append(s.cells, s.newCell(i))
	}
	s.plan()
	for i := 0; i < s.seconds; i++ {
		s.at(time.Duration(i)*time.Second, func() { s.tick(i) })
	}
	for _, fl := range sc.Failures {
		s.at(minutes(fl.Minute), func() { s.fail(fl) })
	}
	sweep := time.Duration(f.Worker.SweepSeconds * float64(time.Second))
	for t := sweep / 2; t < time.Duration(s.seconds)*time.Second; t += sweep {
		s.at(t, s.sweep)
	}
	if sc.Workers.Autoscale {
		every := time.Duration(f.Worker.ScaleEverySecs * float64(time.Second))
		for t := every; t < time.Duration(s.seconds)*time.Second; t += every {
			s.at(t, s.scale)
		}
	}
	for len(s.q) > 0 {
		e := heap.Pop(&s.q).(event)
		if e.at >= time.Duration(s.seconds)*time.Second {
			break
		}
		s.now = e.at
		s.clock.Set(epoch.Add(e.at))
		e.fn()
	}
	return s.result(), nil
}

func minutes(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }

func (s *sim) at(t time.Duration, fn func()) {
	s.seq++
	heap.Push(&s.q, event{at: t, seq: s.seq, fn: fn})
}

func (s *sim) after(d time.Duration, fn func()) { s.at(s.now+d, fn) }

func (s *sim) sec() int { return min(int(s.now/time.Second), s.seconds-1) }

// streamPps is the packets a second of one publisher's audio and the
// group's video layer.
func (s *sim) streamPps(g *SessionGroup) float64 {
	return s.f.Media.AudioPps + s.f.Media.Layers[g.Layer].Pps
}

// memberKbps is what one member of g receives.
func (s *sim) memberKbps(g *SessionGroup) float64 {
	return float64(g.Publishers) * (s.f.Media.AudioKbps + s.f.Media.Layers[g.Layer].Kbps) * (1 + s.f.Media.OverheadFraction)
}

// sizeCapacity is the members a task takes so that, full, it runs its
// CPU at the figures' headroom for the heaviest session group.
func (s *sim) sizeCapacity() int {
	worst := 0.0
	for i := range s.sc.Sessions {
		g := &s.sc.Sessions[i]
		worst = max(worst, float64(g.Publishers)*s.streamPps(g)*s.f.Media.CPUMicrosPerPacket/1e6)
	}
	if worst == 0 {
		return sfuapi.DefaultCapacity
	}
	return max(1, int(s.sc.Workers.VCPU*s.f.Worker.Headroom/worst))
}

func (s *sim) newCell(i int) *cell {
	c := &cell{idx: i, byWorker: map[string]*worker{}, byURL: map[string]*worker{}, byID: map[domain.SessionID]*session{}}
	c.st = &memStore{sim: s, cell: c, sessions: map[domain.SessionID]*domain.Session{}, workers: map[string]int{}}
	dial := func(url string) (media.Worker, error) {
		if w, ok := c.byURL[url]; ok {
			return w, nil
		}
		return nil, fmt.Errorf("simulate: no worker at %s", url)
	}
	for range s.sc.Handlers {
		m, err := media.New(media.Config{Store: c.st, Dial: dial, Clock: s.clock})
		if err != nil {
			panic(err) // the config above is complete
		}
		c.handlers = append(c.handlers, m)
	}
	c.sweeper, _ = media.New(media.Config{Store: c.st, Dial: dial, Clock: s.clock})
	c.workerRep = dynamostore.PartitionKey(dynamostore.PartWorker, "<id>") + " (each)"
	c.workerIndex = dynamostore.PartitionKey(dynamostore.IndexWorker, "")
	c.connRep = dynamostore.PartitionKey(dynamostore.PartConnection, "<id>") + " (each)"
	seen := map[string]bool{}
	for n := 0; len(c.indexShards) < 48 && n < 100000; n++ {
		for _, k := range []string{dynamostore.PartitionKey(dynamostore.IndexConn, fmt.Sprint(n)), dynamostore.PartitionKey(dynamostore.IndexDue, fmt.Sprint(n))} {
			if !seen[k] {
				seen[k] = true
				c.indexShards = append(c.indexShards, k)
			}
		}
	}
	n := s.seconds
	c.s = series{arrivals: make([]float64, n), admitted: make([]float64, n), queue: make([]float64, n), msgs: make([]float64, n),
		posts: make([]float64, n), invocations: make([]float64, n), lambdaMs: make([]float64, n), wcu: make([]float64, n), rcu: make([]float64, n)}
	return c
}

// plan creates the sessions, their members' arrivals and leaves, the
// initial workers and the bursts.
func (s *sim) plan() {
	expected := make([]float64, len(s.cells))
	n := 0
	for gi := range s.sc.Sessions {
		g := &s.sc.Sessions[gi]
		for range g.Count {
			c := s.cells[n%len(s.cells)]
			id := domain.SessionID(fmt.Sprintf("%s-%06d", g.Kind, n))
			n++
			sess := &session{id: id, g: g, cell: c, start: minutes(g.StartMinute), end: minutes(g.StartMinute + g.LengthMinutes),
				partKey: dynamostore.PartitionKey(dynamostore.PartSession, string(id)),
				dueKey:  dynamostore.PartitionKey(dynamostore.IndexDue, string(id))}
			c.byID[id] = sess
			c.sessions = append(c.sessions, sess)
			c.st.sessions[id] = &domain.Session{ID: id, Kind: domain.Kind(g.Kind), Status: domain.StatusLive, Capacity: g.Members, Stage: domain.DefaultStage}
			expected[c.idx] += float64(g.Members)
			for range g.Members {
				at := sess.start.Seconds() + triangular(s.rng, -g.BeforeSeconds, g.AfterSeconds)
				c.arrivals = append(c.arrivals, arrival{at: max(at, 0), sess: sess})
				c.leaves = append(c.leaves, leave{at: sess.end.Seconds() + s.rng.Float64()*60, sess: sess})
			}
			s.at(sess.end, func() { s.endSession(sess) })
		}
	}
	for _, c := range s.cells {
		sort.Slice(c.arrivals, func(i, j int) bool { return c.arrivals[i].at < c.arrivals[j].at })
		sort.Slice(c.leaves, func(i, j int) bool { return c.leaves[i].at < c.leaves[j].at })
		initial := s.sc.Workers.Initial
		if initial <= 0 {
			// Prewarmed for the hour: the members expected at the
			// autoscaler's target.
			initial = int(math.Ceil(expected[c.idx] / (float64(s.capacity) * s.sc.Workers.TargetUtilization / 100)))
		}
		for i := range initial {
			s.newWorker(c, 0, time.Duration(i%50)*100*time.Millisecond)
		}
	}
	for _, b := range s.sc.Bursts {
		secs := max(1, int(b.WithinSeconds))
		for k := range secs {
			s.at(minutes(b.Minute)+time.Duration(k)*time.Second, func() {
				for _, c := range s.cells {
					for _, sess := range c.sessions {
						if sess.members > 0 {
							s.charge(c, sess, b.Type, b.Fraction*float64(sess.members)/float64(secs), "")
						}
					}
				}
			})
		}
	}
}

// triangular draws from a triangular distribution on [lo, hi] with its
// mode at 0.
func triangular(r *rand.Rand, lo, hi float64) float64 {
	if hi-lo <= 0 {
		return 0
	}
	u := r.Float64()
	fc := -lo / (hi - lo)
	if u < fc {
		return lo + math.Sqrt(u*(hi-lo)*(-lo))
	}
	return hi - math.Sqrt((1-u)*(hi-lo)*hi)
}

// tick is the second i: arrivals pass API Gateway's gate, members leave,
// steady messages are charged, usage is integrated.
func (s *sim) tick(i int) {
	t := float64(i)
	for _, c := range s.cells {
		for c.next < len(c.arrivals) && c.arrivals[c.next].at < t+1 {
			c.queue = append(c.queue, c.arrivals[c.next])
			c.next++
			c.s.arrivals[i]++
		}
		admit := min(len(c.queue), int(s.f.Limits.NewConnections))
		for k, a := range c.queue[:admit] {
			at := t + float64(k)/s.f.Limits.NewConnections
			c.s.maxWait = max(c.s.maxWait, at-a.at)
			s.clock.Set(epoch.Add(time.Duration(at * float64(time.Second))))
			s.join(c, a.sess, i)
		}
		c.queue = c.queue[admit:]
		c.s.admitted[i] = float64(admit)
		c.s.queue[i] = float64(len(c.queue))
		for c.nextLeave < len(c.leaves) && c.leaves[c.nextLeave].at < t+1 {
			s.leave(c, c.leaves[c.nextLeave].sess)
			c.nextLeave++
		}
		s.steady(c, i)
		if i%60 == 0 {
			c.s.workers = append(c.s.workers, s.workerPoint(c, i))
		}
	}
	s.clock.Set(epoch.Add(time.Duration(i) * time.Second))
}

// join is one member through $connect, join, state.get and media
// signaling; the media layer (the real code) assigns the session's room.
func (s *sim) join(c *cell, sess *session, sec int) {
	k := sess.joined
	sess.joined++
	conn := fmt.Sprintf("%s-c%d", sess.id, k)
	for _, typ := range s.joinTypes {
		s.charge(c, sess, typ, float64(s.f.JoinSequence[typ]), conn)
	}
	s.workerPosts(c, float64(s.f.WorkerPostsPerJoin))
	s.usage.HTTPRequests += 2 // the session page and its join token (REST), before the socket
	st := c.st.sessions[sess.id]
	st.Live.Members = append(st.Live.Members, domain.Member{
		UserID: domain.UserID(fmt.Sprintf("u%d", k)), Connected: true, ConnectionID: domain.ConnectionID(conn),
		OnStage: k < sess.g.Publishers,
	})
	s.addMembers(c, sess, 1)
	h := c.handlers[s.rng.IntN(len(c.handlers))]
	err := h.Sync(context.Background(), *st)
	var re *media.ReassignedError
	switch {
	case err == nil:
	case errors.As(err, &re):
		s.reconnect(c, sess)
	case errors.Is(err, sfuapi.ErrNoWorker):
		c.s.unplaced++
	default:
		c.s.mediaFailed++
	}
}

func (s *sim) addMembers(c *cell, sess *session, d int) {
	old := float64(sess.members)
	sess.members += d
	sess.max = max(sess.max, sess.members)
	c.members += d
	c.sumSq += float64(sess.members)*float64(sess.members) - old*old
	c.kbps += float64(d) * s.memberKbps(sess.g)
}

// leave is one member's $disconnect.
func (s *sim) leave(c *cell, sess *session) {
	if sess.members == 0 {
		return
	}
	s.charge(c, sess, "$disconnect", 1, "")
	s.addMembers(c, sess, -1)
}

// endSession ends a session: its room is closed on its worker by the
// media layer; its members leave over the next minute.
func (s *sim) endSession(sess *session) {
	c := sess.cell
	st := c.st.sessions[sess.id]
	st.Status = domain.StatusEnded
	sess.ended = true
	_ = c.handlers[0].Sync(context.Background(), *st) // a dead worker's room is gone anyway
}

// reconnect is the members of a moved session told to reconnect their
// media (media.reconnect) and doing it.
func (s *sim) reconnect(c *cell, sess *session) {
	n := float64(sess.members)
	s.posts(c, n, 200)
	for _, typ := range s.reconnectTypes {
		s.charge(c, sess, typ, n*float64(s.f.ReconnectSequence[typ]), "")
	}
	s.workerPosts(c, n*float64(s.f.WorkerPostsPerJoin))
	st := c.st.sessions[sess.id]
	if w := c.byWorker[st.Live.Media.WorkerID]; w != nil && w.alive {
		_ = w.Apply(context.Background(), media.RoomState(*st))
	}
}

// sweep is the scheduler's sweep in every cell: media.Reassign, the real
// code, moves the rooms of lapsed workers.
func (s *sim) sweep() {
	for _, c := range s.cells {
		moved, _ := c.sweeper.Reassign(context.Background())
		s.invoke(c, 1, 500)
		for _, m := range moved {
			if sess := c.byID[m.ID]; sess != nil && !sess.ended {
				s.reconnect(c, sess)
			}
		}
	}
}

// scale is the target-tracking autoscaler: it starts tasks so that the
// average Utilization (100 × Members / Capacity) comes back to target.
func (s *sim) scale() {
	for _, c := range s.cells {
		running, load := 0, 0
		for _, w := range c.workers {
			if w.alive {
				running++
				if w.ready {
					load += w.members
				}
			}
		}
		desired := int(math.Ceil(float64(load) / (float64(s.capacity) * s.sc.Workers.TargetUtilization / 100)))
		if s.sc.Workers.Max > 0 {
			desired = min(desired, s.sc.Workers.Max)
		}
		start := time.Duration(s.f.Worker.StartSeconds * float64(time.Second))
		for range desired - running {
			s.newWorker(c, s.now, s.now+start)
		}
	}
}

// fail kills a worker, or an availability zone's workers, in each cell
// (or the one named); ECS starts a replacement for each.
func (s *sim) fail(fl Failure) {
	for _, c := range s.cells {
		if fl.Cell > 0 && c.idx != fl.Cell-1 {
			continue
		}
		fr := &failureRun{Failure: fl, cell: c.idx, at: s.now, sessions: map[domain.SessionID]int{}, killed: map[string]bool{}, moved: map[domain.SessionID]time.Duration{}, to: map[string]int{}}
		alive := 0
		for i, w := range c.workers {
			if !w.alive {
				continue
			}
			alive++
			if (fl.Kind == "worker" && i == fl.Worker) || (fl.Kind == "az" && w.az == fl.AZ) {
				fr.killed[w.id] = true
			}
		}
		for _, w := range c.workers {
			if !fr.killed[w.id] {
				continue
			}
			w.alive = false
			w.stopped = s.now
			for room, n := range w.rooms {
				fr.sessions[domain.SessionID(room)] = n
				fr.members += n
			}
			start := time.Duration(s.f.Worker.StartSeconds * float64(time.Second))
			s.newWorker(c, s.now, s.now+start)
		}
		fr.alive = alive
		s.failures = append(s.failures, fr)
	}
}

// assigned is told by the store of every assignment that changes, to
// time the moves off failed workers.
func (s *sim) assigned(c *cell, sess *session, from, to string) {
	for _, fr := range s.failures {
		if fr.cell != c.idx || !fr.killed[from] {
			continue
		}
		if _, ok := fr.sessions[sess.id]; ok {
			if _, done := fr.moved[sess.id]; !done {
				fr.moved[sess.id] = s.now
				fr.to[to]++
			}
		}
	}
}

// failureRun is one failure as it unfolds.
type failureRun struct {
	Failure
	cell     int
	at       time.Duration
	alive    int
	killed   map[string]bool
	sessions map[domain.SessionID]int // members by session on the killed workers
	members  int
	moved    map[domain.SessionID]time.Duration
	to       map[string]int // rooms moved, by new worker
}

// steady charges a second's steady messages of cell c and integrates
// its usage.
func (s *sim) steady(c *cell, i int) {
	m := float64(c.members)
	for _, typ := range s.rateTypes {
		r := s.sc.Rates[typ]
		n := m * r / 60
		if n == 0 {
			continue
		}
		f := s.f.Messages[typ]
		s.count(c, typ, n, i)
		if f.Fanout == "session" {
			s.posts(c, c.sumSq*r/60, f.EventBytes)
		} else if f.Fanout == "self" {
			s.posts(c, n, f.EventBytes)
		}
		s.usage.WriteUnits += n * f.wcu()
		s.usage.ReadUnits += n * f.rcu()
		c.s.wcu[i] += n * f.wcu()
		c.s.rcu[i] += n * f.rcu()
		// Index shards and connections take their even share.
		for _, kind := range []string{"indexConn", "indexDue"} {
			if u := f.WCU[kind]; u > 0 {
				s.spreadIndex(c, kind, n*u)
			}
		}
	}
	// Each handler reads the worker list once per cache period while
	// members are live.
	if c.members > 0 {
		lists := float64(len(c.handlers)) / sfuapi.DefaultInterval.Seconds()
		nw := float64(len(c.st.list))
		idxRCU := math.Ceil(nw*s.f.ListWorkers.IndexKeyBytes/4096) * s.f.ListWorkers.IndexRCUPer4KB
		s.chargePart(c, c.workerIndex, 0, lists*idxRCU)
		s.chargePart(c, c.workerRep, 0, lists*s.f.ListWorkers.RCUPerWorker)
		s.usage.ReadUnits += lists * (idxRCU + nw*s.f.ListWorkers.RCUPerWorker)
		c.s.rcu[i] += lists * (idxRCU + nw*s.f.ListWorkers.RCUPerWorker)
	}
	for _, k := range c.indexShards {
		s.chargePart(c, k, 0, 0)
	}
	// Usage integrated over the second.
	running := 0
	for _, w := range c.workers {
		if w.alive {
			running++
		}
	}
	s.usage.VCPUHours += float64(running) * s.sc.Workers.VCPU / 3600
	s.usage.GBHours += float64(running) * s.sc.Workers.MemoryGB / 3600
	s.usage.IPv4Hours += float64(running+4) / 3600 // each task, and the NAT's and the NLB's (2 AZs) and TURN's addresses
	// One TURN task (0.5 vCPU, 1 GB), one NAT and one NLB per cell.
	s.usage.VCPUHours += 0.5 / 3600
	s.usage.GBHours += 1.0 / 3600
	s.usage.NATHours += 1.0 / 3600
	s.usage.NLBHours += 1.0 / 3600
	s.usage.NLBLCUHours += 1.0 / 3600
	s.usage.WSConnMinutes += m / 60
	s.usage.WriteUnits += m / 60 * 2 // the stale time: the connection item and its GSI1 entry
	s.usage.AttendeeHours += m / 3600
	s.usage.DataOutGB += c.kbps * 1000 / 8 / 1e9
	live := 0
	for _, sess := range c.sessions {
		if sess.members > 0 {
			live++
		}
	}
	s.usage.SessionHours += float64(live) / 3600
}

// spreadIndex charges units evenly over a cell's GSI1 shards of kind.
func (s *sim) spreadIndex(c *cell, kind string, units float64) {
	prefix := "CONN#"
	if kind == "indexDue" {
		prefix = "DUE#"
	}
	var shards []string
	for _, k := range c.indexShards {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			shards = append(shards, k)
		}
	}
	for _, k := range shards {
		s.chargePart(c, k, units/float64(len(shards)), 0)
	}
}

// charge is n messages of typ from members of sess: Lambda, API Gateway
// and DynamoDB, by partition. conn names the connection for its GSI1
// shard (the shards share the units evenly when empty).
func (s *sim) charge(c *cell, sess *session, typ string, n float64, conn string) {
	f, ok := s.f.Messages[typ]
	if !ok || n == 0 {
		return
	}
	i := s.sec()
	s.count(c, typ, n, i)
	switch f.Fanout {
	case "session":
		s.posts(c, n*float64(sess.members), f.EventBytes)
	case "self":
		s.posts(c, n, f.EventBytes)
	}
	s.usage.WriteUnits += n * f.wcu()
	s.usage.ReadUnits += n * f.rcu()
	c.s.wcu[i] += n * f.wcu()
	c.s.rcu[i] += n * f.rcu()
	for _, kind := range sortedKeys(f.WCU) {
		s.chargeKind(c, sess, kind, conn, n*f.WCU[kind], 0)
	}
	for _, kind := range sortedKeys(f.RCU) {
		s.chargeKind(c, sess, kind, conn, 0, n*f.RCU[kind])
	}
}

// count is n invocations of typ's handler, and n WebSocket messages
// unless typ is a connect or disconnect.
func (s *sim) count(c *cell, typ string, n float64, i int) {
	f := s.f.Messages[typ]
	s.invoke(c, n, f.LambdaMs)
	if typ != "$connect" && typ != "$disconnect" {
		c.s.msgs[i] += n
		s.usage.WSMessages += n
	}
}

func (s *sim) invoke(c *cell, n, ms float64) {
	i := s.sec()
	c.s.invocations[i] += n
	c.s.lambdaMs[i] += n * ms
	s.usage.LambdaRequests += n
	s.usage.LambdaGBSeconds += n * ms / 1000 * s.f.Lambda.MemoryMB / 1024
}

// posts is n @connections posts from the handlers, through the NAT.
func (s *sim) posts(c *cell, n, bytes float64) {
	c.s.posts[s.sec()] += n
	s.usage.WSMessages += n * math.Max(1, math.Ceil(bytes/32768))
	s.usage.NATGB += n * (bytes + 700) / 1e9 // the request and its TLS and HTTP overhead
	s.usage.DataOutGB += n * bytes / 1e9
}

// workerPosts is n @connections posts from the workers (offers,
// answers, candidates), from their own addresses.
func (s *sim) workerPosts(c *cell, n float64) {
	c.s.posts[s.sec()] += n
	s.usage.WSMessages += n
	s.usage.DataOutGB += n * 1500 / 1e9
}

func (s *sim) chargeKind(c *cell, sess *session, kind, conn string, w, r float64) {
	switch kind {
	case "session":
		s.chargePart(c, sess.partKey, w, r)
	case "conn":
		s.chargePart(c, c.connRep, 0, 0) // its peak is figured from the join sequence
	case "indexDue":
		s.chargePart(c, sess.dueKey, w, r)
	case "indexConn":
		if conn == "" {
			s.spreadIndex(c, kind, w)
			return
		}
		s.chargePart(c, dynamostore.PartitionKey(dynamostore.IndexConn, conn), w, r)
	}
}

// chargePart adds units to a partition's current second; a new second
// closes the last one into the peaks.
func (s *sim) chargePart(c *cell, key string, w, r float64) {
	id := partID{c.idx, key}
	p := s.parts[id]
	if p == nil {
		p = &part{key: key, cell: c.idx, sec: s.sec()}
		if sess := c.byID[domain.SessionID(trimPrefix(key, "SESSION#"))]; sess != nil && sess.partKey == key {
			p.sess = sess
		}
		p.index = key == c.workerIndex || (len(key) > 4 && (key[:4] == "DUE#" || (key[:5] == "CONN#" && key != c.connRep && isDigits(key[5:]))))
		s.parts[id] = p
	}
	if i := s.sec(); i != p.sec {
		s.close(p)
		p.sec, p.w, p.r = i, 0, 0
	}
	p.w += w
	p.r += r
}

// close records a partition's second in its peaks, with the steady
// messages of the session's members in that second.
func (s *sim) close(p *part) {
	w, r := p.w, p.r
	if p.sess != nil {
		w += s.steadyW * float64(p.sess.members)
		r += s.steadyR * float64(p.sess.members)
	}
	if p.index {
		// The connection list is written when a connection's stale time
		// moves (keys.go: once a minute per connection), by shard.
		if len(p.key) > 5 && p.key[:5] == "CONN#" {
			w += float64(s.cells[p.cell].members) / 60 / 32
		}
	}
	if w > p.peakW {
		p.peakW, p.atW = w, p.sec
	}
	if r > p.peakR {
		p.peakR, p.atR = r, p.sec
	}
}

func trimPrefix(s, prefix string) string {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
