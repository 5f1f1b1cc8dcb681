package analytics_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/projections/analytics"
	"github.com/commerce-engine/commerce/projections/postgres"
)

var _ postgres.Model = (*analytics.Postgres)(nil)

// pgModel is the analytics model in its own test namespace, laid out as the
// runtime lays it out: tables in a generation schema, a view per public
// table in the analytics schema, a checkpoint view in the read schema.
type pgModel struct {
	pool   *pgxpool.Pool
	ns     postgres.Namespace
	gen    string
	model  *analytics.Postgres
	reader analytics.PostgresReader
	// trips is how many round trips each Apply of apply took.
	trips []int
}

func newPGModel(t testing.TB) *pgModel {
	t.Helper()
	url := testsvc.Require(t, testsvc.PostgresEnv)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		if testsvc.InCI() {
			t.Fatalf("PostgreSQL unreachable under CI=true: %v", err)
		}
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	ns := postgres.Namespace{Prefix: testsvc.UniqueName("t") + "_"}
	p := &pgModel{pool: pool, ns: ns, gen: ns.Prefix + "analytics_g1", model: analytics.NewPostgres(codec)}
	p.reader = analytics.PostgresReader{Pool: pool, NS: ns}
	schemas := []string{p.gen, ns.Analytics(), ns.Read()}
	t.Cleanup(func() {
		defer pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, s := range schemas {
			if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s}.Sanitize()+" CASCADE"); err != nil {
				t.Errorf("drop schema %s: %v", s, err)
			}
		}
	})
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, s := range schemas {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{s}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.model.Create(ctx, tx, p.gen); err != nil {
		t.Fatal(err)
	}
	for _, table := range p.model.Tables() {
		if _, err := tx.Exec(ctx, "CREATE VIEW "+pgx.Identifier{ns.Analytics(), table}.Sanitize()+" AS SELECT * FROM "+pgx.Identifier{p.gen, table}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		"CREATE TABLE " + pgx.Identifier{p.gen, "checkpoint"}.Sanitize() + " (position bigint NOT NULL, through bigint NOT NULL)",
		"INSERT INTO " + pgx.Identifier{p.gen, "checkpoint"}.Sanitize() + " VALUES (0, 0)",
		"CREATE VIEW " + pgx.Identifier{ns.Read(), "checkpoint_analytics"}.Sanitize() + " AS SELECT position, through FROM " + pgx.Identifier{p.gen, "checkpoint"}.Sanitize(),
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// apply applies evs in batches of batch, each with its checkpoint in one
// transaction, as the runtime does.
func (p *pgModel) apply(t testing.TB, evs []eventstore.Event, batch int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(evs); i += batch {
		part := evs[i:min(i+batch, len(evs))]
		tx, err := p.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		counted := &testsvc.RoundTrips{Tx: tx}
		if err := p.model.Apply(ctx, counted, p.gen, part); err != nil {
			_ = tx.Rollback(ctx)
			t.Fatal(err)
		}
		p.trips = append(p.trips, counted.N)
		if _, err := tx.Exec(ctx, "UPDATE "+pgx.Identifier{p.gen, "checkpoint"}.Sanitize()+" SET position = $1", int64(part[len(part)-1].Position)); err != nil {
			_ = tx.Rollback(ctx)
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPostgresModelShape(t *testing.T) {
	t.Parallel()
	m := analytics.NewPostgres(codec)
	if m.Name() != "analytics" || !m.Public() {
		t.Fatalf("name %q public %v", m.Name(), m.Public())
	}
	want := []string{"sales_daily", "product_sales_daily", "products", "refunds", "funnel_daily"}
	if got := m.Tables(); !slices.Equal(got, want) {
		t.Fatalf("tables = %v, want %v", got, want)
	}
	if len(m.Filter().Types) == 0 || m.Filter().StreamPrefix != "" {
		t.Fatalf("filter = %+v", m.Filter())
	}
}

func TestPostgresAnswersTheScenario(t *testing.T) {
	t.Parallel()
	p := newPGModel(t)
	evs := scenario(t)
	p.apply(t, evs, 4)
	checkScenario(t, p.reader)
	ctx := context.Background()
	if pos, err := p.reader.Position(ctx); err != nil || pos != evs[len(evs)-1].Position {
		t.Fatalf("position = %d, %v", pos, err)
	}
	// through (events the filter skipped) counts too.
	if _, err := p.pool.Exec(ctx, "UPDATE "+pgx.Identifier{p.gen, "checkpoint"}.Sanitize()+" SET through = 1000"); err != nil {
		t.Fatal(err)
	}
	if pos, err := p.reader.Position(ctx); err != nil || pos != 1000 {
		t.Fatalf("position with through = %d, %v", pos, err)
	}
	var refunds int
	if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{p.ns.Analytics(), "refunds"}.Sanitize()+" WHERE order_id = 'o3' AND day = '2026-04-01' AND amount = 2000 AND currency = 'USD'").Scan(&refunds); err != nil || refunds != 1 {
		t.Fatalf("refund rows = %d, %v", refunds, err)
	}
	// The fold's helper table is no view of the analytics schema.
	var views int
	if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM information_schema.views WHERE table_schema = $1", p.ns.Analytics()).Scan(&views); err != nil || views != 5 {
		t.Fatalf("views = %d, %v", views, err)
	}
}

func TestPostgresAndMemoryAgree(t *testing.T) {
	t.Parallel()
	p := newPGModel(t)
	evs := generate(t, 20000, 11)
	p.apply(t, evs, 500)
	mem := analytics.NewMemory(codec)
	if err := mem.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	compareReaders(t, mem, p.reader)
	var rows int
	if err := p.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{p.ns.Analytics(), "refunds"}.Sanitize()).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if want := len(mem.Refunds(time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))); rows != want || want == 0 {
		t.Fatalf("refund rows: postgres %d, memory %d", rows, want)
	}
}

// TestPostgresBulkApply applies 100,000 events in the runner's default
// batches of 500, each in the two round trips the rebuild's rate rests on,
// and compares the model with the in-memory fold. It logs the rate for the
// curious; the rebuild target is a benchmark (cmd/esbench's rebuild ratio),
// never a timed assertion on a shared machine.
func TestPostgresBulkApply(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 events: skipped with -short")
	}
	p := newPGModel(t)
	evs := generate(t, 100000, 3)
	start := time.Now()
	p.apply(t, evs, 500)
	elapsed := time.Since(start)
	rate := float64(len(evs)) / elapsed.Seconds()
	t.Logf("applied %d events in %v: %.0f events/s (race detector: %v)", len(evs), elapsed.Round(time.Millisecond), rate, raceEnabled)
	// One query loads the open carts the batch touches, one batch writes
	// the increments: the cost of a batch does not grow with its size.
	if want := (len(evs) + 499) / 500; len(p.trips) != want {
		t.Fatalf("%d batches applied, want %d", len(p.trips), want)
	}
	for i, n := range p.trips {
		if n > 2 {
			t.Fatalf("batch %d of 500 events took %d round trips, want at most 2 (load the carts, write the batch)", i, n)
		}
	}
	mem := analytics.NewMemory(codec)
	if err := mem.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	compareReaders(t, mem, p.reader)
}

// analyticsSchema is the analytics schema name as the documentation writes
// it, not preceded by an identifier character.
var analyticsSchema = regexp.MustCompile(`(^|[^A-Za-z0-9_."])analytics\.`)

func TestDocumentedQueriesRun(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile("../../docs/analytics.md")
	if err != nil {
		t.Fatal(err)
	}
	queries := analytics.DocumentedQueries(md)
	if len(queries) < 4 {
		t.Fatalf("docs/analytics.md has %d sql blocks, want at least 4", len(queries))
	}
	p := newPGModel(t)
	p.apply(t, generate(t, 3000, 5), 500)
	ctx := context.Background()
	for _, q := range queries {
		q = analyticsSchema.ReplaceAllString(q, "${1}"+p.ns.Analytics()+".")
		rows, err := p.pool.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Errorf("documented query fails: %v\n%s", err, q)
			continue
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Errorf("documented query fails: %v\n%s", err, q)
		}
	}
}
