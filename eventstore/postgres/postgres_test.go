package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/eventstore/storetest"
	"github.com/commerce-engine/commerce/internal/testsvc"
)

// MustOpen returns a store on a fresh, migrated schema that is dropped when
// the test ends.
func MustOpen(tb testing.TB, cfg postgres.Config) *postgres.Store {
	tb.Helper()
	url, schema := testsvc.PostgresSchema(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := postgres.Migrate(ctx, url, schema); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	cfg.URL, cfg.Schema = url, schema
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) eventstore.Store {
		return MustOpen(t, postgres.Config{})
	}, storetest.Options{
		// Commits land out of position order: every append sleeps up to
		// 2 ms between taking its position and committing.
		OpenForGap: func(t *testing.T) eventstore.Store {
			return MustOpen(t, postgres.Config{TestCommitDelay: 2 * time.Millisecond, MaxConns: 16})
		},
	})
}

// TestCommitsLandOutOfOrder shows that the gap test really meets the trap: a
// naive reader (position > last, no snapshot horizon) sees positions appear
// behind ones it already read, while the store's own subscription, reading
// the same appends, delivers every event once and in order.
func TestCommitsLandOutOfOrder(t *testing.T) {
	s := MustOpen(t, postgres.Config{TestCommitDelay: 5 * time.Millisecond, MaxConns: 8})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var delivered []eventstore.Position
	subCtx, stopSub := context.WithCancel(ctx)
	subDone := make(chan error, 1)
	go func() {
		subDone <- s.Subscribe(subCtx, eventstore.SubscribeOptions{}, func(e eventstore.Event) error {
			mu.Lock()
			delivered = append(delivered, e.Position)
			mu.Unlock()
			return nil
		})
	}()

	const writers, perWriter = 6, 150
	writersDone := make(chan struct{})
	go func() {
		defer close(writersDone)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWriter {
					if _, err := s.Append(ctx, fmt.Sprintf("ooo-%d", w), eventstore.Any, storetest.NewEvent("test.ooo", fmt.Sprintf(`{"i":%d}`, i))); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}()

	// The naive reader: whatever is visible now, in position order.
	late, maxSeen := 0, int64(0)
	seen := map[int64]bool{}
	for polling := true; polling; {
		select {
		case <-writersDone:
			polling = false
		default:
		}
		rows, err := s.Pool().Query(ctx, `SELECT position FROM events ORDER BY position`)
		if err != nil {
			t.Fatal(err)
		}
		positions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range positions {
			if p < maxSeen && !seen[p] {
				late++ // a naive "position > last" subscriber would have skipped it
			}
			seen[p] = true
			maxSeen = max(maxSeen, p)
		}
		time.Sleep(time.Millisecond)
	}
	// One more append after all of them: once it is delivered, anything
	// the subscription would deliver twice has been delivered too.
	last, err := s.Append(ctx, "ooo-last", eventstore.NoStream, storetest.NewEvent("test.ooo", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	lastSeen := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(delivered, last.LastPosition)
	}
	deadline := time.Now().Add(time.Minute)
	for !lastSeen() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stopSub()
	if err := <-subDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("subscription ended with %v", err)
	}
	if late == 0 {
		t.Fatalf("no commit landed out of position order: the test did not exercise the trap")
	}
	t.Logf("a naive reader would have skipped %d of %d events", late, writers*perWriter)
	if len(delivered) != writers*perWriter+1 {
		t.Fatalf("subscription delivered %d events, want %d", len(delivered), writers*perWriter+1)
	}
	for i := 1; i < len(delivered); i++ {
		if delivered[i] <= delivered[i-1] {
			t.Fatalf("subscription delivered position %d after %d", delivered[i], delivered[i-1])
		}
	}
}

// TestOtherProcessesAppendsWakeSubscribers: a subscriber sees an append made
// through another Store (another process) through LISTEN/NOTIFY, not at its
// next poll: the poll here is hours long, so the generous wait below can only
// end in a delivery if wake-ups cross between the processes.
//
// A read the wake-up starts holds back an event while an older transaction
// anywhere on the server is still open (the gap rule: stableWhere), and
// would then wait for the poll; on a shared server another test's open
// transaction does that at any time. So while an append is not seen, the
// writer appends to a stream of its own every few seconds: each of those is
// one more wake-up, and none is a poll.
func TestOtherProcessesAppendsWakeSubscribers(t *testing.T) {
	const wait = time.Minute // far past any scheduling delay, far below the poll
	writer := MustOpen(t, postgres.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*wait)
	defer cancel()
	url, schema := writer.Pool().Config().ConnString(), ""
	if err := writer.Pool().QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	reader, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, Poll: eventstore.PollInterval{Min: 6 * time.Hour, Max: 12 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	got := make(chan string, 1024)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = reader.Subscribe(sctx, eventstore.SubscribeOptions{}, func(e eventstore.Event) error { got <- e.StreamID; return nil })
	}()
	nudges := 0
	for i := range 3 {
		// Room for the subscriber to go idle, so that the append below
		// finds it waiting; one that is still reading finds the event in
		// that read, which passes too, but only a wake-up ends a wait.
		time.Sleep(200 * time.Millisecond)
		sent, stream := time.Now(), fmt.Sprintf("wake-%d", i)
		if _, err := writer.Append(ctx, stream, eventstore.Any, storetest.NewEvent("test.woke", `{}`)); err != nil {
			t.Fatal(err)
		}
		nudge := time.NewTicker(3 * time.Second)
		deadline := time.After(wait)
	waiting:
		for {
			select {
			case s := <-got:
				if s == stream {
					t.Logf("append %d seen by the other store after %s", i, time.Since(sent))
					break waiting
				}
			case <-nudge.C:
				nudges++
				if _, err := writer.Append(ctx, "nudge", eventstore.Any, storetest.NewEvent("test.nudged", `{}`)); err != nil {
					t.Fatal(err)
				}
			case <-deadline:
				t.Fatalf("append %d not seen by the other store within %s and %d more appends, its poll hours away: no wake-up between processes", i, wait, nudges)
			}
		}
		nudge.Stop()
	}
	t.Logf("%d appends to nudge a held-back read", nudges)
}
