//go:build race

package runner_test

// raceEnabled: the race detector slows the stack several times over; the
// largest crowds run without it (make e2e's crowd step).
const raceEnabled = true
