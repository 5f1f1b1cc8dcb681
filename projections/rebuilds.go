package projections

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
)

// ErrUnknownProjection answers a rebuild of a name no projection has.
var ErrUnknownProjection = errors.New("no projection has this name")

// RebuildFunc replays one projection into a new generation and swaps it
// in, reporting how far it has got; it returns once the swap is done.
type RebuildFunc func(ctx context.Context, progress func(pos, head eventstore.Position)) error

// RebuildStatus is the state of a projection's last rebuild (the admin
// API shows it as httpapi's rebuild view).
type RebuildStatus struct {
	Running    bool
	Position   eventstore.Position
	Head       eventstore.Position
	StartedAt  time.Time
	FinishedAt *time.Time
	Error      string
}

// Rebuilds knows how to rebuild each projection of a process and tracks
// the rebuilds it started, so the admin API can start one and show its
// progress.
type Rebuilds struct {
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu     sync.Mutex
	funcs  map[string]RebuildFunc
	status map[string]*RebuildStatus
	wg     sync.WaitGroup
}

// Register makes projection name rebuildable with fn.
func (r *Rebuilds) Register(name string, fn RebuildFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.funcs == nil {
		r.funcs, r.status = map[string]RebuildFunc{}, map[string]*RebuildStatus{}
	}
	r.funcs[name] = fn
}

func (r *Rebuilds) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// begin marks name as rebuilding: ErrUnknownProjection or
// ErrRebuildRunning when it cannot.
func (r *Rebuilds) begin(name string) (RebuildFunc, *RebuildStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn, ok := r.funcs[name]
	if !ok {
		return nil, nil, ErrUnknownProjection
	}
	if s := r.status[name]; s != nil && s.Running {
		return nil, nil, ErrRebuildRunning
	}
	s := &RebuildStatus{Running: true, StartedAt: r.now()}
	r.status[name] = s
	return fn, s, nil
}

func (r *Rebuilds) run(ctx context.Context, fn RebuildFunc, s *RebuildStatus) error {
	err := fn(ctx, func(pos, head eventstore.Position) {
		r.mu.Lock()
		s.Position, s.Head = pos, head
		r.mu.Unlock()
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	at := r.now()
	s.Running, s.FinishedAt = false, &at
	if err != nil {
		s.Error = err.Error()
	}
	return err
}

// Run rebuilds projection name and waits for the swap (the CLI, tests).
func (r *Rebuilds) Run(ctx context.Context, name string) error {
	fn, s, err := r.begin(name)
	if err != nil {
		return err
	}
	return r.run(ctx, fn, s)
}

// Start begins rebuilding projection name in the background, under ctx
// (the process's lifetime, not a request's), and returns at once:
// ErrUnknownProjection or ErrRebuildRunning when it cannot start.
func (r *Rebuilds) Start(ctx context.Context, name string) error {
	fn, s, err := r.begin(name)
	if err != nil {
		return err
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = r.run(ctx, fn, s)
	}()
	return nil
}

// Wait waits for the rebuilds Start began (after their ctx is cancelled,
// at shutdown).
func (r *Rebuilds) Wait() { r.wg.Wait() }

// Status returns the last rebuild of projection name, if any.
func (r *Rebuilds) Status(name string) (RebuildStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.status[name]
	if !ok {
		return RebuildStatus{}, false
	}
	return *s, true
}
