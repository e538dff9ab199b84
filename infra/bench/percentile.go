package main

import (
	"fmt"
	"slices"
	"time"
)

// percentile returns the p-th percentile of sorted by the nearest-rank
// method, as storetest.MeasureContention computes its own.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

// spread sorts d in place and returns its median and 99th percentile.
func spread(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return percentile(d, 50), percentile(d, 99)
}

// ms formats a duration in milliseconds, the unit every figure here uses.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
