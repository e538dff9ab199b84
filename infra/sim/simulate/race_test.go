//go:build race

package simulate_test

// raceOn is set when the race detector is on: the large scenarios are
// then left to `make sim` and .ci/e2e.sh (ten times slower under -race).
const raceOn = true
