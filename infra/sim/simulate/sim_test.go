package simulate_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/infra/sim/simulate"
)

func figures(t *testing.T) simulate.Figures {
	t.Helper()
	f, err := simulate.LoadFigures("../figures.json")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Every scenario holds the limits the issue sets: no partition over
// 1,000 WCU or 3,000 RCU a second, no rush queue at API Gateway's
// connection limit over 60 s, every member's media placed, and after a
// failure every moved room back within two sweeps.
func TestScenariosHoldTheLimits(t *testing.T) {
	files, err := filepath.Glob("../scenarios/*.json")
	if err != nil || len(files) < 6 {
		t.Fatalf("scenarios: %v, %v", files, err)
	}
	f := figures(t)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "rush-") && (testing.Short() || raceOn) {
				t.Skip("the 500,000-member scenarios run without -short and -race (make sim, .ci/e2e.sh sim)")
			}
			sc, err := simulate.LoadScenario(file)
			if err != nil {
				t.Fatal(err)
			}
			r, err := simulate.Run(sc, f)
			if err != nil {
				t.Fatal(err)
			}
			if r.OverWCU > 0 || r.OverRCU > 0 {
				t.Errorf("%d partitions over the WCU limit, %d over the RCU limit; hottest %+v", r.OverWCU, r.OverRCU, r.HottestWCU[0])
			}
			for _, c := range r.Cell {
				if c.QueueSeconds > 60 {
					t.Errorf("cell %d: the rush queue lasts %d s", c.Cell, c.QueueSeconds)
				}
				if c.Unplaced > 0 || c.MediaFailed > 0 {
					t.Errorf("cell %d: %d joins without a worker, %d on a dead one", c.Cell, c.Unplaced, c.MediaFailed)
				}
				// Capacity is checked when a room is assigned; the room
				// grows after. The headroom a full task keeps (figures.json,
				// worker.headroom) must absorb that.
				for _, p := range c.Workers {
					if p.MaxCPU > 105 {
						t.Errorf("cell %d minute %d: a worker at %.0f%% CPU", c.Cell, p.Minute, p.MaxCPU)
						break
					}
				}
			}
			for _, fr := range r.Failures {
				if fr.Moved != fr.Sessions || fr.BackLast > 2*time.Minute+simulate.LapseAfter {
					t.Errorf("failure %+v: not every room back in time", fr)
				}
			}
		})
	}
}

// A run is repeatable: the same scenario and seed give the same figures.
func TestRunIsDeterministic(t *testing.T) {
	sc, err := simulate.LoadScenario("../scenarios/ref-scheduled-50.json")
	if err != nil {
		t.Fatal(err)
	}
	sc.Failures = []simulate.Failure{{Minute: 30, Kind: "worker", Worker: 1}}
	f := figures(t)
	a, err := simulate.Run(sc, f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := simulate.Run(sc, f)
	if a.Usage != b.Usage || a.HottestWCU[0] != b.HottestWCU[0] || a.Failures[0] != b.Failures[0] {
		t.Errorf("two runs differ:\n%+v\n%+v", a.Failures, b.Failures)
	}
	if a.Failures[0].Moved == 0 || a.Failures[0].MembersMoved == 0 {
		t.Errorf("killing a worker moved nothing: %+v", a.Failures[0])
	}
}

func TestRunScript(t *testing.T) {
	sc := simulate.Script{
		Workers:  []string{"local-0", "local-1", "local-2"},
		Sessions: []string{"s1", "s2", "s3", "s4", "s5", "s6"},
		Kill:     "local-1",
	}
	out, err := simulate.RunScript(sc)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, id := range sc.Sessions {
		per[out.Before[id]]++
		if out.After[id] == sc.Kill || out.After[id] == "" {
			t.Errorf("%s still on %q after the sweep", id, out.After[id])
		}
		if out.Before[id] != sc.Kill && out.After[id] != out.Before[id] {
			t.Errorf("%s moved off a live worker: %s -> %s", id, out.Before[id], out.After[id])
		}
	}
	if per["local-0"] != 2 || per["local-1"] != 2 || per["local-2"] != 2 {
		t.Errorf("six one-member rooms over three workers: %v, want two each", per)
	}
}
