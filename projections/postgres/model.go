// Package postgres keeps read models in PostgreSQL. Each projection's
// tables live in a generation schema of their own; readers and analysts
// query stable views that point at the live generation. A rebuild replays
// the log into a new generation while the old one keeps serving, then
// repoints the views and drops the old generation in one swap.
package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-engine/commerce/eventstore"
)

// Model is one projection's tables and the logic that fills them. The
// runtime owns schemas, checkpoints, transactions, generations and views;
// a Model only creates its tables and applies events to them.
type Model interface {
	// Name names the projection: its checkpoint, its generations, the
	// admin API's entry.
	Name() string
	// Filter selects the part of the log the model reads.
	Filter() eventstore.Filter
	// Public reports whether the model's tables are exposed to analysts
	// (views in the analytics schema) rather than to the read API only
	// (views in the read schema).
	Public() bool
	// Tables lists the model's tables, each exposed as a view of the same
	// name.
	Tables() []string
	// Create creates the model's empty tables (and indexes) in schema.
	Create(ctx context.Context, tx pgx.Tx, schema string) error
	// Apply applies events, in log order and all newer than the
	// generation's checkpoint, to the tables in schema inside tx. The
	// runtime commits the checkpoint in the same transaction.
	Apply(ctx context.Context, tx pgx.Tx, schema string, evs []eventstore.Event) error
}

// Namespace names the schemas of one deployment's read models. Prefix is
// empty in production; tests give each run its own so they can run in
// parallel on one database and drop what they made.
type Namespace struct {
	Prefix string
}

// Read is the schema of the views the read API queries.
func (n Namespace) Read() string { return n.Prefix + "read" }

// Analytics is the schema of the views analysts query, and the only one
// the commerce_analyst role can read.
func (n Namespace) Analytics() string { return n.Prefix + "analytics" }

// Registry is the schema of the projections' registry: which generation
// of each projection is live.
func (n Namespace) Registry() string { return n.Prefix + "projections" }

// ViewSchema is the schema of m's views.
func (n Namespace) ViewSchema(m Model) string {
	if m.Public() {
		return n.Analytics()
	}
	return n.Read()
}
