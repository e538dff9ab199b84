package simulate

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Figures are the measured (or, where said, derived) costs of each
// message and of the media, read from infra/sim/figures.json.
type Figures struct {
	Messages           map[string]MessageFigure `json:"messages"`
	JoinSequence       map[string]int           `json:"joinSequence"`
	ReconnectSequence  map[string]int           `json:"reconnectSequence"`
	WorkerPostsPerJoin int                      `json:"workerPostsPerJoin"`
	Assignment         struct {
		WCU float64 `json:"wcu"`
		RCU float64 `json:"rcu"`
	} `json:"assignment"`
	Heartbeat struct {
		WCU      float64 `json:"wcu"`
		IndexWCU float64 `json:"indexWcu"`
	} `json:"heartbeat"`
	ListWorkers struct {
		RCUPerWorker   float64 `json:"rcuPerWorker"`
		IndexRCUPer4KB float64 `json:"indexRcuPer4KB"`
		IndexKeyBytes  float64 `json:"indexKeyBytes"`
	} `json:"listWorkers"`
	Lambda struct {
		MemoryMB float64 `json:"memoryMB"`
	} `json:"lambda"`
	Media struct {
		CPUMicrosPerPacket float64 `json:"cpuMicrosPerPacket"`
		AudioKbps          float64 `json:"audioKbps"`
		AudioPps           float64 `json:"audioPps"`
		Layers             []struct {
			Name string  `json:"name"`
			Kbps float64 `json:"kbps"`
			Pps  float64 `json:"pps"`
		} `json:"layers"`
		OverheadFraction float64 `json:"overheadFraction"`
	} `json:"media"`
	Worker struct {
		StartSeconds     float64 `json:"startSeconds"`
		ReconnectSeconds float64 `json:"reconnectSeconds"`
		SweepSeconds     float64 `json:"sweepSeconds"`
		ScaleEverySecs   float64 `json:"scaleEverySeconds"`
		Headroom         float64 `json:"headroom"`
	} `json:"worker"`
	Limits Limits `json:"limits"`
}

// Limits are the platform's limits a run is held against.
type Limits struct {
	PartitionWCU      float64 `json:"partitionWCU"`
	PartitionRCU      float64 `json:"partitionRCU"`
	NewConnections    float64 `json:"newConnectionsPerSecond"`
	AccountRPS        float64 `json:"accountRPS"`
	LambdaConcurrency float64 `json:"lambdaConcurrency"`
}

// MessageFigure is what one message of a type costs.
type MessageFigure struct {
	// WCU and RCU by partition kind: session, conn, indexConn, indexDue.
	WCU      map[string]float64 `json:"wcu"`
	RCU      map[string]float64 `json:"rcu"`
	LambdaMs float64            `json:"lambdaMs"`
	// Fanout is "session" (posted to every member of the session),
	// "self" (a reply to the sender) or "none".
	Fanout     string  `json:"fanout"`
	EventBytes float64 `json:"eventBytes"`
	Measured   string  `json:"measured,omitempty"`
	Derived    string  `json:"derived,omitempty"`
}

// LoadFigures reads and checks a figures file.
func LoadFigures(path string) (Figures, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Figures{}, fmt.Errorf("simulate: %w", err)
	}
	var f Figures
	if err := json.Unmarshal(b, &f); err != nil {
		return Figures{}, fmt.Errorf("simulate: figures: %w", err)
	}
	for name, m := range f.Messages {
		if m.Measured == "" && m.Derived == "" {
			return Figures{}, fmt.Errorf("simulate: figures: %s says neither where it was measured nor how it was derived", name)
		}
	}
	for _, seq := range []map[string]int{f.JoinSequence, f.ReconnectSequence} {
		for typ := range seq {
			if _, ok := f.Messages[typ]; !ok {
				return Figures{}, fmt.Errorf("simulate: figures: no figure for %s", typ)
			}
		}
	}
	if len(f.Media.Layers) != 3 || f.Media.CPUMicrosPerPacket <= 0 || f.Limits.PartitionWCU <= 0 {
		return Figures{}, fmt.Errorf("simulate: figures: media layers, CPU per packet and limits are required")
	}
	return f, nil
}

// wcu and rcu are a message's totals.
func (m MessageFigure) wcu() float64 { return sum(m.WCU) }
func (m MessageFigure) rcu() float64 { return sum(m.RCU) }

func sum(m map[string]float64) float64 {
	t := 0.0
	for _, k := range sortedKeys(m) {
		t += m[k]
	}
	return t
}

// sortedKeys returns m's keys in order: sums over a map come out the
// same in every run.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
