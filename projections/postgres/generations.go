package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/pgmigrate"
)

// Generations and views: each model's tables live in a numbered generation
// schema that the registry names and its views point at, so a rebuild fills
// a new one and swaps it in while reads go on.

// Generation is one projection's registry entry, for status output.
type Generation struct {
	// Name is the projection's name.
	Name string
	// Generation numbers the live generation.
	Generation int64
	// Schema is the live generation's schema.
	Schema string
	// Building is the schema of a generation being rebuilt (or left by a
	// rebuild that died); empty when none.
	Building string
}

// generationSchemas matches the generation schemas of projection name.
func (s *Store) generationSchemas(name string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(s.NS.Prefix+"rm_"+name+"_") + `[0-9]+$`)
}

// newGeneration allocates a generation number for m and creates its
// schema, checkpoint and empty tables in tx.
func (s *Store) newGeneration(ctx context.Context, tx pgx.Tx, m Model) (int64, string, error) {
	var gen int64
	if err := tx.QueryRow(ctx, "SELECT nextval('"+s.sequence()+"')").Scan(&gen); err != nil {
		return 0, "", fmt.Errorf("%s: allocate a generation: %w", m.Name(), err)
	}
	schema := s.NS.Prefix + "rm_" + m.Name() + "_" + strconv.FormatInt(gen, 10)
	if !pgmigrate.ValidSchema(schema) {
		return 0, "", fmt.Errorf("%s: generation schema name %q is invalid", m.Name(), schema)
	}
	for _, q := range []string{
		"CREATE SCHEMA " + rtIdent(schema),
		"REVOKE ALL ON SCHEMA " + rtIdent(schema) + " FROM PUBLIC",
		"CREATE TABLE " + rtQual(schema, "checkpoint") + " (position bigint NOT NULL DEFAULT 0, through bigint NOT NULL DEFAULT 0)",
		"INSERT INTO " + rtQual(schema, "checkpoint") + " DEFAULT VALUES",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return 0, "", fmt.Errorf("%s: create generation %s: %w", m.Name(), schema, err)
		}
	}
	if err := m.Create(ctx, tx, schema); err != nil {
		return 0, "", fmt.Errorf("%s: create tables in %s: %w", m.Name(), schema, err)
	}
	return gen, schema, nil
}

// replaceViews points m's views (its tables' and its checkpoint's) at
// generation schema. A view whose columns changed cannot be replaced in
// place: it is dropped and created again in the same transaction.
func (s *Store) replaceViews(ctx context.Context, tx pgx.Tx, m Model, schema string) error {
	type view struct{ name, query string }
	views := make([]view, 0, len(m.Tables())+1)
	for _, t := range m.Tables() {
		views = append(views, view{rtQual(s.NS.ViewSchema(m), t), "SELECT * FROM " + rtQual(schema, t)})
	}
	views = append(views, view{rtQual(s.NS.Read(), checkpointView(m.Name())),
		"SELECT position, through FROM " + rtQual(schema, "checkpoint")})
	for _, v := range views {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("%s: savepoint: %w", m.Name(), err)
		}
		_, err = sp.Exec(ctx, "CREATE OR REPLACE VIEW "+v.name+" AS "+v.query)
		if err == nil {
			if err := sp.Commit(ctx); err != nil {
				return fmt.Errorf("%s: release savepoint: %w", m.Name(), err)
			}
			continue
		}
		if c := rtCode(err); c != "42P16" && c != "42804" {
			return fmt.Errorf("%s: create view %s: %w", m.Name(), v.name, err)
		}
		if err := sp.Rollback(ctx); err != nil {
			return fmt.Errorf("%s: rollback savepoint: %w", m.Name(), err)
		}
		if _, err := tx.Exec(ctx, "DROP VIEW "+v.name); err != nil {
			return fmt.Errorf("%s: drop changed view %s: %w", m.Name(), v.name, err)
		}
		if _, err := tx.Exec(ctx, "CREATE VIEW "+v.name+" AS "+v.query); err != nil {
			return fmt.Errorf("%s: create view %s: %w", m.Name(), v.name, err)
		}
	}
	return nil
}

// applyPinned applies evs newer than schema's checkpoint to schema and
// moves its checkpoint, inside tx; through (0: none) records that the log
// was read that far with nothing more for m (see LiveTarget.Advance).
func applyPinned(ctx context.Context, tx pgx.Tx, m Model, schema string, evs []eventstore.Event, through eventstore.Position) error {
	cp := rtQual(schema, "checkpoint")
	var pos int64
	if err := tx.QueryRow(ctx, "SELECT position FROM "+cp+" FOR UPDATE").Scan(&pos); err != nil {
		return fmt.Errorf("%s: read checkpoint of %s: %w", m.Name(), schema, err)
	}
	rest := evs
	for len(rest) > 0 && int64(rest[0].Position) <= pos {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		// Applied already (a retry, or a rebuild's generation that
		// caught up): through must still be recorded, or Position stays
		// behind what the runner reports as processed.
		if through > 0 {
			if err := advanceThrough(ctx, tx, schema, through); err != nil {
				return fmt.Errorf("%s: %w", m.Name(), err)
			}
		}
		return nil
	}
	if err := m.Apply(ctx, tx, schema, rest); err != nil {
		return fmt.Errorf("%s: apply events %d..%d: %w", m.Name(), rest[0].Position, rest[len(rest)-1].Position, err)
	}
	last := int64(rest[len(rest)-1].Position)
	if _, err := tx.Exec(ctx, "UPDATE "+cp+" SET position = $1, through = greatest(through, $1, $2::bigint)", last, int64(through)); err != nil {
		return fmt.Errorf("%s: move checkpoint of %s: %w", m.Name(), schema, err)
	}
	return nil
}

// advanceThrough records in generation schema, inside tx, that the log was
// read through `through`; it never moves backwards.
func advanceThrough(ctx context.Context, tx pgx.Tx, schema string, through eventstore.Position) error {
	if _, err := tx.Exec(ctx, "UPDATE "+rtQual(schema, "checkpoint")+" SET through = $1 WHERE through < $1", int64(through)); err != nil {
		return fmt.Errorf("advance checkpoint of %s: %w", schema, err)
	}
	return nil
}

// liveSchema returns the live generation's schema of name, locking its
// registry row FOR SHARE so that a swap waits for tx.
func (s *Store) liveSchema(ctx context.Context, tx pgx.Tx, name string) (string, error) {
	var schema string
	err := tx.QueryRow(ctx, "SELECT schema_name FROM "+s.registry()+" WHERE name = $1 FOR SHARE", name).Scan(&schema)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: %s", ErrNotSetUp, name)
	}
	if err != nil {
		return "", fmt.Errorf("%s: read registry: %w", name, err)
	}
	return schema, nil
}

// Generations lists every projection's live generation and any generation
// being built, by name, for status output.
func (s *Store) Generations(ctx context.Context) ([]Generation, error) {
	if err := s.validateNS(); err != nil {
		return nil, err
	}
	rows, err := s.Pool.Query(ctx, "SELECT name, generation, schema_name, coalesce(building, '') FROM "+s.registry()+" ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("projections/postgres: read registry: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Generation, error) {
		var g Generation
		err := r.Scan(&g.Name, &g.Generation, &g.Schema, &g.Building)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("projections/postgres: read registry: %w", err)
	}
	return out, nil
}
