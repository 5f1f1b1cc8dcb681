package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
)

// testGapFree is the test the PostgreSQL trap of DESIGN.md is about: many
// writers append concurrently while a live subscriber follows $all; the
// subscriber must see every event exactly once, in strictly increasing
// positions, each stream in version order, and nothing after the writers
// stop.
func testGapFree(t *testing.T, open Opener, writers, perWriter int) {
	s := open(t)
	const streamsPerWriter = 5
	sub := subscribe(t, s, eventstore.SubscribeOptions{})

	written := make([][]uuid.UUID, writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			versions := make([]int64, streamsPerWriter)
			for i := range perWriter {
				k := i % streamsPerWriter
				stream := fmt.Sprintf("gap-w%d-s%d", w, k)
				ev := NewEvent("test.gap", fmt.Sprintf(`{"writer":%d,"seq":%d,"pad":"%0200d"}`, w, i, i))
				res, err := s.Append(ctxT(t), stream, eventstore.Exact(versions[k]), ev)
				if err != nil {
					errs <- fmt.Errorf("writer %d append %d: %w", w, i, err)
					return
				}
				versions[k] = res.NextExpectedVersion
				written[w] = append(written[w], ev.ID)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := writers * perWriter
	t.Logf("%d writers appended %d events in %v", writers, total, time.Since(start).Round(time.Millisecond))

	sub.waitFor(t, total, 2*time.Minute)
	got := sub.settle(t, s, "gap-marker-", "test.gap") // a repeat comes before the marker
	if len(got) != total {
		t.Fatalf("subscriber saw %d events, want exactly %d", len(got), total)
	}
	seen := make(map[uuid.UUID]bool, total)
	lastVersion := map[string]int64{}
	for i, e := range got {
		if seen[e.ID] {
			t.Fatalf("event %v delivered twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 && e.Position <= got[i-1].Position {
			t.Fatalf("position %d delivered after %d", e.Position, got[i-1].Position)
		}
		if e.Version != lastVersion[e.StreamID]+1 {
			t.Fatalf("%s version %d delivered after version %d", e.StreamID, e.Version, lastVersion[e.StreamID])
		}
		lastVersion[e.StreamID] = e.Version
	}
	for w, ids := range written {
		for _, id := range ids {
			if !seen[id] {
				t.Fatalf("writer %d's event %v was never delivered", w, id)
			}
		}
	}
	if all := readAll(t, s); len(all) != total+1 {
		t.Fatalf("$all holds %d events, want %d and the marker", len(all), total)
	}
}

// testHotStreamOrder races many writers on the same streams with Any: every
// append must land (none lost to the race), and a subscriber of $all must
// see each stream's versions in order, which holds only if a stream's later
// versions get later positions.
func testHotStreamOrder(t *testing.T, open Opener) {
	s := open(t)
	sub := subscribe(t, s, eventstore.SubscribeOptions{})
	const writers, perWriter = 16, 30
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				stream := fmt.Sprintf("hot-%d", i%2)
				if _, err := s.Append(ctxT(t), stream, eventstore.Any, NewEvent("test.hot", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := writers * perWriter
	sub.waitFor(t, total, time.Minute)
	got := sub.settle(t, s, "hot-marker-", "test.hot")
	if len(got) != total {
		t.Fatalf("subscriber saw %d events, want %d", len(got), total)
	}
	last := map[string]int64{}
	for i, e := range got {
		if i > 0 && e.Position <= got[i-1].Position {
			t.Fatalf("position %d delivered after %d", e.Position, got[i-1].Position)
		}
		if e.Version != last[e.StreamID]+1 {
			t.Fatalf("%s version %d delivered after version %d", e.StreamID, e.Version, last[e.StreamID])
		}
		last[e.StreamID] = e.Version
	}
}
