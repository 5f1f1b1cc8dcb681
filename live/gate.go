package live

import (
	"context"
	"sync"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
)

// Gate holds each update until the reads it announces can show it: a shopper
// told "placed" reads the order next, and that read must find it, not race
// the orders projection and poll. Updates leave in the order they came, each
// once the read side has applied its event's position, or after MaxHold
// when the read side is stuck (a late push beats none).
type Gate struct {
	Hub *Hub
	// Readable is how far the shopper's order reads have applied the log.
	Readable func(context.Context) (eventstore.Position, error)
	// MaxHold bounds how long an update waits (default 2 s).
	MaxHold time.Duration
	// Poll is how often Readable is asked while updates wait (default 5 ms).
	Poll time.Duration

	once    sync.Once
	mu      sync.Mutex
	pending []held
	stopped bool // Run has ended: Hold publishes at once
	wake    chan struct{}
}

type held struct {
	pos eventstore.Position
	u   Update
	at  time.Time
}

func (g *Gate) init() {
	g.once.Do(func() { g.wake = make(chan struct{}, 1) })
}

// Hold queues u, recorded at pos, for Run to publish.
func (g *Gate) Hold(pos eventstore.Position, u Update) {
	g.init()
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		g.Hub.Publish(u)
		return
	}
	g.pending = append(g.pending, held{pos: pos, u: u, at: time.Now()})
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Run publishes held updates as they become readable until ctx is done;
// what is still held then, or handed to Hold after, is published at once
// (the process is stopping).
func (g *Gate) Run(ctx context.Context) error {
	g.init()
	maxHold, poll := g.MaxHold, g.Poll
	if maxHold <= 0 {
		maxHold = 2 * time.Second
	}
	if poll <= 0 {
		poll = 5 * time.Millisecond
	}
	t := time.NewTimer(poll)
	defer t.Stop()
	defer func() {
		// Whatever is held, or handed over from now on, goes out at once:
		// the process is stopping.
		g.mu.Lock()
		g.stopped = true
		g.mu.Unlock()
		g.release(eventstore.Position(1<<62), time.Now())
	}()
	var readable eventstore.Position
	for {
		g.mu.Lock()
		waiting := len(g.pending) > 0
		g.mu.Unlock()
		if !waiting {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-g.wake:
			}
		}
		// A read side that hangs must not hold pushes past MaxHold.
		rctx, cancel := context.WithTimeout(ctx, min(maxHold, 250*time.Millisecond))
		if pos, err := g.Readable(rctx); err == nil {
			readable = max(readable, pos)
		} // else keep the last answer: MaxHold releases the rest
		cancel()
		g.release(readable, time.Now().Add(-maxHold))
		t.Reset(poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// release publishes, in arrival order, the held updates at or below
// readable or held since before stale.
func (g *Gate) release(readable eventstore.Position, stale time.Time) {
	g.mu.Lock()
	var out []Update
	kept := g.pending[:0]
	for _, h := range g.pending {
		if h.pos <= readable || h.at.Before(stale) {
			out = append(out, h.u)
		} else {
			kept = append(kept, h)
		}
	}
	g.pending = kept
	g.mu.Unlock()
	for _, u := range out {
		g.Hub.Publish(u)
	}
}
