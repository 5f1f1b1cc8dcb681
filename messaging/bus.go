package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// Bus is where committed events travel between roles: the port the relay
// publishes to and the Router subscribes on. Two adapters implement it:
// InProcessBus (Watermill's Go channel, the single-process default) and
// AMQPBus (RabbitMQ). Both pass messaging/bustest.
type Bus interface {
	// Publisher returns the bus's publisher; Publish returns once every
	// message is safe (acked by every subscriber in-process, confirmed by
	// the broker on RabbitMQ).
	Publisher() message.Publisher
	// Subscriber returns a subscriber reading as consumer, bound to the
	// event types given (none: every type); it fails when the bus is
	// closed or cannot reach its broker.
	Subscriber(consumer string, types ...string) (message.Subscriber, error)
	// BroadcastSubscriber returns a subscriber on which every process
	// reading as consumer gets every message, instead of competing for it:
	// for state each process keeps for itself, such as the live
	// connections of its shoppers.
	BroadcastSubscriber(consumer string, types ...string) (message.Subscriber, error)
	// SharedQueues reports whether the subscribers of one consumer name
	// share one queue across processes (RabbitMQ), rather than each
	// receiving every message in this process (in-process): the Router
	// runs parallel handlers, and redrives to other processes, only then.
	SharedQueues() bool
	// Declared returns the exchanges and queues the bus declared on its
	// broker, so that tests and tools can delete them.
	Declared() (exchanges, queues []string)
	// Ping reports whether the bus can carry messages now (readiness).
	Ping(ctx context.Context) error
	// Close closes every subscriber the bus handed out and its publisher.
	Close() error
}

var (
	_ Bus = (*InProcessBus)(nil)
	_ Bus = (*AMQPBus)(nil)
)

// InProcessBus is the Bus on Watermill's Go channel, for the single-process
// default.
type InProcessBus struct {
	channel *gochannel.GoChannel
	mu      sync.Mutex // guards closed
	closed  bool
}

// NewInProcess returns a bus on Watermill's Go channel: for the single
// process default. Publish returns only once every subscriber acked, so the
// relay's checkpoint never passes an event a consumer has not processed; a
// message published to a topic nobody subscribes to is dropped, so start the
// relay after the router is running.
func NewInProcess(logger *slog.Logger) *InProcessBus {
	if logger == nil {
		logger = slog.Default()
	}
	return &InProcessBus{
		channel: gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermillLogger(logger)),
	}
}

// Publisher implements Bus.
func (b *InProcessBus) Publisher() message.Publisher { return b.channel }

// Subscriber implements Bus: every subscriber sees every message, whatever
// its consumer name; types are not needed to filter (the Router does).
func (b *InProcessBus) Subscriber(consumer string, _ ...string) (message.Subscriber, error) {
	return b.subscriber(consumer)
}

// BroadcastSubscriber implements Bus: in-process every subscriber already
// sees every message.
func (b *InProcessBus) BroadcastSubscriber(consumer string, _ ...string) (message.Subscriber, error) {
	return b.subscriber(consumer)
}

func (b *InProcessBus) subscriber(consumer string) (message.Subscriber, error) {
	if consumer == "" {
		return nil, errors.New("messaging: subscriber needs a consumer name")
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, errors.New("messaging: bus is closed")
	}
	return noClose{b.channel}, nil
}

// SharedQueues implements Bus: false, every subscriber is in this process.
func (b *InProcessBus) SharedQueues() bool { return false }

// Declared implements Bus: an in-process bus declares nothing.
func (b *InProcessBus) Declared() (exchanges, queues []string) { return nil, nil }

// Ping implements Bus: an open in-process bus can always carry messages.
func (b *InProcessBus) Ping(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("messaging: bus is closed")
	}
	return nil
}

// Close implements Bus.
func (b *InProcessBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	if err := b.channel.Close(); err != nil {
		return fmt.Errorf("messaging: close bus: %w", err)
	}
	return nil
}

// noClose keeps a router from closing the shared in-process channel when it
// stops: the bus owns it.
type noClose struct{ *gochannel.GoChannel }

func (noClose) Close() error { return nil }

// watermillLogger hands Watermill an slog logger whose chatty Info lines
// (one per published message in-process) become Debug.
func watermillLogger(l *slog.Logger) watermill.LoggerAdapter {
	return watermill.NewSlogLoggerWithLevelMapping(l, map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})
}
