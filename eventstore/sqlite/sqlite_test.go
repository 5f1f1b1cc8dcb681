package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/eventstore/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store {
		return MustOpen(t, filepath.Join(t.TempDir(), "events.db"))
	}, storetest.Options{})
}

// MustOpen opens a store on path and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, eventstore.ErrClosed) {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

func newEvent(typ, data string) eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: typ, SchemaVersion: 1, Data: json.RawMessage(data)}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// holdWriteLock takes the write lock of the database file on a connection of
// its own, as another process appending would, so that the store's writer
// blocks in BEGIN IMMEDIATE and appends pile up behind it. release gives the
// lock back; it is also called at cleanup.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
				t.Errorf("release write lock: %v", err)
			}
			_ = conn.Close()
			_ = db.Close()
		})
	}
	t.Cleanup(release)
	return release
}

type appendOutcome struct {
	res eventstore.AppendResult
	err error
}

// appendAsync starts an append and returns where its outcome will arrive.
func appendAsync(ctx context.Context, s *sqlite.Store, stream string, exp eventstore.ExpectedVersion, evs ...eventstore.EventData) <-chan appendOutcome {
	out := make(chan appendOutcome, 1)
	go func() {
		res, err := s.Append(ctx, stream, exp, evs...)
		out <- appendOutcome{res, err}
	}()
	return out
}

// queueBehindLock holds the write lock, sends one append that the writer
// takes and blocks on, and returns it; appends sent after it queue up.
func queueBehindLock(t *testing.T, s *sqlite.Store, path string) (release func(), inFlight <-chan appendOutcome) {
	t.Helper()
	release = holdWriteLock(t, path)
	before := sqlite.Claimed(s)
	inFlight = appendAsync(testCtx(t), s, "in-flight", eventstore.Any, newEvent("test.blocked", `{}`))
	waitFor(t, "the writer to take the first append", func() bool { return sqlite.Claimed(s) == before+1 })
	return release, inFlight
}

// enqueue sends an append and waits until it is queued, so that appends
// sent one after another queue in that order.
func enqueue(t *testing.T, ctx context.Context, s *sqlite.Store, stream string, exp eventstore.ExpectedVersion, evs ...eventstore.EventData) <-chan appendOutcome {
	t.Helper()
	n := sqlite.QueueLen(s)
	out := appendAsync(ctx, s, stream, exp, evs...)
	waitFor(t, "the append to queue", func() bool { return sqlite.QueueLen(s) == n+1 })
	return out
}

func TestReopenKeepsEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	in := []eventstore.EventData{newEvent("cart.item_added", `{"sku":"A"}`), newEvent("cart.item_added", `{"sku":"B"}`)}
	in[1].Metadata = json.RawMessage(`{"correlation_id":"c-1"}`)
	if _, err := s.Append(ctx, "cart-1", eventstore.NoStream, in...); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "order-1", eventstore.NoStream, newEvent("order.placed", `{"total":100}`)); err != nil {
		t.Fatal(err)
	}
	before, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = MustOpen(t, path)
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after reopen: %v", err)
	}
	after, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 || fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after reopen read\n%v\nwant\n%v", after, before)
	}
	if string(after[0].Metadata) != `{}` {
		t.Errorf("empty metadata stored as %q, want {}", after[0].Metadata)
	}
	// Versions and positions carry on where they were.
	res, err := s.Append(ctx, "cart-1", eventstore.Exact(2), newEvent("cart.checked_out", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.NextExpectedVersion != 3 || res.FirstPosition != 4 {
		t.Fatalf("append after reopen landed at %+v, want version 3, position 4", res)
	}
	// A retry of a request made before the restart is still recognised.
	if again, err := s.Append(ctx, "cart-1", eventstore.NoStream, in...); err != nil || again.FirstPosition != 1 || again.LastPosition != 2 {
		t.Fatalf("retry after reopen = %+v, %v; want positions 1..2", again, err)
	}

	// The schema was migrated once, and events cannot be changed behind the
	// store's back.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var migrations int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&migrations); err != nil {
		t.Fatal(err)
	}
	if migrations != 1 {
		t.Errorf("schema_migrations has %d rows, want 1", migrations)
	}
	if _, err := db.Exec(`UPDATE events SET data = '{}' WHERE position = 1`); err == nil {
		t.Errorf("an event was updated")
	}
	if _, err := db.Exec(`DELETE FROM events`); err == nil {
		t.Errorf("events were deleted")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlite.Open(path); err == nil {
		_ = s.Close()
		t.Fatal("opened a database migrated by a newer binary")
	}
}

// TestGroupCommitIsolatesFailures lines several appends up into one group
// and checks that the failing ones are rolled back alone while the others
// commit together, seeing each other's writes inside the group.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := MustOpen(t, path)
	ctx := testCtx(t)
	if _, err := s.Append(ctx, "before", eventstore.Any, newEvent("test.setup", `{}`)); err != nil {
		t.Fatal(err)
	}
	groupsBefore := sqlite.Groups(s)

	release, inFlight := queueBehindLock(t, s, path)
	first := newEvent("test.first", `{"n":1}`)
	reused := first
	reused.Data = json.RawMessage(`{"n":2}`)
	second := []eventstore.EventData{newEvent("test.second", `{"n":2}`), newEvent("test.second", `{"n":3}`)}
	ok1 := enqueue(t, ctx, s, "g-1", eventstore.NoStream, first)
	wrongVersion := enqueue(t, ctx, s, "g-1", eventstore.NoStream, newEvent("test.late", `{}`))
	conflict := enqueue(t, ctx, s, "g-2", eventstore.Any, reused)
	ok2 := enqueue(t, ctx, s, "g-1", eventstore.Exact(1), second...)
	retry := enqueue(t, ctx, s, "g-1", eventstore.NoStream, first)
	release()

	if o := <-inFlight; o.err != nil {
		t.Fatalf("append in flight: %v", o.err)
	}
	r1 := <-ok1
	if r1.err != nil {
		t.Fatalf("first append of the group: %v", r1.err)
	}
	var wev *eventstore.WrongExpectedVersionError
	if o := <-wrongVersion; !errors.As(o.err, &wev) || wev.Actual != 1 {
		t.Errorf("append behind the first with NoStream = %v, want a wrong expected version, actual 1", o.err)
	}
	if o := <-conflict; !errors.Is(o.err, eventstore.ErrIdempotencyConflict) {
		t.Errorf("id reused in another stream = %v, want ErrIdempotencyConflict", o.err)
	}
	r2 := <-ok2
	if r2.err != nil {
		t.Fatalf("second good append of the group: %v", r2.err)
	}
	if r2.res.NextExpectedVersion != 3 || r2.res.FirstPosition != r1.res.LastPosition+1 || r2.res.LastPosition != r2.res.FirstPosition+1 {
		t.Errorf("second append landed at %+v after %+v: want versions 2..3 right after it", r2.res, r1.res)
	}
	if o := <-retry; o.err != nil || o.res.FirstPosition != r1.res.FirstPosition || o.res.NextExpectedVersion != 3 {
		t.Errorf("retry inside the group = %+v, %v; want the first append's position and next version 3", o.res, o.err)
	}
	if got := sqlite.Groups(s) - groupsBefore; got != 2 {
		t.Errorf("%d groups committed, want 2 (the blocked append, then the five queued behind it)", got)
	}

	evs, err := s.ReadStream(ctx, "g-1", eventstore.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].ID != first.ID || evs[1].ID != second[0].ID || evs[2].ID != second[1].ID {
		t.Fatalf("g-1 holds %v, want the first append then the second", evs)
	}
	if evs, _ := s.ReadStream(ctx, "g-2", eventstore.ReadStreamOptions{}); len(evs) != 0 {
		t.Fatalf("the conflicting append wrote %d events", len(evs))
	}
	all, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range all {
		if e.Position != eventstore.Position(i+1) {
			t.Fatalf("position %d at index %d: rolled-back appends left a gap", e.Position, i)
		}
	}
}

// TestConcurrentAppendersAreGapFree has many goroutines append at once, half
// to streams of their own with exact versions and half to one shared stream,
// while a subscriber follows: positions and versions must be gap-free and the
// subscriber must see every event once, in order.
func TestConcurrentAppendersAreGapFree(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := testCtx(t)
	const writers, perWriter = 16, 100
	const total = writers * perWriter

	subCtx, stopSub := context.WithCancel(ctx)
	defer stopSub()
	var seen []eventstore.Event
	subDone := make(chan error, 1)
	go func() {
		subDone <- s.Subscribe(subCtx, eventstore.SubscribeOptions{BatchSize: 7}, func(e eventstore.Event) error {
			seen = append(seen, e)
			if len(seen) == total {
				stopSub()
			}
			return nil
		})
	}()

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			own := fmt.Sprintf("writer-%d", w)
			var version int64
			for i := range perWriter {
				var err error
				if i%2 == 0 {
					_, err = s.Append(ctx, "shared", eventstore.Any, newEvent("test.shared", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)))
				} else {
					var res eventstore.AppendResult
					res, err = s.Append(ctx, own, eventstore.Exact(version), newEvent("test.own", fmt.Sprintf(`{"i":%d}`, i)))
					version = res.NextExpectedVersion
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	if err := <-subDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("subscription ended with %v", err)
	}

	all, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: eventstore.MaxReadLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != total || len(seen) != total {
		t.Fatalf("$all has %d events, the subscriber saw %d, want %d", len(all), len(seen), total)
	}
	versions := map[string]int64{}
	for i, e := range all {
		if e.Position != eventstore.Position(i+1) {
			t.Fatalf("position %d at index %d: positions are not gap-free", e.Position, i)
		}
		if seen[i].ID != e.ID {
			t.Fatalf("the subscriber saw %v at index %d, $all has %v", seen[i].Position, i, e.Position)
		}
		versions[e.StreamID]++
		if e.Version != versions[e.StreamID] {
			t.Fatalf("%s has version %d where %d was due", e.StreamID, e.Version, versions[e.StreamID])
		}
	}
	if head, _ := s.Head(ctx); head != total {
		t.Fatalf("head = %d, want %d", head, total)
	}
}

// TestAnotherProcessOnTheSameFile opens the file twice, as two processes
// would: appends of both are serialised into one log, and a subscriber of one
// notices the other's appends by polling.
func TestAnotherProcessOnTheSameFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	a, b := MustOpen(t, path), MustOpen(t, path)
	ctx := testCtx(t)

	got := make(chan eventstore.Event, 10)
	subCtx, stop := context.WithCancel(ctx)
	defer stop()
	go a.Subscribe(subCtx, eventstore.SubscribeOptions{}, func(e eventstore.Event) error { //nolint:errcheck // ends with the test
		got <- e
		return nil
	})
	if _, err := a.Append(ctx, "s-1", eventstore.NoStream, newEvent("test.a", `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, "s-1", eventstore.NoStream, newEvent("test.b", `{}`)); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("second process appended with NoStream to an existing stream: %v", err)
	}
	if _, err := b.Append(ctx, "s-1", eventstore.Exact(1), newEvent("test.b", `{}`)); err != nil {
		t.Fatal(err)
	}
	for want := eventstore.Position(1); want <= 2; want++ {
		select {
		case e := <-got:
			if e.Position != want {
				t.Fatalf("subscriber got position %d, want %d", e.Position, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("subscriber did not see position %d", want)
		}
	}
}

// TestCancelWhileQueuedWritesNothing cancels an append that waits behind a
// blocked group: it returns the context's error and is never written.
func TestCancelWhileQueuedWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s := MustOpen(t, path)
	release, inFlight := queueBehindLock(t, s, path)
	ctx, cancel := context.WithCancel(testCtx(t))
	cancelled := enqueue(t, ctx, s, "cancelled", eventstore.Any, newEvent("test.cancelled", `{}`))
	cancel()
	select {
	case o := <-cancelled:
		if !errors.Is(o.err, context.Canceled) {
			t.Fatalf("cancelled append returned %v, want context.Canceled", o.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled append waited for the blocked group")
	}
	release()
	if o := <-inFlight; o.err != nil {
		t.Fatal(o.err)
	}
	// The writer still drains the abandoned request and keeps working.
	if _, err := s.Append(testCtx(t), "after", eventstore.Any, newEvent("test.after", `{}`)); err != nil {
		t.Fatal(err)
	}
	if evs, _ := s.ReadStream(testCtx(t), "cancelled", eventstore.ReadStreamOptions{}); len(evs) != 0 {
		t.Fatalf("a cancelled append was written")
	}
}

// TestCloseFailsQueuedAppends closes the store while one append waits for
// the write lock and others queue behind it: all of them fail with
// ErrClosed, Close does not wait for the lock, nothing is written, and no
// goroutine outlives the store.
func TestCloseFailsQueuedAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	leaks := goleak.IgnoreCurrent()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	subDone := make(chan error, 1)
	go func() {
		subDone <- s.Subscribe(context.Background(), eventstore.SubscribeOptions{}, func(eventstore.Event) error { return nil })
	}()
	release, inFlight := queueBehindLock(t, s, path)
	ctx := testCtx(t)
	var queued []<-chan appendOutcome
	for i := range 3 {
		queued = append(queued, enqueue(t, ctx, s, fmt.Sprintf("queued-%d", i), eventstore.Any, newEvent("test.queued", `{}`)))
	}

	// The lock is held until after Close returns. A Close that waited for
	// it would see the in-flight append end when its busy timeout ran out,
	// with SQLITE_BUSY; only a Close that ends the wait makes it ErrClosed.
	// That outcome, not how long Close took, proves it did not wait.
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for i, ch := range append([]<-chan appendOutcome{inFlight}, queued...) {
		if o := <-ch; !errors.Is(o.err, eventstore.ErrClosed) {
			t.Errorf("append %d ended with %v, want ErrClosed (the in-flight one, 0, waited for the lock if not)", i, o.err)
		}
	}
	if err := <-subDone; !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("subscription ended with %v, want ErrClosed", err)
	}
	release()

	// Every call after Close fails with ErrClosed.
	if _, err := s.Append(ctx, "late", eventstore.Any, newEvent("test.late", `{}`)); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Append after Close = %v", err)
	}
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("ReadAll after Close = %v", err)
	}
	if _, err := s.ReadStream(ctx, "late", eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("ReadStream after Close = %v", err)
	}
	if _, err := s.Head(ctx); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Head after Close = %v", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Ping after Close = %v", err)
	}
	if err := s.Subscribe(ctx, eventstore.SubscribeOptions{}, func(eventstore.Event) error { return nil }); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("Subscribe after Close = %v", err)
	}
	if err := s.Close(); !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if err := goleak.Find(leaks); err != nil {
		t.Errorf("goroutines outlived Close: %v", err)
	}

	s = MustOpen(t, path)
	if head, err := s.Head(ctx); err != nil || head != 0 {
		t.Fatalf("head after reopen = %d, %v; want nothing written", head, err)
	}
}

// TestStreamPrefixIsByteExact checks what the range query of a stream
// prefix must get right beyond the conformance suite: case, and a prefix
// ending in the last printable character.
func TestStreamPrefixIsByteExact(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := testCtx(t)
	for _, stream := range []string{"order-1", "Order-2", "ORDER-3", "a~", "a~b", "a}"} {
		if _, err := s.Append(ctx, stream, eventstore.Any, newEvent("test.x", `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	for prefix, want := range map[string]string{
		"order-": "[order-1]",
		"Order":  "[Order-2]",
		"a~":     "[a~ a~b]",
		"a":      "[a~ a~b a}]",
	} {
		evs, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefix: prefix}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.StreamID)
		}
		if fmt.Sprint(got) != want {
			t.Errorf("prefix %q read %v, want %s", prefix, got, want)
		}
	}
}

// BenchmarkAppend measures single-event appends with full durability
// (synchronous=FULL: the WAL is fsynced at every commit) from 1 and 16
// concurrent writers, each to a stream of its own. Group commit is what lets
// 16 writers share fsyncs.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := MustOpen(b, filepath.Join(b.TempDir(), "events.db"))
			ctx := context.Background()
			groupsBefore := sqlite.Groups(s)
			var next atomic.Int64
			var failed atomic.Value
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					stream := fmt.Sprintf("bench-%d", w)
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Append(ctx, stream, eventstore.Any, newEvent("bench.appended", `{"sku":"A-1","quantity":1}`)); err != nil {
							failed.Store(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			b.ReportMetric(float64(b.N)/float64(sqlite.Groups(s)-groupsBefore), "appends/commit")
		})
	}
}

// TestOpenPathWithURICharacters opens a path holding the characters a SQLite
// URI gives a meaning to, and checks that the file lands where it was asked.
func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b?c#d%20e")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "events.db")
	s := MustOpen(t, path)
	if _, err := s.Append(testCtx(t), "s-1", eventstore.NoStream, newEvent("test.x", `{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not at %s: %v", path, err)
	}
}

// TestReadArgumentsAreValidated covers the read arguments the contract
// leaves to adapters: they are refused as invalid input, not guessed at.
func TestReadArgumentsAreValidated(t *testing.T) {
	s := MustOpen(t, filepath.Join(t.TempDir(), "events.db"))
	ctx := testCtx(t)
	for name, opts := range map[string]eventstore.ReadStreamOptions{
		"negative from":     {From: -1},
		"unknown direction": {Direction: eventstore.Direction(7)},
		"negative limit":    {Limit: -1},
	} {
		if _, err := s.ReadStream(ctx, "s-1", opts); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("ReadStream with %s = %v, want ErrInvalidInput", name, err)
		}
	}
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{After: -1}); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ReadAll after a negative position = %v, want ErrInvalidInput", err)
	}
	if _, err := s.ReadStream(ctx, "bad stream", eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ReadStream of a bad stream id = %v, want ErrInvalidInput", err)
	}
}
