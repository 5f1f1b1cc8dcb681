package eventstore

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Position is an event's place in the global log ($all). Positions are
// strictly increasing in commit order; 0 means "before the first event".
type Position int64

// Event is an event as recorded: the envelope the store assigns around the
// writer's EventData.
type Event struct {
	ID            uuid.UUID
	StreamID      string
	Version       int64 // 1 for a stream's first event, gap-free after it
	Position      Position
	Type          string
	SchemaVersion int
	Data          json.RawMessage
	Metadata      json.RawMessage
	RecordedAt    time.Time
}

// EventData is what a writer hands to Append. The ID is chosen by the writer
// so that a retried append can be recognised and not written twice.
type EventData struct {
	ID            uuid.UUID
	Type          string
	SchemaVersion int
	Data          json.RawMessage
	Metadata      json.RawMessage
}

// ExpectedVersion is the optimistic-concurrency condition of an Append: one of
// Any, NoStream, StreamExists, or an exact version made with Exact.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's current version is.
	Any ExpectedVersion = -1
	// NoStream appends only if the stream has no events yet; it is what makes
	// reservation streams (unique emails, ...) safe under races.
	NoStream ExpectedVersion = 0
	// StreamExists appends only if the stream already has at least one event.
	StreamExists ExpectedVersion = -2
)

// Exact expects the stream to be exactly at version v (its last event's
// version; 0 for an empty stream, which is the same as NoStream).
func Exact(v int64) ExpectedVersion { return ExpectedVersion(v) }

// Valid reports whether e is Any, StreamExists or a version >= 0.
func (e ExpectedVersion) Valid() bool { return e >= 0 || e == Any || e == StreamExists }

// String renders e for errors and logs.
func (e ExpectedVersion) String() string {
	switch e {
	case Any:
		return "any"
	case StreamExists:
		return "stream-exists"
	case NoStream:
		return "no-stream"
	}
	if e < 0 {
		return "invalid(" + itoa(int64(e)) + ")"
	}
	return itoa(int64(e))
}

// AppendResult says where an append landed, so a write answer can carry
// X-Event-Position and a client can read its own writes.
type AppendResult struct {
	// NextExpectedVersion is the stream's version after the append (for a
	// retried append, the stream's current version).
	NextExpectedVersion int64
	// FirstPosition and LastPosition bound the positions of the appended
	// events (for a retried append, those of the events first written).
	FirstPosition, LastPosition Position
}

// Direction orders a stream read.
type Direction int

const (
	// Forwards reads from the given version towards the stream's end.
	Forwards Direction = iota
	// Backwards reads from the given version towards the stream's start.
	Backwards
)

// ReadStreamOptions selects a slice of one stream.
type ReadStreamOptions struct {
	Direction Direction
	// From is the first version to return (inclusive). 0 means the start
	// (Forwards) or the end (Backwards).
	From int64
	// Limit caps the number of events; 0 means DefaultReadLimit.
	Limit int
}

// Filter narrows a read of $all. An empty filter matches every event.
type Filter struct {
	// Types keeps only events whose type is one of these.
	Types []string
	// StreamPrefix keeps only events whose stream id starts with it.
	StreamPrefix string
}

// Match reports whether e passes f; adapters that cannot filter in their
// query language use it.
func (f Filter) Match(e Event) bool {
	if f.StreamPrefix != "" && (len(e.StreamID) < len(f.StreamPrefix) || e.StreamID[:len(f.StreamPrefix)] != f.StreamPrefix) {
		return false
	}
	if len(f.Types) == 0 {
		return true
	}
	for _, t := range f.Types {
		if t == e.Type {
			return true
		}
	}
	return false
}

// ReadAllOptions selects a slice of the global log.
type ReadAllOptions struct {
	// After is exclusive: the read starts at the first event past it.
	After  Position
	Filter Filter
	// Limit caps the number of events; 0 means DefaultReadLimit.
	Limit int
}

// SubscribeOptions starts a catch-up subscription to $all.
type SubscribeOptions struct {
	// After is exclusive, usually the subscriber's checkpoint.
	After  Position
	Filter Filter
	// BatchSize is how many events one read fetches; 0 means DefaultReadLimit.
	BatchSize int
}

// DefaultReadLimit bounds reads that do not say how many events they want.
const DefaultReadLimit = 1000

// MaxReadLimit bounds any single read so one call cannot exhaust memory.
const MaxReadLimit = 10000

func itoa(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
