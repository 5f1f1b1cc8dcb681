package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/eventstore"
)

// ErrRebuildRunning refuses a rebuild of a projection that is already
// being rebuilt.
var ErrRebuildRunning = errors.New("a rebuild of this projection is already running")

// Slot holds the live generation of an in-memory model and lets it be
// rebuilt without downtime: a fresh model replays the log while the live
// one keeps serving, then replaces it in one step. The live projection
// applies through the Slot (it is the Target), so the swap never loses an
// event applied in between.
type Slot[M Target] struct {
	// New returns an empty model.
	New func() M

	apply    sync.Mutex // serializes live applies and the swap
	mu       sync.RWMutex
	cur      M
	building bool
}

// NewSlot returns a slot holding an empty model made by fresh.
func NewSlot[M Target](fresh func() M) *Slot[M] {
	return &Slot[M]{New: fresh, cur: fresh()}
}

// Current returns the live model; readers answer from it.
func (s *Slot[M]) Current() M {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur
}

// Checkpoint implements Target with the live model's checkpoint.
func (s *Slot[M]) Checkpoint(ctx context.Context) (eventstore.Position, error) {
	return s.Current().Checkpoint(ctx)
}

// Apply implements Target on the live model.
func (s *Slot[M]) Apply(ctx context.Context, evs []eventstore.Event) error {
	s.apply.Lock()
	defer s.apply.Unlock()
	return s.Current().Apply(ctx, evs)
}

// Rebuild replays the log (the part filter selects) into a fresh model
// while the live one keeps serving, then swaps it in once it has caught
// up with the live one. batch bounds one Apply (0: 2,000). It returns
// ErrRebuildRunning if a rebuild is already running; on any error the
// live model stays.
func (s *Slot[M]) Rebuild(ctx context.Context, store eventstore.Store, filter eventstore.Filter, batch int, progress func(pos, head eventstore.Position)) error {
	s.mu.Lock()
	if s.building {
		s.mu.Unlock()
		return ErrRebuildRunning
	}
	s.building = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.building = false
		s.mu.Unlock()
	}()
	if batch <= 0 {
		batch = 2000
	}
	fresh := s.New()
	// upTo catches fresh up: to the head, or while holding the apply lock
	// to at least the live model's checkpoint.
	upTo := func(target eventstore.Position) error {
		for {
			pos, err := fresh.Checkpoint(ctx)
			if err != nil {
				return err
			}
			if progress != nil {
				head, err := store.Head(ctx)
				if err != nil {
					return fmt.Errorf("rebuild: read the head: %w", err)
				}
				progress(pos, head)
			}
			evs, err := store.ReadAll(ctx, eventstore.ReadAllOptions{After: pos, Filter: filter, Limit: batch})
			if err != nil {
				return fmt.Errorf("rebuild: read the log: %w", err)
			}
			if len(evs) == 0 {
				return nil
			}
			if err := fresh.Apply(ctx, evs); err != nil {
				return fmt.Errorf("rebuild: apply at %d: %w", evs[0].Position, err)
			}
			if target > 0 && evs[len(evs)-1].Position >= target {
				return nil
			}
		}
	}
	if err := upTo(0); err != nil {
		return err
	}
	if progress != nil {
		// Caught up with the head; the swap comes next.
		pos, _ := fresh.Checkpoint(ctx)
		progress(pos, pos)
	}
	s.apply.Lock()
	defer s.apply.Unlock()
	live, err := s.Current().Checkpoint(ctx)
	if err != nil {
		return err
	}
	if pos, err := fresh.Checkpoint(ctx); err != nil {
		return err
	} else if pos < live {
		if err := upTo(live); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.cur = fresh
	s.mu.Unlock()
	return nil
}

// The Slot readers answer from the live model of their slot.
type (
	// CatalogSlot is a rebuildable MemoryCatalog.
	CatalogSlot struct{ *Slot[*MemoryCatalog] }
	// CartSlot is a rebuildable MemoryCarts.
	CartSlot struct{ *Slot[*MemoryCarts] }
	// OrderSlot is a rebuildable MemoryOrders.
	OrderSlot struct{ *Slot[*MemoryOrders] }
	// CorrelationSlot is a rebuildable MemoryCorrelations.
	CorrelationSlot struct{ *Slot[*MemoryCorrelations] }
)

// Position implements Positioned.
func (s CatalogSlot) Position(ctx context.Context) (eventstore.Position, error) {
	return s.Current().Position(ctx)
}

// Product implements CatalogReader.
func (s CatalogSlot) Product(ctx context.Context, id string) (Product, bool, error) {
	return s.Current().Product(ctx, id)
}

// Products implements CatalogReader.
func (s CatalogSlot) Products(ctx context.Context, q Query) ([]Product, string, error) {
	return s.Current().Products(ctx, q)
}

// Categories implements CatalogReader.
func (s CatalogSlot) Categories(ctx context.Context) ([]Category, error) {
	return s.Current().Categories(ctx)
}

// Position implements Positioned.
func (s CartSlot) Position(ctx context.Context) (eventstore.Position, error) {
	return s.Current().Position(ctx)
}

// Cart implements CartReader.
func (s CartSlot) Cart(ctx context.Context, id string) (cart.State, error) {
	return s.Current().Cart(ctx, id)
}

// Position implements Positioned.
func (s OrderSlot) Position(ctx context.Context) (eventstore.Position, error) {
	return s.Current().Position(ctx)
}

// Order implements OrderReader.
func (s OrderSlot) Order(ctx context.Context, id string) (Order, bool, error) {
	return s.Current().Order(ctx, id)
}

// OrdersOf implements OrderReader.
func (s OrderSlot) OrdersOf(ctx context.Context, userID string) ([]Order, error) {
	return s.Current().OrdersOf(ctx, userID)
}

// Position implements Positioned.
func (s CorrelationSlot) Position(ctx context.Context) (eventstore.Position, error) {
	return s.Current().Position(ctx)
}

// Correlated implements CorrelationReader.
func (s CorrelationSlot) Correlated(ctx context.Context, id string) ([]eventstore.Position, error) {
	return s.Current().Correlated(ctx, id)
}
