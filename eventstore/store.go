package eventstore

import "context"

// Store is the port every event store adapter implements and
// eventstore/storetest verifies. All methods are safe for concurrent use.
type Store interface {
	// Append writes events atomically at the end of stream if the stream is
	// at the expected version. It returns *WrongExpectedVersionError on a
	// mismatch, ErrIdempotencyConflict when event IDs are reused with other
	// content, and an ErrInvalidInput error for bad arguments; in each case
	// nothing is written. Appending events already recorded in the stream
	// (same IDs, same content) writes nothing and reports where they are.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error)

	// ReadStream returns events of one stream in version order (or reverse).
	// A stream that does not exist reads as empty, not as an error.
	ReadStream(ctx context.Context, stream string, opts ReadStreamOptions) ([]Event, error)

	// ReadAll returns events of the global log after opts.After in position
	// order. It never returns an event while an event with a lower position
	// can still appear: what it returns is a stable prefix of $all.
	ReadAll(ctx context.Context, opts ReadAllOptions) ([]Event, error)

	// Subscribe reads $all from opts.After and then follows live appends,
	// calling fn once per event in position order, until ctx is done (it
	// returns ctx.Err()), fn returns an error (returned as is), or the store
	// fails. fn runs on the caller's goroutine.
	Subscribe(ctx context.Context, opts SubscribeOptions, fn func(Event) error) error

	// Head returns the position of the last event ReadAll can return now.
	Head(ctx context.Context) (Position, error)

	// Close releases the store's resources; calls after it fail with ErrClosed.
	Close() error
}
