package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/pgmigrate"
	"github.com/commerce-engine/commerce/projections"
)

// DefaultAnalystRole is the role analysts connect as when SetupOptions
// names none: it can read the analytics views and nothing else.
const DefaultAnalystRole = "commerce_analyst"

// ErrNotSetUp means a projection has no registry row yet: Setup must run
// before its target, position or rebuild can be used.
var ErrNotSetUp = errors.New("projections/postgres: projection is not set up")

// Store is the runtime of the PostgreSQL read models: it owns their
// schemas, generations, checkpoints, views and the analyst role, while
// each Model only owns its tables.
type Store struct {
	// Pool connects to the database that holds the read models.
	Pool *pgxpool.Pool
	// NS names the schemas, so tests can share one database.
	NS Namespace
}

// SetupOptions configures the analyst role Setup ensures.
type SetupOptions struct {
	// AnalystRole is the read-only role analysts connect as
	// (DefaultAnalystRole when empty).
	AnalystRole string
	// AnalystPassword is set on the role when not empty; the role's
	// password is left alone otherwise.
	AnalystPassword string
}

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

var (
	rtModelName = regexp.MustCompile(`^[a-z0-9_]+$`)
	rtPrefix    = regexp.MustCompile(`^[a-z0-9_]*$`)
)

// rtQual quotes a schema-qualified name.
func rtQual(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

// rtIdent quotes one identifier.
func rtIdent(name string) string { return pgx.Identifier{name}.Sanitize() }

// rtCode returns the SQLSTATE of err, "" when it is not a server error.
func rtCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// rollback ends tx when it was not committed; its error is of no use then.
func rtRollback(ctx context.Context, tx pgx.Tx) {
	_ = tx.Rollback(context.WithoutCancel(ctx))
}

func (s *Store) registry() string { return rtQual(s.NS.Registry(), "projections") }

func (s *Store) sequence() string { return rtQual(s.NS.Registry(), "generations") }

// checkpointView is the name of m's checkpoint view in the read schema.
func checkpointView(name string) string { return "checkpoint_" + name }

// validateNS checks that the namespace's schema names need no quoting.
func (s *Store) validateNS() error {
	if !rtPrefix.MatchString(s.NS.Prefix) {
		return fmt.Errorf("projections/postgres: namespace prefix %q is not lower-case letters, digits and underscores", s.NS.Prefix)
	}
	for _, n := range []string{s.NS.Read(), s.NS.Analytics(), s.NS.Registry(), s.NS.Prefix + "rm_x_1"} {
		if !pgmigrate.ValidSchema(n) {
			return fmt.Errorf("projections/postgres: namespace prefix %q makes invalid schema name %q", s.NS.Prefix, n)
		}
	}
	return nil
}

// validateName checks a projection name before it is put in identifiers.
func (s *Store) validateName(name string) error {
	if err := s.validateNS(); err != nil {
		return err
	}
	if !rtModelName.MatchString(name) || !pgmigrate.ValidSchema(checkpointView(name)) ||
		!pgmigrate.ValidSchema(s.NS.Prefix+"rm_"+name+"_1000000") {
		return fmt.Errorf("projections/postgres: projection name %q must be short lower-case letters, digits and underscores", name)
	}
	return nil
}

// validateModel checks m's name and tables.
func (s *Store) validateModel(m Model) error {
	if m == nil {
		return errors.New("projections/postgres: nil model")
	}
	if err := s.validateName(m.Name()); err != nil {
		return err
	}
	seen := map[string]bool{"checkpoint": true}
	for _, t := range m.Tables() {
		if !pgmigrate.ValidSchema(t) || seen[t] {
			return fmt.Errorf("projections/postgres: model %s: table name %q is invalid or repeated", m.Name(), t)
		}
		seen[t] = true
	}
	return nil
}

// generationSchemas matches the generation schemas of projection name.
func (s *Store) generationSchemas(name string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(s.NS.Prefix+"rm_"+name+"_") + `[0-9]+$`)
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

// ensureRole creates the analyst role if missing and makes sure it can log
// in, read only, and do nothing else. Roles are cluster-wide while advisory
// locks are per database, so a concurrent creation from another database
// is tolerated rather than prevented.
func (s *Store) ensureRole(ctx context.Context, role, password string) error {
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("projections/postgres setup role %s: begin: %w", role, err)
	}
	defer rtRollback(ctx, tx)
	var self bool
	if err := tx.QueryRow(ctx, "SELECT $1::text = current_user OR $1::text = session_user", role).Scan(&self); err != nil {
		return fmt.Errorf("projections/postgres setup role %s: %w", role, err)
	}
	if self {
		return fmt.Errorf("projections/postgres setup: the analyst role %q is the role the engine connects as", role)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey("commerce:role:"+role)); err != nil {
		return fmt.Errorf("projections/postgres setup role %s: lock: %w", role, err)
	}
	r := rtIdent(role)
	const attrs = " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT"
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("projections/postgres setup role %s: %w", role, err)
	}
	if !exists {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("projections/postgres setup role %s: savepoint: %w", role, err)
		}
		if _, err := sp.Exec(ctx, "CREATE ROLE "+r+attrs); err != nil {
			// Another database's Setup created it first.
			if c := rtCode(err); c != "42710" && c != "23505" {
				return fmt.Errorf("projections/postgres setup: create role %s: %w", role, err)
			}
			if err := sp.Rollback(ctx); err != nil {
				return fmt.Errorf("projections/postgres setup role %s: rollback savepoint: %w", role, err)
			}
		} else if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("projections/postgres setup role %s: release savepoint: %w", role, err)
		}
	}
	var ok, readOnly bool
	if err := tx.QueryRow(ctx, `SELECT r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolcreatedb AND NOT r.rolcreaterole AND NOT r.rolinherit,
			EXISTS (SELECT 1 FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0
				AND 'default_transaction_read_only=on' = ANY (s.setconfig))
		FROM pg_roles r WHERE r.rolname = $1`, role).Scan(&ok, &readOnly); err != nil {
		return fmt.Errorf("projections/postgres setup role %s: read attributes: %w", role, err)
	}
	if !ok {
		if _, err := tx.Exec(ctx, "ALTER ROLE "+r+attrs); err != nil {
			return fmt.Errorf("projections/postgres setup: alter role %s: %w", role, err)
		}
	}
	if !readOnly {
		if _, err := tx.Exec(ctx, "ALTER ROLE "+r+" SET default_transaction_read_only = on"); err != nil {
			return fmt.Errorf("projections/postgres setup: make role %s read-only: %w", role, err)
		}
	}
	if password != "" {
		// Utility statements take no parameters: the server quotes the
		// password as a literal.
		var stmt string
		if err := tx.QueryRow(ctx, "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, password).Scan(&stmt); err != nil {
			return fmt.Errorf("projections/postgres setup role %s: quote password: %w", role, err)
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("projections/postgres setup role %s: set password: %w", role, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("projections/postgres setup role %s: commit: %w", role, err)
	}
	return nil
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
