package sfu

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWorker runs one publisher (VP8 ~1.5 Mbit/s at 175 pkt/s plus
// Opus at 50 pkt/s) to N subscribers, all real pion peers in this
// process over loopback. The CPU and allocation figures are of the whole
// process, so they include the subscribers' own DTLS/SRTP work: an upper
// bound of the worker's share. Run with -benchtime 1x.
func BenchmarkWorker(b *testing.B) {
	for _, n := range []int{10, 25, 50} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			h := newHarness(b)
			newClient(h, on("pub", true, MainGroup), clientOpts{video: true, audio: true, bench: true})
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)

			// n members join at once.
			subs := make([]*client, n)
			starts := make([]time.Time, n)
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := range subs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start := time.Now()
					c := newClient(h, on(MemberID(fmt.Sprintf("s%d", i)), false, MainGroup), clientOpts{})
					mu.Lock()
					subs[i], starts[i] = c, start
					mu.Unlock()
				}()
			}
			wg.Wait()
			// Members still without video after the deadline are reported
			// (join-missing) rather than failing the run.
			deadline := time.Now().Add(15 * time.Second)
			var lat []time.Duration
			for i, c := range subs {
				for c.count("pub", "video") == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				c.mu.Lock()
				if r := c.recv["pub/video"]; r != nil {
					lat = append(lat, r.first.Sub(starts[i]))
				}
				c.mu.Unlock()
			}
			missing := n - len(lat)
			if len(lat) == 0 {
				b.Fatal("no member got video")
			}
			slices.Sort(lat)
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)

			b.ResetTimer()
			st0, cpu0 := h.w.Stats(), cpuTime()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			time.Sleep(3 * time.Second) // The bounded measuring window.
			runtime.ReadMemStats(&m1)
			st1, cpu1 := h.w.Stats(), cpuTime()
			b.StopTimer()
			pk := float64(st1.PacketsForwarded - st0.PacketsForwarded)
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/pk, "cpu-µs/fwd-pkt")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/pk, "allocs/fwd-pkt")
			b.ReportMetric(pk/3, "fwd-pkt/s")
			b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(n)/1024, "KiB/sub")
			b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "join-p50-ms")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Milliseconds()), "join-p99-ms")
			b.ReportMetric(float64(missing), "join-missing")
		})
	}
}
