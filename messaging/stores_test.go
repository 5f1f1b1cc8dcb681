package messaging_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/messaging"
	"github.com/commerce-engine/commerce/messaging/checkpointtest"
	"github.com/commerce-engine/commerce/messaging/poisontest"
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
	t.Run("memory", func(t *testing.T) {
		checkpointtest.Run(t, func(*testing.T) messaging.Checkpoints { return messaging.NewMemoryCheckpoints() })
	})
	t.Run("file", func(t *testing.T) {
		checkpointtest.Run(t, func(t *testing.T) messaging.Checkpoints { return messaging.NewFileCheckpoints(t.TempDir()) })
	})
	t.Run("postgres", func(t *testing.T) {
		checkpointtest.Run(t, func(t *testing.T) messaging.Checkpoints {
			pool, schema := mustPool(t)
			c := &messaging.PostgresCheckpoints{Pool: pool, Schema: schema}
			for range 2 { // Setup is idempotent
				if err := c.Setup(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			return c
		})
	})
}

// TestFileCheckpoints checks what only the file adapter promises: a
// checkpoint outlives its instance, leaves no temp file, and refuses a name
// with a path separator and a corrupt file.
func TestFileCheckpoints(t *testing.T) {
	dir := t.TempDir()
	if err := messaging.NewFileCheckpoints(dir).Save(context.Background(), "relay", 6); err != nil {
		t.Fatal(err)
	}
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
}

func TestPoisonStores(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		poisontest.Run(t, func(*testing.T) messaging.PoisonStore { return messaging.NewMemoryPoisonStore() })
	})
	t.Run("postgres", func(t *testing.T) {
		poisontest.Run(t, func(t *testing.T) messaging.PoisonStore {
			pool, schema := mustPool(t)
			s := &messaging.PostgresPoisonStore{Pool: pool, Schema: schema}
			for range 2 {
				if err := s.Setup(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			return s
		})
	})
}
