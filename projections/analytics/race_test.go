//go:build race

package analytics_test

// raceEnabled relaxes the rebuild rate floor: the race detector slows the
// fold several times over.
const raceEnabled = true
