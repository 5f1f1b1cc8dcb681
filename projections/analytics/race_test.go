//go:build race

package analytics_test

// raceEnabled is true under the race detector, which slows the fold
// several times over; the bulk apply test logs it beside its rate.
const raceEnabled = true
