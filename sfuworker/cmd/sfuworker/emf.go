package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/registry"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/store"
)

// The worker's load reaches CloudWatch as metrics without an AWS API
// call: at every heartbeat it prints one line in the CloudWatch Embedded
// Metric Format (EMF) on stdout, which the awslogs driver sends to
// CloudWatch Logs, which extracts the metrics. One line looks like:
//
//	{"_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"Greenroom",
//	  "Dimensions":[["Service"]],"Metrics":[{"Name":"Members","Unit":"Count"},…]}]},
//	 "Service":"sfuworker","WorkerId":"ip-10-0-1-23","Capacity":500,
//	 "Members":3,"Rooms":1,"Tracks":6,"Draining":0,"Utilization":0.6}
//
// Metrics, in namespace Greenroom with the one dimension Service (the
// -emf-service value, "sfuworker" by default), one data point per worker
// per heartbeat, so their Average over a period is the average per
// worker:
//
//	Members      Count    members in the worker's rooms (the registry's load)
//	Rooms        Count    rooms open on the worker
//	Tracks       Count    tracks the worker receives
//	Draining     None     1 while the worker drains, else 0
//	Utilization  Percent  100 × Members / Capacity
//
// WorkerId and Capacity are properties, not dimensions: they can be
// searched in CloudWatch Logs Insights without making a metric per task.
// Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

// emfNamespace is the CloudWatch namespace of the worker's metrics.
const emfNamespace = "Greenroom"

// emfDimension is the name of the metrics' one dimension.
const emfDimension = "Service"

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// emfLine is one EMF log event: the metadata under _aws, the dimension
// and metric values at the top level.
type emfLine struct {
	AWS         emfMetadata `json:"_aws"`
	Service     string      `json:"Service"`
	WorkerID    string      `json:"WorkerId"`
	Capacity    int         `json:"Capacity"`
	Members     int         `json:"Members"`
	Rooms       int         `json:"Rooms"`
	Tracks      int         `json:"Tracks"`
	Draining    int         `json:"Draining"`
	Utilization float64     `json:"Utilization"`
}

// emfMetrics are the metrics of every line, in order.
var emfMetrics = []emfMetric{
	{"Members", "Count"}, {"Rooms", "Count"}, {"Tracks", "Count"},
	{"Draining", "None"}, {"Utilization", "Percent"},
}

// emf writes EMF lines to one writer, one whole line per Write.
type emf struct {
	mu      sync.Mutex
	w       io.Writer
	service string
}

func newEMF(w io.Writer, service string) *emf { return &emf{w: w, service: service} }

// line returns the EMF line of the heartbeat record rec and the
// worker's stats st, with a newline.
func (e *emf) line(rec store.Worker, st sfu.Stats) ([]byte, error) {
	l := emfLine{
		AWS: emfMetadata{
			Timestamp: rec.HeartbeatAt.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace: emfNamespace, Dimensions: [][]string{{emfDimension}}, Metrics: emfMetrics,
			}},
		},
		Service:  e.service,
		WorkerID: rec.ID,
		Capacity: rec.Capacity,
		Members:  rec.Load,
		Rooms:    len(rec.Rooms),
		Tracks:   st.Tracks,
	}
	if rec.Draining {
		l.Draining = 1
	}
	if rec.Capacity > 0 {
		l.Utilization = 100 * float64(rec.Load) / float64(rec.Capacity)
	}
	if l.AWS.Timestamp <= 0 {
		l.AWS.Timestamp = time.Now().UnixMilli()
	}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("emf: %w", err)
	}
	return append(b, '\n'), nil
}

// write prints the EMF line of rec and st.
func (e *emf) write(rec store.Worker, st sfu.Stats) error {
	b, err := e.line(rec, st)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("emf: %w", err)
	}
	return nil
}

// emfWorkers is the registry store of a worker that publishes EMF: every
// heartbeat record it writes is also printed as an EMF line, whether the
// store took it or not.
type emfWorkers struct {
	registry.Workers
	stats func() sfu.Stats
	emf   *emf
	log   *slog.Logger
}

var _ registry.Workers = (*emfWorkers)(nil)

// PutWorker writes w to the store and prints its EMF line.
func (m *emfWorkers) PutWorker(ctx context.Context, w store.Worker) error {
	err := m.Workers.PutWorker(ctx, w)
	if emfErr := m.emf.write(w, m.stats()); emfErr != nil {
		m.log.WarnContext(ctx, "metrics line", "err", emfErr)
	}
	return err
}
