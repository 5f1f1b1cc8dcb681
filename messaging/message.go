package messaging

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
)

// TopicPrefix starts every topic the relay publishes events to.
const TopicPrefix = "events."

// Topic returns the topic an event of stream streamID goes to: "events." + its category, the part before the first '-' ("product-42" -> "events.product").
func Topic(streamID string) string {
	category, _, _ := strings.Cut(streamID, "-")
	return TopicPrefix + category
}

// Metadata keys of every relayed message.
const (
	MetaEventID       = "event_id"
	MetaEventType     = "event_type"
	MetaStreamID      = "stream_id"
	MetaVersion       = "version"
	MetaPosition      = "position"
	MetaSchemaVersion = "schema_version"
	MetaRecordedAt    = "recorded_at"
	MetaCorrelationID = "correlation_id"
	MetaCausationID   = "causation_id"
	MetaTraceParent   = "traceparent"
	MetaEventMetadata = "event_metadata" // the event's raw metadata JSON
)

// traceKeys are the keys of an event's metadata JSON that are lifted into
// message metadata, as commands.Metadata writes them.
type traceKeys struct {
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
	TraceParent   string `json:"traceparent"`
}

// NewMessage turns a recorded event into the message the relay publishes:
// UUID = event id, payload = e.Data, the envelope in metadata. Correlation,
// causation and trace context are read from the event's metadata JSON when
// it is an object; metadata that is not (it should never happen) is still
// carried raw, so the relay never blocks on it. It fails only for an event
// without an id.
func NewMessage(e eventstore.Event) (*message.Message, error) {
	if e.ID == uuid.Nil {
		return nil, fmt.Errorf("messaging: event at position %d of stream %q has no id", e.Position, e.StreamID)
	}
	m := message.NewMessage(e.ID.String(), message.Payload(e.Data))
	m.Metadata = message.Metadata{
		MetaEventID:       e.ID.String(),
		MetaEventType:     e.Type,
		MetaStreamID:      e.StreamID,
		MetaVersion:       strconv.FormatInt(e.Version, 10),
		MetaPosition:      strconv.FormatInt(int64(e.Position), 10),
		MetaSchemaVersion: strconv.Itoa(e.SchemaVersion),
		MetaRecordedAt:    e.RecordedAt.Format(time.RFC3339Nano),
	}
	if len(e.Metadata) > 0 {
		m.Metadata[MetaEventMetadata] = string(e.Metadata)
		var k traceKeys
		if json.Unmarshal(e.Metadata, &k) == nil {
			setIf(m.Metadata, MetaCorrelationID, k.CorrelationID)
			setIf(m.Metadata, MetaCausationID, k.CausationID)
			setIf(m.Metadata, MetaTraceParent, k.TraceParent)
		}
	}
	return m, nil
}

func setIf(md message.Metadata, key, value string) {
	if value != "" {
		md[key] = value
	}
}

// DecodeEvent is the exact inverse of NewMessage: it rebuilds the event a
// relayed message carries. It fails, naming the key, when a metadata value is
// missing or malformed.
func DecodeEvent(m *message.Message) (eventstore.Event, error) {
	md := m.Metadata
	var e eventstore.Event
	var err error
	if e.ID, err = uuid.Parse(md.Get(MetaEventID)); err != nil {
		return e, fmt.Errorf("messaging: message %s: %s: %w", m.UUID, MetaEventID, err)
	}
	e.StreamID = md.Get(MetaStreamID)
	e.Type = md.Get(MetaEventType)
	if e.StreamID == "" || e.Type == "" {
		return e, fmt.Errorf("messaging: message %s: missing %s or %s", m.UUID, MetaStreamID, MetaEventType)
	}
	if e.Version, err = strconv.ParseInt(md.Get(MetaVersion), 10, 64); err != nil {
		return e, fmt.Errorf("messaging: message %s: %s: %w", m.UUID, MetaVersion, err)
	}
	pos, err := strconv.ParseInt(md.Get(MetaPosition), 10, 64)
	if err != nil {
		return e, fmt.Errorf("messaging: message %s: %s: %w", m.UUID, MetaPosition, err)
	}
	e.Position = eventstore.Position(pos)
	if e.SchemaVersion, err = strconv.Atoi(md.Get(MetaSchemaVersion)); err != nil {
		return e, fmt.Errorf("messaging: message %s: %s: %w", m.UUID, MetaSchemaVersion, err)
	}
	if e.RecordedAt, err = time.Parse(time.RFC3339Nano, md.Get(MetaRecordedAt)); err != nil {
		return e, fmt.Errorf("messaging: message %s: %s: %w", m.UUID, MetaRecordedAt, err)
	}
	if len(m.Payload) > 0 {
		e.Data = json.RawMessage(m.Payload)
	}
	if raw := md.Get(MetaEventMetadata); raw != "" {
		e.Metadata = json.RawMessage(raw)
	}
	return e, nil
}
