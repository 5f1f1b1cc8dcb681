// Package pgmigrate applies versioned SQL migrations, embedded in the binary,
// to one PostgreSQL schema. Each component that owns tables (the event store,
// the read models) keeps its migrations next to its code and applies them
// through here, so `commerce migrate` and start-up do the same thing.
//
// Files are named NNNN_description.sql and applied in version order, each in
// its own transaction with search_path set to the schema, and recorded with a
// checksum in <schema>.schema_migrations. A recorded migration whose file
// changed is an error: applied SQL is history and is never edited.
package pgmigrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrChecksum means an applied migration's file was edited afterwards.
var ErrChecksum = errors.New("applied migration was changed")

var (
	fileName   = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)
	identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// Migration is one versioned SQL file.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// ValidSchema reports whether name is a plain lower-case SQL identifier, the
// only schema names the engine accepts (so they never need quoting).
func ValidSchema(name string) bool { return identifier.MatchString(name) }

// Load reads the migrations in dir of fsys, sorted by version. It returns an
// error for a file that does not follow the naming rule or a repeated version.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_description.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Apply brings schema up to date with migrations, creating the schema if
// needed. Concurrent callers (several processes starting at once) are
// serialised by an advisory lock, so each migration runs exactly once. It
// returns the versions it applied.
func Apply(ctx context.Context, conn *pgx.Conn, schema string, migrations []Migration) ([]int, error) {
	if !ValidSchema(schema) {
		return nil, fmt.Errorf("schema name %q is not a lower-case SQL identifier", schema)
	}
	lockKey := "pgmigrate:" + schema
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", lockKey); err != nil {
		return nil, fmt.Errorf("lock migrations of %s: %w", schema, err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", lockKey)
	}()
	setup := fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %[1]s;
CREATE TABLE IF NOT EXISTS %[1]s.schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	checksum   text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`, schema)
	if _, err := conn.Exec(ctx, setup); err != nil {
		return nil, fmt.Errorf("prepare schema %s: %w", schema, err)
	}
	applied := map[int]string{}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT version, checksum FROM %s.schema_migrations", schema))
	if err != nil {
		return nil, fmt.Errorf("read applied migrations of %s: %w", schema, err)
	}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read applied migrations of %s: %w", schema, err)
		}
		applied[v] = sum
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations of %s: %w", schema, err)
	}
	var done []int
	for _, m := range migrations {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return done, fmt.Errorf("%w: %s in schema %s", ErrChecksum, m.Name, schema)
			}
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+schema); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", schema),
				m.Version, m.Name, m.Checksum)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("apply migration %s to schema %s: %w", m.Name, schema, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
}

// Querier is the one method Pending needs, met by *pgx.Conn and *pgxpool.Pool.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Pending returns the migrations not yet applied to schema, so a process can
// refuse to start on an outdated schema instead of failing mid-request.
func Pending(ctx context.Context, q Querier, schema string, migrations []Migration) ([]Migration, error) {
	if !ValidSchema(schema) {
		return nil, fmt.Errorf("schema name %q is not a lower-case SQL identifier", schema)
	}
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", schema+".schema_migrations").Scan(&exists); err != nil {
		return nil, fmt.Errorf("check migrations of %s: %w", schema, err)
	}
	if !exists {
		return migrations, nil
	}
	var applied []int32
	if err := q.QueryRow(ctx, fmt.Sprintf("SELECT coalesce(array_agg(version), '{}') FROM %s.schema_migrations", schema)).Scan(&applied); err != nil {
		return nil, fmt.Errorf("check migrations of %s: %w", schema, err)
	}
	have := map[int]bool{}
	for _, v := range applied {
		have[int(v)] = true
	}
	var pending []Migration
	for _, m := range migrations {
		if !have[m.Version] {
			pending = append(pending, m)
		}
	}
	return pending, nil
}

// Names lists migration file names, for logs and errors.
func Names(ms []Migration) string {
	var n []string
	for _, m := range ms {
		n = append(n, m.Name)
	}
	return strings.Join(n, ", ")
}
