package analytics

import (
	"context"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
)

// Slot is a rebuildable in-memory analytics model: it answers from the
// live generation of its projections.Slot.
type Slot struct{ *projections.Slot[*Memory] }

var _ Reader = Slot{}

// Position implements projections.Positioned.
func (s Slot) Position(ctx context.Context) (eventstore.Position, error) {
	return s.Current().Position(ctx)
}

// Sales implements Reader.
func (s Slot) Sales(ctx context.Context, from, to time.Time, granularity string) ([]SalesPoint, error) {
	return s.Current().Sales(ctx, from, to, granularity)
}

// TopProducts implements Reader.
func (s Slot) TopProducts(ctx context.Context, from, to time.Time, limit int) ([]ProductSales, error) {
	return s.Current().TopProducts(ctx, from, to, limit)
}

// Funnel implements Reader.
func (s Slot) Funnel(ctx context.Context, from, to time.Time) (Funnel, error) {
	return s.Current().Funnel(ctx, from, to)
}
