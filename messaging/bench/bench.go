// Package bench measures the relay's publish rate on RabbitMQ next to raw
// amqp091-go: the project benchmark's entry point (cmd/esbench and
// BenchmarkRelayVsRaw), kept out of the production package.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/messaging"
)

// rawUnconfirmed is how many messages the raw baseline keeps unconfirmed.
const rawUnconfirmed = 1000

// Publish measures, in one run on the broker at url, (a) the Relay
// publishing n events with size-byte payloads from an SQLite store (filled
// before timing) to RabbitMQ with confirms and (b) raw amqp091-go publishing
// the same n messages on one channel with asynchronous confirms (up to 1,000
// unconfirmed), both as persistent messages into one durable queue, and
// returns both rates in messages per second. Everything it declares is named
// with prefix and deleted before it returns. It is the project benchmark's
// entry point, so it needs no testing package.
func Publish(ctx context.Context, url, prefix string, n, size int) (relayRate, rawRate float64, err error) {
	if n <= 0 || size <= 0 {
		return 0, 0, errors.New("bench needs n > 0 and size > 0")
	}
	dir, err := os.MkdirTemp("", "messaging-bench-")
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	store, err := sqlite.Open(filepath.Join(dir, "events.db")) //nolint:contextcheck // the writer lives as long as the store
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	defer store.Close()
	if err := fillBenchStore(ctx, store, n, size); err != nil {
		return 0, 0, err
	}
	head, err := store.Head(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}

	admin, err := amqp.Dial(url)
	if err != nil {
		return 0, 0, fmt.Errorf("bench: dial: %w", err)
	}
	defer admin.Close()
	ach, err := admin.Channel()
	if err != nil {
		return 0, 0, fmt.Errorf("bench: channel: %w", err)
	}
	relayX, rawX := prefix+messaging.Topic("bench-0"), prefix+"bench.raw"
	var queues []string
	defer func() {
		for _, q := range queues {
			_, _ = ach.QueueDelete(q, false, false, false)
		}
		_ = ach.ExchangeDelete(relayX, false, false)
		_ = ach.ExchangeDelete(rawX, false, false)
	}()
	for _, x := range []string{relayX, rawX} {
		if err := ach.ExchangeDeclare(x, messaging.ExchangeType, true, false, false, false, nil); err != nil {
			return 0, 0, fmt.Errorf("bench: declare %s: %w", x, err)
		}
		q := x + ".sink"
		if _, err := ach.QueueDeclare(q, true, false, false, false, nil); err != nil {
			return 0, 0, fmt.Errorf("bench: declare %s: %w", q, err)
		}
		queues = append(queues, q)
		if err := ach.QueueBind(q, "#", x, false, nil); err != nil {
			return 0, 0, fmt.Errorf("bench: bind %s: %w", q, err)
		}
	}

	if relayRate, err = benchRelay(ctx, url, prefix, store, head, n); err != nil {
		return 0, 0, err
	}
	events, err := store.ReadAll(ctx, eventstore.ReadAllOptions{Limit: min(n, eventstore.MaxReadLimit)})
	if err != nil {
		return 0, 0, fmt.Errorf("bench: %w", err)
	}
	if rawRate, err = benchRaw(ctx, url, rawX, events, n); err != nil {
		return 0, 0, err
	}
	return relayRate, rawRate, nil
}

// fillBenchStore appends n events over 100 streams of one category.
func fillBenchStore(ctx context.Context, store eventstore.Store, n, size int) error {
	pad := strings.Repeat("x", max(size-len(`{"p":""}`), 0))
	data, _ := json.Marshal(map[string]string{"p": pad})
	const streams, perAppend = 100, 500
	for done, call := 0, 0; done < n; call++ {
		k := min(perAppend, n-done)
		evs := make([]eventstore.EventData, k)
		for i := range evs {
			evs[i] = eventstore.EventData{ID: uuid.New(), Type: "bench.happened", SchemaVersion: 1, Data: data,
				Metadata: json.RawMessage(`{"correlation_id":"bench"}`)}
		}
		if _, err := store.Append(ctx, fmt.Sprintf("bench-%d", call%streams), eventstore.Any, evs...); err != nil {
			return fmt.Errorf("bench: fill store: %w", err)
		}
		done += k
	}
	return nil
}

// notifyingCheckpoints tells when a position at or past target was saved.
type notifyingCheckpoints struct {
	messaging.Checkpoints
	target eventstore.Position
	once   sync.Once
	done   chan struct{}
}

func (c *notifyingCheckpoints) Save(ctx context.Context, name string, p eventstore.Position) error {
	err := c.Checkpoints.Save(ctx, name, p)
	if err == nil && p >= c.target {
		c.once.Do(func() { close(c.done) })
	}
	return err
}

func benchRelay(ctx context.Context, url, prefix string, store eventstore.Store, head eventstore.Position, n int) (float64, error) {
	logger := slog.New(slog.DiscardHandler)
	bus, err := messaging.NewAMQP(messaging.AMQPConfig{URL: url, Prefix: prefix}, logger)
	if err != nil {
		return 0, err
	}
	defer bus.Close()
	cps := &notifyingCheckpoints{Checkpoints: messaging.NewMemoryCheckpoints(), target: head, done: make(chan struct{})}
	relay := &messaging.Relay{Name: "bench", Store: store, Publisher: bus.Publisher(), Checkpoints: cps, Logger: logger}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- relay.Run(rctx) }()
	select {
	case <-cps.done:
	case err := <-errc:
		return 0, fmt.Errorf("bench: relay stopped early: %v", err) //nolint:errorlint // a benchmark's report, matched by nobody
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

func benchRaw(ctx context.Context, url, exchange string, events []eventstore.Event, n int) (float64, error) {
	pubs := make([]amqp.Publishing, len(events))
	for i, e := range events {
		m, err := messaging.NewMessage(e)
		if err != nil {
			return 0, err
		}
		if pubs[i], err = (wamqp.DefaultMarshaler{}).Marshal(m); err != nil {
			return 0, fmt.Errorf("bench: %w", err)
		}
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		return 0, fmt.Errorf("bench: dial: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, fmt.Errorf("bench: channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return 0, fmt.Errorf("bench: confirm mode: %w", err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, rawUnconfirmed))
	tokens := make(chan struct{}, rawUnconfirmed)
	result := make(chan error, 1)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			c, ok := <-confirms
			if !ok {
				result <- errors.New("bench: channel closed before every confirm")
				return
			}
			if !c.Ack {
				result <- fmt.Errorf("bench: message %d nacked", c.DeliveryTag)
				return
			}
			<-tokens
		}
		result <- nil
	}()
	for i := 0; i < n; i++ {
		select {
		case tokens <- struct{}{}:
		case err := <-result:
			return 0, err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if err := ch.PublishWithContext(ctx, exchange, events[i%len(events)].Type, false, false, pubs[i%len(pubs)]); err != nil {
			return 0, fmt.Errorf("bench: publish: %w", err)
		}
	}
	if err := <-result; err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
