package readmodeltest_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/internal/readmodeltest"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/projections/analytics"
)

// memoryModels is the embedded default's set of read models.
type memoryModels struct {
	catalog      *projections.Slot[*projections.MemoryCatalog]
	carts        *projections.Slot[*projections.MemoryCarts]
	orders       *projections.Slot[*projections.MemoryOrders]
	correlations *projections.Slot[*projections.MemoryCorrelations]
	analytics    *projections.Slot[*analytics.Memory]
}

func newMemoryModels(codec *eventstore.Codec) memoryModels {
	return memoryModels{
		catalog:      projections.NewSlot(func() *projections.MemoryCatalog { return projections.NewMemoryCatalog(codec) }),
		carts:        projections.NewSlot(func() *projections.MemoryCarts { return projections.NewMemoryCarts(codec) }),
		orders:       projections.NewSlot(func() *projections.MemoryOrders { return projections.NewMemoryOrders(codec) }),
		correlations: projections.NewSlot(projections.NewMemoryCorrelations),
		analytics:    projections.NewSlot(func() *analytics.Memory { return analytics.NewMemory(codec) }),
	}
}

func (m memoryModels) projections() []projections.Projection {
	return []projections.Projection{
		{Name: "catalog", Filter: projections.CatalogFilter, Target: m.catalog},
		{Name: "carts", Filter: projections.CartFilter, Target: m.carts},
		{Name: "orders", Filter: projections.OrderFilter, Target: m.orders},
		{Name: "correlations", Target: m.correlations},
		{Name: analytics.Name, Filter: analytics.Filter, Target: m.analytics},
	}
}

func (m memoryModels) readers() readmodeltest.Readers {
	return readmodeltest.Readers{
		Catalog:      projections.CatalogSlot{Slot: m.catalog},
		Carts:        projections.CartSlot{Slot: m.carts},
		Orders:       projections.OrderSlot{Slot: m.orders},
		Correlations: projections.CorrelationSlot{Slot: m.correlations},
		Analytics:    analytics.Slot{Slot: m.analytics},
	}
}

// rebuilds replays each model into a fresh one and swaps it in; slow
// makes every step of the replay, and the moment before the swap, take a
// few milliseconds so that the workload keeps appending meanwhile.
func (m memoryModels) rebuilds(store eventstore.Store, slow bool) map[string]func(context.Context) error {
	progress := func(_, _ eventstore.Position) {
		if slow {
			time.Sleep(3 * time.Millisecond)
		}
	}
	return map[string]func(context.Context) error{
		"catalog": func(ctx context.Context) error {
			return m.catalog.Rebuild(ctx, store, projections.CatalogFilter, 20, progress)
		},
		"carts": func(ctx context.Context) error {
			return m.carts.Rebuild(ctx, store, projections.CartFilter, 20, progress)
		},
		"orders": func(ctx context.Context) error {
			return m.orders.Rebuild(ctx, store, projections.OrderFilter, 20, progress)
		},
		"correlations": func(ctx context.Context) error {
			return m.correlations.Rebuild(ctx, store, eventstore.Filter{}, 20, progress)
		},
		analytics.Name: func(ctx context.Context) error {
			return m.analytics.Rebuild(ctx, store, analytics.Filter, 20, progress)
		},
	}
}

// caughtUp appends a marker event and waits until the log's head has
// passed it and every projection of runner has processed the log up to
// it. The head alone is not enough on PostgreSQL: it only counts events no
// running transaction can still precede, and other tests' transactions on
// the same server can hold it behind the workload's last append.
func caughtUp(t *testing.T, runner *projections.Runner, store eventstore.Store, names ...string) {
	t.Helper()
	ctx := context.Background()
	res, err := store.Append(ctx, "marker-"+uuid.NewString(), eventstore.NoStream, eventstore.EventData{
		ID: uuid.New(), Type: "test.marker", SchemaVersion: 1, Data: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		head, err := store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if head >= res.LastPosition {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the head stays at %d, before the marker at %d", head, res.LastPosition)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, n := range names {
		for runner.Through(n) < res.LastPosition {
			if time.Now().After(deadline) {
				t.Fatalf("projection %s did not reach %d: %+v", n, res.LastPosition, runner.Statuses()[n])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestConvergenceOnTheEmbeddedDefault runs a random concurrent workload
// with the live in-memory models following it and a rebuild of every model
// swapped in halfway; afterwards the live models, the rebuilt ones and
// models replayed from scratch must answer every question identically.
func TestConvergenceOnTheEmbeddedDefault(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3} {
		store, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		r := &commands.Runner{Store: store, Codec: commands.NewCodec()}
		live := newMemoryModels(r.Codec)
		runner := &projections.Runner{Store: store, Poll: 2 * time.Millisecond}
		var wg sync.WaitGroup
		for _, p := range live.projections() {
			wg.Add(1)
			go func() { defer wg.Done(); _ = runner.Run(ctx, p) }()
		}

		// Rebuild every model while the workload runs.
		rebuilt := make(chan error, 5)
		go func() {
			time.Sleep(20 * time.Millisecond)
			var rw sync.WaitGroup
			for name, rebuild := range live.rebuilds(store, true) {
				rw.Add(1)
				go func() {
					defer rw.Done()
					if err := rebuild(ctx); err != nil {
						rebuilt <- err
						return
					}
					t.Logf("seed %d: %s rebuilt and swapped in during the workload", seed, name)
				}()
			}
			rw.Wait()
			close(rebuilt)
		}()
		keys, err := readmodeltest.Workload{Seed: seed}.Run(ctx, r)
		if err != nil {
			t.Fatalf("seed %d: workload: %v", seed, err)
		}
		for err := range rebuilt {
			t.Fatalf("seed %d: rebuild: %v", seed, err)
		}
		caughtUp(t, runner, store, "catalog", "carts", "orders", "correlations", analytics.Name)
		got, err := readmodeltest.Take(ctx, live.readers(), keys)
		if err != nil {
			t.Fatal(err)
		}

		fresh := newMemoryModels(r.Codec)
		for name, rebuild := range fresh.rebuilds(store, false) {
			if err := rebuild(ctx); err != nil {
				t.Fatalf("seed %d: replay %s from scratch: %v", seed, name, err)
			}
		}
		want, err := readmodeltest.Take(ctx, fresh.readers(), keys)
		if err != nil {
			t.Fatal(err)
		}
		if d := readmodeltest.Diff(want, got, 10); d != "" {
			t.Fatalf("seed %d: the live models differ from a replay from scratch:\n%s", seed, d)
		}
		if len(keys.Orders) == 0 || len(keys.Checkouts) == 0 {
			t.Fatalf("seed %d: the workload placed no order (%d checkouts): it tests too little", seed, len(keys.Checkouts))
		}
		t.Logf("seed %d: %d products, %d shoppers, %d checkouts, %d orders, %d answers compared", seed, len(keys.Products), len(keys.Customers), len(keys.Checkouts), len(keys.Orders), len(got))
		cancel()
		wg.Wait()
	}
}
