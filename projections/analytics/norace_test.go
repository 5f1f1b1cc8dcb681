//go:build !race

package analytics_test

// raceEnabled is false without the race detector; the bulk apply test logs
// it beside its rate.
const raceEnabled = false
