package eventstore

import (
	"bytes"
	"encoding/json"

	"github.com/google/uuid"
)

// Limits every adapter enforces before it writes anything.
const (
	// MaxStreamIDLength bounds stream ids ("order-<uuid>" is 42 bytes).
	MaxStreamIDLength = 200
	// MaxTypeLength bounds event type names.
	MaxTypeLength = 200
	// MaxEventSize bounds one event's data plus metadata: 1 MiB. Events are
	// facts, not blobs; images and documents belong elsewhere.
	MaxEventSize = 1 << 20
	// MaxEventsPerAppend bounds one atomic append.
	MaxEventsPerAppend = 1000
)

// ValidateStreamID checks a stream id against the contract.
func ValidateStreamID(stream string) error {
	if stream == "" {
		return invalid("stream_id", "is empty")
	}
	if len(stream) > MaxStreamIDLength {
		return invalid("stream_id", "is %d bytes, the limit is %d", len(stream), MaxStreamIDLength)
	}
	for i := 0; i < len(stream); i++ {
		if c := stream[i]; c <= ' ' || c > '~' {
			return invalid("stream_id", "has a character outside printable ASCII at byte %d", i)
		}
	}
	return nil
}

// ValidateAppend checks every argument of an Append; adapters call it first
// so that bad input is refused the same way everywhere and writes nothing.
// It returns a *ValidationError (errors.Is ErrInvalidInput).
func ValidateAppend(stream string, expected ExpectedVersion, events []EventData) error {
	if err := ValidateStreamID(stream); err != nil {
		return err
	}
	if !expected.Valid() {
		return invalid("expected_version", "%d is negative and not Any or StreamExists", int64(expected))
	}
	if len(events) == 0 {
		return invalid("events", "none given")
	}
	if len(events) > MaxEventsPerAppend {
		return invalid("events", "%d given, the limit is %d", len(events), MaxEventsPerAppend)
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i, e := range events {
		field := "events[" + itoa(int64(i)) + "]"
		if e.ID == uuid.Nil {
			return invalid(field+".id", "is the nil UUID")
		}
		if _, dup := seen[e.ID]; dup {
			return invalid(field+".id", "repeats an id of the same append")
		}
		seen[e.ID] = struct{}{}
		if e.Type == "" || len(e.Type) > MaxTypeLength {
			return invalid(field+".type", "must be 1 to %d bytes", MaxTypeLength)
		}
		if e.SchemaVersion < 1 {
			return invalid(field+".schema_version", "must be at least 1")
		}
		if size := len(e.Data) + len(e.Metadata); size > MaxEventSize {
			return invalid(field, "is %d bytes, the limit is %d", size, MaxEventSize)
		}
		if len(bytes.TrimSpace(e.Data)) == 0 || !json.Valid(e.Data) {
			return invalid(field+".data", "is not valid JSON")
		}
		if len(e.Metadata) > 0 && !json.Valid(e.Metadata) {
			return invalid(field+".metadata", "is not valid JSON")
		}
	}
	return nil
}

// ValidateLimit turns a caller's limit into the one a read uses.
func ValidateLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, invalid("limit", "is negative")
	case limit == 0:
		return DefaultReadLimit, nil
	case limit > MaxReadLimit:
		return MaxReadLimit, nil
	}
	return limit, nil
}

// ValidateReadStream checks a ReadStream call and returns the limit to use.
func ValidateReadStream(stream string, opts ReadStreamOptions) (int, error) {
	if err := ValidateStreamID(stream); err != nil {
		return 0, err
	}
	if opts.From < 0 {
		return 0, invalid("from", "is negative")
	}
	if opts.Direction != Forwards && opts.Direction != Backwards {
		return 0, invalid("direction", "is neither forwards nor backwards")
	}
	return ValidateLimit(opts.Limit)
}

// ValidateReadAll checks a ReadAll call and returns the limit to use.
func ValidateReadAll(opts ReadAllOptions) (int, error) {
	if opts.After < 0 {
		return 0, invalid("after", "is negative")
	}
	return ValidateLimit(opts.Limit)
}
