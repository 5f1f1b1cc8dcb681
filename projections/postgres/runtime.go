package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/internal/pgmigrate"
)

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
