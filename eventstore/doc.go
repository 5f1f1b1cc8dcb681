// Package eventstore is the engine's write-side storage contract: an
// append-only log of immutable events, grouped in streams with gap-free
// versions and totally ordered by a global position.
//
// Every adapter (eventstore/sqlite, eventstore/postgres, ...) implements
// Store and must pass eventstore/storetest. The guarantees every adapter
// gives:
//
//   - Append is atomic for all events of one call and checks the expected
//     version of the stream; a mismatch is a *WrongExpectedVersionError.
//   - An append whose event IDs are already in the stream with the same
//     content is a no-op success (a retried request); reusing IDs with other
//     content is ErrIdempotencyConflict.
//   - Global positions are strictly increasing, and a reader following $all
//     never skips and never repeats an event, however many writers commit
//     concurrently and in whatever order their transactions finish.
//
// Limits, checked before anything is written (ErrInvalidInput otherwise):
// stream ids are 1 to MaxStreamIDLength bytes of printable ASCII; event types
// 1 to MaxTypeLength bytes; data and metadata are valid JSON (metadata may be
// empty); one event's data plus metadata is at most MaxEventSize bytes; one
// append carries 1 to MaxEventsPerAppend events.
package eventstore
