package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/projections"
	predis "github.com/commerce-engine/commerce/projections/redis"
)

const redisEnv = "COMMERCE_TEST_REDIS_URL"

var codec = commands.NewCodec()

// newCarts returns a Carts on the test Redis under a fresh prefix whose
// keys are deleted when the test ends.
func newCarts(t *testing.T) *predis.Carts {
	t.Helper()
	url := testsvc.Require(t, redisEnv)
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", redisEnv, err)
	}
	client := goredis.NewClient(opts)
	prefix := testsvc.UniqueName("test_carts") + ":"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping redis: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, k := range scanKeys(t, client, prefix+"*") {
			if err := client.Del(ctx, k).Err(); err != nil {
				t.Errorf("delete %s: %v", k, err)
			}
		}
		_ = client.Close()
	})
	return &predis.Carts{Client: client, Prefix: prefix, Codec: codec}
}

func scanKeys(tb testing.TB, client goredis.UniversalClient, match string) []string {
	tb.Helper()
	var out []string
	iter := client.Scan(context.Background(), 0, match, 1000).Iterator()
	for iter.Next(context.Background()) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatalf("scan %s: %v", match, err)
	}
	sort.Strings(out)
	return out
}

// shop is an event store with products in stock and a command runner.
type shop struct {
	store    eventstore.Store
	runner   *commands.Runner
	products []string
	carts    []string
}

func newShop(t *testing.T, products, carts int) *shop {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	sh := &shop{store: s, runner: &commands.Runner{Store: s, Codec: codec}}
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for i := range products {
		id := uuid.NewString()
		for _, cmd := range []any{
			catalog.CreateProduct{ProductID: id, SKU: fmt.Sprintf("SKU-%d", i), Name: fmt.Sprintf("P%d", i), Category: "c",
				Price: money.Money{Amount: int64(100 + i), Currency: "EUR"}, At: at},
			catalog.AdjustStock{ProductID: id, Delta: 1_000_000, At: at},
		} {
			if _, err := commands.Handle(ctx, sh.runner, commands.Product, catalog.StreamID(id), cmd, commands.Metadata{CommandID: uuid.NewString()}); err != nil {
				t.Fatal(err)
			}
		}
		sh.products = append(sh.products, id)
	}
	for range carts {
		sh.carts = append(sh.carts, uuid.NewString())
	}
	return sh
}

// add puts qty units of a random product in a random cart.
func (sh *shop) add(ctx context.Context, rng *rand.Rand, qty int64) error {
	c := sh.carts[rng.IntN(len(sh.carts))]
	_, err := commands.AddToCart(ctx, sh.runner, cart.AddItem{CartID: c, CustomerID: c, ProductID: sh.products[rng.IntN(len(sh.products))],
		Quantity: qty, At: time.Now()}, commands.Metadata{CommandID: uuid.NewString()})
	return err
}

// history adds and changes items at random.
func (sh *shop) history(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		if rng.IntN(4) == 0 {
			c := sh.carts[rng.IntN(len(sh.carts))]
			s, _, err := commands.Load(ctx, sh.runner, commands.Cart, cart.StreamID(c))
			if err != nil {
				t.Fatal(err)
			}
			for p := range s.Lines {
				if _, err := commands.ChangeCartQuantity(ctx, sh.runner, cart.ChangeItemQuantity{CartID: c, ProductID: p, Quantity: int64(1 + rng.IntN(5)), At: time.Now()},
					commands.Metadata{CommandID: uuid.NewString()}); err != nil {
					t.Fatal(err)
				}
				break
			}
			continue
		}
		if err := sh.add(ctx, rng, int64(1+rng.IntN(3))); err != nil {
			t.Fatal(err)
		}
	}
}

func (sh *shop) all(t *testing.T) []eventstore.Event {
	t.Helper()
	var out []eventstore.Event
	var after eventstore.Position
	for {
		evs, err := sh.store.ReadAll(context.Background(), eventstore.ReadAllOptions{After: after, Filter: projections.CartFilter, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Position
	}
}

func jsonOf(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// sameCarts fails unless every cart of sh reads the same in both models.
func sameCarts(t *testing.T, sh *shop, want projections.CartReader, got *predis.Carts) {
	t.Helper()
	ctx := context.Background()
	nonEmpty := 0
	for _, id := range append(sh.carts, "nobody") {
		w, err := want.Cart(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		g, err := got.Cart(ctx, id)
		if err != nil {
			t.Fatalf("cart %s: %v", id, err)
		}
		if jsonOf(t, w) != jsonOf(t, g) {
			t.Fatalf("cart %s:\nredis  %s\nmemory %s", id, jsonOf(t, g), jsonOf(t, w))
		}
		if len(g.Lines) > 0 {
			nonEmpty++
		}
	}
	if nonEmpty == 0 {
		t.Fatal("every cart is empty: the test proves nothing")
	}
}

func TestApplyMatchesMemoryAndIsIdempotent(t *testing.T) {
	t.Parallel()
	c := newCarts(t)
	sh := newShop(t, 5, 6)
	sh.history(t, 120)
	evs := sh.all(t)
	mem := projections.NewMemoryCarts(codec)
	target := c.Target()
	ctx := context.Background()
	for i := 0; i < len(evs); i += 7 {
		batch := evs[i:min(i+7, len(evs))]
		if err := mem.Apply(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := target.Apply(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	sameCarts(t, sh, mem, c)
	last := evs[len(evs)-1].Position
	if cp, err := target.Checkpoint(ctx); err != nil || cp != last {
		t.Fatalf("checkpoint = %d, %v; want %d", cp, err, last)
	}

	snapshot := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, k := range scanKeys(t, c.Client, c.Prefix+"*") {
			v, err := c.Client.Get(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			out[k] = v
		}
		return out
	}
	before := snapshot()
	// The same batch again, then everything again after losing the
	// checkpoint: each cart's own position keeps the events from counting
	// twice.
	if err := target.Apply(ctx, evs[len(evs)-7:]); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); jsonOf(t, after) != jsonOf(t, before) {
		t.Fatalf("replaying a batch changed the model:\n%v\n%v", before, after)
	}
	if err := c.Client.Del(ctx, c.Prefix+"carts:g1:checkpoint").Err(); err != nil {
		t.Fatal(err)
	}
	if err := target.Apply(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); jsonOf(t, after) != jsonOf(t, before) {
		t.Fatalf("replaying the log without a checkpoint changed the model:\n%v\n%v", before, after)
	}
	sameCarts(t, sh, mem, c)
}

func TestRunnerFollowsLiveAppends(t *testing.T) {
	t.Parallel()
	c := newCarts(t)
	sh := newShop(t, 3, 4)
	sh.history(t, 30)
	mem := projections.NewMemoryCarts(codec)
	target := c.Target()
	runner := &projections.Runner{Store: sh.store, Poll: 2 * time.Millisecond}
	stop := run(t, runner, projections.Projection{Name: "carts", Filter: projections.CartFilter, Target: target},
		projections.Projection{Name: "carts-memory", Filter: projections.CartFilter, Target: mem})
	defer stop()
	caughtUp(t, sh, c, mem)
	sameCarts(t, sh, mem, c)
	sh.history(t, 20) // live appends
	caughtUp(t, sh, c, mem)
	sameCarts(t, sh, mem, c)

	ctx := context.Background()
	head, _ := sh.store.Head(ctx)
	adv, ok := target.(interface {
		Advance(context.Context, eventstore.Position) error
	})
	if !ok {
		t.Fatal("the live target has no Advance")
	}
	if err := adv.Advance(ctx, head+5); err != nil {
		t.Fatal(err)
	}
	if err := adv.Advance(ctx, head+2); err != nil { // never backwards
		t.Fatal(err)
	}
	if pos, err := c.Position(ctx); err != nil || pos != head+5 {
		t.Fatalf("position = %d, %v; want through %d", pos, err, head+5)
	}
}

func run(t *testing.T, r *projections.Runner, ps ...projections.Projection) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(ctx, p) }()
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// caughtUp waits until both models have applied the last cart event.
func caughtUp(t *testing.T, sh *shop, c *predis.Carts, mem *projections.MemoryCarts) {
	t.Helper()
	evs := sh.all(t)
	want := evs[len(evs)-1].Position
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rp, err := c.Position(ctx)
		mp, _ := mem.Position(ctx)
		if err == nil && rp >= want && mp >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("models at %d (%v) and %d, want %d", rp, err, mp, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRebuildWhileReadingAndWriting(t *testing.T) {
	t.Parallel()
	c := newCarts(t)
	sh := newShop(t, 8, 10)
	sh.history(t, 300)
	mem := projections.NewMemoryCarts(codec)
	runner := &projections.Runner{Store: sh.store, Poll: 2 * time.Millisecond}
	stopRunner := run(t, runner, projections.Projection{Name: "carts", Filter: projections.CartFilter, Target: c.Target()},
		projections.Projection{Name: "carts-memory", Filter: projections.CartFilter, Target: mem})
	defer stopRunner()
	caughtUp(t, sh, c, mem)
	ctx := context.Background()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, readErrs, shrinks atomic.Int64
	var firstProblem atomic.Value
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[string][2]int64{} // lines, units
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := sh.carts[rng.IntN(len(sh.carts))]
				s, err := c.Cart(ctx, id)
				reads.Add(1)
				if err != nil {
					readErrs.Add(1)
					firstProblem.CompareAndSwap(nil, err.Error())
					continue
				}
				var units int64
				for _, l := range s.Lines {
					units += l.Quantity
				}
				got := [2]int64{int64(len(s.Lines)), units}
				if prev := seen[id]; got[0] < prev[0] || got[1] < prev[1] {
					shrinks.Add(1)
					firstProblem.CompareAndSwap(nil, fmt.Sprintf("cart %s went from %v to %v", id, prev, got))
				}
				seen[id] = got
			}
		}()
	}
	var writes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(9, 9))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := sh.add(ctx, rng, 1); err != nil {
				firstProblem.CompareAndSwap(nil, "write: "+err.Error())
				return
			}
			writes.Add(1)
		}
	}()

	done := make(chan error, 1)
	readsBefore := reads.Load()
	writesBefore := writes.Load()
	go func() { done <- c.Rebuild(ctx, sh.store, predis.RebuildOptions{Batch: 10}) }()
	// A second rebuild while the first holds the lock is refused.
	deadline := time.Now().Add(30 * time.Second)
	for c.Client.Exists(ctx, c.Prefix+"carts:rebuild:lock").Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the rebuild never took its lock")
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.Rebuild(ctx, sh.store, predis.RebuildOptions{}); !errors.Is(err, predis.ErrRebuildRunning) {
		t.Fatalf("second rebuild: %v, want ErrRebuildRunning", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	duringReads, duringWrites := reads.Load()-readsBefore, writes.Load()-writesBefore
	// Some reads and writes after the swap, however slow the machine.
	for deadline := time.Now().Add(30 * time.Second); reads.Load() < readsBefore+duringReads+10 || writes.Load() < writesBefore+duringWrites+10; {
		if time.Now().After(deadline) || firstProblem.Load() != nil {
			break // the checks below say what went wrong
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if p := firstProblem.Load(); p != nil {
		t.Fatalf("%d read errors, %d shrinking reads; first: %v", readErrs.Load(), shrinks.Load(), p)
	}
	if duringReads == 0 || duringWrites == 0 {
		t.Fatalf("%d reads and %d writes during the rebuild: the test proves nothing", duringReads, duringWrites)
	}
	t.Logf("%d reads (%d during the rebuild), %d writes (%d during)", reads.Load(), duringReads, writes.Load(), duringWrites)

	caughtUp(t, sh, c, mem)
	sameCarts(t, sh, mem, c)
	if g := c.Client.Get(ctx, c.Prefix+"carts:gen").Val(); g != "2" {
		t.Fatalf("live generation = %q, want 2", g)
	}
	if old := scanKeys(t, c.Client, c.Prefix+"carts:g1:*"); len(old) != 0 {
		t.Fatalf("%d keys of the old generation left, e.g. %s", len(old), old[0])
	}
	if c.Client.Exists(ctx, c.Prefix+"carts:rebuild:lock").Val() != 0 {
		t.Fatal("the rebuild lock is still held")
	}
	// A rebuild with nothing running builds generation 3.
	if err := c.Rebuild(ctx, sh.store, predis.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if g := c.Client.Get(ctx, c.Prefix+"carts:gen").Val(); g != "3" {
		t.Fatalf("live generation = %q, want 3", g)
	}
	sameCarts(t, sh, mem, c)
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond})
	defer func() { _ = client.Close() }()
	c := &predis.Carts{Client: client, Prefix: "down:", Codec: codec}
	sh := newShop(t, 1, 1)
	sh.history(t, 3)
	evs := sh.all(t)
	const limit = 500 * time.Millisecond
	check := func(what string, fn func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		began := time.Now()
		err := fn(ctx)
		t.Logf("%s: %v in %v", what, err, time.Since(began))
		if err == nil {
			t.Errorf("%s: no error with Redis down", what)
		}
		// Left to itself the client retries the refused dials for well
		// over the limit and ends with their error: an answer that names
		// the deadline is one that kept it, however busy the machine.
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s ended with %v, not at its deadline", what, err)
		}
		if took := time.Since(began); took > limit+10*time.Second {
			t.Errorf("%s took %v, far past the deadline", what, took)
		}
	}
	check("Cart", func(ctx context.Context) error { _, err := c.Cart(ctx, "x"); return err })
	check("Position", func(ctx context.Context) error { _, err := c.Position(ctx); return err })
	check("Checkpoint", func(ctx context.Context) error { _, err := c.Target().Checkpoint(ctx); return err })
	check("Apply", func(ctx context.Context) error { return c.Target().Apply(ctx, evs) })
	check("Rebuild", func(ctx context.Context) error { return c.Rebuild(ctx, sh.store, predis.RebuildOptions{}) })
}
