package postgres

import (
	"context"
	"fmt"
)

// The analyst role: the read-only login analysts query the analytics views
// as, which Setup ensures.

// DefaultAnalystRole is the role analysts connect as when SetupOptions
// names none: it can read the analytics views and nothing else.
const DefaultAnalystRole = "commerce_analyst"

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
