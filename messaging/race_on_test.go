//go:build race

package messaging_test

// raceEnabled: watermill-amqp v3.0.2's reconnect writes ConnectionWrapper.connected
// without a lock, which the race detector reports; tests that drop a
// subscriber's connection run only without -race.
const raceEnabled = true
