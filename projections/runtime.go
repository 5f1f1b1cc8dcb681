// Package projections turns the event log into read models. Each named
// projection follows $all from its checkpoint, catches up in batches, then
// follows live appends. Its read model and its checkpoint live together in a
// Target that changes both atomically, so an event's effect is applied
// exactly once even across crashes. A projection that cannot apply an event
// stops there, keeps its position, reports itself failed with the event and
// the error, and retries with backoff: it never skips an event.
package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/commerce-engine/commerce/eventstore"
)

// Target is where a projection's read model and checkpoint live. Adapters
// (memory, PostgreSQL, Redis) implement it.
type Target interface {
	// Checkpoint returns the position of the last event applied (0: none).
	Checkpoint(ctx context.Context) (eventstore.Position, error)
	// Apply applies events in order and records the position of the last
	// one as the checkpoint, atomically: all of it happens or none. It must
	// skip events at or below its checkpoint: an Apply whose success was
	// lost on the way back (a dropped connection after commit) is retried.
	Apply(ctx context.Context, events []eventstore.Event) error
}

// Projection is one named read model and the part of the log it reads.
type Projection struct {
	// Name is stable: it names the checkpoint and appears in the admin API.
	Name   string
	Filter eventstore.Filter
	Target Target
	// Poll, when longer than the runner's, is how often this projection
	// looks for new events once caught up: a model nobody waits on
	// (analytics) then applies more events per transaction.
	Poll time.Duration
}

// State is where a projection is in its life.
type State string

// The states a projection reports.
const (
	StateStarting   State = "starting"
	StateCatchingUp State = "catching_up"
	StateLive       State = "live"
	StateFailed     State = "failed"
	StateStopped    State = "stopped"
	// StateStandby is a projection another process runs: this one waits
	// to take over (PostgreSQL advisory lock).
	StateStandby State = "standby"
)

// ThroughApplier is a Target that can apply a batch and record, in the
// same transaction, that the log was read through a later position with
// nothing more for it (see Advancer): the runner uses it for a batch that
// reaches the head, sparing a transaction per batch.
type ThroughApplier interface {
	ApplyThrough(ctx context.Context, events []eventstore.Event, through eventstore.Position) error
}

// Advancer is a Target that can record how far its projection has read
// the log when nothing there was for it, so readers in other processes
// (X-Min-Position) know the model is caught up. The runner calls it when
// the head moved past the checkpoint without a matching event.
type Advancer interface {
	Advance(ctx context.Context, through eventstore.Position) error
}

// Status is what GET /api/v1/admin/projections and `commerce projections
// status` show of a projection.
type Status struct {
	Name  string
	State State
	// Position is how far the projection has processed the log: its
	// checkpoint, or the head when nothing after the checkpoint matches
	// its filter.
	Position eventstore.Position
	Head     eventstore.Position
	// Error and FailedAt describe the event the projection is stuck on.
	Error    string
	FailedAt *EventRef
	// Retries counts consecutive failed attempts at that event.
	Retries int
}

// Lag is how many positions the projection is behind the head.
func (s Status) Lag() int64 { return max(0, int64(s.Head-s.Position)) }

// EventRef names an event without carrying its data.
type EventRef struct {
	Position eventstore.Position
	StreamID string
	Version  int64
	Type     string
}

// Runner runs projections against one store and remembers their status.
type Runner struct {
	Store eventstore.Store
	// Batch is how many events one Apply gets while catching up (default 500).
	Batch int
	// Poll is how often a caught-up projection looks for new events
	// (default 20 ms).
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// event (defaults 100 ms and 30 s).
	MinBackoff, MaxBackoff time.Duration

	mu       sync.Mutex
	statuses map[string]*Status
	tailOnce sync.Once
	shared   *tail
}

// tailKeep is how many of the newest events a Runner keeps in memory for
// its projections that follow the head.
const tailKeep = 10000

// tail returns the runner's shared window on the newest events.
func (r *Runner) tail() *tail {
	r.tailOnce.Do(func() {
		_, poll, _, _ := r.defaults()
		r.shared = newTail(r.Store, poll/2, tailKeep)
	})
	return r.shared
}

// read returns the events after pos that p's filter keeps (at most batch)
// and the head up to which that answer is complete: from the shared window
// when it reaches back to pos, from the store otherwise.
func (r *Runner) read(ctx context.Context, pos eventstore.Position, filter eventstore.Filter, batch int) ([]eventstore.Event, eventstore.Position, error) {
	evs, head, ok, err := r.tail().read(ctx, pos, filter, batch)
	if err != nil || ok {
		return evs, head, err
	}
	head, err = r.Store.Head(ctx)
	if err != nil {
		return nil, 0, err
	}
	evs, err = r.Store.ReadAll(ctx, eventstore.ReadAllOptions{After: pos, Filter: filter, Limit: batch})
	return evs, head, err
}

func (r *Runner) defaults() (batch int, poll, minB, maxB time.Duration) {
	batch, poll, minB, maxB = r.Batch, r.Poll, r.MinBackoff, r.MaxBackoff
	if batch <= 0 {
		batch = 500
	}
	if poll <= 0 {
		poll = 20 * time.Millisecond
	}
	if minB <= 0 {
		minB = 100 * time.Millisecond
	}
	if maxB < minB {
		maxB = max(minB, 30*time.Second)
	}
	return
}

// Through returns the position up to which projection name has processed
// the log, counting events its filter skips: what X-Min-Position waits on.
func (r *Runner) Through(name string) eventstore.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.statuses[name]; ok {
		return s.Position
	}
	return 0
}

// Standby marks projection name as run by another process, so the admin
// API shows why this one is not moving.
func (r *Runner) Standby(name string) {
	r.update(name, func(s *Status) { s.State = StateStandby })
}

// Statuses returns a copy of every projection's status, by name.
func (r *Runner) Statuses() map[string]Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Status, len(r.statuses))
	for k, v := range r.statuses {
		out[k] = *v
	}
	return out
}

func (r *Runner) update(name string, fn func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.statuses == nil {
		r.statuses = map[string]*Status{}
	}
	s, ok := r.statuses[name]
	if !ok {
		s = &Status{Name: name}
		r.statuses[name] = s
	}
	fn(s)
}

// Run follows the log into p until ctx is done, when it returns ctx.Err().
// Failures to read the store or to apply an event are reported in the
// status and retried with backoff; Run does not return for them.
func (r *Runner) Run(ctx context.Context, p Projection) error {
	if p.Name == "" || p.Target == nil {
		return errors.New("projections: a projection needs a name and a target")
	}
	batch, poll, minB, maxB := r.defaults()
	r.update(p.Name, func(s *Status) { s.State = StateStarting })
	defer r.update(p.Name, func(s *Status) { s.State = StateStopped })
	// Pauses after a failure: from minB doubling up to maxB, no jitter,
	// back to minB once an event applies or the projection is live.
	pauses := &backoff.ExponentialBackOff{InitialInterval: minB, Multiplier: 2, MaxInterval: maxB}
	pauses.Reset()
	fail := func(err error, at *EventRef) error {
		r.update(p.Name, func(s *Status) {
			s.State, s.Error, s.FailedAt = StateFailed, err.Error(), at
			s.Retries++
		})
		return sleep(ctx, pauses.NextBackOff(), nil)
	}
	pos, err := p.Target.Checkpoint(ctx)
	for err != nil {
		if serr := fail(fmt.Errorf("read checkpoint: %w", err), nil); serr != nil {
			return serr
		}
		pos, err = p.Target.Checkpoint(ctx)
	}
	r.update(p.Name, func(s *Status) { s.Position = pos })
	advancer, _ := p.Target.(Advancer)
	throughApplier, _ := p.Target.(ThroughApplier)
	advanced, advancedAt := pos, time.Time{}
	idle, wakeable := poll, true
	if p.Poll > poll {
		// Woken only by its own timer, so its batches grow.
		idle, wakeable = p.Poll, false
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Taken before the read, so that a refresh between the read and
		// the wait still wakes this projection.
		var wake <-chan struct{} // nil: only the timer ends the wait
		if wakeable {
			wake = r.tail().wake.Wait()
		}
		evs, head, err := r.read(ctx, pos, p.Filter, batch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if serr := fail(fmt.Errorf("read the log: %w", err), nil); serr != nil {
				return serr
			}
			continue
		}
		if len(evs) == 0 {
			// Nothing more matches up to the head read before this read:
			// the projection has processed the log through the head, even
			// if its filter skipped the last events. The next read starts
			// there too, or every poll would scan again every event its
			// filter skips since the last one it kept.
			pos = max(pos, head)
			r.update(p.Name, func(s *Status) {
				s.State, s.Error, s.FailedAt, s.Retries = StateLive, "", nil, 0
				s.Head = max(head, s.Position)
				s.Position = s.Head
			})
			pauses.Reset()
			if advancer != nil && head > advanced && time.Since(advancedAt) >= idle {
				// Best effort: a failure only delays other processes'
				// X-Min-Position waits until the next event or poll.
				if err := advancer.Advance(ctx, head); err == nil {
					advanced, advancedAt = head, time.Now()
				}
			}
			if err := sleep(ctx, idle, wake); err != nil {
				return err
			}
			continue
		}
		// A short batch holds every match up to the head: the projection
		// will have processed the log through the head.
		live := len(evs) < batch
		last := evs[len(evs)-1].Position
		if live && throughApplier != nil && head > last {
			err = throughApplier.ApplyThrough(ctx, evs, head)
		} else {
			err = p.Target.Apply(ctx, evs)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Find the event that fails: apply the batch one event at a
			// time, keeping what applies, so the status names the culprit.
			culprit, ierr := r.isolate(ctx, p.Target, evs)
			if culprit == nil {
				// The batch failed but each event applied on its own.
				pos = last
				r.update(p.Name, func(s *Status) { s.Position = pos })
				continue
			}
			pos = culprit.Position - 1
			if cp, cerr := p.Target.Checkpoint(ctx); cerr == nil {
				pos = cp
			}
			r.update(p.Name, func(s *Status) { s.Position = pos })
			ref := &EventRef{Position: culprit.Position, StreamID: culprit.StreamID, Version: culprit.Version, Type: culprit.Type}
			if serr := fail(ierr, ref); serr != nil {
				return serr
			}
			continue
		}
		pos = last
		if live {
			pos = max(pos, head)
			if throughApplier != nil {
				advanced = max(advanced, pos)
			}
		}
		pauses.Reset()
		r.update(p.Name, func(s *Status) {
			s.Position, s.Head, s.Error, s.FailedAt, s.Retries = pos, max(head, pos), "", nil, 0
			s.State = StateCatchingUp
			if live {
				s.State = StateLive
				s.Position = s.Head // processed through the head (see above)
			}
		})
		if live {
			// At the head: wait for more rather than read again at once.
			if err := sleep(ctx, idle, wake); err != nil {
				return err
			}
		}
	}
}

// isolate applies evs one at a time and returns the first that fails with
// its error; nil if every event applied.
func (r *Runner) isolate(ctx context.Context, t Target, evs []eventstore.Event) (*eventstore.Event, error) {
	for i := range evs {
		if err := t.Apply(ctx, evs[i:i+1]); err != nil {
			return &evs[i], err
		}
	}
	return nil, nil
}

// sleep waits d, or less when wake (nil: never) is closed first.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	case <-wake:
		return nil
	}
}
