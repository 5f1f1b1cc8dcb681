package app

import (
	"context"
	"fmt"
	"io"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	pgproj "github.com/commerce-engine/commerce/projections/postgres"
)

// Migrate applies the schema migrations of the configured PostgreSQL
// stores: the event store's, and the read models' schemas with the
// read-only commerce_analyst role. The embedded SQLite store sets itself
// up when it opens, so for it there is nothing to do; serve also migrates
// PostgreSQL at start, so this command is for deployments that migrate
// before rolling out.
// It reports what it did on stdout.
func (m *Main) Migrate(ctx context.Context, stdout io.Writer) error {
	cfg := m.cfg
	if err := m.migrateEventStore(ctx, stdout); err != nil {
		return err
	}
	if cfg.ReadModelURL == "" {
		fmt.Fprintf(stdout, "read models: nothing to migrate: they are kept in memory (%s is empty)\n", m.setting("ReadModelURL"))
		return nil
	}
	pool, err := m.readModelPool(ctx, cfg.ReadModelURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := m.setupReadModels(ctx, &pgproj.Store{Pool: pool, NS: m.readNS}, postgresModels(commands.NewCodec())); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "read models: schemas %s, %s and %s at %s are set up; role %s can read %s only\n",
		m.readNS.Registry(), m.readNS.Read(), m.readNS.Analytics(), RedactURL(cfg.ReadModelURL), m.analystRole, m.readNS.Analytics())
	return nil
}

// migrateEventStore applies the event store's migrations.
func (m *Main) migrateEventStore(ctx context.Context, stdout io.Writer) error {
	cfg, schema, log := m.cfg, m.schema, m.log
	switch cfg.EventStoreKind() {
	case EventStorePostgres:
		target := RedactURL(cfg.EventStoreURL)
		log.Info("migrating the event store", "url", target, "schema", schema)
		applied, err := postgres.Migrate(ctx, cfg.EventStoreURL, schema)
		if err != nil {
			return fmt.Errorf("migrate the PostgreSQL event store at %s: %w", target, err)
		}
		if len(applied) == 0 {
			fmt.Fprintf(stdout, "event store: schema %q at %s is up to date\n", schema, target)
			return nil
		}
		fmt.Fprintf(stdout, "event store: applied migrations %v to schema %q at %s\n", applied, schema, target)
	case EventStoreKurrent:
		fmt.Fprintf(stdout, "event store: nothing to migrate: KurrentDB/EventStoreDB at %s keeps its own log\n", RedactURL(cfg.EventStoreURL))
	default:
		fmt.Fprintf(stdout, "event store: nothing to migrate: the embedded SQLite store (%s is empty) sets itself up when it opens\n", m.setting("EventStoreURL"))
	}
	return nil
}
