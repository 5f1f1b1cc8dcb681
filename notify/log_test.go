package notify_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/notify"
	"github.com/commerce-engine/commerce/notify/logtest"
)

var _ notify.Log = (*notify.PostgresLog)(nil)

func TestMemoryLog(t *testing.T) {
	t.Parallel()
	logtest.Run(t, func(*testing.T) notify.Log { return notify.NewMemoryLog() })
}

func TestPostgresLog(t *testing.T) {
	t.Parallel()
	logtest.Run(t, func(t *testing.T) notify.Log {
		url, schema := testsvc.PostgresSchema(t)
		ctx := context.Background()
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		l := &notify.PostgresLog{Pool: pool, Schema: schema}
		if err := l.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.Setup(ctx); err != nil {
			t.Fatalf("second Setup: %v", err)
		}
		return l
	})
}
