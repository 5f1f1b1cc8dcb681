package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/projections/postgres"
)

// rtToy counts the events of each "toy-" stream and remembers the position
// of each stream's last event, so a consistent read of a generation has
// sum(n) = max(last) = its checkpoint position when every event is a toy
// event. An event of type "boom" fails the apply.
type rtToy struct {
	name   string
	public bool
}

func (m rtToy) Name() string              { return m.name }
func (m rtToy) Filter() eventstore.Filter { return eventstore.Filter{StreamPrefix: "toy-"} }
func (m rtToy) Public() bool              { return m.public }
func (m rtToy) Tables() []string          { return []string{m.name + "_counts"} }

func (m rtToy) Create(ctx context.Context, tx pgx.Tx, schema string) error {
	_, err := tx.Exec(ctx, "CREATE TABLE "+pgx.Identifier{schema, m.name + "_counts"}.Sanitize()+
		" (stream text PRIMARY KEY, n bigint NOT NULL, last bigint NOT NULL)")
	return err
}

func (m rtToy) Apply(ctx context.Context, tx pgx.Tx, schema string, evs []eventstore.Event) error {
	n := map[string]int64{}
	last := map[string]int64{}
	var streams []string
	for _, e := range evs {
		if e.Type == "boom" {
			return fmt.Errorf("toy %s: event %d goes boom", m.name, e.Position)
		}
		if _, ok := n[e.StreamID]; !ok {
			streams = append(streams, e.StreamID)
		}
		n[e.StreamID]++
		last[e.StreamID] = int64(e.Position)
	}
	ns := make([]int64, len(streams))
	lasts := make([]int64, len(streams))
	for i, s := range streams {
		ns[i], lasts[i] = n[s], last[s]
	}
	_, err := tx.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, m.name + "_counts"}.Sanitize()+` AS c (stream, n, last)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
		ON CONFLICT (stream) DO UPDATE SET n = c.n + excluded.n, last = excluded.last`, streams, ns, lasts)
	return err
}

// rtEnv is one test's isolated namespace and analyst role.
type rtEnv struct {
	url   string
	pool  *pgxpool.Pool
	store *postgres.Store
	role  string
	pub   rtToy // exposed to analysts
	priv  rtToy // read API only
}

func rtNewEnv(tb testing.TB) *rtEnv {
	tb.Helper()
	url := testsvc.Require(tb, testsvc.PostgresEnv)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("parse %s: %v", testsvc.PostgresEnv, err)
	}
	cfg.MaxConns = 24
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	e := &rtEnv{
		url:  url,
		pool: pool,
		role: testsvc.UniqueName("rt_analyst"),
		pub:  rtToy{name: "toy_pub", public: true},
		priv: rtToy{name: "toy_priv"},
	}
	e.store = &postgres.Store{Pool: pool, NS: postgres.Namespace{Prefix: testsvc.UniqueName("rt") + "_"}}
	tb.Cleanup(pool.Close)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.store.Drop(ctx, e.role); err != nil {
			tb.Errorf("drop namespace: %v", err)
		}
	})
	return e
}

func (e *rtEnv) setup(tb testing.TB) {
	tb.Helper()
	if err := e.store.Setup(context.Background(), postgres.SetupOptions{AnalystRole: e.role}, e.pub, e.priv); err != nil {
		tb.Fatalf("setup: %v", err)
	}
}

// view is the qualified name of m's counts view.
func (e *rtEnv) view(m rtToy) string {
	return pgx.Identifier{e.store.NS.ViewSchema(m), m.name + "_counts"}.Sanitize()
}

// checkpointView is the qualified name of m's checkpoint view.
func (e *rtEnv) checkpointView(m rtToy) string {
	return pgx.Identifier{e.store.NS.Read(), "checkpoint_" + m.name}.Sanitize()
}

// read returns sum(n), max(last) and the checkpoint position of m's live
// generation, in one statement as the read API would.
func (e *rtEnv) read(ctx context.Context, m rtToy) (sum, last, pos int64, err error) {
	err = e.pool.QueryRow(ctx, "SELECT (SELECT coalesce(sum(n), 0)::bigint FROM "+e.view(m)+
		"), (SELECT coalesce(max(last), 0) FROM "+e.view(m)+"), (SELECT position FROM "+e.checkpointView(m)+")").Scan(&sum, &last, &pos)
	return sum, last, pos, err
}

func rtEvent(pos int64, stream, typ string) eventstore.Event {
	return eventstore.Event{ID: uuid.New(), StreamID: stream, Position: eventstore.Position(pos), Type: typ, SchemaVersion: 1,
		Data: []byte(`{}`), Metadata: []byte(`{}`), RecordedAt: time.Now()}
}

func rtCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestSetupIsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	ctx := context.Background()
	e.setup(t)
	e.setup(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			errs <- e.store.Setup(ctx, postgres.SetupOptions{AnalystRole: e.role}, e.pub, e.priv)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent setup: %v", err)
		}
	}
	gens, err := e.store.Generations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) != 2 {
		t.Fatalf("generations = %+v, want one per model", gens)
	}
	for _, g := range gens {
		if g.Building != "" || g.Schema != fmt.Sprintf("%srm_%s_%d", e.store.NS.Prefix, g.Name, g.Generation) {
			t.Errorf("generation %+v", g)
		}
	}
	for _, m := range []rtToy{e.pub, e.priv} {
		sum, last, pos, err := e.read(ctx, m)
		if err != nil || sum != 0 || last != 0 || pos != 0 {
			t.Errorf("%s: read = %d %d %d, %v; want an empty generation", m.name, sum, last, pos, err)
		}
	}
}

func TestApplyMovesCheckpointAtomicallyAndSkipsApplied(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	ctx := context.Background()
	e.setup(t)
	tg := e.store.Target(e.priv)
	if err := tg.Apply(ctx, []eventstore.Event{rtEvent(1, "toy-a", "x"), rtEvent(2, "toy-b", "x"), rtEvent(3, "toy-a", "x")}); err != nil {
		t.Fatal(err)
	}
	// A retried batch overlapping what was applied applies only the rest.
	if err := tg.Apply(ctx, []eventstore.Event{rtEvent(2, "toy-b", "x"), rtEvent(3, "toy-a", "x"), rtEvent(4, "toy-b", "x"), rtEvent(5, "toy-a", "x")}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Apply(ctx, []eventstore.Event{rtEvent(5, "toy-a", "x")}); err != nil {
		t.Fatal(err)
	}
	check := func(wantSum, wantPos int64) {
		t.Helper()
		sum, last, pos, err := e.read(ctx, e.priv)
		if err != nil || sum != wantSum || last != wantPos || pos != wantPos {
			t.Fatalf("read = sum %d last %d pos %d, %v; want %d %d %d", sum, last, pos, err, wantSum, wantPos, wantPos)
		}
		cp, err := tg.Checkpoint(ctx)
		if err != nil || int64(cp) != wantPos {
			t.Fatalf("checkpoint = %d, %v; want %d", cp, err, wantPos)
		}
	}
	check(5, 5)
	// A batch that fails part way applies nothing and keeps the checkpoint.
	if err := tg.Apply(ctx, []eventstore.Event{rtEvent(6, "toy-a", "x"), rtEvent(7, "toy-a", "boom")}); err == nil {
		t.Fatal("a failing batch applied")
	}
	check(5, 5)
	if err := tg.Apply(ctx, []eventstore.Event{rtEvent(6, "toy-a", "x")}); err != nil {
		t.Fatal(err)
	}
	check(6, 6)
}

// TestAdvanceMovesPositionNotCheckpoint: Advance and ApplyThrough move how
// far the projection has processed the log, never its checkpoint backwards.
func TestAdvanceMovesPositionNotCheckpoint(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	ctx := context.Background()
	e.setup(t)
	tg := e.store.Target(e.pub)
	adv, ok := tg.(interface {
		Advance(context.Context, eventstore.Position) error
	})
	if !ok {
		t.Fatalf("target %T has no Advance", tg)
	}
	if err := tg.Apply(ctx, []eventstore.Event{rtEvent(3, "toy-a", "x")}); err != nil {
		t.Fatal(err)
	}
	want := func(pos, cp eventstore.Position) {
		t.Helper()
		p, err := e.store.Position(ctx, e.pub.name)
		if err != nil || p != pos {
			t.Fatalf("position = %d, %v; want %d", p, err, pos)
		}
		c, err := tg.Checkpoint(ctx)
		if err != nil || c != cp {
			t.Fatalf("checkpoint = %d, %v; want %d", c, err, cp)
		}
	}
	want(3, 3)
	if err := adv.Advance(ctx, 10); err != nil {
		t.Fatal(err)
	}
	want(10, 3)
	if err := adv.Advance(ctx, 8); err != nil {
		t.Fatal(err)
	}
	want(10, 3)
	if err := tg.Apply(ctx, []eventstore.Event{rtEvent(12, "toy-a", "x")}); err != nil {
		t.Fatal(err)
	}
	want(12, 12)
	// ApplyThrough records how far the log was read in the same
	// transaction, also when its events were applied already (a retry, or
	// a rebuild's generation that caught up first).
	ta, ok := tg.(projections.ThroughApplier)
	if !ok {
		t.Fatalf("target %T has no ApplyThrough", tg)
	}
	if err := ta.ApplyThrough(ctx, []eventstore.Event{rtEvent(14, "toy-a", "x")}, 20); err != nil {
		t.Fatal(err)
	}
	want(20, 14)
	if err := ta.ApplyThrough(ctx, []eventstore.Event{rtEvent(14, "toy-a", "x")}, 25); err != nil {
		t.Fatal(err)
	}
	want(25, 14)
	if _, err := e.store.Position(ctx, "no_such"); err == nil {
		t.Fatal("position of an unknown projection")
	}
	if err := e.store.Target(rtToy{name: "unknown"}).Apply(ctx, []eventstore.Event{rtEvent(1, "toy-a", "x")}); !errors.Is(err, postgres.ErrNotSetUp) {
		t.Fatalf("apply to an unknown projection: %v, want ErrNotSetUp", err)
	}
}

func TestRunExclusiveHandsOver(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	started1, started2, standby2 := make(chan struct{}), make(chan struct{}), make(chan struct{}, 10)
	done1, done2 := make(chan error, 1), make(chan error, 1)
	var firstEnded atomic.Bool
	go func() {
		done1 <- e.store.RunExclusive(ctx1, "toy", func() { t.Error("first runner went standby") }, func(ctx context.Context) error {
			close(started1)
			<-ctx.Done()
			firstEnded.Store(true)
			return ctx.Err()
		})
	}()
	<-started1
	go func() {
		done2 <- e.store.RunExclusive(ctx2, "toy", func() { standby2 <- struct{}{} }, func(ctx context.Context) error {
			// Checked whenever the second runs, not only within a window.
			if !firstEnded.Load() {
				t.Error("second runner ran while the first held the lock")
			}
			close(started2)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	select {
	case <-standby2:
	case <-time.After(30 * time.Second):
		t.Fatal("second runner did not go standby")
	}
	time.Sleep(2500 * time.Millisecond) // the standby tries the lock again meanwhile
	cancel1()
	if err := <-done1; !errors.Is(err, context.Canceled) {
		t.Fatalf("first runner returned %v", err)
	}
	select {
	case <-started2:
	case <-time.After(10 * time.Second):
		t.Fatal("second runner did not take over")
	}
	if n := len(standby2); n != 0 {
		t.Errorf("standby called %d more times during one wait", n)
	}
	cancel2()
	if err := <-done2; !errors.Is(err, context.Canceled) {
		t.Fatalf("second runner returned %v", err)
	}
}

// rtAppend appends n toy events, spread over a few streams, in appends of
// up to 100.
func rtAppend(ctx context.Context, es eventstore.Store, n, seed int) error {
	for n > 0 {
		k := min(n, 100)
		evs := make([]eventstore.EventData, k)
		for i := range evs {
			evs[i] = eventstore.EventData{ID: uuid.New(), Type: "counted", SchemaVersion: 1, Data: []byte(`{}`)}
		}
		if _, err := es.Append(ctx, fmt.Sprintf("toy-%d", (seed+n)%37), eventstore.Any, evs...); err != nil {
			return fmt.Errorf("append: %w", err)
		}
		n -= k
	}
	return nil
}

// rtTruth counts the log's events per stream.
func rtTruth(t *testing.T, es eventstore.Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	var after eventstore.Position
	for {
		evs, err := es.ReadAll(context.Background(), eventstore.ReadAllOptions{After: after, Limit: eventstore.MaxReadLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, ev := range evs {
			out[ev.StreamID]++
		}
		after = evs[len(evs)-1].Position
	}
}

func (e *rtEnv) counts(t *testing.T, m rtToy) map[string]int64 {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), "SELECT stream, n FROM "+e.view(m))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	var s string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&s, &n}, func() error { out[s] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *rtEnv) schemaExists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	if err := e.pool.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func (e *rtEnv) generation(t *testing.T, name string) postgres.Generation {
	t.Helper()
	gens, err := e.store.Generations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gens {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no generation of %s in %+v", name, gens)
	return postgres.Generation{}
}

func TestRebuildSwapsWhileServing(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	e.setup(t)
	es, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	if err := rtAppend(ctx, es, 8000, 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("appended in %v", time.Since(began))

	// The live runners, a writer, and readers checking every read is one
	// whole generation that never goes back.
	runner := &projections.Runner{Store: es, Batch: 300, Poll: 5 * time.Millisecond}
	var bg sync.WaitGroup
	runCtx, stopRun := context.WithCancel(ctx)
	for _, m := range []rtToy{e.pub, e.priv} {
		bg.Go(func() {
			_ = runner.Run(runCtx, projections.Projection{Name: m.name, Filter: m.Filter(), Target: e.store.Target(m)})
		})
	}
	writeCtx, stopWrite := context.WithCancel(ctx)
	var writeErr atomic.Value
	var writer sync.WaitGroup
	writer.Go(func() {
		for i := 0; writeCtx.Err() == nil; i++ {
			if err := rtAppend(writeCtx, es, 1+i%7, i); err != nil && writeCtx.Err() == nil {
				writeErr.Store(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	readCtx, stopRead := context.WithCancel(ctx)
	var reads atomic.Int64
	readErrs := make(chan error, 100)
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			var prev [2]int64
			for readCtx.Err() == nil {
				for i, m := range []rtToy{e.pub, e.priv} {
					sum, last, pos, err := e.read(readCtx, m)
					switch {
					case readCtx.Err() != nil:
						return
					case err != nil:
						readErrs <- fmt.Errorf("reader %d %s: %w", r, m.name, err)
						return
					case sum != pos || last != pos:
						readErrs <- fmt.Errorf("reader %d %s: sum %d, last %d, position %d: a partial generation", r, m.name, sum, last, pos)
						return
					case pos < prev[i]:
						readErrs <- fmt.Errorf("reader %d %s: position went back from %d to %d", r, m.name, prev[i], pos)
						return
					}
					prev[i] = pos
					reads.Add(1)
				}
			}
		})
	}

	for _, m := range []rtToy{e.pub, e.priv} {
		before := e.generation(t, m.name)
		var progressed atomic.Int64
		var second error
		readsBefore := reads.Load()
		began := time.Now()
		err := e.store.Rebuild(ctx, es, m, postgres.RebuildOptions{Batch: 200, Progress: func(pos, head eventstore.Position) {
			if progressed.Add(1) == 1 {
				second = e.store.Rebuild(ctx, es, m, postgres.RebuildOptions{})
				if g := e.generation(t, m.name); g.Building == "" || g.Schema != before.Schema {
					t.Errorf("%s during rebuild: %+v", m.name, g)
				}
			}
			if pos > head {
				t.Errorf("progress %d past head %d", pos, head)
			}
		}})
		if err != nil {
			t.Fatalf("rebuild %s: %v", m.name, err)
		}
		t.Logf("rebuilt %s in %v", m.name, time.Since(began))
		if !errors.Is(second, postgres.ErrRebuildRunning) {
			t.Errorf("concurrent rebuild of %s: %v, want ErrRebuildRunning", m.name, second)
		}
		if progressed.Load() < 10 {
			t.Errorf("rebuild of %s reported progress %d times", m.name, progressed.Load())
		}
		after := e.generation(t, m.name)
		if after.Generation <= before.Generation || after.Building != "" || after.Schema == before.Schema {
			t.Errorf("%s: generation %+v after rebuild of %+v", m.name, after, before)
		}
		if e.schemaExists(t, before.Schema) {
			t.Errorf("%s: old generation %s is still there", m.name, before.Schema)
		}
		if reads.Load() == readsBefore {
			t.Errorf("no read during the rebuild of %s", m.name)
		}
	}

	// Reads of the last generations, however slow the machine.
	for rebuilt, deadline := reads.Load(), time.Now().Add(30*time.Second); reads.Load() < rebuilt+20 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	stopWrite()
	writer.Wait()
	// Let the live runners reach the head, then compare with the log.
	head, err := es.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, m := range []rtToy{e.pub, e.priv} {
		for {
			cp, err := e.store.Target(m).Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cp >= head {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s stuck at %d, head %d", m.name, cp, head)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	stopRead()
	readers.Wait()
	stopRun()
	bg.Wait()
	close(readErrs)
	for err := range readErrs {
		t.Error(err)
	}
	if err, _ := writeErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	truth := rtTruth(t, es)
	for _, m := range []rtToy{e.pub, e.priv} {
		got := e.counts(t, m)
		if fmt.Sprint(got) != fmt.Sprint(truth) {
			t.Errorf("%s counts after rebuild differ from the log:\n got %v\nwant %v", m.name, got, truth)
		}
	}
	t.Logf("%d consistent reads, head %d", reads.Load(), head)
}

// TestDropOfAReplacedGenerationSparesItsReaders builds the cycle a rebuild's
// drop can form with a reader whose cached plan still names the replaced
// generation's tables: the reader holds t3 and waits for t1, which the drop
// took, before the drop waits for t3. The server's deadlock check would run
// first in the reader and fail its query; the drop must give way instead
// and finish once the reader is done.
func TestDropOfAReplacedGenerationSparesItsReaders(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	e.setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	old := e.store.NS.Prefix + "rm_toy_pub_77"
	q := func(tb string) string { return pgx.Identifier{old, tb}.Sanitize() }
	if _, err := e.pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{old}.Sanitize()+"; CREATE TABLE "+q("t1")+" (n int); CREATE TABLE "+
		q("t2")+" (n int); CREATE TABLE "+q("t3")+" (n int)"); err != nil {
		t.Fatal(err)
	}
	// waiting reports whether some session waits for table tb in mode.
	waiting := func(tb, mode string) bool {
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
			JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relname = $2 AND l.mode = $3 AND NOT l.granted`,
			old, tb, mode).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	await := func(what string, cond func() bool) {
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting until %s", what)
			}
		}
	}
	reader, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rtRollbackTest(reader)
	if _, err := reader.Exec(ctx, "SELECT count(*) FROM "+q("t3")); err != nil {
		t.Fatal(err)
	}
	blocker, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rtRollbackTest(blocker)
	if _, err := blocker.Exec(ctx, "LOCK TABLE "+q("t2")+" IN ACCESS SHARE MODE"); err != nil {
		t.Fatal(err)
	}

	dropped := make(chan error, 1)
	go func() { dropped <- e.store.DropGeneration(ctx, old) }()
	await("the drop holds t1 and waits for t2", func() bool { return waiting("t2", "AccessExclusiveLock") })
	read := make(chan error, 1)
	go func() {
		_, err := reader.Exec(ctx, "SELECT count(*) FROM "+q("t1"))
		read <- err
	}()
	await("the reader waits for t1", func() bool { return waiting("t1", "AccessShareLock") })
	if err := blocker.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	await("the drop waits for the reader's t3", func() bool { return waiting("t3", "AccessExclusiveLock") })
	if err := <-read; err != nil {
		t.Fatalf("the reader's query failed: %v", err)
	}
	if err := reader.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-dropped; err != nil {
		t.Fatalf("drop: %v", err)
	}
	if e.schemaExists(t, old) {
		t.Errorf("%s is still there", old)
	}
}

func TestRebuildCleansUpAfterCancellation(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	e.setup(t)
	es, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	ctx := context.Background()
	if err := rtAppend(ctx, es, 3000, 0); err != nil {
		t.Fatal(err)
	}
	tg := e.store.Target(e.priv)
	evs, err := es.ReadAll(ctx, eventstore.ReadAllOptions{Limit: eventstore.MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Apply(ctx, evs); err != nil {
		t.Fatal(err)
	}
	live := e.generation(t, e.priv.name)
	cctx, cancel := context.WithCancel(ctx)
	err = e.store.Rebuild(cctx, es, e.priv, postgres.RebuildOptions{Batch: 100, Progress: func(pos, _ eventstore.Position) {
		if pos >= 1000 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("a cancelled rebuild succeeded")
	}
	half := e.generation(t, e.priv.name)
	if half.Schema != live.Schema || half.Building == "" || !e.schemaExists(t, half.Building) {
		t.Fatalf("after a cancelled rebuild: %+v (live was %+v)", half, live)
	}
	if sum, _, pos, err := e.read(ctx, e.priv); err != nil || sum != 3000 || pos != 3000 {
		t.Fatalf("live generation after a cancelled rebuild: sum %d pos %d, %v", sum, pos, err)
	}
	if err := e.store.Rebuild(ctx, es, e.priv, postgres.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.schemaExists(t, half.Building) || e.schemaExists(t, live.Schema) {
		t.Error("a stale generation survived the next rebuild")
	}
	if sum, _, pos, err := e.read(ctx, e.priv); err != nil || sum != 3000 || pos != 3000 {
		t.Fatalf("after the rebuild: sum %d pos %d, %v", sum, pos, err)
	}
}

func TestAnalystReadsAnalyticsOnly(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	ctx := context.Background()
	e.setup(t)
	for _, m := range []rtToy{e.pub, e.priv} {
		if err := e.store.Target(m).Apply(ctx, []eventstore.Event{rtEvent(1, "toy-a", "x"), rtEvent(2, "toy-b", "x")}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := pgx.ParseConfig(e.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User = e.role
	analyst, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", e.role, err)
	}
	defer analyst.Close(ctx)

	canRead := func() {
		t.Helper()
		var n int64
		if err := analyst.QueryRow(ctx, "SELECT count(*) FROM "+e.view(e.pub)).Scan(&n); err != nil || n != 2 {
			t.Fatalf("analyst reads %s: %d rows, %v", e.view(e.pub), n, err)
		}
	}
	canRead()
	denied := func(what, q, code string) {
		t.Helper()
		_, err := analyst.Exec(ctx, q)
		if got := rtCode(err); got != code {
			t.Errorf("analyst %s: error %v (%s), want SQLSTATE %s", what, err, got, code)
		}
	}
	pubGen := e.generation(t, e.pub.name).Schema
	privGen := e.generation(t, e.priv.name).Schema
	const permission = "42501"
	denied("reads a read view", "SELECT * FROM "+e.view(e.priv), permission)
	denied("reads a checkpoint view", "SELECT * FROM "+e.checkpointView(e.pub), permission)
	denied("reads a public generation", "SELECT * FROM "+pgx.Identifier{pubGen, e.pub.name + "_counts"}.Sanitize(), permission)
	denied("reads a private generation", "SELECT * FROM "+pgx.Identifier{privGen, e.priv.name + "_counts"}.Sanitize(), permission)
	denied("reads the registry", "SELECT * FROM "+pgx.Identifier{e.store.NS.Registry(), "projections"}.Sanitize(), permission)
	var readOnly string
	if err := analyst.QueryRow(ctx, "SHOW transaction_read_only").Scan(&readOnly); err != nil || readOnly != "on" {
		t.Errorf("analyst transaction_read_only = %q, %v; want on", readOnly, err)
	}
	denied("creates a temporary table by default", "CREATE TEMP TABLE mine (x int)", "25006")
	if _, err := analyst.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		t.Fatal(err)
	}
	denied("deletes from a view", "DELETE FROM "+e.view(e.pub), permission)
	denied("inserts into a view", "INSERT INTO "+e.view(e.pub)+" VALUES ('x', 1, 1)", permission)
	denied("creates in analytics", "CREATE TABLE "+pgx.Identifier{e.store.NS.Analytics(), "mine"}.Sanitize()+" (x int)", permission)
	denied("writes a generation", "DELETE FROM "+pgx.Identifier{pubGen, "checkpoint"}.Sanitize(), permission)

	// The grants survive a rebuild's swap.
	es, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	if _, err := es.Append(ctx, "toy-a", eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "x", SchemaVersion: 1, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := es.Append(ctx, "toy-b", eventstore.Any, eventstore.EventData{ID: uuid.New(), Type: "x", SchemaVersion: 1, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Rebuild(ctx, es, e.pub, postgres.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	canRead()
	denied("reads the new generation", "SELECT * FROM "+pgx.Identifier{e.generation(t, e.pub.name).Schema, e.pub.name + "_counts"}.Sanitize(), permission)
}

// rtLaggingLog is an event store whose first empty ReadAll first runs hook:
// it lets a test move the live generation past a rebuild's catch-up just
// before the swap.
type rtLaggingLog struct {
	eventstore.Store
	once sync.Once
	hook func()
}

func (l *rtLaggingLog) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	evs, err := l.Store.ReadAll(ctx, opts)
	if err == nil && len(evs) == 0 {
		l.once.Do(l.hook)
	}
	return evs, err
}

func TestRebuildCatchesUpWithLiveAtSwap(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	e.setup(t)
	es, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	ctx := context.Background()
	tg := e.store.Target(e.priv)
	live := func() {
		t.Helper()
		cp, err := tg.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := es.ReadAll(ctx, eventstore.ReadAllOptions{After: cp, Limit: eventstore.MaxReadLimit})
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.Apply(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := rtAppend(ctx, es, 500, 0); err != nil {
		t.Fatal(err)
	}
	live()
	lagging := &rtLaggingLog{Store: es, hook: func() {
		if err := rtAppend(ctx, es, 50, 3); err != nil {
			t.Error(err)
		}
		live()
		if err := tg.(interface {
			Advance(context.Context, eventstore.Position) error
		}).Advance(ctx, 600); err != nil {
			t.Error(err)
		}
	}}
	if err := e.store.Rebuild(ctx, lagging, e.priv, postgres.RebuildOptions{Batch: 100}); err != nil {
		t.Fatal(err)
	}
	if sum, last, pos, err := e.read(ctx, e.priv); err != nil || sum != 550 || last != 550 || pos != 550 {
		t.Fatalf("after the swap: sum %d last %d pos %d, %v; want 550", sum, last, pos, err)
	}
	if p, err := e.store.Position(ctx, e.priv.name); err != nil || p != 600 {
		t.Fatalf("position after the swap = %d, %v; want the live generation's 600", p, err)
	}
	if got, want := e.counts(t, e.priv), rtTruth(t, es); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

func TestSwapYieldsToReaders(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	e.setup(t)
	es, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	ctx := context.Background()
	if err := rtAppend(ctx, es, 300, 0); err != nil {
		t.Fatal(err)
	}
	evs, err := es.ReadAll(ctx, eventstore.ReadAllOptions{Limit: eventstore.MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Target(e.priv).Apply(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// A reader transaction holds the checkpoint view while the swap locks
	// the views, then reads the counts view the swap may already hold: the
	// swap must give way rather than make the reader a deadlock victim.
	reader, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Rollback(ctx) }() // after Commit, ErrTxClosed
	var pos, sum int64
	if err := reader.QueryRow(ctx, "SELECT position FROM "+e.checkpointView(e.priv)).Scan(&pos); err != nil || pos != 300 {
		t.Fatalf("reader: position %d, %v", pos, err)
	}
	rebuilt := make(chan error, 1)
	go func() { rebuilt <- e.store.Rebuild(ctx, es, e.priv, postgres.RebuildOptions{}) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting bool
		if err := e.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE %' AND query LIKE '%' || $1 || '%')`, e.store.NS.Read()).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the swap never waited for the reader")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := reader.QueryRow(ctx, "SELECT coalesce(sum(n), 0)::bigint FROM "+e.view(e.priv)).Scan(&sum); err != nil || sum != 300 {
		t.Fatalf("reader during the swap: sum %d, %v; want 300 from the old generation", sum, err)
	}
	time.Sleep(1500 * time.Millisecond) // a few swap attempts give way
	if err := reader.Commit(ctx); err != nil {
		t.Fatalf("reader commit: %v", err)
	}
	if err := <-rebuilt; err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if sum, last, pos, err := e.read(ctx, e.priv); err != nil || sum != 300 || last != 300 || pos != 300 {
		t.Fatalf("after the swap: sum %d last %d pos %d, %v", sum, last, pos, err)
	}
}

func TestRunExclusiveNoticesALostLock(t *testing.T) {
	t.Parallel()
	e := rtNewEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := make(chan context.Context, 4)
	done := make(chan error, 1)
	go func() {
		done <- e.store.RunExclusive(ctx, "toy", nil, func(ctx context.Context) error {
			runs <- ctx
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	first := <-runs
	// Kill the session holding the lock, as a failover or a network cut
	// would: the runner must stop running and take the lock again.
	h := fnv.New64a()
	h.Write([]byte(e.store.NS.Prefix + "projection:toy"))
	key := h.Sum64()
	tag, err := e.pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 1 AND granted`,
		int64(key>>32), int64(key&0xffffffff))
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the lock's session: %v, %d rows", err, tag.RowsAffected())
	}
	select {
	case <-first.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("run went on after its lock died")
	}
	select {
	case second := <-runs:
		if second.Err() != nil {
			t.Fatal("second run started with a dead context")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the runner did not take the lock again")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunExclusive returned %v", err)
	}
}

// rtRollbackTest ends a test's transaction if it is still open.
func rtRollbackTest(tx pgx.Tx) {
	_ = tx.Rollback(context.Background())
}
