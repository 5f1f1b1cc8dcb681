// Package commands is the application layer of the write side: it loads an
// aggregate's stream, folds it into state, asks the pure domain decider what
// happens, and appends the resulting events with the version it read as the
// expected version.
//
// Concurrency conflicts are retried here (never in the domain) a bounded
// number of times with jittered backoff. Commands are idempotent by command
// id: the ids of the events a command writes are derived from its id, so a
// retried command finds its own events in the stream and answers what it
// answered the first time instead of deciding again.
package commands
