// Package idempotencytest is the conformance suite of
// httpedge.IdempotencyStore: every adapter (in memory, over the event
// store) runs it from its own tests, as every event store runs
// eventstore/storetest.
package idempotencytest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/commerce-engine/commerce/httpedge"
)

// Run checks the stores newStore returns against the contract: exactly one
// of concurrent reservations of a key wins and the others see its
// fingerprint while it runs; a completed answer is replayed byte for byte;
// a release frees the key; and Complete and Release refuse a token that
// does not hold the key's running reservation. newStore returns a fresh,
// empty store for each call; an integration adapter skips (or fails under
// CI) there when its service is missing.
func Run(t *testing.T, newStore func(t *testing.T) httpedge.IdempotencyStore) {
	t.Helper()
	ctx := context.Background()
	t.Run("exactly one concurrent reservation wins", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		var wins atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				rec, won, err := st.Reserve(ctx, "abc", "fp")
				if err != nil {
					t.Error(err)
					return
				}
				if won {
					wins.Add(1)
					if rec.Token == "" || rec.Done {
						t.Errorf("winner got %+v", rec)
					}
				} else if rec.Done || rec.Fingerprint != "fp" {
					t.Errorf("loser saw %+v", rec)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d reservations won", wins.Load())
		}
	})
	t.Run("a completed answer is replayed byte for byte", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		rec, won, err := st.Reserve(ctx, "k", "fp")
		if err != nil || !won {
			t.Fatalf("reserve: %v %v", won, err)
		}
		body := []byte("{\"id\":1}\n\x00\xff binary-safe")
		rec.Status, rec.Header, rec.Body = 201, map[string]string{"Content-Type": "application/json", httpedge.HeaderEventPosition: "7"}, body
		if err := st.Complete(ctx, "k", rec); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			got, won, err := st.Reserve(ctx, "k", "other")
			if err != nil || won || !got.Done || got.Fingerprint != "fp" || got.Status != 201 || string(got.Body) != string(body) ||
				got.Header[httpedge.HeaderEventPosition] != "7" || got.Header["Content-Type"] != "application/json" {
				t.Fatalf("replay: %+v %v %v", got, won, err)
			}
			// What a caller does with the replayed record is its own.
			got.Body[0], got.Header["Content-Type"] = 'X', "changed"
		}
	})
	t.Run("release lets the key be used again", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		rec, won, err := st.Reserve(ctx, "k", "fp")
		if err != nil || !won {
			t.Fatalf("reserve: %v %v", won, err)
		}
		if err := st.Release(ctx, "k", rec.Token); err != nil {
			t.Fatal(err)
		}
		again, won, err := st.Reserve(ctx, "k", "fp2")
		if err != nil || !won || again.Fingerprint != "fp2" {
			t.Fatalf("after release: %+v %v %v", again, won, err)
		}
	})
	t.Run("stale and foreign tokens are refused", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		rec, _, err := st.Reserve(ctx, "k", "fp")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Complete(ctx, "k", httpedge.IdempotencyRecord{Fingerprint: "fp", Token: "nope"}); err == nil {
			t.Fatal("a foreign token completed the key")
		}
		if err := st.Release(ctx, "k", "nope"); err == nil {
			t.Fatal("a foreign token released the key")
		}
		rec.Status, rec.Body = 200, []byte("{}")
		if err := st.Complete(ctx, "k", rec); err != nil {
			t.Fatal(err)
		}
		if err := st.Release(ctx, "k", rec.Token); err == nil {
			t.Fatal("a completed key was released")
		}
		if err := st.Complete(ctx, "k", rec); err == nil {
			t.Fatal("a completed key was completed again")
		}
	})
}
