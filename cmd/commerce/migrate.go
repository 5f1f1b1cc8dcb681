package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/commerce-engine/commerce/eventstore/postgres"
)

// migrate applies the schema migrations of the configured PostgreSQL
// stores. The embedded SQLite store sets itself up when it opens, so for it
// there is nothing to do; serve also migrates PostgreSQL at start, so this
// command is for deployments that migrate before rolling out.
func migrate(ctx context.Context, cfg Config, schema string, log *slog.Logger, stdout io.Writer) error {
	switch cfg.eventStoreKind() {
	case eventStorePostgres:
		target := redactURL(cfg.EventStoreURL)
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
	case eventStoreKurrent:
		return errKurrentNotBuilt
	default:
		fmt.Fprintf(stdout, "event store: nothing to migrate: the embedded SQLite store (%s is empty) sets itself up when it opens\n", envEventStoreURL)
	}
	return nil
}
