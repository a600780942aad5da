//go:build race

package e2e

// raceEnabled is true when the tests run under the race detector: the
// binary they drive is then built with -race too, so that the detector
// sees the real process under crash and load.
const raceEnabled = true
