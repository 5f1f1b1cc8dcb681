package main

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/esdb"
	pgproj "github.com/commerce-engine/commerce/projections/postgres"
)

// TestKurrentEventsWithPostgresReadModels runs the engine with its events in
// KurrentDB (the stand-in, or a server with COMMERCE_ESDB_URL) and its read
// models in PostgreSQL: every projection's checkpoint is a KurrentDB
// position kept in PostgreSQL, it reaches the log's head, and after a
// restart on the same stores the answers are unchanged.
func TestKurrentEventsWithPostgresReadModels(t *testing.T) {
	t.Parallel()
	cfg, opts := kurrentConfig(t)
	srv := MustRun(t, cfg, opts...)
	_, shopper, _, last := shop(t, srv.url, 5)
	shopper.must(200, "GET", "/api/v1/cart", nil, nil, "X-Min-Position", last)

	store, err := esdb.Open(esdb.Config{URL: cfg.EventStoreURL, Namespace: cfg.EventStoreNamespace})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	head, err := store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := strconv.ParseInt(last, 10, 64); int64(head) != want {
		t.Fatalf("the last write answered X-Event-Position %s, the store's head is %d", last, head)
	}
	pool, err := readModelPool(ctx, cfg.ReadModelURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pg := &pgproj.Store{Pool: pool, NS: srv.ReadNamespace()}
	names := []string{"catalog", "orders", "correlations", "analytics"} // carts are in Redis
	caughtUp := func() map[string]eventstore.Position {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := map[string]eventstore.Position{}
			all := true
			for _, n := range names {
				p, err := pg.Position(ctx, n)
				if err != nil {
					t.Fatalf("checkpoint of %s in PostgreSQL: %v", n, err)
				}
				got[n] = p
				all = all && p == head
			}
			if all {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("checkpoints in PostgreSQL %v did not reach the KurrentDB head %d", got, head)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	caughtUp()
	var before struct {
		Items []json.RawMessage `json:"items"`
	}
	shopper.must(200, "GET", "/api/v1/products", nil, &before)
	var cartBefore json.RawMessage
	shopper.must(200, "GET", "/api/v1/cart", nil, &cartBefore)
	if err := srv.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}

	// Restarted on the same stores: the projections go on from their
	// PostgreSQL checkpoints.
	srv = MustRun(t, cfg, opts...)
	shopper.base = srv.url
	caughtUp()
	var after struct {
		Items []json.RawMessage `json:"items"`
	}
	shopper.must(200, "GET", "/api/v1/products", nil, &after, "X-Min-Position", last)
	var cartAfter json.RawMessage
	shopper.must(200, "GET", "/api/v1/cart", nil, &cartAfter, "X-Min-Position", last)
	if len(after.Items) != 5 || len(before.Items) != 5 || string(cartAfter) != string(cartBefore) {
		t.Fatalf("after the restart: %d products (before %d), cart %s (before %s)", len(after.Items), len(before.Items), cartAfter, cartBefore)
	}
}
