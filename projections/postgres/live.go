package postgres

import (
	"context"
	"fmt"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
)

// The live target: the projections.Target that applies events to a
// model's live generation, and the position it has reached.

// LiveTarget is the projections.Target of a model's live generation; it
// also has Advance, for runners that know how far they read the log.
type LiveTarget struct {
	s *Store
	m Model
}

var (
	_ projections.Target         = (*LiveTarget)(nil)
	_ projections.ThroughApplier = (*LiveTarget)(nil)
)

// Target returns the live target of m (a *LiveTarget). Setup must have
// run for m.
func (s *Store) Target(m Model) projections.Target { return &LiveTarget{s: s, m: m} }

// Checkpoint implements projections.Target: the position of the last event
// the live generation applied.
func (t *LiveTarget) Checkpoint(ctx context.Context) (eventstore.Position, error) {
	if err := t.s.validateModel(t.m); err != nil {
		return 0, err
	}
	var pos int64
	if err := t.s.Pool.QueryRow(ctx, "SELECT position FROM "+rtQual(t.s.NS.Read(), checkpointView(t.m.Name()))).Scan(&pos); err != nil {
		return 0, fmt.Errorf("projections/postgres %s: read checkpoint: %w", t.m.Name(), err)
	}
	return eventstore.Position(pos), nil
}

// Apply implements projections.Target: it applies the events past the
// live generation's checkpoint and moves the checkpoint in one
// transaction, which a swap waits for.
func (t *LiveTarget) Apply(ctx context.Context, evs []eventstore.Event) error {
	return t.ApplyThrough(ctx, evs, 0)
}

// ApplyThrough implements projections.ThroughApplier: Apply, and Advance
// to through in the same transaction.
func (t *LiveTarget) ApplyThrough(ctx context.Context, evs []eventstore.Event, through eventstore.Position) error {
	if len(evs) == 0 {
		return nil
	}
	if err := t.s.validateModel(t.m); err != nil {
		return err
	}
	tx, err := t.s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("projections/postgres %s: begin: %w", t.m.Name(), err)
	}
	defer rtRollback(ctx, tx)
	schema, err := t.s.liveSchema(ctx, tx, t.m.Name())
	if err != nil {
		return fmt.Errorf("projections/postgres apply: %w", err)
	}
	if err := applyPinned(ctx, tx, t.m, schema, evs, through); err != nil {
		return fmt.Errorf("projections/postgres apply: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("projections/postgres %s: commit: %w", t.m.Name(), err)
	}
	return nil
}

// Advance records that the projection has read the log through `through`
// without finding more events for it, so Position (and X-Min-Position
// waits) move on. It never moves backwards.
func (t *LiveTarget) Advance(ctx context.Context, through eventstore.Position) error {
	if err := t.s.validateModel(t.m); err != nil {
		return err
	}
	tx, err := t.s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("projections/postgres %s: begin: %w", t.m.Name(), err)
	}
	defer rtRollback(ctx, tx)
	schema, err := t.s.liveSchema(ctx, tx, t.m.Name())
	if err != nil {
		return fmt.Errorf("projections/postgres advance: %w", err)
	}
	if err := advanceThrough(ctx, tx, schema, through); err != nil {
		return fmt.Errorf("projections/postgres %s: %w", t.m.Name(), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("projections/postgres %s: commit: %w", t.m.Name(), err)
	}
	return nil
}

// Position returns how far projection name has processed the log: the
// later of its live generation's checkpoint and how far it advanced.
func (s *Store) Position(ctx context.Context, name string) (eventstore.Position, error) {
	if err := s.validateName(name); err != nil {
		return 0, err
	}
	var pos int64
	if err := s.Pool.QueryRow(ctx, "SELECT greatest(position, through) FROM "+rtQual(s.NS.Read(), checkpointView(name))).Scan(&pos); err != nil {
		return 0, fmt.Errorf("projections/postgres %s: read position: %w", name, err)
	}
	return eventstore.Position(pos), nil
}
