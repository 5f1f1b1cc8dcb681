package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
)

// Correlations is the correlation index in PostgreSQL: one row per indexed
// event, so an order's timeline finds its checkout's events across
// streams.
type Correlations struct{}

var _ Model = Correlations{}

// Name implements Model.
func (Correlations) Name() string { return "correlations" }

// Filter implements Model: every event may carry a correlation id.
func (Correlations) Filter() eventstore.Filter { return eventstore.Filter{} }

// Public implements Model: the index serves the admin read API only.
func (Correlations) Public() bool { return false }

// Tables implements Model.
func (Correlations) Tables() []string { return []string{"correlations"} }

// Create implements Model.
func (Correlations) Create(ctx context.Context, tx pgx.Tx, schema string) error {
	t := rmTable(schema, "correlations")
	if _, err := tx.Exec(ctx, `CREATE TABLE `+t+` (
			correlation_id text COLLATE "C" NOT NULL,
			position       bigint NOT NULL,
			PRIMARY KEY (correlation_id, position)
		)`); err != nil {
		return fmt.Errorf("correlations: create %s: %w", t, err)
	}
	return nil
}

// Apply implements Model: projections.Correlates decides, one insert
// writes. A correlation id PostgreSQL cannot store (NUL) is indexed
// nowhere, like metadata that does not parse.
func (Correlations) Apply(ctx context.Context, tx pgx.Tx, schema string, evs []eventstore.Event) error {
	ids := make([]string, 0, len(evs))
	pos := make([]int64, 0, len(evs))
	for _, e := range evs {
		if id, ok := projections.Correlates(e); ok && rmStorable(id) {
			ids, pos = append(ids, id), append(pos, int64(e.Position))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// COPY: the runtime hands each event over once (it skips what the
	// checkpoint covers in the same transaction), so nothing conflicts.
	rows := make([][]any, len(ids))
	for i := range ids {
		rows[i] = []any{ids[i], pos[i]}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{schema, "correlations"}, []string{"correlation_id", "position"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("correlations: write %d entries: %w", len(ids), err)
	}
	return nil
}

// CorrelationReader answers timeline lookups from the view of the live
// correlations generation, exactly as projections.MemoryCorrelations does.
type CorrelationReader struct {
	Pool *pgxpool.Pool
	NS   Namespace
}

var _ projections.CorrelationReader = CorrelationReader{}

// Position implements projections.Positioned.
func (r CorrelationReader) Position(ctx context.Context) (eventstore.Position, error) {
	return rmPosition(ctx, r.Pool, r.NS, "correlations")
}

// Correlated implements projections.CorrelationReader: nil when none, as
// the memory model answers.
func (r CorrelationReader) Correlated(ctx context.Context, id string) ([]eventstore.Position, error) {
	if !rmStorable(id) {
		return nil, nil
	}
	rows, err := r.Pool.Query(ctx, `SELECT position FROM `+rmTable(r.NS.Read(), "correlations")+
		` WHERE correlation_id = $1 ORDER BY position`, id)
	if err != nil {
		return nil, fmt.Errorf("correlations: %q: %w", id, err)
	}
	var out []eventstore.Position
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("correlations: %q: %w", id, err)
		}
		out = append(out, eventstore.Position(p))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("correlations: %q: %w", id, err)
	}
	return out, nil
}
