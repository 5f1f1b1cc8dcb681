package postgres

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// The namespace's life: Setup creates its schemas, registry, analyst grants
// and first generations; Drop removes them.

// SetupOptions configures the analyst role Setup ensures.
type SetupOptions struct {
	// AnalystRole is the read-only role analysts connect as
	// (DefaultAnalystRole when empty).
	AnalystRole string
	// AnalystPassword is set on the role when not empty; the role's
	// password is left alone otherwise.
	AnalystPassword string
}

// Setup creates the namespace's schemas, the registry, the analyst role
// and, for each model that has none yet, a first (empty) generation with
// its views. It is idempotent and safe to run from several processes at
// once. A model whose tables changed needs a Rebuild, not a Setup.
func (s *Store) Setup(ctx context.Context, opts SetupOptions, models ...Model) error {
	if err := s.validateNS(); err != nil {
		return err
	}
	for _, m := range models {
		if err := s.validateModel(m); err != nil {
			return err
		}
	}
	role := opts.AnalystRole
	if role == "" {
		role = DefaultAnalystRole
	}
	if err := s.ensureRole(ctx, role, opts.AnalystPassword); err != nil {
		return err
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("projections/postgres setup: begin: %w", err)
	}
	defer rtRollback(ctx, tx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(s.NS.Prefix+"setup")); err != nil {
		return fmt.Errorf("projections/postgres setup: lock: %w", err)
	}
	for _, schema := range []string{s.NS.Registry(), s.NS.Read(), s.NS.Analytics()} {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+rtIdent(schema)); err != nil {
			return fmt.Errorf("projections/postgres setup: create schema %s: %w", schema, err)
		}
		if _, err := tx.Exec(ctx, "REVOKE ALL ON SCHEMA "+rtIdent(schema)+" FROM PUBLIC"); err != nil {
			return fmt.Errorf("projections/postgres setup: revoke schema %s: %w", schema, err)
		}
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + s.registry() + ` (
			name text PRIMARY KEY,
			generation int NOT NULL,
			schema_name text NOT NULL,
			building text,
			updated_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE SEQUENCE IF NOT EXISTS ` + s.sequence(),
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("projections/postgres setup: registry: %w", err)
		}
	}
	for _, m := range models {
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+s.registry()+" WHERE name = $1)", m.Name()).Scan(&exists); err != nil {
			return fmt.Errorf("projections/postgres setup %s: read registry: %w", m.Name(), err)
		}
		if exists {
			continue
		}
		gen, schema, err := s.newGeneration(ctx, tx, m)
		if err != nil {
			return fmt.Errorf("projections/postgres setup: %w", err)
		}
		if err := s.replaceViews(ctx, tx, m, schema); err != nil {
			return fmt.Errorf("projections/postgres setup: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+s.registry()+" (name, generation, schema_name) VALUES ($1, $2, $3)",
			m.Name(), gen, schema); err != nil {
			return fmt.Errorf("projections/postgres setup %s: register: %w", m.Name(), err)
		}
	}
	r := rtIdent(role)
	an := rtIdent(s.NS.Analytics())
	for _, q := range []string{
		"GRANT USAGE ON SCHEMA " + an + " TO " + r,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + an + " TO " + r,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("projections/postgres setup: grant analytics to %s: %w", role, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("projections/postgres setup: commit: %w", err)
	}
	return nil
}

// Drop removes every schema of the namespace (registry, read, analytics and
// every generation) and, when analystRole is not empty, the role. Tests
// use it to leave nothing behind; it is not meant for production data.
func (s *Store) Drop(ctx context.Context, analystRole string) error {
	if err := s.validateNS(); err != nil {
		return err
	}
	rows, err := s.Pool.Query(ctx, "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", s.NS.Prefix+"rm_")
	if err != nil {
		return fmt.Errorf("projections/postgres drop: list generations: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("projections/postgres drop: list generations: %w", err)
	}
	gen := regexp.MustCompile(`^` + regexp.QuoteMeta(s.NS.Prefix+"rm_") + `[a-z0-9_]+_[0-9]+$`)
	schemas := []string{s.NS.Read(), s.NS.Analytics(), s.NS.Registry()}
	for _, n := range found {
		if gen.MatchString(n) {
			schemas = append(schemas, n)
		}
	}
	for _, n := range schemas {
		if _, err := s.Pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+rtIdent(n)+" CASCADE"); err != nil {
			return fmt.Errorf("projections/postgres drop: schema %s: %w", n, err)
		}
	}
	if analystRole == "" {
		return nil
	}
	var exists bool
	if err := s.Pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", analystRole).Scan(&exists); err != nil {
		return fmt.Errorf("projections/postgres drop: role %s: %w", analystRole, err)
	}
	if !exists {
		return nil
	}
	for _, q := range []string{"DROP OWNED BY " + rtIdent(analystRole), "DROP ROLE IF EXISTS " + rtIdent(analystRole)} {
		if _, err := s.Pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("projections/postgres drop: role %s: %w", analystRole, err)
		}
	}
	return nil
}
