package postgres_test

import (
	"context"
	"testing"
	"time"

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
