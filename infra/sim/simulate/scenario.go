// Package simulate is a discrete-event simulation of Greenroom at scale:
// members arriving in a rush, API Gateway's new-connection limit, the
// WebSocket handlers' messages and their DynamoDB capacity per partition,
// SFU workers' heartbeats, assignment, failures and the scheduler's
// sweep. Assignment, claims, heartbeats and reassignment are the
// project's own code (shared/media, shared/sfuapi, sfuworker/registry)
// run against an in-memory store on a simulated clock; partitions are
// named by shared/store/dynamostore's key layout. What a message costs
// comes from measured figures (figures.json), never from this package.
package simulate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// ErrScenario is returned by LoadScenario for a scenario that cannot run.
var ErrScenario = errors.New("simulate: bad scenario")

// Scenario is a workload, read from a JSON file (infra/sim/scenarios).
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Seed makes a run repeatable.
	Seed int64 `json:"seed"`
	// Minutes is how long the run lasts.
	Minutes int `json:"minutes"`
	// Cells is how many independent deployments (regions or accounts)
	// share the sessions, each with its own limits and workers; 1 when
	// zero.
	Cells int `json:"cells"`
	// Handlers is how many warm WebSocket function environments a cell
	// runs, each with its own cache of workers and its own claims (the
	// media.Media of one cold start); 50 when zero.
	Handlers int                `json:"handlers"`
	Sessions []SessionGroup     `json:"sessions"`
	Rates    map[string]float64 `json:"ratesPerMemberMinute"`
	Bursts   []Burst            `json:"bursts,omitempty"`
	Workers  WorkerPlan         `json:"workers"`
	Failures []Failure          `json:"failures,omitempty"`
}

// SessionGroup is Count sessions alike.
type SessionGroup struct {
	Kind    string `json:"kind"`
	Count   int    `json:"count"`
	Members int    `json:"members"`
	// Publishers are the members on stage, each sending audio and
	// simulcast video; every other member receives Layer (0 q, 1 h, 2
	// f) of each publisher's video and its audio.
	Publishers int `json:"publishers"`
	Layer      int `json:"layer"`
	// StartMinute is when the sessions start (the hour of the rush);
	// members arrive from BeforeSeconds before it to AfterSeconds after,
	// most of them around the start (a triangular curve).
	StartMinute   float64 `json:"startMinute"`
	BeforeSeconds float64 `json:"beforeSeconds"`
	AfterSeconds  float64 `json:"afterSeconds"`
	// LengthMinutes is how long a session lasts after its start; its
	// members leave over the minute after.
	LengthMinutes float64 `json:"lengthMinutes"`
}

// Burst is a moment when a fraction of every session's members sends one
// message of Type within WithinSeconds (a host asks for raised hands).
type Burst struct {
	Type          string  `json:"type"`
	Minute        float64 `json:"minute"`
	Fraction      float64 `json:"fraction"`
	WithinSeconds float64 `json:"withinSeconds"`
}

// WorkerPlan is the SFU workers: their size and how many run.
type WorkerPlan struct {
	VCPU     float64 `json:"vcpu"`
	MemoryGB float64 `json:"memoryGb"`
	// Capacity is the members a task takes; when zero it is sized from
	// the measured CPU per packet for the first session group's media.
	Capacity int `json:"capacity"`
	// Initial tasks run at the start in each cell (MinCount, raised
	// before a known rush); Max bounds the autoscaler.
	Initial int `json:"initial"`
	Max     int `json:"max"`
	// TargetUtilization is the autoscaler's target, percent of capacity
	// (infra/workers.yaml TargetUtilization, 60).
	TargetUtilization float64 `json:"targetUtilization"`
	// AZs the tasks are spread over, round robin (2 when zero).
	AZs int `json:"azs"`
	// Autoscale turns on the target-tracking autoscaler.
	Autoscale bool `json:"autoscale"`
}

// Failure is a worker or an availability zone's workers killed.
type Failure struct {
	Minute float64 `json:"minute"`
	// Kind is "worker" (the Worker-th task of each cell, in start order)
	// or "az" (every task in AZ, 0-based, of each cell).
	Kind   string `json:"kind"`
	Worker int    `json:"worker"`
	AZ     int    `json:"az"`
	// Cell limits the failure to one cell, counted from 1; 0 is every
	// cell.
	Cell int `json:"cell"`
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("simulate: %w", err)
	}
	var sc Scenario
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return Scenario{}, fmt.Errorf("%w: %s: %w", ErrScenario, path, err)
	}
	return sc, sc.validate()
}

func (sc *Scenario) validate() error {
	if sc.Cells <= 0 {
		sc.Cells = 1
	}
	if sc.Handlers <= 0 {
		sc.Handlers = 50
	}
	if sc.Workers.AZs <= 0 {
		sc.Workers.AZs = 2
	}
	if sc.Workers.TargetUtilization <= 0 {
		sc.Workers.TargetUtilization = 60
	}
	if sc.Workers.VCPU <= 0 || sc.Workers.MemoryGB <= 0 {
		return fmt.Errorf("%w: %s: workers need vcpu and memoryGb", ErrScenario, sc.Name)
	}
	if sc.Minutes <= 0 || len(sc.Sessions) == 0 {
		return fmt.Errorf("%w: %s: minutes and sessions are required", ErrScenario, sc.Name)
	}
	for _, g := range sc.Sessions {
		if g.Count <= 0 || g.Members <= 0 || g.Publishers < 0 || g.Publishers > g.Members || g.Layer < 0 || g.Layer > 2 {
			return fmt.Errorf("%w: %s: session group %+v", ErrScenario, sc.Name, g)
		}
	}
	for _, f := range sc.Failures {
		if f.Kind != "worker" && f.Kind != "az" {
			return fmt.Errorf("%w: %s: failure kind %q", ErrScenario, sc.Name, f.Kind)
		}
	}
	return nil
}
