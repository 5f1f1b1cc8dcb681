package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/messaging"
)

func mustPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	url, schema := testsvc.PostgresSchema(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatalf("pgxpool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, schema
}

func TestCheckpoints(t *testing.T) {
	run := func(t *testing.T, c messaging.Checkpoints) {
		ctx := testCtx(t)
		if p, err := c.Load(ctx, "relay"); err != nil || p != 0 {
			t.Fatalf("Load of a new name = %d, %v", p, err)
		}
		for _, p := range []eventstore.Position{5, 1 << 40, 6} {
			if err := c.Save(ctx, "relay", p); err != nil {
				t.Fatal(err)
			}
			if got, err := c.Load(ctx, "relay"); err != nil || got != p {
				t.Fatalf("Load = %d, %v, want %d", got, err, p)
			}
		}
		if got, _ := c.Load(ctx, "other"); got != 0 {
			t.Errorf("names are not independent: other = %d", got)
		}
	}
	t.Run("memory", func(t *testing.T) { run(t, messaging.NewMemoryCheckpoints()) })
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		run(t, messaging.NewFileCheckpoints(dir))
		// Durable: a new instance on the same dir sees it; no temp files left.
		if got, _ := messaging.NewFileCheckpoints(dir).Load(context.Background(), "relay"); got != 6 {
			t.Errorf("reopened Load = %d", got)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || entries[0].Name() != "relay.checkpoint" {
			t.Errorf("dir holds %v", entries)
		}
		if err := messaging.NewFileCheckpoints(dir).Save(context.Background(), "../x", 1); err == nil {
			t.Error("a name with a path separator was saved")
		}
		if err := os.WriteFile(filepath.Join(dir, "bad.checkpoint"), []byte("nope"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := messaging.NewFileCheckpoints(dir).Load(context.Background(), "bad"); err == nil {
			t.Error("a corrupt checkpoint loaded")
		}
	})
	t.Run("postgres", func(t *testing.T) {
		pool, schema := mustPool(t)
		c := &messaging.PostgresCheckpoints{Pool: pool, Schema: schema}
		for range 2 { // Setup is idempotent
			if err := c.Setup(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		run(t, c)
	})
}

func TestPoisonStores(t *testing.T) {
	run := func(t *testing.T, s messaging.PoisonStore) {
		ctx := testCtx(t)
		base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		for i := range 3 {
			m := messaging.PoisonedMessage{ID: fmt.Sprintf("m%d/c", i), Consumer: "c", Topic: "events.order", Reason: "bad",
				EventID: fmt.Sprintf("e%d", i), EventType: "order.placed", StreamID: "order-1", Position: eventstore.Position(i + 1),
				At: base.Add(time.Duration(i) * time.Second), Payload: []byte(`{"i":1}`), Metadata: map[string]string{"k": "v"}}
			if err := s.Add(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		dup := messaging.PoisonedMessage{ID: "m0/c", Consumer: "c", Reason: "changed", At: base.Add(time.Hour)}
		if err := s.Add(ctx, dup); err != nil {
			t.Fatalf("idempotent Add: %v", err)
		}
		list, err := s.List(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 || list[0].ID != "m2/c" || list[2].ID != "m0/c" || list[2].Reason != "bad" {
			t.Fatalf("List = %+v", list)
		}
		if l, _ := s.List(ctx, 2); len(l) != 2 || l[0].ID != "m2/c" {
			t.Errorf("List(2) = %+v", l)
		}
		got, err := s.Get(ctx, "m1/c")
		if err != nil || got.Position != 2 || string(got.Payload) != `{"i":1}` || got.Metadata["k"] != "v" || !got.At.Equal(base.Add(time.Second)) {
			t.Errorf("Get = %+v, %v", got, err)
		}
		if err := s.Remove(ctx, "m1/c"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "m1/c"); !errors.Is(err, messaging.ErrNoSuchPoisoned) {
			t.Errorf("Get after Remove: %v", err)
		}
		if err := s.Remove(ctx, "m1/c"); !errors.Is(err, messaging.ErrNoSuchPoisoned) {
			t.Errorf("second Remove: %v", err)
		}
	}
	t.Run("memory", func(t *testing.T) { run(t, messaging.NewMemoryPoisonStore()) })
	t.Run("postgres", func(t *testing.T) {
		pool, schema := mustPool(t)
		s := &messaging.PostgresPoisonStore{Pool: pool, Schema: schema}
		for range 2 {
			if err := s.Setup(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		run(t, s)
	})
}
