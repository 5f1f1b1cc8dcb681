package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
)

// A toy aggregate: a counter that refuses to pass its limit.
type incremented struct {
	By int `json:"by"`
}

type increment struct{ By int }

type counter struct{ N int }

var errLimit = errors.New("counter limit reached")

func counterAgg(limit int) commands.Aggregate[counter] {
	return commands.Aggregate[counter]{
		Evolve: func(s counter, e any) counter {
			if inc, ok := e.(incremented); ok {
				s.N += inc.By
			}
			return s
		},
		Decide: func(s counter, c any) ([]any, error) {
			cmd := c.(increment)
			if cmd.By == 0 {
				return nil, nil
			}
			if s.N+cmd.By > limit {
				return nil, errLimit
			}
			return []any{incremented{By: cmd.By}}, nil
		},
	}
}

func mustRunner(t *testing.T) *commands.Runner {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	codec := eventstore.NewCodec()
	eventstore.Register[incremented](codec, "test.incremented", 1)
	return &commands.Runner{Store: s, Codec: codec}
}

func meta(id string) commands.Metadata {
	return commands.Metadata{CommandID: id, CorrelationID: "corr-1", CausationID: "req-1", Actor: "user-1"}
}

func TestHandleAppendsAndRecordsMetadata(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	ctx := context.Background()
	res, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 3}, meta("cmd-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.State.N != 3 || res.Version != 1 || res.Position == 0 || res.Replayed {
		t.Fatalf("result = %+v", res)
	}
	evs, _ := r.Store.ReadStream(ctx, "counter-1", eventstore.ReadStreamOptions{})
	if len(evs) != 1 || evs[0].ID != commands.EventID("cmd-1", 0) {
		t.Fatalf("stream = %+v", evs)
	}
	var m commands.Metadata
	if err := json.Unmarshal(evs[0].Metadata, &m); err != nil || m != meta("cmd-1") {
		t.Fatalf("metadata = %s (%v)", evs[0].Metadata, err)
	}
}

func TestHandleIsIdempotentByCommandID(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	ctx := context.Background()
	first, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 2}, meta("cmd-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 5}, meta("cmd-2")); err != nil {
		t.Fatal(err)
	}
	again, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 2}, meta("cmd-1"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.Position != first.Position {
		t.Fatalf("retry = %+v, first = %+v", again, first)
	}
	if again.State.N != 7 {
		t.Fatalf("state after retry = %d, want 7 (nothing applied twice)", again.State.N)
	}
	evs, _ := r.Store.ReadStream(ctx, "counter-1", eventstore.ReadStreamOptions{})
	if len(evs) != 2 {
		t.Fatalf("stream has %d events, want 2", len(evs))
	}
}

func TestHandleReturnsDomainErrorsAndWritesNothing(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	ctx := context.Background()
	if _, err := commands.Handle(ctx, r, counterAgg(5), "counter-1", increment{By: 6}, meta("cmd-1")); !errors.Is(err, errLimit) {
		t.Fatalf("got %v, want errLimit", err)
	}
	res, err := commands.Handle(ctx, r, counterAgg(5), "counter-1", increment{By: 0}, meta("cmd-2"))
	if err != nil || res.Position != 0 || res.Version != 0 {
		t.Fatalf("a command deciding nothing = %+v, %v", res, err)
	}
	if h, _ := r.Store.Head(ctx); h != 0 {
		t.Fatalf("head = %d, nothing should be written", h)
	}
	if _, err := commands.Handle(ctx, r, counterAgg(5), "counter-1", increment{By: 1}, commands.Metadata{}); err == nil {
		t.Fatal("a command without an id was accepted")
	}
}

func TestHandleRetriesConflictsAndKeepsTheRule(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	ctx := context.Background()
	const racers, limit = 24, 10
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = commands.Handle(ctx, r, counterAgg(limit), "counter-hot", increment{By: 1}, meta(fmt.Sprintf("cmd-%d", i)))
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errLimit):
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != limit || refused != racers-limit {
		t.Fatalf("%d succeeded and %d were refused, want %d and %d", ok, refused, limit, racers-limit)
	}
}

// conflicting is a store whose appends always lose the race.
type conflicting struct{ eventstore.Store }

func (c conflicting) Append(ctx context.Context, stream string, exp eventstore.ExpectedVersion, evs ...eventstore.EventData) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: exp, Actual: 99}
}

func TestHandleGivesUpAfterTheRetryPolicy(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	r.Store = conflicting{r.Store}
	r.Retry = commands.RetryPolicy{Attempts: 3, BaseDelay: 1, MaxDelay: 1}
	_, err := commands.Handle(context.Background(), r, counterAgg(5), "counter-1", increment{By: 1}, meta("cmd-1"))
	if !errors.Is(err, commands.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
}

// The same scenarios with a state cache: decisions on a cached state must
// come out exactly as on a freshly loaded one.
func TestHandleWithACache(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	r.Cache = commands.NewStateCache(16)
	ctx := context.Background()
	first, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 2}, meta("cmd-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 5}, meta("cmd-2")); err != nil {
		t.Fatal(err)
	}
	again, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 2}, meta("cmd-1"))
	if err != nil || !again.Replayed || again.Position != first.Position || again.State.N != 7 {
		t.Fatalf("retry on a cached state = %+v, %v", again, err)
	}
	// A retry the current state would refuse is still recognised.
	if _, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 3}, meta("cmd-3")); err != nil {
		t.Fatal(err)
	}
	late, err := commands.Handle(ctx, r, counterAgg(10), "counter-1", increment{By: 5}, meta("cmd-2"))
	if err != nil || !late.Replayed {
		t.Fatalf("late retry refused by the current state = %+v, %v", late, err)
	}

	// Another process (its own cache) appends: the stale entry costs a
	// reload, not a wrong decision.
	other := &commands.Runner{Store: r.Store, Codec: r.Codec, Cache: commands.NewStateCache(16)}
	if _, err := commands.Handle(ctx, other, counterAgg(11), "counter-1", increment{By: 1}, meta("cmd-4")); err != nil {
		t.Fatal(err)
	}
	if _, err := commands.Handle(ctx, r, counterAgg(11), "counter-1", increment{By: 1}, meta("cmd-5")); !errors.Is(err, errLimit) {
		t.Fatalf("decision on a stale cache: %v, want the limit (10 + 1 + 1 > 11)", err)
	}
	res, err := commands.Handle(ctx, r, counterAgg(12), "counter-1", increment{By: 1}, meta("cmd-6"))
	if err != nil || res.State.N != 12 || res.Version != 5 {
		t.Fatalf("after the reload = %+v, %v", res, err)
	}
}

func TestHandleRetriesConflictsWithACache(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	r.Cache = commands.NewStateCache(16)
	ctx := context.Background()
	const racers, limit = 24, 10
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = commands.Handle(ctx, r, counterAgg(limit), "counter-hot", increment{By: 1}, meta(fmt.Sprintf("cmd-%d", i)))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, errLimit) {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != limit {
		t.Fatalf("%d succeeded, want %d", ok, limit)
	}
}

// readsFrom records where each stream read starts.
type readsFrom struct {
	eventstore.Store
	mu    sync.Mutex
	froms []int64
}

func (r *readsFrom) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) ([]eventstore.Event, error) {
	r.mu.Lock()
	r.froms = append(r.froms, opts.From)
	r.mu.Unlock()
	return r.Store.ReadStream(ctx, stream, opts)
}

// TestHandleCatchesUpAfterAConflict: a runner whose cached state lost a race
// to another process reads only the events appended since, not the whole
// stream, decides again and appends after them.
func TestHandleCatchesUpAfterAConflict(t *testing.T) {
	t.Parallel()
	mine := mustRunner(t)
	reads := &readsFrom{Store: mine.Store}
	mine.Store, mine.Cache = reads, commands.NewStateCache(16)
	other := &commands.Runner{Store: reads.Store, Codec: mine.Codec}
	ctx := context.Background()
	for i := range 5 {
		if _, err := commands.Handle(ctx, mine, counterAgg(100), "counter-c", increment{By: 1}, meta(fmt.Sprintf("mine-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Another process appends twice: this runner's cache is now behind.
	for i := range 2 {
		if _, err := commands.Handle(ctx, other, counterAgg(100), "counter-c", increment{By: 10}, meta(fmt.Sprintf("other-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	reads.mu.Lock()
	reads.froms = nil
	reads.mu.Unlock()
	res, err := commands.Handle(ctx, mine, counterAgg(100), "counter-c", increment{By: 1}, meta("mine-after"))
	if err != nil {
		t.Fatal(err)
	}
	if res.State.N != 26 || res.Version != 8 {
		t.Fatalf("after the conflict: N=%d version=%d, want 26 and 8", res.State.N, res.Version)
	}
	reads.mu.Lock()
	defer reads.mu.Unlock()
	if len(reads.froms) != 1 || reads.froms[0] != 6 {
		t.Fatalf("stream reads started at %v, want one read from version 6", reads.froms)
	}
}

// TestHandleRefusedOnAStaleStateCatchesUp: a cached state another process
// has moved on refuses a command the current state accepts; the runner reads
// only the events appended since, not the whole stream, and appends. A
// refusal that stands still reads the whole stream, where a retried command
// would be found.
func TestHandleRefusedOnAStaleStateCatchesUp(t *testing.T) {
	t.Parallel()
	mine := mustRunner(t)
	reads := &readsFrom{Store: mine.Store}
	mine.Store, mine.Cache = reads, commands.NewStateCache(16)
	other := &commands.Runner{Store: reads.Store, Codec: mine.Codec}
	ctx := context.Background()
	agg := counterAgg(100)
	for i, by := range []int{60, 40} {
		if _, err := commands.Handle(ctx, mine, agg, "counter-s", increment{By: by}, meta(fmt.Sprintf("mine-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// The other process takes 10 off: this runner's cached 100 is stale.
	if _, err := commands.Handle(ctx, other, agg, "counter-s", increment{By: -10}, meta("other")); err != nil {
		t.Fatal(err)
	}
	froms := func() []int64 {
		reads.mu.Lock()
		defer reads.mu.Unlock()
		f := reads.froms
		reads.froms = nil
		return f
	}
	froms()
	res, err := commands.Handle(ctx, mine, agg, "counter-s", increment{By: 5}, meta("mine-stale"))
	if err != nil {
		t.Fatalf("refused on a stale state: %v", err)
	}
	if res.State.N != 95 || res.Version != 4 {
		t.Fatalf("N=%d version=%d, want 95 and 4", res.State.N, res.Version)
	}
	if f := froms(); fmt.Sprint(f) != "[3]" {
		t.Fatalf("stream reads started at %v, want one read from version 3", f)
	}
	// Now the cache is current and the refusal stands: the catch-up finds
	// nothing new and the whole stream is read once.
	if _, err := commands.Handle(ctx, mine, agg, "counter-s", increment{By: 6}, meta("mine-over")); !errors.Is(err, errLimit) {
		t.Fatalf("over the limit: %v, want errLimit", err)
	}
	if f := froms(); fmt.Sprint(f) != "[5 1]" {
		t.Fatalf("stream reads started at %v, want from version 5, then the whole stream", f)
	}
	// A retry of a command already recorded still finds it.
	again, err := commands.Handle(ctx, mine, agg, "counter-s", increment{By: 5}, meta("mine-stale"))
	if err != nil || !again.Replayed || again.Version != 4 {
		t.Fatalf("retry: %+v, %v; want replayed at version 4", again, err)
	}
}

// TestHandleOnAStreamNotInTheCache: a new stream (a checkout, an order) is
// written without reading it first; a stream that exists but is not cached
// (another process wrote it, or this one restarted) still gets a decision
// on its whole state, and a retry of a command already in it is recognised.
func TestHandleOnAStreamNotInTheCache(t *testing.T) {
	t.Parallel()
	mine := mustRunner(t)
	reads := &readsFrom{Store: mine.Store}
	mine.Store, mine.Cache = reads, commands.NewStateCache(16)
	ctx := context.Background()
	if _, err := commands.Handle(ctx, mine, counterAgg(10), "counter-new", increment{By: 1}, meta("new-1")); err != nil {
		t.Fatal(err)
	}
	if len(reads.froms) != 0 {
		t.Fatalf("a new stream was read %d times before its first append", len(reads.froms))
	}

	other := &commands.Runner{Store: reads.Store, Codec: mine.Codec}
	for i := range 3 {
		if _, err := commands.Handle(ctx, other, counterAgg(10), "counter-old", increment{By: 3}, meta(fmt.Sprintf("old-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// 9 so far: as if empty, +2 passes the limit of 10 only on the real state.
	if _, err := commands.Handle(ctx, mine, counterAgg(10), "counter-old", increment{By: 2}, meta("old-3")); !errors.Is(err, errLimit) {
		t.Fatalf("decision on an uncached existing stream: %v, want the limit", err)
	}
	fresh := &commands.Runner{Store: reads.Store, Codec: mine.Codec, Cache: commands.NewStateCache(16)}
	res, err := commands.Handle(ctx, fresh, counterAgg(10), "counter-old", increment{By: 1}, meta("old-4"))
	if err != nil || res.State.N != 10 || res.Version != 4 {
		t.Fatalf("append to an uncached existing stream: %+v, %v; want N=10 at version 4", res, err)
	}
	again, err := commands.Handle(ctx, &commands.Runner{Store: reads.Store, Codec: mine.Codec, Cache: commands.NewStateCache(16)},
		counterAgg(10), "counter-old", increment{By: 3}, meta("old-0"))
	if err != nil || !again.Replayed || again.State.N != 10 {
		t.Fatalf("retry of the stream's first command, uncached: %+v, %v", again, err)
	}
	evs, _ := reads.Store.ReadStream(ctx, "counter-old", eventstore.ReadStreamOptions{})
	if len(evs) != 4 {
		t.Fatalf("counter-old has %d events, want 4", len(evs))
	}
}

// TestLoadCachedAndAtLeastSkipReadsTheyDoNotNeed: a cached state that has
// what the caller needs is returned without a read; otherwise the stream is
// read as Load does.
func TestLoadCachedAndAtLeastSkipReadsTheyDoNotNeed(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	reads := &readsFrom{Store: r.Store}
	r.Store, r.Cache = reads, commands.NewStateCache(16)
	ctx := context.Background()
	res, err := commands.Handle(ctx, r, counterAgg(10), "counter-l", increment{By: 2}, meta("l-1"))
	if err != nil {
		t.Fatal(err)
	}
	count := func() int { reads.mu.Lock(); defer reads.mu.Unlock(); return len(reads.froms) }
	before := count()
	if s, _, err := commands.LoadCached(ctx, r, counterAgg(10), "counter-l", func(c counter) bool { return c.N > 0 }); err != nil || s.N != 2 || count() != before {
		t.Fatalf("LoadCached with what it needs cached: %+v, %v, %d reads", s, err, count()-before)
	}
	if _, _, err := commands.LoadCached(ctx, r, counterAgg(10), "counter-l", func(c counter) bool { return c.N > 5 }); err != nil || count() != before+1 {
		t.Fatalf("LoadCached without it: %v, %d reads, want 1", err, count()-before)
	}
	if _, _, err := commands.LoadAtLeast(ctx, r, counterAgg(10), "counter-l", res.Version); err != nil || count() != before+1 {
		t.Fatalf("LoadAtLeast of the cached version: %v, %d reads, want none more", err, count()-before-1)
	}
	if _, _, err := commands.LoadAtLeast(ctx, r, counterAgg(10), "counter-l", res.Version+1); err != nil || count() != before+2 {
		t.Fatalf("LoadAtLeast past the cached version: %v, want a read", err)
	}
}

// TestAStreamThatWasNotNewCostsNoRetry: deciding on an uncached existing
// stream as if new fails its append, which is a read, not a lost race: a
// runner allowed a single attempt still succeeds.
func TestAStreamThatWasNotNewCostsNoRetry(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	ctx := context.Background()
	if _, err := commands.Handle(ctx, r, counterAgg(10), "counter-x", increment{By: 1}, meta("x-1")); err != nil {
		t.Fatal(err)
	}
	// A back-off would be hours long: the minute's deadline ends it, so the
	// command fails instead of succeeding, however busy the machine is.
	one := &commands.Runner{Store: r.Store, Codec: r.Codec, Cache: commands.NewStateCache(16),
		Retry: commands.RetryPolicy{Attempts: 1, BaseDelay: 6 * time.Hour, MaxDelay: 6 * time.Hour}}
	bounded, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := commands.Handle(bounded, one, counterAgg(10), "counter-x", increment{By: 1}, meta("x-2"))
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the failed append of the new-stream guess waited a back-off: %v", err)
	}
	if err != nil || res.State.N != 2 || res.Version != 2 {
		t.Fatalf("on an uncached existing stream with one attempt: %+v, %v", res, err)
	}
}
