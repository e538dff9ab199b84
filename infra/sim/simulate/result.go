package simulate

import (
	"sort"
	"time"

	"github.com/greenroom-live/greenroom/infra/sim/internal/cost"
	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

// Result is what a run measured.
type Result struct {
	Scenario    string
	Description string
	Cells       int
	Sessions    int
	Members     int
	Minutes     int
	// Capacity is the members a worker takes; CPUPerMember the vCPU one
	// member's media takes at the measured CPU per packet.
	Capacity     int
	CPUPerMember float64
	Limits       Limits
	// Hottest are the partitions with the highest peaks (WCU, then RCU),
	// in every cell; OverWCU and OverRCU count the partitions over a
	// limit.
	HottestWCU []PartitionPeak
	HottestRCU []PartitionPeak
	OverWCU    int
	OverRCU    int
	Cell       []CellResult
	Failures   []FailureResult
	Usage      cost.Usage
}

// PartitionPeak is one partition's peak second.
type PartitionPeak struct {
	Cell   int
	Key    string
	Index  bool
	PeakW  float64
	AtW    int
	PeakR  float64
	AtR    int
	Figure string // how the peak was worked out when it was not simulated
}

// CellResult is one cell's API Gateway, Lambda and worker figures.
type CellResult struct {
	Cell int
	// PeakArrivals and PeakConnects are new connections asked for and
	// let in per second; LongestQueue the most waiting at once;
	// QueueSeconds the longest run of seconds with someone waiting;
	// MaxWait the longest one member waited.
	PeakArrivals, PeakConnects float64
	LongestQueue               float64
	QueueSeconds               int
	QueueFrom                  int
	MaxWait                    float64
	PeakMessages, PeakPosts    float64
	PeakRPS                    float64 // messages and @connections posts
	PeakInvocations            float64
	PeakConcurrency            float64
	PeakWCU, PeakRCU           float64 // the whole table's
	Workers                    []WorkerPoint
	PeakWorkers                int
	Unplaced, MediaFailed      int
}

// WorkerPoint is a cell's workers at one minute.
type WorkerPoint struct {
	Minute  int
	Running int // tasks alive (starting or ready)
	Ready   int
	Members int
	Util    float64 // average 100 × Members / Capacity of the ready tasks
	CPU     float64 // average percent of vCPU at the measured CPU per packet
	MaxCPU  float64
}

// FailureResult is one failure: what it took down and when media was
// back.
type FailureResult struct {
	Cell         int
	Minute       float64
	Kind         string
	Killed       int
	Alive        int
	Sessions     int
	MembersMoved int
	Moved        int
	// Back is when the media of the last (and the median) moved session
	// was back, after the failure: the move plus the reconnect.
	BackLast, BackMedian time.Duration
	// MostRooms is the most rooms one worker took.
	MostRooms int
	Targets   int
}

func (s *sim) workerPoint(c *cell, i int) WorkerPoint {
	p := WorkerPoint{Minute: i / 60}
	for _, w := range c.workers {
		if !w.alive {
			continue
		}
		p.Running++
		if !w.ready {
			continue
		}
		p.Ready++
		p.Members += w.members
		cpu := 100 * s.cpu(c, w) / s.sc.Workers.VCPU
		p.CPU += cpu
		p.MaxCPU = max(p.MaxCPU, cpu)
	}
	if p.Ready > 0 {
		p.Util = 100 * float64(p.Members) / float64(p.Ready*s.capacity)
		p.CPU /= float64(p.Ready)
	}
	return p
}

func (s *sim) result() Result {
	r := Result{Scenario: s.sc.Name, Description: s.sc.Description, Cells: len(s.cells), Minutes: s.sc.Minutes,
		Capacity: s.capacity, Limits: s.f.Limits, Usage: s.usage}
	for _, g := range s.sc.Sessions {
		r.Sessions += g.Count
		r.Members += g.Count * g.Members
		r.CPUPerMember = max(r.CPUPerMember, float64(g.Publishers)*s.streamPps(&g)*s.f.Media.CPUMicrosPerPacket/1e6)
	}
	var peaks []PartitionPeak
	for _, p := range s.parts {
		s.close(p)
		if p.sess != nil {
			// The steady messages alone, with every member in.
			if w := s.steadyW * float64(p.sess.max); w > p.peakW {
				p.peakW = w
			}
		}
		pp := PartitionPeak{Cell: p.cell, Key: p.key, Index: p.index, PeakW: p.peakW, AtW: p.atW, PeakR: p.peakR, AtR: p.atR}
		c := s.cells[p.cell]
		switch p.key {
		case c.connRep:
			for _, typ := range s.joinTypes {
				n := s.f.JoinSequence[typ]
				pp.PeakW += float64(n) * s.f.Messages[typ].WCU["conn"]
				pp.PeakR += float64(n) * s.f.Messages[typ].RCU["conn"]
			}
			pp.Figure = "one member's join sequence within one second"
		case c.workerRep:
			pp.PeakW = s.f.Heartbeat.WCU
			pp.Figure = "one heartbeat; read by every handler's list"
		}
		peaks = append(peaks, pp)
		if pp.PeakW > s.f.Limits.PartitionWCU {
			r.OverWCU++
		}
		if pp.PeakR > s.f.Limits.PartitionRCU {
			r.OverRCU++
		}
	}
	sort.Slice(peaks, func(i, j int) bool {
		if peaks[i].PeakW != peaks[j].PeakW {
			return peaks[i].PeakW > peaks[j].PeakW
		}
		if peaks[i].Cell != peaks[j].Cell {
			return peaks[i].Cell < peaks[j].Cell
		}
		return peaks[i].Key < peaks[j].Key
	})
	r.HottestWCU = top(peaks, 8)
	sort.SliceStable(peaks, func(i, j int) bool { return peaks[i].PeakR > peaks[j].PeakR })
	r.HottestRCU = top(peaks, 8)
	for _, c := range s.cells {
		r.Cell = append(r.Cell, s.cellResult(c))
	}
	for _, fr := range s.failures {
		r.Failures = append(r.Failures, s.failureResult(fr))
	}
	return r
}

func top(p []PartitionPeak, n int) []PartitionPeak {
	out := make([]PartitionPeak, min(n, len(p)))
	copy(out, p)
	return out
}

func (s *sim) cellResult(c *cell) CellResult {
	r := CellResult{Cell: c.idx, MaxWait: c.s.maxWait, Workers: c.s.workers, Unplaced: c.s.unplaced, MediaFailed: c.s.mediaFailed}
	run, from := 0, 0
	for i := range s.seconds {
		r.PeakArrivals = max(r.PeakArrivals, c.s.arrivals[i])
		r.PeakConnects = max(r.PeakConnects, c.s.admitted[i])
		r.LongestQueue = max(r.LongestQueue, c.s.queue[i])
		if c.s.queue[i] > 0 {
			if run == 0 {
				from = i
			}
			run++
			if run > r.QueueSeconds {
				r.QueueSeconds, r.QueueFrom = run, from
			}
		} else {
			run = 0
		}
		r.PeakMessages = max(r.PeakMessages, c.s.msgs[i])
		r.PeakPosts = max(r.PeakPosts, c.s.posts[i])
		r.PeakRPS = max(r.PeakRPS, c.s.msgs[i]+c.s.posts[i])
		r.PeakInvocations = max(r.PeakInvocations, c.s.invocations[i])
		r.PeakConcurrency = max(r.PeakConcurrency, c.s.lambdaMs[i]/1000)
		r.PeakWCU = max(r.PeakWCU, c.s.wcu[i])
		r.PeakRCU = max(r.PeakRCU, c.s.rcu[i])
	}
	for _, p := range c.s.workers {
		r.PeakWorkers = max(r.PeakWorkers, p.Running)
	}
	return r
}

func (s *sim) failureResult(fr *failureRun) FailureResult {
	r := FailureResult{Cell: fr.cell, Minute: fr.Minute, Kind: fr.Kind, Killed: len(fr.killed), Alive: fr.alive,
		Sessions: len(fr.sessions), Targets: len(fr.to)}
	reconnect := time.Duration(s.f.Worker.ReconnectSeconds * float64(time.Second))
	var backs []time.Duration
	for id, at := range fr.moved {
		r.Moved++
		r.MembersMoved += fr.sessions[id]
		backs = append(backs, at-fr.at+reconnect)
	}
	sort.Slice(backs, func(i, j int) bool { return backs[i] < backs[j] })
	if len(backs) > 0 {
		r.BackLast, r.BackMedian = backs[len(backs)-1], backs[len(backs)/2]
	}
	for _, n := range fr.to {
		r.MostRooms = max(r.MostRooms, n)
	}
	return r
}

// LapseAfter is how long a dead worker's heartbeat takes to lapse (the
// registry's own constants).
const LapseAfter = sfuapi.LapseAfter * sfuapi.DefaultInterval
