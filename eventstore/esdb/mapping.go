package esdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/commerce-engine/commerce/eventstore"
)

// ErrLegacyPosition means $all holds an event whose commit and prepare
// positions differ (an explicit transaction of the old TCP API): no single
// Position keeps its place in the order exactly, so the adapter stops rather
// than deliver it out of order.
var ErrLegacyPosition = errors.New("esdb: event of a legacy explicit transaction (commit != prepare) in $all")

// schemaVersionKey carries our SchemaVersion inside the server's user
// metadata, which has no field of its own for it.
const schemaVersionKey = "commerce_schema_version"

// wrappedMetadataKey holds user metadata that is not a JSON object (it cannot
// take schemaVersionKey beside its own fields).
const wrappedMetadataKey = "commerce_metadata"

// streamState is the client's expected stream state for our expected version.
func streamState(expected eventstore.ExpectedVersion) kurrentdb.StreamState {
	switch expected {
	case eventstore.Any:
		return kurrentdb.Any{}
	case eventstore.NoStream:
		return kurrentdb.NoStream{}
	case eventstore.StreamExists:
		return kurrentdb.StreamExists{}
	}
	return kurrentdb.Revision(uint64(expected) - 1)
}

// versionOf turns the server's 0-based revision into our 1-based version.
func versionOf(revision uint64) int64 { return int64(revision) + 1 }

// toPosition maps a $all position to ours: the log position plus one, so
// that 0 keeps meaning "before the first event".
func toPosition(p kurrentdb.Position) (eventstore.Position, error) {
	if p.Commit != p.Prepare {
		return 0, fmt.Errorf("%w: commit %d, prepare %d", ErrLegacyPosition, p.Commit, p.Prepare)
	}
	if p.Commit >= math.MaxInt64 {
		return 0, fmt.Errorf("esdb: position %d has no place in an int64 (a stream read without $all positions?)", p.Commit)
	}
	return eventstore.Position(p.Commit + 1), nil
}

// fromPosition is the $all position of the event at our position p; p must be
// > 0. A forward read from it includes that event, a subscription from it
// starts after it.
func fromPosition(p eventstore.Position) kurrentdb.Position {
	v := uint64(p - 1)
	return kurrentdb.Position{Commit: v, Prepare: v}
}

// isSystem reports events the server writes for itself ($-prefixed streams
// and types: metadata, statistics, links, projections' state).
func isSystem(stream, typ string) bool {
	return strings.HasPrefix(stream, "$") || strings.HasPrefix(typ, "$")
}

// encodeMetadata puts schemaVersion into the user metadata.
func encodeMetadata(meta json.RawMessage, schemaVersion int) ([]byte, error) {
	trimmed := bytes.TrimSpace(meta)
	out := map[string]json.RawMessage{}
	switch {
	case len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")):
	case trimmed[0] == '{':
		if err := json.Unmarshal(trimmed, &out); err != nil {
			return nil, fmt.Errorf("esdb: metadata: %w", err)
		}
		if _, clash := out[schemaVersionKey]; clash {
			return nil, &eventstore.ValidationError{Field: "metadata", Reason: schemaVersionKey + " is reserved by the EventStoreDB adapter"}
		}
	default:
		out[wrappedMetadataKey] = trimmed
	}
	out[schemaVersionKey] = json.RawMessage(fmt.Sprint(schemaVersion))
	return json.Marshal(out)
}

// decodeMetadata undoes encodeMetadata. Metadata written by another tool
// (no schema version) reads as schema version 1, unchanged.
func decodeMetadata(raw []byte) (json.RawMessage, int, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if len(trimmed) == 0 {
			return nil, 1, nil
		}
		return json.RawMessage(trimmed), 1, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return json.RawMessage(trimmed), 1, nil
	}
	sv, ok := m[schemaVersionKey]
	if !ok {
		return json.RawMessage(trimmed), 1, nil
	}
	var version int
	if err := json.Unmarshal(sv, &version); err != nil || version < 1 {
		return nil, 0, fmt.Errorf("esdb: metadata field %s = %s is not a schema version", schemaVersionKey, sv)
	}
	delete(m, schemaVersionKey)
	if wrapped, ok := m[wrappedMetadataKey]; ok && len(m) == 1 {
		return wrapped, version, nil
	}
	if len(m) == 0 {
		return nil, version, nil
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, 0, fmt.Errorf("esdb: metadata: %w", err)
	}
	return out, version, nil
}

// toEventData is what the client sends for one of our events.
func toEventData(e eventstore.EventData) (kurrentdb.EventData, error) {
	meta, err := encodeMetadata(e.Metadata, e.SchemaVersion)
	if err != nil {
		return kurrentdb.EventData{}, err
	}
	return kurrentdb.EventData{
		EventID:     e.ID,
		EventType:   e.Type,
		ContentType: kurrentdb.ContentTypeJson,
		Data:        e.Data,
		Metadata:    meta,
	}, nil
}

// fromRecorded turns a recorded event of namespace ns into ours; ok is false
// for events outside the namespace and system events, which callers skip.
func fromRecorded(ns string, r *kurrentdb.RecordedEvent) (e eventstore.Event, ok bool, err error) {
	if r == nil || isSystem(r.StreamID, r.EventType) || !strings.HasPrefix(r.StreamID, ns) {
		return eventstore.Event{}, false, nil
	}
	pos, err := toPosition(r.Position)
	if err != nil {
		return eventstore.Event{}, false, fmt.Errorf("%s@%d: %w", r.StreamID, r.EventNumber, err)
	}
	meta, version, err := decodeMetadata(r.UserMetadata)
	if err != nil {
		return eventstore.Event{}, false, fmt.Errorf("%s@%d: %w", r.StreamID, r.EventNumber, err)
	}
	return eventstore.Event{
		ID:            r.EventID,
		StreamID:      r.StreamID[len(ns):],
		Version:       versionOf(r.EventNumber),
		Position:      pos,
		Type:          r.EventType,
		SchemaVersion: version,
		Data:          json.RawMessage(r.Data),
		Metadata:      meta,
		RecordedAt:    r.CreatedDate.UTC().Truncate(time.Microsecond),
	}, true, nil
}

// serverFilter is the server-side filter of a subscription to $all: the
// server filters on stream names or on event types, not both, so streams win
// (a namespace or prefix narrows the most) and the rest is checked here with
// eventstore.Filter.Match. Without either, system events are still filtered
// out at the server.
func serverFilter(ns string, f eventstore.Filter) *kurrentdb.SubscriptionFilter {
	if prefix := ns + f.StreamPrefix; prefix != "" {
		return &kurrentdb.SubscriptionFilter{Type: kurrentdb.StreamFilterType, Prefixes: []string{prefix}}
	}
	if len(f.Types) > 0 {
		quoted := make([]string, len(f.Types))
		for i, t := range f.Types {
			quoted[i] = regexp.QuoteMeta(t)
		}
		return &kurrentdb.SubscriptionFilter{Type: kurrentdb.EventFilterType, Regex: "^(?:" + strings.Join(quoted, "|") + ")$"}
	}
	return kurrentdb.ExcludeSystemEventsFilter()
}

// errorCode is the client's error code of err, or ErrorCodeUnknown.
func errorCode(err error) kurrentdb.ErrorCode {
	var kerr *kurrentdb.Error
	if errors.As(err, &kerr) {
		return kerr.Code()
	}
	return kurrentdb.ErrorCodeUnknown
}

// sameContent reports whether a recorded event is the retry of e: same id,
// type and semantically equal JSON data. Metadata and schema version are not
// compared, as in every adapter: a retry may carry a new trace id.
func sameContent(got eventstore.Event, e eventstore.EventData) bool {
	return got.ID == e.ID && got.Type == e.Type && jsonEqual(got.Data, e.Data)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}
