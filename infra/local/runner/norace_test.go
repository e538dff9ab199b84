//go:build !race

package runner_test

// raceEnabled: see race_test.go.
const raceEnabled = false
