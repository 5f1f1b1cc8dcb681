// Command esbench measures the event stores against the ceiling of the
// database under them, in one run, and prints one line per figure:
//
//	<name> <value> <unit> [ratio=<ours/baseline>]
//
// It is what `make bench` runs for the foundation issue: appends of 1 and 10
// events per call at 1, 16 and 64 writers on SQLite and PostgreSQL, pgbench
// inserting rows shaped like ours at the same concurrency on the same
// server, and ReadAll catch-up over a million events. With RabbitMQ it also
// measures the relay beside raw amqp091-go publishing, and checkouts per
// second through the saga on PostgreSQL and RabbitMQ.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
)

// httpClients holds the -http-clients flag's counts.
var httpClients = new([]int)

func main() {
	pgURL := flag.String("pg", os.Getenv("COMMERCE_TEST_POSTGRES_URL"), "PostgreSQL URL (empty: skip PostgreSQL)")
	dur := flag.Duration("duration", 8*time.Second, "how long each append figure runs")
	catchUp := flag.Int("catchup", 1_000_000, "events to write and then read back for the catch-up figure (0: skip)")
	writersFlag := flag.String("writers", "1,16,64", "writer counts")
	only := flag.String("only", "sqlite,postgres", "stores to measure")
	appends := flag.Bool("appends", true, "measure appends (false: only catch-up)")
	cmds := flag.Bool("commands", true, "measure the command path (add-to-cart, contended reservations) on PostgreSQL")
	httpClientsFlag := flag.String("http-clients", "8,32", "connection counts of the HTTP add-to-cart load")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	readside := flag.Bool("readside", true, "measure the read side on PostgreSQL (rebuild, projection lag, cached catalog reads)")
	rebuildEvents := flag.Int("rebuild-events", 1_000_000, "events to write and then rebuild every projection from (0: skip)")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL of the read-side figures (empty or unreachable: skip Redis)")
	checkoutFlag := flag.Bool("checkout", true, "measure the relay on RabbitMQ and checkouts through the saga on PostgreSQL and RabbitMQ")
	amqpURL := flag.String("amqp", envOr("COMMERCE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), "RabbitMQ URL of the checkout figures (empty or unreachable: skip them)")
	relayEvents := flag.Int("relay-events", 50000, "events the relay and raw amqp091-go each publish (0: skip)")
	checkouts := flag.Int("checkouts", 2000, "checkouts through the saga (0: skip)")
	checkoutWorkers := flag.Int("checkout-workers", 32, "concurrent shoppers checking out")
	loadgen := flag.Bool("loadgen", true, "run commerce loadgen against commerce serve on PostgreSQL + Redis + RabbitMQ, all roles in one process, then split")
	loadgenShoppers := flag.Int("loadgen-shoppers", 64, "virtual shoppers of the loadgen figures at the maximum rate (a quarter of them for the lower rate)")
	loadgenDuration := flag.Duration("loadgen-duration", 20*time.Second, "how long each loadgen figure runs")
	loadgenSplit := flag.Bool("loadgen-split", true, "run the loadgen figures with the roles split into processes")
	loadgenAllInOne := flag.Bool("loadgen-allinone", true, "run the loadgen figures with every role in one process")
	loadgenProfile := flag.String("loadgen-cpuprofile", "", "write CPU profiles of the engine at the maximum loadgen rate (the run's middle half) to this file (all roles in one process) and to this file.<roles>-<n> (split roles)")
	flag.Parse()
	for _, c := range strings.Split(*httpClientsFlag, ",") {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			fatalf("-http-clients: %q is not a positive number", c)
		}
		*httpClients = append(*httpClients, n)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
		defer pprof.StopCPUProfile()
	}
	log.SetFlags(0)
	log.SetPrefix("esbench: ")

	var writers []int
	for _, w := range strings.Split(*writersFlag, ",") {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			fatalf("-writers: %q is not a positive number", w)
		}
		writers = append(writers, n)
	}
	ctx := context.Background()
	if strings.Contains(*only, "sqlite") {
		benchSQLite(ctx, writers, *appends, *dur, *catchUp)
	}
	if strings.Contains(*only, "postgres") {
		if *pgURL == "" {
			log.Printf("skipping PostgreSQL: set -pg or COMMERCE_TEST_POSTGRES_URL")
			return
		}
		benchPostgres(ctx, *pgURL, writers, *appends, *cmds, *dur, *catchUp)
		if *readside {
			benchReadSide(ctx, *pgURL, *redisURL, *rebuildEvents, *dur)
		}
		if *checkoutFlag {
			benchCheckout(ctx, *pgURL, *amqpURL, *relayEvents, *checkouts, *checkoutWorkers)
		}
		if *loadgen {
			benchLoadgen(ctx, *pgURL, *redisURL, *amqpURL, *loadgenShoppers, *loadgenDuration, *loadgenAllInOne, *loadgenSplit, *loadgenProfile)
		}
	}
}

// envOr returns the environment variable key, or def when it is unset or
// empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// cleanups run before a fatal error ends the run, so that nothing it
// created on the database server is left behind.
var cleanups []func()

func fatalf(format string, args ...any) {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	log.Fatalf(format, args...)
}

func line(name string, value float64, unit string, baseline float64) {
	if baseline > 0 {
		fmt.Printf("%s %.0f %s ratio=%.2f\n", name, value, unit, value/baseline)
		return
	}
	fmt.Printf("%s %.0f %s\n", name, value, unit)
}

func benchSQLite(ctx context.Context, writers []int, appends bool, dur time.Duration, catchUp int) {
	dir, err := os.MkdirTemp("", "esbench-sqlite-")
	if err != nil {
		fatalf("%v", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	for _, batch := range []int{1, 10} {
		for _, w := range writers {
			if !appends {
				break
			}
			s, err := sqlite.Open(filepath.Join(dir, fmt.Sprintf("append-%d-%d.db", batch, w)))
			if err != nil {
				fatalf("%v", err)
			}
			rate := appendRate(ctx, s, w, batch, dur)
			_ = s.Close()
			line(fmt.Sprintf("sqlite_append_%devents_%dwriters", batch, w), rate, "events/s", 0)
		}
	}
	if catchUp > 0 {
		s, err := sqlite.Open(filepath.Join(dir, "catchup.db"))
		if err != nil {
			fatalf("%v", err)
		}
		fill(ctx, s, catchUp)
		line("sqlite_readall_catchup", readAllRate(ctx, s), "events/s", 0)
		_ = s.Close()
	}
}

func benchPostgres(ctx context.Context, url string, writers []int, appends, cmds bool, dur time.Duration, catchUp int) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	schema := "esbench_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	dropSchema := func() {
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			log.Printf("drop schema %s: %v", schema, err)
		}
	}
	cleanups = append(cleanups, dropSchema)
	defer dropSchema()
	if _, err := postgres.Migrate(ctx, url, schema); err != nil {
		fatalf("migrate: %v", err)
	}
	// The baseline table is shaped like ours: same columns, keys and defaults.
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s.baseline (
		position bigserial PRIMARY KEY, tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
		id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(), stream_id text NOT NULL, version bigint NOT NULL,
		type text NOT NULL, schema_version integer NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL,
		recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, version))`, schema)); err != nil {
		fatalf("baseline table: %v", err)
	}
	for _, batch := range []int{1, 10} {
		for _, w := range writers {
			if !appends {
				break
			}
			s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, MaxConns: int32(w)})
			if err != nil {
				fatalf("%v", err)
			}
			rate := appendRate(ctx, s, w, batch, dur)
			_ = s.Close()
			base := pgbenchRate(url, schema, w, batch, dur)
			line(fmt.Sprintf("pgbench_insert_%drows_%dclients", batch, w), base, "events/s", 0)
			line(fmt.Sprintf("postgres_append_%devents_%dwriters", batch, w), rate, "events/s", base)
		}
	}
	if cmds {
		s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, MaxConns: 24})
		if err != nil {
			fatalf("%v", err)
		}
		raw := appendRate(ctx, s, 16, 1, dur)
		line("postgres_append_1events_16writers_baseline", raw, "events/s", 0)
		benchCommands(ctx, "postgres", s, dur, raw)
		for _, c := range *httpClients {
			benchHTTP(ctx, fmt.Sprintf("postgres_%dconns", c), s, dur, c)
		}
		_ = s.Close()
	}
	if catchUp > 0 {
		s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
		if err != nil {
			fatalf("%v", err)
		}
		if _, err := conn.Exec(ctx, "TRUNCATE "+schema+".events"); err != nil {
			fatalf("%v", err)
		}
		fill(ctx, s, catchUp)
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+schema+".events"); err != nil {
			fatalf("%v", err)
		}
		line("postgres_readall_catchup", readAllRate(ctx, s), "events/s", 0)
		_ = s.Close()
	}
}

const payload = `{"product_id":"3f1c2a8e-6d4b-4f7a-9c1e-2b5d8a7f0e13","sku":"SKU-000123","quantity":2,` +
	`"unit_price":{"amount":1999,"currency":"EUR"},"note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`

const metadata = `{"correlation_id":"6b0c6f4e-3c1d-4e55-8f0e-2d1b3a4c5d6e"}`

func newEvents(n int) []eventstore.EventData {
	evs := make([]eventstore.EventData, n)
	for i := range evs {
		evs[i] = eventstore.EventData{ID: uuid.New(), Type: "cart.item_added", SchemaVersion: 1, Data: []byte(payload), Metadata: []byte(metadata)}
	}
	return evs
}

// appendRate runs w writers, each appending batch events per call to its own
// streams with exact expected versions, for dur; it returns events/s.
func appendRate(ctx context.Context, s eventstore.Store, w, batch int, dur time.Duration) float64 {
	run := uuid.NewString()[:8]
	var total atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	start := time.Now()
	for i := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			versions := map[string]int64{}
			for n := 0; ctx.Err() == nil; n++ {
				stream := fmt.Sprintf("cart-%s-%d-%d", run, i, n%50)
				res, err := s.Append(ctx, stream, eventstore.Exact(versions[stream]), newEvents(batch)...)
				if err != nil {
					if ctx.Err() == nil {
						fatalf("append: %v", err)
					}
					return
				}
				versions[stream] = res.NextExpectedVersion
				total.Add(int64(batch))
			}
		}()
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// fill writes n events in appends of 1,000 to 1,000 streams.
func fill(ctx context.Context, s eventstore.Store, n int) {
	start := time.Now()
	for i := 0; i < n; i += 1000 {
		if _, err := s.Append(ctx, fmt.Sprintf("cart-%d", (i/1000)%1000), eventstore.Any, newEvents(min(1000, n-i))...); err != nil {
			fatalf("fill: %v", err)
		}
	}
	log.Printf("wrote %d events in %v", n, time.Since(start).Round(time.Millisecond))
}

// readAllRate reads $all from the start to the head in pages of 1,000.
func readAllRate(ctx context.Context, s eventstore.Store) float64 {
	start := time.Now()
	var after eventstore.Position
	n := 0
	for {
		evs, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: 1000})
		if err != nil {
			fatalf("read all: %v", err)
		}
		if len(evs) == 0 {
			break
		}
		n += len(evs)
		after = evs[len(evs)-1].Position
	}
	return float64(n) / time.Since(start).Seconds()
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbenchRate runs pgbench with clients connections, each transaction
// inserting rows rows into the baseline table; it returns rows/s.
func pgbenchRate(url, schema string, clients, rows int, dur time.Duration) float64 {
	script := fmt.Sprintf(`INSERT INTO %s.baseline (stream_id, version, type, schema_version, data, metadata)
SELECT gen_random_uuid()::text, g, 'cart.item_added', 1, '%s', '%s' FROM generate_series(1, %d) g;
`, schema, payload, metadata, rows)
	f, err := os.CreateTemp("", "esbench-*.sql")
	if err != nil {
		fatalf("%v", err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if _, err := f.WriteString(script); err != nil {
		fatalf("%v", err)
	}
	_ = f.Close()
	secs := max(1, int(dur.Seconds()))
	cmd := exec.Command("pgbench", "-n", "-f", f.Name(), "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 4)),
		"-T", strconv.Itoa(secs), url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatalf("pgbench: %v\n%s", err, out)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		fatalf("pgbench printed no tps line:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps * float64(rows)
}
