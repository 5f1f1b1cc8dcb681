package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/tracing"
)

const (
	// DefaultBatchSize is how many events the relay publishes at once when
	// Relay.BatchSize is 0.
	DefaultBatchSize = 500
	// relayLinger is how long a partial batch waits for more events before
	// it is published anyway.
	relayLinger = 5 * time.Millisecond
	// relay retry backoff: from relayRetryMin doubling up to relayRetryMax.
	relayRetryMin = 100 * time.Millisecond
	relayRetryMax = 5 * time.Second
	// checkpointTimeout bounds one checkpoint save.
	checkpointTimeout = 10 * time.Second
)

// Relay publishes every committed event of $all, in order, at least once, from a durable checkpoint.
//
// Streams of eventstore.IdempotencyStreamPrefix are skipped: they hold
// recorded HTTP answers, which are no consumer's concern and must not
// travel on the broker. The checkpoint still moves past them.
//
// Events are published in batches grouped by topic; within a topic they keep
// $all order. The checkpoint is saved only after the whole batch was
// published (confirmed on RabbitMQ, acked by every subscriber in-process),
// so a crash republishes at most the batch in flight: consumers see
// duplicates, never gaps. Renaming the relay (Name) starts it from the
// beginning of $all again.
type Relay struct {
	Name        string // checkpoint name, e.g. "relay"
	Store       eventstore.Store
	Publisher   message.Publisher
	Checkpoints Checkpoints
	BatchSize   int // events per publish batch (default 500)
	Logger      *slog.Logger

	pos atomic.Int64
}

// Position returns the last checkpointed position, for metrics and tests.
func (r *Relay) Position() eventstore.Position { return eventstore.Position(r.pos.Load()) }

func (r *Relay) validate() error {
	switch {
	case r.Name == "":
		return errors.New("messaging: relay needs a Name")
	case r.Store == nil:
		return errors.New("messaging: relay needs a Store")
	case r.Publisher == nil:
		return errors.New("messaging: relay needs a Publisher")
	case r.Checkpoints == nil:
		return errors.New("messaging: relay needs Checkpoints")
	}
	return nil
}

// Run subscribes to $all after the checkpoint and publishes until ctx is
// done, then returns nil. While batch N is being published the subscription
// keeps reading batch N+1. A failing publish or checkpoint save is retried
// with backoff, never skipped. Run returns an error when the checkpoint
// cannot be loaded or the store's subscription fails; the caller restarts
// it, and it resumes from the checkpoint.
func (r *Relay) Run(ctx context.Context) error {
	if err := r.validate(); err != nil {
		return err
	}
	logger := r.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("relay", r.Name)
	size := r.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	after, err := r.Checkpoints.Load(ctx, r.Name)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("messaging: relay %s: %w", r.Name, err)
	}
	r.pos.Store(int64(after))
	logger.Info("relay starting", "after", int64(after))

	ctx, cancel := context.WithCancel(ctx)
	events := make(chan eventstore.Event, size)
	subErr := make(chan error, 1)
	subDone := make(chan struct{})
	defer func() {
		cancel()
		<-subDone
	}()
	go func() {
		defer close(subDone)
		opts := eventstore.SubscribeOptions{After: after, BatchSize: min(size, eventstore.MaxReadLimit)}
		subErr <- r.Store.Subscribe(ctx, opts, func(e eventstore.Event) error {
			select {
			case events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	c := collector{events: events, subErr: subErr, size: size}
	for {
		batch, err := c.next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("messaging: relay %s: subscription failed: %w", r.Name, err)
		}
		if err := r.publish(ctx, logger, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("messaging: relay %s: %w", r.Name, err)
		}
		last := batch[len(batch)-1].Position
		if !r.save(ctx, logger, last) {
			return nil
		}
		r.pos.Store(int64(last))
	}
}

// collector gathers events from the subscription into batches.
type collector struct {
	events <-chan eventstore.Event
	subErr <-chan error
	size   int
	failed error // the subscription's error, reported once its events are out
}

// next blocks for the first event, then takes more until the batch is full
// or nothing arrives for relayLinger (the subscription is caught up).
func (c *collector) next(ctx context.Context) ([]eventstore.Event, error) {
	var batch []eventstore.Event
	for len(batch) == 0 {
		if c.failed != nil {
			select {
			case e := <-c.events:
				batch = append(batch, e)
				continue
			default:
				return nil, c.failed
			}
		}
		select {
		case e := <-c.events:
			batch = append(batch, e)
		case err := <-c.subErr:
			c.failed = err
			if c.failed == nil {
				c.failed = errors.New("subscription ended")
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	linger := time.NewTimer(relayLinger)
	defer linger.Stop()
	for len(batch) < c.size {
		select {
		case e := <-c.events:
			batch = append(batch, e)
		case <-linger.C:
			return batch, nil
		case err := <-c.subErr:
			c.failed = err
			if c.failed == nil {
				c.failed = errors.New("subscription ended")
			}
			return batch, nil // the next call drains what is left first
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return batch, nil
}

// publish sends batch grouped by topic, topics in parallel, retrying the
// topics that failed with backoff until all are published or ctx is done.
func (r *Relay) publish(ctx context.Context, logger *slog.Logger, batch []eventstore.Event) error {
	groups := map[string][]*message.Message{}
	var pending []string
	spans := make([]trace.Span, 0, len(batch))
	defer func() {
		for _, s := range spans {
			s.End()
		}
	}()
	system := messagingSystem(r.Publisher)
	for _, e := range batch {
		if strings.HasPrefix(e.StreamID, eventstore.IdempotencyStreamPrefix) {
			continue // a recorded HTTP answer, not a business fact: never published
		}
		m, err := NewMessage(e)
		if err != nil {
			return err // an event without an id: the store is broken, do not skip it
		}
		t := Topic(e.StreamID)
		// One publish span per event, in the trace of the command that
		// wrote it; the message carries the span on to the consumers.
		sctx, span := tracing.Start(ctx, m.Metadata.Get(MetaTraceParent), "publish "+e.Type, trace.SpanKindProducer,
			append(tracing.Messaging(system, t, tracing.Send),
				attribute.String("commerce.event_id", e.ID.String()), attribute.Int64("commerce.position", int64(e.Position)))...)
		spans = append(spans, span)
		if tp := tracing.TraceParent(sctx); tp != "" {
			m.Metadata.Set(MetaTraceParent, tp)
		}
		if _, ok := groups[t]; !ok {
			pending = append(pending, t)
		}
		groups[t] = append(groups[t], m)
	}
	attempt := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		var mu sync.Mutex
		var failed []string
		var errs []error
		var wg sync.WaitGroup
		for _, t := range pending {
			wg.Go(func() {
				if err := r.Publisher.Publish(t, groups[t]...); err != nil {
					mu.Lock()
					failed = append(failed, t)
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(failed) == 0 {
			return struct{}{}, nil
		}
		pending = failed
		return struct{}{}, errors.Join(errs...)
	}, relayBackOff(func(err error, wait time.Duration) {
		logger.Warn("relay publish failed, retrying", "attempt", attempt, "topics", pending,
			"first_position", int64(batch[0].Position), "retry_in", wait, "error", err)
	})...)
	if err != nil {
		return err // only ctx ends the retries
	}
	logger.Debug("relay published batch", "events", len(batch),
		"first_position", int64(batch[0].Position), "last_position", int64(batch[len(batch)-1].Position))
	return nil
}

// save records the checkpoint, retrying with backoff; it reports false when
// ctx ended first.
func (r *Relay) save(ctx context.Context, logger *slog.Logger, p eventstore.Position) bool {
	attempt := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
		defer cancel()
		return struct{}{}, r.Checkpoints.Save(sctx, r.Name, p)
	}, relayBackOff(func(err error, _ time.Duration) {
		logger.Warn("relay checkpoint save failed, retrying", "attempt", attempt, "position", int64(p), "error", err)
	})...)
	return err == nil
}

// messagingSystem is the messaging.system of spans on a bus with
// publisher p: "rabbitmq", or "gochannel" for Watermill's in-process
// channel (which OpenTelemetry names no value for).
func messagingSystem(p message.Publisher) string {
	if _, ok := p.(*amqpPublisher); ok {
		return "rabbitmq"
	}
	return "gochannel"
}

// relayBackOff is the relay's retry policy: pauses from relayRetryMin
// doubling up to relayRetryMax, no jitter, no limit on attempts or time
// (only ctx ends it), each failure reported to notify.
func relayBackOff(notify backoff.Notify) []backoff.RetryOption {
	return []backoff.RetryOption{
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: relayRetryMin, Multiplier: 2, MaxInterval: relayRetryMax}),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(notify),
	}
}
