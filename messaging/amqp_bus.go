package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQPBus is the Bus on RabbitMQ, for roles in several processes.
type AMQPBus struct {
	wlogger  watermill.LoggerAdapter
	cfg      AMQPConfig
	pub      *amqpPublisher
	instance string          // names this bus's broadcast queues, random per NewAMQP
	mu       sync.Mutex      // guards subs, names, closed
	subs     []closer        // subscribers handed out, closed with the bus
	names    map[string]bool // exchanges ("x:") and queues ("q:") declared
	closed   bool
}

type closer interface{ Close() error }

// AMQPConfig says how to reach RabbitMQ and how to name what is declared there.
type AMQPConfig struct {
	URL string
	// Prefix is prepended to every exchange and queue name: test isolation,
	// several shops on one broker.
	Prefix string
	// PublishChannels bounds the confirm-mode channels publishing at once
	// (default 16).
	PublishChannels int
	// Prefetch is how many unacknowledged messages a consumer may hold
	// (default 100).
	Prefetch int
}

func (c *AMQPConfig) setDefaults() {
	if c.PublishChannels <= 0 {
		c.PublishChannels = 16
	}
	if c.Prefetch <= 0 {
		c.Prefetch = 100
	}
}

// Validate reports a configuration that cannot work.
func (c AMQPConfig) Validate() error {
	if c.URL == "" {
		return errors.New("messaging: AMQP URL is empty")
	}
	return nil
}

// NewAMQP returns a bus on RabbitMQ with a durable topology: one durable
// fanout exchange per topic (Prefix+topic) and one durable queue per consumer
// and topic (Prefix+consumer+"."+topic), persistent messages and publisher
// confirms. It dials once to fail fast on a wrong URL or an unreachable
// broker; later publishes redial a closed connection, and subscribers
// reconnect on their own (watermill-amqp).
func NewAMQP(cfg AMQPConfig, logger *slog.Logger) (*AMQPBus, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	b := &AMQPBus{wlogger: watermillLogger(logger), cfg: cfg, names: map[string]bool{}, instance: uuid.NewString()}
	b.pub = newAMQPPublisher(cfg, logger, func(exchange string) { b.record("x:" + exchange) })
	if err := b.pub.ping(); err != nil {
		return nil, fmt.Errorf("messaging: connect to RabbitMQ: %w", err)
	}
	return b, nil
}

func (b *AMQPBus) record(name string) {
	b.mu.Lock()
	b.names[name] = true
	b.mu.Unlock()
}

// Declared implements Bus: the exchanges and queues this bus declared on
// RabbitMQ, so that tests (and tools) can delete them.
func (b *AMQPBus) Declared() (exchanges, queues []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for n := range b.names {
		switch n[:2] {
		case "x:":
			exchanges = append(exchanges, n[2:])
		case "q:":
			queues = append(queues, n[2:])
		}
	}
	sort.Strings(exchanges)
	sort.Strings(queues)
	return exchanges, queues
}

// Publisher implements Bus: its Publish returns only once the broker
// confirmed every message; messages of one call keep their order.
func (b *AMQPBus) Publisher() message.Publisher { return b.pub }

// SharedQueues implements Bus: subscribers of one consumer name share its
// durable queue, across processes.
func (b *AMQPBus) SharedQueues() bool { return true }

// Subscriber implements Bus: the consumer name is its durable queue
// identity, and competing consumers with the same name share the queue. It
// fails when the bus is closed or RabbitMQ is unreachable.
//
// The exchanges are topic exchanges and every message's routing
// key is its event type: a consumer that names Types has its queue bound
// only to those of each topic's category ("payment.succeeded" on
// "events.payment"), so the broker does not deliver what it would drop.
// A topic none of the types belongs to (the consumer's redrive topic) is
// bound to everything.
func (b *AMQPBus) Subscriber(consumer string, types ...string) (message.Subscriber, error) {
	return b.subscriber(consumer, types, false)
}

// BroadcastSubscriber implements Bus. It fails when the bus is closed or
// RabbitMQ is unreachable.
//
// Each topic gets a queue of its own per Bus,
// Prefix+consumer+"."+topic+"."+instance id, bound with the same type keys
// as Subscriber's; it is non-durable, exclusive and auto-deleted, so it
// goes away with the connection and is not listed by Declared. Messages
// published while it is disconnected (between a drop and the reconnect)
// are lost.
func (b *AMQPBus) BroadcastSubscriber(consumer string, types ...string) (message.Subscriber, error) {
	return b.subscriber(consumer, types, true)
}

// subscriber builds Subscriber's (durable, competing) or
// BroadcastSubscriber's (per-process, self-deleting) subscriber.
func (b *AMQPBus) subscriber(consumer string, types []string, broadcast bool) (message.Subscriber, error) {
	if consumer == "" {
		return nil, errors.New("messaging: subscriber needs a consumer name")
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, errors.New("messaging: bus is closed")
	}
	cfg := wamqp.NewDurablePubSubConfig(b.cfg.URL, func(topic string) string {
		q := b.cfg.Prefix + consumer + "." + topic
		if broadcast {
			// Not recorded: the broker deletes it with the connection.
			return q + "." + b.instance
		}
		b.record("q:" + q)
		return q
	})
	if broadcast {
		cfg.Queue.Durable = false
		cfg.Queue.AutoDelete = true
		cfg.Queue.Exclusive = true
	}
	// The exchanges stay durable either way: they are shared with the
	// durable consumers, and RabbitMQ refuses a redeclaration that differs.
	cfg.Exchange.GenerateName = func(topic string) string {
		x := b.cfg.Prefix + topic
		b.record("x:" + x)
		return x
	}
	cfg.Consume.Qos.PrefetchCount = b.cfg.Prefetch
	cfg.Exchange.Type = ExchangeType
	cfg.TopologyBuilder = &typeBindings{types: types}
	sub, err := wamqp.NewSubscriber(cfg, b.wlogger.With(watermill.LogFields{"consumer": consumer, "broadcast": broadcast}))
	if err != nil {
		return nil, fmt.Errorf("messaging: subscriber %s: %w", consumer, err)
	}
	b.mu.Lock()
	b.subs = append(b.subs, sub)
	b.mu.Unlock()
	return reconnectingSubscriber{sub}, nil
}

// ExchangeType is every exchange's AMQP type: topic, routed by event type.
// It is exported for tools that declare exchanges beside the bus
// (messaging/bench).
const ExchangeType = "topic"

// typeBindings declares a consumer's queue and binds it to the event types
// it handles of the topic's category, or to every message ("#").
type typeBindings struct {
	wamqp.DefaultTopologyBuilder
	types []string
}

// BindingKeys returns the routing keys a queue of topic is bound with for a
// consumer of types: the types of the topic's category, else "#".
func BindingKeys(topic string, types []string) []string {
	category, ok := strings.CutPrefix(topic, TopicPrefix)
	var keys []string
	if ok {
		for _, t := range types {
			if strings.HasPrefix(t, category+".") {
				keys = append(keys, t)
			}
		}
	}
	if len(keys) == 0 {
		return []string{"#"}
	}
	return keys
}

// BuildTopology declares the queue and exchange as watermill-amqp does, then
// binds one key per type instead of its single routing key.
func (t *typeBindings) BuildTopology(ch *amqp.Channel, params wamqp.BuildTopologyParams, cfg wamqp.Config, logger watermill.LoggerAdapter) error {
	if _, err := ch.QueueDeclare(params.QueueName, cfg.Queue.Durable, cfg.Queue.AutoDelete, cfg.Queue.Exclusive, cfg.Queue.NoWait, cfg.Queue.Arguments); err != nil {
		return fmt.Errorf("declare queue %s: %w", params.QueueName, err)
	}
	if err := t.ExchangeDeclare(ch, params.ExchangeName, cfg); err != nil {
		return fmt.Errorf("declare exchange %s: %w", params.ExchangeName, err)
	}
	for _, key := range BindingKeys(params.Topic, t.types) {
		if err := ch.QueueBind(params.QueueName, key, params.ExchangeName, cfg.QueueBind.NoWait, cfg.QueueBind.Arguments); err != nil {
			return fmt.Errorf("bind queue %s to %s with %s: %w", params.QueueName, params.ExchangeName, key, err)
		}
	}
	return nil
}

// reconnectingSubscriber hides a flaw of watermill-amqp v3.0.2: when the
// connection drops, it reads the closed deliveries channel once and hands
// out an empty message (no uuid, metadata or payload) before it reconnects.
// Passed on, that message would fail every handler and land in the poison
// store; it is dropped here instead (its ack fails, which makes
// watermill-amqp reconnect, as it would anyway).
type reconnectingSubscriber struct{ *wamqp.Subscriber }

func (s reconnectingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := s.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("messaging: subscribe to %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for m := range in {
			if m.UUID == "" && len(m.Metadata) == 0 && len(m.Payload) == 0 {
				m.Ack()
				continue
			}
			select {
			case out <- m:
			case <-ctx.Done():
				m.Nack() // back to the queue; keep draining until in closes
			}
		}
	}()
	return out, nil
}

// Close implements Bus: it closes every subscriber the bus handed out and
// its publisher.
func (b *AMQPBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	var errs []error
	for _, s := range subs {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := b.pub.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("messaging: close bus: %w", err)
	}
	return nil
}

// Ping implements Bus: it needs a live connection to RabbitMQ and redials
// a closed one.
func (b *AMQPBus) Ping(ctx context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return errors.New("messaging: bus is closed")
	}
	done := make(chan error, 1)
	go func() { done <- b.pub.ping() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("messaging: ping RabbitMQ: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("messaging: ping RabbitMQ: %w", ctx.Err())
	}
}
