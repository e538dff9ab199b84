package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// checkEMF fails t unless line is a valid CloudWatch Embedded Metric
// Format document (the rules of the EMF specification this worker
// relies on) and returns its top-level members.
func checkEMF(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(line, &doc); err != nil {
		t.Fatalf("EMF line is not JSON: %v: %s", err, line)
	}
	aws, ok := doc["_aws"].(map[string]any)
	if !ok {
		t.Fatalf("no _aws object: %s", line)
	}
	if ts, ok := aws["Timestamp"].(float64); !ok || ts <= 0 || ts != float64(int64(ts)) {
		t.Errorf("_aws.Timestamp = %v, want epoch milliseconds", aws["Timestamp"])
	}
	directives, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(directives) == 0 {
		t.Fatalf("_aws.CloudWatchMetrics = %v", aws["CloudWatchMetrics"])
	}
	for _, d := range directives {
		d, ok := d.(map[string]any)
		if !ok {
			t.Fatalf("directive %v is not an object", d)
		}
		if ns, ok := d["Namespace"].(string); !ok || ns == "" || len(ns) > 255 {
			t.Errorf("Namespace = %v", d["Namespace"])
		}
		dims, ok := d["Dimensions"].([]any)
		if !ok {
			t.Fatalf("Dimensions = %v, want an array of dimension sets", d["Dimensions"])
		}
		for _, set := range dims {
			set, ok := set.([]any)
			if !ok || len(set) > 30 {
				t.Fatalf("dimension set %v", set)
			}
			for _, k := range set {
				k, ok := k.(string)
				if v, isStr := doc[k].(string); !ok || !isStr || v == "" {
					t.Errorf("dimension %v has no string value at the top level", k)
				}
			}
		}
		metrics, ok := d["Metrics"].([]any)
		if !ok || len(metrics) == 0 || len(metrics) > 100 {
			t.Fatalf("Metrics = %v", d["Metrics"])
		}
		for _, m := range metrics {
			m, ok := m.(map[string]any)
			if !ok {
				t.Fatalf("metric %v is not an object", m)
			}
			name, _ := m["Name"].(string)
			if _, ok := doc[name].(float64); name == "" || !ok {
				t.Errorf("metric %q has no number at the top level", name)
			}
			if u, ok := m["Unit"].(string); !ok || !slices.Contains([]string{"Count", "Percent", "None"}, u) {
				t.Errorf("metric %q unit %v", name, m["Unit"])
			}
		}
	}
	return doc
}

func TestEMFLine(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := store.Worker{ID: "w1", ControlURL: "http://10.0.1.23:7000", Capacity: 500, Load: 3,
		Rooms: []string{"s1"}, Draining: true, HeartbeatAt: at}
	line, err := newEMF(nil, "sfuworker").line(rec, sfu.Stats{Rooms: 1, Members: 3, Tracks: 6})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("not one line: %q", line)
	}
	doc := checkEMF(t, line)
	aws := doc["_aws"].(map[string]any)
	dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	var names []string
	for _, m := range dir["Metrics"].([]any) {
		names = append(names, m.(map[string]any)["Name"].(string))
	}
	if dir["Namespace"] != "Greenroom" || !slices.Equal(names, []string{"Members", "Rooms", "Tracks", "Draining", "Utilization"}) ||
		aws["Timestamp"] != float64(at.UnixMilli()) || doc["Service"] != "sfuworker" {
		t.Errorf("EMF line %s", line)
	}
	for k, want := range map[string]float64{"Members": 3, "Rooms": 1, "Tracks": 6, "Draining": 1, "Utilization": 0.6} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %v", k, doc[k], want)
		}
	}

	golden := filepath.Join("testdata", "emf.golden.json")
	if *update {
		if err := os.WriteFile(golden, line, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(line, want) {
		t.Errorf("EMF line\n%s\nwant (%s)\n%s", line, golden, want)
	}
}

// failingWorkers is a registry store that refuses every write.
type failingWorkers struct{}

var errDown = errors.New("store down")

func (failingWorkers) PutWorker(context.Context, store.Worker) error { return errDown }
func (failingWorkers) DeleteWorker(context.Context, string) error    { return errDown }

func TestEMFWorkersPrintsEvenWhenTheStoreFails(t *testing.T) {
	var out bytes.Buffer
	w := &emfWorkers{Workers: failingWorkers{}, stats: func() sfu.Stats { return sfu.Stats{Tracks: 2} },
		emf: newEMF(&out, "svc"), log: slog.New(slog.DiscardHandler)}
	err := w.PutWorker(t.Context(), store.Worker{ID: "w1", Capacity: 10, Load: 5, HeartbeatAt: time.Now()})
	if !errors.Is(err, errDown) {
		t.Fatalf("PutWorker = %v, want the store's error", err)
	}
	doc := checkEMF(t, out.Bytes())
	if doc["Utilization"] != 50.0 || doc["Tracks"] != 2.0 || doc["Service"] != "svc" || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("EMF line %s", out.String())
	}
}
