//go:build !race

package analytics_test

// raceEnabled is false without the race detector: the rebuild rate floor
// holds.
const raceEnabled = false
