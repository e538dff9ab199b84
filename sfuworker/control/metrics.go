package control

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// collector turns the worker's Stats into Prometheus metrics at every
// scrape: gauges for what the worker holds, counters for what it has
// done since it started.
type collector struct {
	worker   Worker
	draining *atomic.Bool

	rooms, members, tracks, drain *prometheus.Desc
	packets, bytes, nacks, plis   *prometheus.Desc
	estimates                     *prometheus.Desc
}

// estimateBuckets are the upper bounds (bit/s) of the bandwidth estimate
// histogram: from audio only to the top simulcast layer and beyond.
var estimateBuckets = []float64{100e3, 300e3, 600e3, 1e6, 1.5e6, 2.5e6, 5e6, 10e6}

func newCollector(w Worker, draining *atomic.Bool) *collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("greenroom", "sfu", name), help, nil, nil)
	}
	return &collector{
		worker:   w,
		draining: draining,
		rooms:    d("rooms", "Rooms open on the worker."),
		members:  d("members", "Members in the worker's rooms."),
		tracks:   d("tracks", "Tracks the worker receives."),
		drain:    d("draining", "1 while the worker is draining, else 0."),
		packets:  d("packets_forwarded_total", "RTP packets forwarded to subscribers."),
		bytes:    d("bytes_forwarded_total", "RTP bytes forwarded to subscribers."),
		nacks:    d("nacks_total", "NACKs received from subscribers."),
		plis:     d("plis_total", "PLIs sent to publishers."),
		estimates: d("bandwidth_estimate_bps",
			"Bandwidth estimates of the subscribers' tracks, in bit/s, at the scrape."),
	}
}

// Describe sends the descriptors of every metric.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rooms, c.members, c.tracks, c.drain, c.packets, c.bytes, c.nacks, c.plis, c.estimates} {
		ch <- d
	}
}

// Collect sends the metrics of one Stats snapshot.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.worker.Stats()
	drain := 0.0
	if c.draining.Load() {
		drain = 1
	}
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(st.Rooms))
	ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(st.Members))
	ch <- prometheus.MustNewConstMetric(c.tracks, prometheus.GaugeValue, float64(st.Tracks))
	ch <- prometheus.MustNewConstMetric(c.drain, prometheus.GaugeValue, drain)
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(st.PacketsForwarded))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(st.BytesForwarded))
	ch <- prometheus.MustNewConstMetric(c.nacks, prometheus.CounterValue, float64(st.NACKs))
	ch <- prometheus.MustNewConstMetric(c.plis, prometheus.CounterValue, float64(st.PLIs))
	ch <- estimateHistogram(c.estimates, st.Estimates)
}

// estimateHistogram is a histogram of one scrape's estimates.
func estimateHistogram(d *prometheus.Desc, estimates []int64) prometheus.Metric {
	buckets := make(map[float64]uint64, len(estimateBuckets))
	for _, b := range estimateBuckets {
		buckets[b] = 0 // every bucket is reported, empty ones too
	}
	var sum float64
	for _, e := range estimates {
		sum += float64(e)
		for _, b := range estimateBuckets {
			if float64(e) <= b {
				buckets[b]++
			}
		}
	}
	return prometheus.MustNewConstHistogram(d, uint64(len(estimates)), sum, buckets)
}
