package messaging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/messaging"
	"github.com/commerce-engine/commerce/messaging/bustest"
)

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("MESSAGING_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// busKinds runs fn once on the in-process bus and once on RabbitMQ.
func busKinds(t *testing.T, fn func(t *testing.T, newBus func(t *testing.T) messaging.Bus)) {
	t.Run("inprocess", func(t *testing.T) { fn(t, func(t *testing.T) messaging.Bus { return MustInProcessBus(t) }) })
	t.Run("rabbitmq", func(t *testing.T) { fn(t, func(t *testing.T) messaging.Bus { return MustAMQPBus(t) }) })
}

// TestBusConforms runs the Bus suite over both adapters.
func TestBusConforms(t *testing.T) {
	busKinds(t, bustest.Run)
}

// MustInProcessBus returns an in-process bus closed when the test ends.
func MustInProcessBus(t *testing.T) *messaging.InProcessBus {
	t.Helper()
	b := messaging.NewInProcess(testLogger(t))
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// MustAMQPBus returns a bus on the test broker with a unique prefix; when
// the test ends it closes the bus and deletes every exchange and queue the
// bus declared.
func MustAMQPBus(t *testing.T) *messaging.AMQPBus {
	t.Helper()
	return mustAMQPBusCfg(t, messaging.AMQPConfig{})
}

func mustAMQPBusCfg(t *testing.T, cfg messaging.AMQPConfig) *messaging.AMQPBus {
	t.Helper()
	cfg.URL = testsvc.AMQP(t)
	cfg.Prefix = testsvc.UniqueName("msgtest") + "."
	b, err := messaging.NewAMQP(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("NewAMQP: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close bus: %v", err)
		}
		deleteDeclared(t, cfg.URL, cfg.Prefix, b)
	})
	return b
}

func deleteDeclared(t *testing.T, url, prefix string, b messaging.Bus) {
	exchanges, queues := b.Declared()
	prefixed := func(kind string, names []string) []string {
		var out []string
		for _, n := range names {
			if !strings.HasPrefix(n, prefix) {
				t.Errorf("declared %s %s lacks prefix %s", kind, n, prefix)
				continue
			}
			out = append(out, n)
		}
		return out
	}
	deleteNames(t, url, prefixed("exchange", exchanges), prefixed("queue", queues))
}

// MustOpenStore opens an SQLite event store in a temp dir.
func MustOpenStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var categories = []string{"product", "cart", "order", "payment"}

// appendEvents appends n events over several streams of every category and
// returns their ids.
func appendEvents(t *testing.T, ctx context.Context, s eventstore.Store, n int, tag string) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for i := 0; len(ids) < n; i++ {
		k := min(1+i%4, n-len(ids))
		evs := make([]eventstore.EventData, k)
		for j := range evs {
			id := uuid.New()
			ids = append(ids, id)
			evs[j] = eventstore.EventData{ID: id, Type: "test.happened", SchemaVersion: 1,
				Data:     json.RawMessage(fmt.Sprintf(`{"n":%d}`, len(ids))),
				Metadata: json.RawMessage(fmt.Sprintf(`{"correlation_id":"c-%s-%d"}`, tag, i))}
		}
		stream := fmt.Sprintf("%s-%s%d", categories[i%len(categories)], tag, i%7)
		if _, err := s.Append(ctx, stream, eventstore.Any, evs...); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	return ids
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startRouter runs r until the test ends and waits until it is running.
func startRouter(t *testing.T, r *messaging.Router) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("router.Run: %v", err)
		}
	})
	select {
	case <-r.Running():
	case err := <-errc:
		t.Fatalf("router stopped before running: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("router not running after 30s")
	}
}

// runRelay starts relay and returns a stop function that cancels it and
// returns Run's error.
func runRelay(ctx context.Context, relay *messaging.Relay) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- relay.Run(ctx) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			cancel()
			err = <-errc
		})
		return err
	}
}
