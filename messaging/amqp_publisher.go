package messaging

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// confirmTimeout bounds how long a publish waits for the broker's confirms
// before it gives up on the channel and reports an error.
const confirmTimeout = 30 * time.Second

// amqpPublisher publishes on a pool of confirm-mode channels: each Publish
// call pipelines all its messages on one channel and waits for every
// confirm, so several calls (one per topic) run in parallel while each keeps
// its messages in order.
type amqpPublisher struct {
	cfg       AMQPConfig
	logger    *slog.Logger
	marshaler wamqp.DefaultMarshaler
	declared  func(exchange string)
	slots     chan struct{} // one token per channel that may be in use

	mu        sync.Mutex // guards the fields below
	conn      *amqp.Connection
	idle      []*amqp.Channel
	exchanges map[string]bool // declared on conn
	closed    bool
}

var _ message.Publisher = (*amqpPublisher)(nil)

func newAMQPPublisher(cfg AMQPConfig, logger *slog.Logger, declared func(string)) *amqpPublisher {
	return &amqpPublisher{
		cfg:       cfg,
		logger:    logger,
		marshaler: wamqp.DefaultMarshaler{},
		declared:  declared,
		slots:     make(chan struct{}, cfg.PublishChannels),
	}
}

// connection returns the live connection, dialling when there is none or it
// was closed (broker restart, network).
func (p *amqpPublisher) connection() (*amqp.Connection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("publisher is closed")
	}
	if p.conn != nil && !p.conn.IsClosed() {
		return p.conn, nil
	}
	if p.conn != nil {
		p.logger.Warn("RabbitMQ connection closed, redialling")
		for _, ch := range p.idle {
			_ = ch.Close()
		}
		p.idle = nil
	}
	conn, err := amqp.Dial(p.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	p.conn = conn
	p.exchanges = map[string]bool{}
	return conn, nil
}

func (p *amqpPublisher) ping() error {
	_, err := p.connection()
	return err
}

// channel takes an idle confirm-mode channel of conn or opens one.
func (p *amqpPublisher) channel(conn *amqp.Connection) (*amqp.Channel, error) {
	p.mu.Lock()
	if p.conn == conn {
		for len(p.idle) > 0 {
			ch := p.idle[len(p.idle)-1]
			p.idle = p.idle[:len(p.idle)-1]
			if !ch.IsClosed() {
				p.mu.Unlock()
				return ch, nil
			}
		}
	}
	p.mu.Unlock()
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	return ch, nil
}

// release returns a healthy channel of the current connection to the pool.
func (p *amqpPublisher) release(conn *amqp.Connection, ch *amqp.Channel, healthy bool) {
	p.mu.Lock()
	keep := healthy && !p.closed && p.conn == conn && !ch.IsClosed()
	if keep {
		p.idle = append(p.idle, ch)
	}
	p.mu.Unlock()
	if !keep && !ch.IsClosed() {
		_ = ch.Close()
	}
}

// declare makes sure the exchange of topic exists, declared the way
// the consumers' topology does (a durable topic exchange), once per
// connection.
func (p *amqpPublisher) declare(conn *amqp.Connection, ch *amqp.Channel, exchange string) error {
	p.mu.Lock()
	done := p.conn == conn && p.exchanges[exchange]
	p.mu.Unlock()
	if done {
		return nil
	}
	if err := ch.ExchangeDeclare(exchange, ExchangeType, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", exchange, err)
	}
	p.declared(exchange)
	p.mu.Lock()
	if p.conn == conn {
		p.exchanges[exchange] = true
	}
	p.mu.Unlock()
	return nil
}

// Publish sends msgs, in order, to the durable topic exchange of topic
// (routing key: the event type) and
// returns once the broker confirmed every one. A nack, a closed channel or
// connection, or no confirm within confirmTimeout is an error; some messages
// may then have been delivered (publish is at least once: retry the call).
// A closed connection is redialled by the next call.
func (p *amqpPublisher) Publish(topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	exchange := p.cfg.Prefix + topic
	pubs := make([]amqp.Publishing, len(msgs))
	for i, m := range msgs {
		pub, err := p.marshaler.Marshal(m)
		if err != nil {
			return fmt.Errorf("messaging: marshal message %s: %w", m.UUID, err)
		}
		pubs[i] = pub
	}
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	conn, err := p.connection()
	if err != nil {
		return fmt.Errorf("messaging: publish to %s: %w", exchange, err)
	}
	ch, err := p.channel(conn)
	if err != nil {
		return fmt.Errorf("messaging: publish to %s: %w", exchange, err)
	}
	healthy := false
	defer func() { p.release(conn, ch, healthy) }()
	if err := p.declare(conn, ch, exchange); err != nil {
		return fmt.Errorf("messaging: publish: %w", err)
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(pubs))
	for i := range pubs {
		// The event type routes it to the queues bound to that type.
		dc, err := ch.PublishWithDeferredConfirm(exchange, msgs[i].Metadata.Get(MetaEventType), false, false, pubs[i])
		if err != nil {
			return fmt.Errorf("messaging: publish %s to %s: %w", msgs[i].UUID, exchange, err)
		}
		confirms = append(confirms, dc)
	}
	timeout := time.NewTimer(confirmTimeout)
	defer timeout.Stop()
	for i, dc := range confirms {
		select {
		case <-dc.Done():
		case <-timeout.C:
			return fmt.Errorf("messaging: publish to %s: no confirm within %s", exchange, confirmTimeout)
		}
		if !dc.Acked() {
			return fmt.Errorf("messaging: publish %s to %s: broker nacked it or the channel closed", msgs[i].UUID, exchange)
		}
	}
	healthy = true
	return nil
}

// Close closes the pooled channels and the connection; later publishes fail.
func (p *amqpPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	for _, ch := range p.idle {
		_ = ch.Close()
	}
	p.idle = nil
	if p.conn != nil && !p.conn.IsClosed() {
		if err := p.conn.Close(); err != nil {
			return fmt.Errorf("close RabbitMQ connection: %w", err)
		}
	}
	return nil
}

// closeConnection closes the current connection from the side, as a broker
// restart would; tests use it to prove the next publish redials.
func (p *amqpPublisher) closeConnection() error {
	p.mu.Lock()
	conn := p.conn
	p.mu.Unlock()
	if conn == nil {
		return nil
	}
	return conn.Close()
}
