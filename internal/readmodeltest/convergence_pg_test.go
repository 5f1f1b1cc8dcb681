package readmodeltest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore"
	espg "github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/internal/readmodeltest"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/projections/analytics"
	pgproj "github.com/commerce-engine/commerce/projections/postgres"
	redisproj "github.com/commerce-engine/commerce/projections/redis"
)

// redisEnv names the variable that points tests at a Redis server.
const redisEnv = "COMMERCE_TEST_REDIS_URL"

// production is the read side as it runs in production: models in
// PostgreSQL, carts in Redis, over a PostgreSQL event store.
type production struct {
	store  *espg.Store
	pg     *pgproj.Store
	carts  *redisproj.Carts
	models []pgproj.Model
}

func newProduction(t *testing.T) production {
	t.Helper()
	url, schema := testsvc.PostgresSchema(t)
	redisURL := testsvc.Require(t, redisEnv)
	ctx := context.Background()
	if _, err := espg.Migrate(ctx, url, schema); err != nil {
		t.Fatal(err)
	}
	store, err := espg.Open(ctx, espg.Config{URL: url, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	// Each live projection holds a connection for its lock, each rebuild
	// up to three: the pool must hold them all besides the readers.
	pcfg.MaxConns = 40
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	codec := commands.NewCodec()
	role := testsvc.UniqueName("conv_analyst")
	pg := &pgproj.Store{Pool: pool, NS: pgproj.Namespace{Prefix: testsvc.UniqueName("conv") + "_"}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.Drop(ctx, role); err != nil {
			t.Errorf("drop the read models: %v", err)
		}
	})
	models := []pgproj.Model{&pgproj.Catalog{Codec: codec}, &pgproj.Orders{Codec: codec}, pgproj.Correlations{}, analytics.NewPostgres(codec)}
	if err := pg.Setup(ctx, pgproj.SetupOptions{AnalystRole: role}, models...); err != nil {
		t.Fatal(err)
	}
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opts)
	prefix := testsvc.UniqueName("conv") + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean redis: %v", err)
		}
		_ = client.Close()
	})
	return production{store: store, pg: pg, carts: &redisproj.Carts{Client: client, Prefix: prefix, Codec: codec}, models: models}
}

func (p production) projections() []projections.Projection {
	out := []projections.Projection{{Name: "carts", Filter: projections.CartFilter, Target: p.carts.Target()}}
	for _, m := range p.models {
		out = append(out, projections.Projection{Name: m.Name(), Filter: m.Filter(), Target: p.pg.Target(m)})
	}
	return out
}

func (p production) readers() readmodeltest.Readers {
	pool, ns := p.pg.Pool, p.pg.NS
	return readmodeltest.Readers{
		Catalog:      pgproj.CatalogReader{Pool: pool, NS: ns},
		Carts:        p.carts,
		Orders:       pgproj.OrderReader{Pool: pool, NS: ns},
		Correlations: pgproj.CorrelationReader{Pool: pool, NS: ns},
		Analytics:    analytics.PostgresReader{Pool: pool, NS: ns},
	}
}

// rebuild rebuilds every model into a new generation and swaps it in.
func (p production) rebuild(ctx context.Context, batch int) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(p.models)+1)
	for _, m := range p.models {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- p.pg.Rebuild(ctx, p.store, m, pgproj.RebuildOptions{Batch: batch})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- p.carts.Rebuild(ctx, p.store, redisproj.RebuildOptions{Batch: batch})
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestConvergenceOnPostgresAndRedis runs the random concurrent workload
// against a PostgreSQL event store with the production read models
// following it live and every one of them rebuilt and swapped in while the
// workload runs. Afterwards the live models must answer exactly as
// in-memory models replayed from scratch, and as they do after another
// rebuild from scratch.
func TestConvergenceOnPostgresAndRedis(t *testing.T) {
	t.Parallel()
	p := newProduction(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &commands.Runner{Store: p.store, Codec: commands.NewCodec()}
	runner := &projections.Runner{Store: p.store, Poll: 5 * time.Millisecond}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, proj := range p.projections() {
		wg.Add(1)
		go func() { defer wg.Done(); _ = runner.Run(ctx, proj) }()
	}
	rebuilt := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		rebuilt <- p.rebuild(ctx, 25)
	}()
	keys, err := readmodeltest.Workload{Seed: 11}.Run(ctx, r)
	if err != nil {
		t.Fatalf("workload: %v", err)
	}
	if err := <-rebuilt; err != nil {
		t.Fatalf("rebuild during the workload: %v", err)
	}
	caughtUp(t, runner, p.store, "catalog", "carts", "orders", "correlations", analytics.Name)
	live, err := readmodeltest.Take(ctx, p.readers(), keys)
	if err != nil {
		t.Fatal(err)
	}

	fresh := newMemoryModels(r.Codec)
	for name, rebuild := range fresh.rebuilds(p.store, false) {
		if err := rebuild(ctx); err != nil {
			t.Fatalf("replay %s into memory: %v", name, err)
		}
	}
	want, err := readmodeltest.Take(ctx, fresh.readers(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if d := readmodeltest.Diff(want, live, 10); d != "" {
		t.Fatalf("the live PostgreSQL and Redis models differ from in-memory models replayed from scratch:\n%s", d)
	}
	if err := p.rebuild(ctx, 500); err != nil {
		t.Fatalf("rebuild after the workload: %v", err)
	}
	again, err := readmodeltest.Take(ctx, p.readers(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if d := readmodeltest.Diff(want, again, 10); d != "" {
		t.Fatalf("the PostgreSQL and Redis models rebuilt from scratch differ:\n%s", d)
	}
	if len(keys.Orders) == 0 {
		t.Fatal("the workload placed no order: it tests too little")
	}
	t.Logf("%d checkouts, %d orders, %d answers compared three ways", len(keys.Checkouts), len(keys.Orders), len(live))
}

var _ eventstore.Store = (*espg.Store)(nil)
