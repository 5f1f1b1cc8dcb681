package projections

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/commerce-engine/commerce/eventstore"
)

// unindexedPrefixes are streams that never belong to an order's timeline:
// account lookups and recorded HTTP answers.
var unindexedPrefixes = []string{eventstore.AccountStreamPrefix, eventstore.IdempotencyStreamPrefix}

// MemoryCorrelations indexes every event's position by its correlation id
// (the embedded default), so an order's timeline can gather the events of
// its checkout across cart, product, payment and order streams.
type MemoryCorrelations struct {
	mu    sync.RWMutex
	pos   eventstore.Position
	index map[string][]eventstore.Position
}

// NewMemoryCorrelations returns an empty index.
func NewMemoryCorrelations() *MemoryCorrelations {
	return &MemoryCorrelations{index: map[string][]eventstore.Position{}}
}

// Checkpoint implements Target.
func (m *MemoryCorrelations) Checkpoint(context.Context) (eventstore.Position, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pos, nil
}

// Position implements Positioned: the last position applied.
func (m *MemoryCorrelations) Position(ctx context.Context) (eventstore.Position, error) {
	return m.Checkpoint(ctx)
}

// CorrelationID reads an event's correlation id from its metadata.
func CorrelationID(e eventstore.Event) string {
	var md struct {
		CorrelationID string `json:"correlation_id"`
	}
	if len(e.Metadata) == 0 || json.Unmarshal(e.Metadata, &md) != nil {
		return ""
	}
	return md.CorrelationID
}

// Apply implements Target. Metadata that does not parse has no
// correlation: the event is indexed nowhere, never refused.
func (m *MemoryCorrelations) Apply(_ context.Context, evs []eventstore.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range evs {
		if e.Position <= m.pos {
			continue
		}
		m.pos = e.Position
		if id, ok := Correlates(e); ok {
			m.index[id] = append(m.index[id], e.Position)
		}
	}
	return nil
}

// Correlated implements CorrelationReader.
func (m *MemoryCorrelations) Correlated(_ context.Context, id string) ([]eventstore.Position, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]eventstore.Position(nil), m.index[id]...), nil
}

// Correlates is the correlation index's logic, written once for every
// store: the correlation id e is indexed under, false when it is indexed
// nowhere (no correlation, or a stream that is never part of a timeline).
func Correlates(e eventstore.Event) (string, bool) {
	for _, p := range unindexedPrefixes {
		if strings.HasPrefix(e.StreamID, p) {
			return "", false
		}
	}
	id := CorrelationID(e)
	return id, id != ""
}
