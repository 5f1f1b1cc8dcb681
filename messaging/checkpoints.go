package messaging

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
)

// Checkpoints keeps named positions durably.
type Checkpoints interface {
	// Load returns the position saved under name, 0 when none was.
	Load(ctx context.Context, name string) (eventstore.Position, error)
	// Save records p under name; it has happened once Save returns nil.
	Save(ctx context.Context, name string, p eventstore.Position) error
}

// NewFileCheckpoints keeps each checkpoint in dir/<name>.checkpoint, written
// atomically (temp file, fsync, rename, fsync dir): for the embedded default,
// next to the SQLite store. dir must exist.
func NewFileCheckpoints(dir string) Checkpoints { return fileCheckpoints{dir: dir} }

type fileCheckpoints struct{ dir string }

func (f fileCheckpoints) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("messaging: invalid checkpoint name %q", name)
	}
	return filepath.Join(f.dir, name+".checkpoint"), nil
}

func (f fileCheckpoints) Load(_ context.Context, name string) (eventstore.Position, error) {
	path, err := f.path(name)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile(path) //nolint:gosec // G304: f.path keeps the name inside the checkpoint directory
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("messaging: load checkpoint %s: %w", name, err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("messaging: checkpoint file %s is corrupt: %w", path, err)
	}
	return eventstore.Position(v), nil
}

func (f fileCheckpoints) Save(_ context.Context, name string, p eventstore.Position) (err error) {
	path, err := f.path(name)
	if err != nil {
		return err
	}
	wrap := func(err error) error { return fmt.Errorf("messaging: save checkpoint %s: %w", name, err) }
	tmp, err := os.CreateTemp(f.dir, name+".*.tmp")
	if err != nil {
		return wrap(err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.WriteString(strconv.FormatInt(int64(p), 10) + "\n"); err != nil {
		_ = tmp.Close()
		return wrap(err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return wrap(err)
	}
	if err := tmp.Close(); err != nil {
		return wrap(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return wrap(err)
	}
	d, err := os.Open(f.dir)
	if err != nil {
		return wrap(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return wrap(err)
	}
	return nil
}

// NewMemoryCheckpoints keeps checkpoints in memory: for tests, and for roles
// that rebuild from the start anyway.
func NewMemoryCheckpoints() Checkpoints {
	return &memoryCheckpoints{m: map[string]eventstore.Position{}}
}

type memoryCheckpoints struct {
	mu sync.Mutex
	m  map[string]eventstore.Position
}

func (c *memoryCheckpoints) Load(_ context.Context, name string) (eventstore.Position, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name], nil
}

func (c *memoryCheckpoints) Save(_ context.Context, name string, p eventstore.Position) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[name] = p
	return nil
}

// PostgresCheckpoints keeps checkpoints in <Schema>.relay_checkpoints, for a
// relay whose machine has no durable disk of its own. Call Setup once first.
type PostgresCheckpoints struct {
	Pool   *pgxpool.Pool
	Schema string // "" means public
}

var _ Checkpoints = (*PostgresCheckpoints)(nil)

func (c *PostgresCheckpoints) table() string {
	schema := c.Schema
	if schema == "" {
		schema = "public"
	}
	return pgx.Identifier{schema, "relay_checkpoints"}.Sanitize()
}

// Setup creates the checkpoint table if it is missing.
func (c *PostgresCheckpoints) Setup(ctx context.Context) error {
	_, err := c.Pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+c.table()+` (
		name       text PRIMARY KEY,
		position   bigint NOT NULL,
		updated_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return fmt.Errorf("messaging: create %s: %w", c.table(), err)
	}
	return nil
}

// Load returns the position saved under name, 0 when none was.
func (c *PostgresCheckpoints) Load(ctx context.Context, name string) (eventstore.Position, error) {
	var p int64
	err := c.Pool.QueryRow(ctx, `SELECT position FROM `+c.table()+` WHERE name = $1`, name).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("messaging: load checkpoint %s: %w", name, err)
	}
	return eventstore.Position(p), nil
}

// Save records p under name.
func (c *PostgresCheckpoints) Save(ctx context.Context, name string, p eventstore.Position) error {
	_, err := c.Pool.Exec(ctx, `INSERT INTO `+c.table()+` (name, position, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`, name, int64(p))
	if err != nil {
		return fmt.Errorf("messaging: save checkpoint %s: %w", name, err)
	}
	return nil
}
