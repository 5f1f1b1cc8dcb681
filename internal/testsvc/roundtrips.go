package testsvc

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RoundTrips is a pgx.Tx that counts what it sends to the server, so a test
// can assert that applying a batch costs a fixed number of round trips
// whatever the batch's size: the behaviour a rebuild's rate rests on, which
// a timed assertion on a shared machine cannot check.
type RoundTrips struct {
	pgx.Tx
	// N is how many statements, batches and copies went through.
	N int
}

// Begin counts the savepoint and returns the nested transaction uncounted.
func (r *RoundTrips) Begin(ctx context.Context) (pgx.Tx, error) {
	r.N++
	return r.Tx.Begin(ctx)
}

// Exec counts one round trip.
func (r *RoundTrips) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.N++
	return r.Tx.Exec(ctx, sql, args...)
}

// Query counts one round trip.
func (r *RoundTrips) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.N++
	return r.Tx.Query(ctx, sql, args...)
}

// QueryRow counts one round trip.
func (r *RoundTrips) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	r.N++
	return r.Tx.QueryRow(ctx, sql, args...)
}

// SendBatch counts a whole batch as one round trip.
func (r *RoundTrips) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	r.N++
	return r.Tx.SendBatch(ctx, b)
}

// CopyFrom counts one round trip.
func (r *RoundTrips) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	r.N++
	return r.Tx.CopyFrom(ctx, table, columns, src)
}

// Prepare counts one round trip.
func (r *RoundTrips) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	r.N++
	return r.Tx.Prepare(ctx, name, sql)
}
