package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/tracing"
)

const (
	// PoisonTopic is where messages that still fail after retries go.
	PoisonTopic = "poison"
	// PoisonRecorder is the consumer that writes the poison topic into the
	// PoisonStore; no other consumer may take the name.
	PoisonRecorder = "poison-recorder"
	// RedriveTopicPrefix + a consumer's name is the topic only that consumer
	// reads, on which Redrive sends a poisoned message back to it.
	RedriveTopicPrefix = "redrive."

	// metaPoisonConsumer names the consumer that gave up on a message.
	metaPoisonConsumer = "poison_consumer"
	// metaRedriveTopic keeps the original topic of a re-driven message, so
	// that failing again records it under that topic, not its redrive topic.
	metaRedriveTopic = "redrive_topic"
)

// Consumer is one named, durable reader of some topics; its handler must be idempotent by event id (delivery is at least once, in any order).
//
// The name is the consumer's durable queue identity on RabbitMQ: renaming
// it starts from an empty queue, and two processes with the same name
// compete for the same messages.
type Consumer struct {
	Name   string
	Topics []string
	Types  []string // when set, other event types are acked without calling Handle
	Handle func(ctx context.Context, e eventstore.Event) error
	// Concurrency is how many messages of each topic this process handles
	// at once on a bus with competing consumers (RabbitMQ; default 1): a
	// watermill-amqp subscription handles one message at a time. The
	// in-process channel gives every subscription every message, so there
	// it stays 1. More than 1 gives up ordering within the topic.
	Concurrency int
	// Broadcast makes every process running the consumer receive every
	// message instead of competing for it (Bus.BroadcastSubscriber): for
	// per-process state such as live connections. A broadcast consumer has
	// no poison queue and no redrive topic: a message that still fails
	// after the retries is logged and dropped, and on RabbitMQ messages
	// published while the process is down or reconnecting are not seen.
	Broadcast bool
}

// RouterConfig tunes the retries before a message is poisoned.
type RouterConfig struct {
	MaxRetries      int           // retries after the first attempt (default 5; negative: none)
	InitialInterval time.Duration // first retry delay (default 100ms), doubling
	MaxInterval     time.Duration // retry delay cap (default 5s)
	Logger          *slog.Logger
	Now             func() time.Time // clock of PoisonedMessage.At (default time.Now)
}

func (c *RouterConfig) setDefaults() {
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = 5
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.InitialInterval <= 0 {
		c.InitialInterval = 100 * time.Millisecond
	}
	if c.MaxInterval <= 0 {
		c.MaxInterval = 5 * time.Second
	}
	if c.MaxInterval < c.InitialInterval {
		c.MaxInterval = c.InitialInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Router runs consumers on a bus: each message is retried with exponential
// backoff, a panic counts as a failure, and a message that still fails is
// recorded in the PoisonStore and acked so the queue moves on.
type Router struct {
	bus    Bus
	poison PoisonStore
	cfg    RouterConfig
	wr     *message.Router
	retry  middleware.Retry

	mu      sync.Mutex
	names   map[string]bool
	started bool
}

// NewRouter returns a router on bus that records poisoned messages in
// poison. It fails when the bus cannot give it a subscriber.
func NewRouter(bus Bus, poison PoisonStore, cfg RouterConfig) (*Router, error) {
	if bus == nil || poison == nil {
		return nil, errors.New("messaging: router needs a bus and a poison store")
	}
	cfg.setDefaults()
	wr, err := message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, watermillLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("messaging: new router: %w", err)
	}
	r := &Router{
		bus:    bus,
		poison: poison,
		cfg:    cfg,
		wr:     wr,
		names:  map[string]bool{PoisonRecorder: true},
		retry: middleware.Retry{
			MaxRetries:          cfg.MaxRetries,
			InitialInterval:     cfg.InitialInterval,
			MaxInterval:         cfg.MaxInterval,
			Multiplier:          2,
			RandomizationFactor: 0.2,
			ResetContextOnRetry: true,
		},
	}
	sub, err := bus.Subscriber(PoisonRecorder)
	if err != nil {
		return nil, fmt.Errorf("messaging: router: %w", err)
	}
	h := wr.AddConsumerHandler(PoisonRecorder, PoisonTopic, sub, r.record)
	// No poison queue here: a recorder that cannot write nacks, and the
	// message comes back until the store works again.
	h.AddMiddleware(r.retry.Middleware, r.correlation(PoisonRecorder), middleware.Recoverer)
	return r, nil
}

// Add registers c on its topics and on its redrive topic. It fails for a
// consumer without a name, topics or handler, a name already taken, or
// after Run.
func (r *Router) Add(c Consumer) error {
	if c.Name == "" || len(c.Topics) == 0 || c.Handle == nil {
		return fmt.Errorf("messaging: consumer %q needs a name, topics and a handler", c.Name)
	}
	if strings.ContainsAny(c.Name, "@ ") {
		return fmt.Errorf("messaging: consumer name %q may not contain '@' or spaces", c.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return fmt.Errorf("messaging: consumer %s added after the router started", c.Name)
	}
	if r.names[c.Name] {
		return fmt.Errorf("messaging: consumer name %s is taken", c.Name)
	}
	if c.Broadcast {
		if err := r.addBroadcast(c); err != nil {
			return err
		}
		r.names[c.Name] = true
		return nil
	}
	sub, err := r.bus.Subscriber(c.Name, c.Types...)
	if err != nil {
		return fmt.Errorf("messaging: consumer %s: %w", c.Name, err)
	}
	poison, err := middleware.PoisonQueue(stampPublisher{Publisher: r.bus.Publisher(), consumer: c.Name}, PoisonTopic)
	if err != nil {
		return fmt.Errorf("messaging: consumer %s: %w", c.Name, err)
	}
	handle := r.handler(c)
	topics := append(append([]string(nil), c.Topics...), RedriveTopicPrefix+c.Name)
	parallel := 1
	if c.Concurrency > 1 && r.bus.SharedQueues() {
		parallel = c.Concurrency
	}
	for _, t := range topics {
		for i := range parallel {
			name := c.Name + "@" + t
			if i > 0 {
				name += fmt.Sprintf("#%d", i)
			}
			h := r.wr.AddConsumerHandler(name, t, sub, handle)
			// Outermost first: poison after the retries are spent, retries
			// around every attempt, a panic is an attempt's error.
			h.AddMiddleware(poison, r.retry.Middleware, middleware.CorrelationID, r.correlation(c.Name), middleware.Recoverer)
		}
	}
	r.names[c.Name] = true
	return nil
}

// addBroadcast registers a broadcast consumer on its topics: retries, then
// drop (no poison queue, no redrive topic). r.mu is held.
func (r *Router) addBroadcast(c Consumer) error {
	sub, err := r.bus.BroadcastSubscriber(c.Name, c.Types...)
	if err != nil {
		return fmt.Errorf("messaging: consumer %s: %w", c.Name, err)
	}
	handle := r.handler(c)
	parallel := 1
	if c.Concurrency > 1 && r.bus.SharedQueues() {
		parallel = c.Concurrency
	}
	for _, t := range c.Topics {
		for i := range parallel {
			name := c.Name + "@" + t
			if i > 0 {
				name += fmt.Sprintf("#%d", i)
			}
			h := r.wr.AddConsumerHandler(name, t, sub, handle)
			h.AddMiddleware(r.drop(c.Name), r.retry.Middleware, middleware.CorrelationID, r.correlation(c.Name), middleware.Recoverer)
		}
	}
	return nil
}

// drop acks a message whose retries are spent, with a warning: what a
// broadcast consumer has instead of the poison queue.
func (r *Router) drop(consumer string) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err != nil {
				r.cfg.Logger.Warn("broadcast message dropped after retries", "consumer", consumer,
					"correlation_id", msg.Metadata.Get(MetaCorrelationID), "event_id", msg.Metadata.Get(MetaEventID),
					"event_type", msg.Metadata.Get(MetaEventType), "error", err)
				return nil, nil
			}
			return out, nil
		}
	}
}

// Run runs every consumer until ctx is done, then stops them (waiting for
// messages in flight) and returns nil, or an error when a subscription
// cannot start.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	r.started = true
	r.mu.Unlock()
	if err := r.wr.Run(ctx); err != nil {
		return fmt.Errorf("messaging: router: %w", err)
	}
	return nil
}

// Running is closed once every handler has subscribed: start the relay
// after it (in-process, a message published before is dropped).
func (r *Router) Running() <-chan struct{} { return r.wr.Running() }

// Redrive re-publishes a poisoned message to the one consumer that failed
// it, on that consumer's redrive topic, and removes it from the store; if
// it fails again it is recorded again. It returns an error wrapping
// ErrNoSuchPoisoned for an unknown id. In-process, the consumer must be on
// this router (nobody else could receive it) and Redrive returns once it
// was handled.
func (r *Router) Redrive(ctx context.Context, id string) error {
	pm, err := r.poison.Get(ctx, id)
	if err != nil {
		return err
	}
	if !r.bus.SharedQueues() {
		r.mu.Lock()
		known := r.names[pm.Consumer]
		r.mu.Unlock()
		if !known || pm.Consumer == PoisonRecorder {
			return fmt.Errorf("messaging: redrive %s: consumer %q does not run on this router", id, pm.Consumer)
		}
	}
	msgID, ok := strings.CutSuffix(pm.ID, "/"+pm.Consumer)
	if !ok {
		msgID = pm.EventID
	}
	msg := message.NewMessage(msgID, append([]byte(nil), pm.Payload...))
	msg.Metadata = message.Metadata(maps.Clone(pm.Metadata))
	if msg.Metadata == nil {
		msg.Metadata = message.Metadata{}
	}
	for _, k := range []string{middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey, middleware.PoisonedHandlerKey,
		middleware.PoisonedSubscriberKey, metaPoisonConsumer, "_watermill_amqp_redelivered"} {
		delete(msg.Metadata, k)
	}
	msg.Metadata[metaRedriveTopic] = pm.Topic
	// Remove first: a redriven message that fails again is added again by
	// the recorder, possibly before Publish returns.
	if err := r.poison.Remove(ctx, id); err != nil {
		return err
	}
	if err := r.bus.Publisher().Publish(RedriveTopicPrefix+pm.Consumer, msg); err != nil {
		if addErr := r.poison.Add(context.WithoutCancel(ctx), pm); addErr != nil {
			err = errors.Join(err, fmt.Errorf("restore poisoned message: %w", addErr))
		}
		return fmt.Errorf("messaging: redrive %s: %w", id, err)
	}
	r.cfg.Logger.Info("poisoned message re-driven", "id", id, "consumer", pm.Consumer,
		"event_id", pm.EventID, "correlation_id", pm.Metadata[MetaCorrelationID])
	return nil
}

// handler decodes the event and calls the consumer, skipping other types.
func (r *Router) handler(c Consumer) message.NoPublishHandlerFunc {
	types := map[string]bool{}
	for _, t := range c.Types {
		types[t] = true
	}
	system := messagingSystem(r.bus.Publisher())
	return func(msg *message.Message) error {
		if len(types) > 0 && !types[msg.Metadata.Get(MetaEventType)] {
			return nil
		}
		e, err := DecodeEvent(msg)
		if err != nil {
			return fmt.Errorf("consumer %s: %w", c.Name, err)
		}
		// The consumer's span continues the trace the relay published
		// under, and the handler's commands continue it in turn.
		ctx, span := tracing.Start(msg.Context(), msg.Metadata.Get(MetaTraceParent), "consume "+c.Name+" "+e.Type, trace.SpanKindConsumer,
			append(tracing.Messaging(system, message.SubscribeTopicFromCtx(msg.Context()), tracing.Process),
				semconv.MessagingConsumerGroupName(c.Name), attribute.String("commerce.event_id", e.ID.String()))...)
		err = c.Handle(ctx, e)
		tracing.End(span, err)
		if err != nil {
			return fmt.Errorf("consumer %s: event %s (%s): %w", c.Name, e.ID, e.Type, err)
		}
		return nil
	}
}

// record writes a poisoned message into the store.
func (r *Router) record(msg *message.Message) error {
	md := msg.Metadata
	consumer := md.Get(metaPoisonConsumer)
	topic := md.Get(metaRedriveTopic)
	if topic == "" {
		topic = md.Get(middleware.PoisonedTopicKey)
	}
	pos, _ := strconv.ParseInt(md.Get(MetaPosition), 10, 64) // 0 for a message that is not an event
	pm := PoisonedMessage{
		ID:        msg.UUID + "/" + consumer,
		Consumer:  consumer,
		Topic:     topic,
		Reason:    md.Get(middleware.ReasonForPoisonedKey),
		EventID:   md.Get(MetaEventID),
		EventType: md.Get(MetaEventType),
		StreamID:  md.Get(MetaStreamID),
		Position:  eventstore.Position(pos),
		At:        r.cfg.Now().UTC(),
		Payload:   append([]byte(nil), msg.Payload...),
		Metadata:  maps.Clone(map[string]string(md)),
	}
	if err := r.poison.Add(msg.Context(), pm); err != nil {
		return fmt.Errorf("record poisoned message %s: %w", pm.ID, err)
	}
	r.cfg.Logger.Error("message poisoned", "id", pm.ID, "consumer", consumer, "topic", topic,
		"event_id", pm.EventID, "event_type", pm.EventType, "correlation_id", md.Get(MetaCorrelationID), "reason", pm.Reason)
	return nil
}

type correlationKey struct{}

// CorrelationIDFrom returns the correlation id of the message a consumer is
// handling, "" when there is none: handlers pass it on to the commands they
// run so that the whole checkout stays one timeline.
func CorrelationIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// correlation puts the message's correlation id into its context and logs
// each failed attempt with it.
func (r *Router) correlation(consumer string) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			cid := msg.Metadata.Get(MetaCorrelationID)
			msg.SetContext(context.WithValue(msg.Context(), correlationKey{}, cid))
			out, err := h(msg)
			if err != nil {
				r.cfg.Logger.Warn("consumer attempt failed", "consumer", consumer, "correlation_id", cid,
					"event_id", msg.Metadata.Get(MetaEventID), "event_type", msg.Metadata.Get(MetaEventType), "error", err)
			}
			return out, err
		}
	}
}

// stampPublisher marks poisoned messages with the consumer that gave up.
type stampPublisher struct {
	message.Publisher
	consumer string
}

func (p stampPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		m.Metadata.Set(metaPoisonConsumer, p.consumer)
	}
	return p.Publisher.Publish(topic, msgs...)
}

// Close is a no-op: the bus owns the publisher.
func (p stampPublisher) Close() error { return nil }
