package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrWrongExpectedVersion matches every *WrongExpectedVersionError via
	// errors.Is, for callers that retry on any concurrency conflict.
	ErrWrongExpectedVersion = errors.New("wrong expected version")
	// ErrIdempotencyConflict means an append reused event IDs that are
	// already recorded with other content (or elsewhere); nothing was written.
	ErrIdempotencyConflict = errors.New("event ids already recorded with other content")
	// ErrInvalidInput means the caller's arguments break the contract (see
	// the package limits); nothing was written. It wraps a *ValidationError.
	ErrInvalidInput = errors.New("invalid event store input")
	// ErrClosed is returned by every call on a closed store.
	ErrClosed = errors.New("event store closed")
)

// WrongExpectedVersionError is returned by Append when the stream is not at
// the expected version; Actual lets the caller reload only what it missed.
type WrongExpectedVersionError struct {
	Stream   string
	Expected ExpectedVersion
	// Actual is the stream's current version (0 if it does not exist).
	Actual int64
}

func (e *WrongExpectedVersionError) Error() string {
	return fmt.Sprintf("append to %q: expected version %s, actual %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrWrongExpectedVersion) true.
func (e *WrongExpectedVersionError) Is(target error) bool { return target == ErrWrongExpectedVersion }

// ValidationError names the argument that broke the contract.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidInput }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
