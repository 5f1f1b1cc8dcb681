package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/commerce-engine/commerce/internal/app"
)

// eventStoreSchema is the PostgreSQL schema of the event store tables.
const eventStoreSchema = app.DefaultEventStoreSchema

// sqliteFileName is the embedded event store's file inside the data dir.
const sqliteFileName = app.SQLiteFileName

// Main is the engine as commerce serve starts it (see internal/app).
type Main = app.Main

// Option adjusts a Main before it runs.
type Option = app.Option

// WithLogger makes Main log to l instead of JSON on stderr at the
// configured level.
func WithLogger(l *slog.Logger) Option { return app.WithLogger(l) }

// NewMain returns the engine for cfg: its errors name settings by their
// environment variable, and Run refuses an invalid cfg before opening
// anything. opts come after this command's own, so they win.
func NewMain(cfg Config, opts ...Option) *Main {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	own := []Option{
		app.WithLogger(logger), app.WithSettingNames(envName), app.WithBuild(version, commit),
	}
	var m *Main
	own = append(own, app.WithPreflight(func() error {
		if err := cfg.Validate(); err != nil {
			return err
		}
		m.Logger().Info("starting", "version", version, "commit", commit, "config", cfg)
		return nil
	}))
	m = app.New(cfg.app(), append(own, opts...)...)
	return m
}

// migrate runs `commerce migrate` with the event store in schema.
func migrate(ctx context.Context, cfg Config, schema string, log *slog.Logger, stdout io.Writer, opts ...Option) error {
	return NewMain(cfg, append([]Option{WithLogger(log), app.WithSchema(schema)}, opts...)...).Migrate(ctx, stdout)
}

// projectionsCommand runs `commerce projections status` and `commerce
// projections rebuild NAME`.
func projectionsCommand(ctx context.Context, cfg Config, args []string, log *slog.Logger, stdout io.Writer, opts ...Option) error {
	return NewMain(cfg, append([]Option{WithLogger(log)}, opts...)...).Projections(ctx, args, stdout)
}

// timelineCommand prints an order's timeline, as a table or (asJSON) as
// the admin API's JSON.
func timelineCommand(ctx context.Context, cfg Config, orderID string, asJSON bool, log *slog.Logger, stdout io.Writer, opts ...Option) error {
	return NewMain(cfg, append([]Option{WithLogger(log)}, opts...)...).Timeline(ctx, orderID, asJSON, stdout)
}
