package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
)

// Orders is the orders read model in PostgreSQL: one row per order, the
// lines as jsonb, indexed for each customer's history.
type Orders struct {
	Codec *eventstore.Codec
}

var _ Model = Orders{}

// Name implements Model.
func (Orders) Name() string { return "orders" }

// Filter implements Model.
func (Orders) Filter() eventstore.Filter { return projections.OrderFilter }

// Public implements Model: orders serve the read API only.
func (Orders) Public() bool { return false }

// Tables implements Model.
func (Orders) Tables() []string { return []string{"orders"} }

// orderColumns are the orders table's columns in the order every statement
// of this file lists them.
const orderColumns = `id, user_id, status, lines, total_amount, total_currency, payment_id, carrier, tracking_number,
	created_at, updated_at, placed_pos`

// Create implements Model.
func (Orders) Create(ctx context.Context, tx pgx.Tx, schema string) error {
	t := rmTable(schema, "orders")
	stmts := []string{
		`CREATE TABLE ` + t + ` (
			id              text COLLATE "C" PRIMARY KEY,
			user_id         text COLLATE "C" NOT NULL,
			status          text NOT NULL,
			lines           jsonb NOT NULL,
			total_amount    bigint NOT NULL,
			total_currency  text NOT NULL,
			payment_id      text NOT NULL,
			carrier         text,
			tracking_number text,
			created_at      timestamptz NOT NULL,
			updated_at      timestamptz NOT NULL,
			placed_pos      bigint NOT NULL
		) WITH (fillfactor = 80)`,
		`CREATE INDEX ON ` + t + ` (user_id, placed_pos DESC)`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("orders: create %s: %w", t, err)
		}
	}
	return nil
}

// Apply implements Model: one query loads the orders the batch touches,
// projections.FoldOrder folds the events in Go, one upsert writes back.
func (m Orders) Apply(ctx context.Context, tx pgx.Tx, schema string, evs []eventstore.Event) error {
	t := rmTable(schema, "orders")
	var ids []string
	seen := map[string]bool{}
	for _, e := range evs {
		if !projections.OrderFilter.Match(e) {
			continue
		}
		if id := projections.OrderID(e); !seen[id] && rmStorable(id) {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	touched := make(map[string]projections.Order, len(ids))
	rows, err := tx.Query(ctx, `SELECT `+orderColumns+` FROM `+t+` WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("orders: load orders: %w", err)
	}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("orders: load orders: %w", err)
		}
		touched[o.ID] = o
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("orders: load orders: %w", err)
	}
	changed := make(map[string]bool, len(ids))
	for _, e := range evs {
		if !projections.OrderFilter.Match(e) {
			continue
		}
		id := projections.OrderID(e)
		o, ok := touched[id]
		o, _, err := projections.FoldOrder(m.Codec, o, ok, e)
		if err != nil {
			return err
		}
		if !rmStorable(id, o.UserID, o.Status, o.Total.Currency, o.PaymentID, deref(o.Carrier), deref(o.TrackingNumber)) {
			return fmt.Errorf("orders projection at %d: order %q: %w", e.Position, id, ErrUnstorableText)
		}
		o.ID = id
		touched[id], changed[id] = o, true
	}
	return writeOrders(ctx, tx, t, touched, changed)
}

// writeOrders upserts the changed orders of touched into table t in one
// statement.
func writeOrders(ctx context.Context, tx pgx.Tx, t string, touched map[string]projections.Order, changed map[string]bool) error {
	n := len(changed)
	var (
		id, user, status, cur, payment = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n),
			make([]string, 0, n), make([]string, 0, n)
		lines             = make([]string, 0, n)
		carrier, tracking = make([]*string, 0, n), make([]*string, 0, n)
		amount, placed    = make([]int64, 0, n), make([]int64, 0, n)
		created, updated  = make([]time.Time, 0, n), make([]time.Time, 0, n)
	)
	for oid := range changed {
		o := touched[oid]
		b, err := json.Marshal(o.Lines)
		if err != nil {
			return fmt.Errorf("orders: encode lines of %q: %w", oid, err)
		}
		if bytes.Contains(b, []byte(`\u0000`)) && jsonHasNUL(b) {
			return fmt.Errorf("orders: lines of %q: %w", oid, ErrUnstorableText)
		}
		id, user, status, cur, payment = append(id, o.ID), append(user, o.UserID), append(status, o.Status),
			append(cur, o.Total.Currency), append(payment, o.PaymentID)
		lines, carrier, tracking = append(lines, string(b)), append(carrier, o.Carrier), append(tracking, o.TrackingNumber)
		amount, placed = append(amount, o.Total.Amount), append(placed, int64(o.Placed))
		created, updated = append(created, o.CreatedAt), append(updated, o.UpdatedAt)
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+t+` (`+orderColumns+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::bigint[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::bigint[])
		ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, status = EXCLUDED.status, lines = EXCLUDED.lines,
			total_amount = EXCLUDED.total_amount, total_currency = EXCLUDED.total_currency,
			payment_id = EXCLUDED.payment_id, carrier = EXCLUDED.carrier, tracking_number = EXCLUDED.tracking_number,
			created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, placed_pos = EXCLUDED.placed_pos`,
		id, user, status, lines, amount, cur, payment, carrier, tracking, created, updated, placed)
	if err != nil {
		return fmt.Errorf("orders: write %d orders: %w", n, err)
	}
	return nil
}

// jsonHasNUL reports whether encoded JSON holds a NUL in a string, which
// jsonb refuses.
func jsonHasNUL(b []byte) bool {
	var s any
	if json.Unmarshal(b, &s) != nil {
		return true
	}
	return containsNUL(s)
}

// containsNUL reports whether decoded JSON holds text PostgreSQL refuses.
func containsNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return !rmStorable(v)
	case []any:
		for _, x := range v {
			if containsNUL(x) {
				return true
			}
		}
	case map[string]any:
		for k, x := range v {
			if !rmStorable(k) || containsNUL(x) {
				return true
			}
		}
	}
	return false
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// scanOrder reads one row of orderColumns.
func scanOrder(row pgx.Row) (projections.Order, error) {
	var (
		o      projections.Order
		lines  []byte
		placed int64
	)
	if err := row.Scan(&o.ID, &o.UserID, &o.Status, &lines, &o.Total.Amount, &o.Total.Currency, &o.PaymentID,
		&o.Carrier, &o.TrackingNumber, &o.CreatedAt, &o.UpdatedAt, &placed); err != nil {
		return projections.Order{}, err
	}
	if err := json.Unmarshal(lines, &o.Lines); err != nil {
		return projections.Order{}, fmt.Errorf("order %q: decode lines: %w", o.ID, err)
	}
	o.CreatedAt, o.UpdatedAt, o.Placed = o.CreatedAt.UTC(), o.UpdatedAt.UTC(), eventstore.Position(placed)
	return o, nil
}

// OrderReader answers the read API's order questions from the views of
// the live orders generation, exactly as projections.MemoryOrders does.
type OrderReader struct {
	Pool *pgxpool.Pool
	NS   Namespace
}

var _ projections.OrderReader = OrderReader{}

// Position implements projections.Positioned.
func (r OrderReader) Position(ctx context.Context) (eventstore.Position, error) {
	return rmPosition(ctx, r.Pool, r.NS, "orders")
}

// Order implements projections.OrderReader.
func (r OrderReader) Order(ctx context.Context, id string) (projections.Order, bool, error) {
	if !rmStorable(id) {
		return projections.Order{}, false, nil
	}
	o, err := scanOrder(r.Pool.QueryRow(ctx, `SELECT `+orderColumns+` FROM `+rmTable(r.NS.Read(), "orders")+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.Order{}, false, nil
	}
	if err != nil {
		return projections.Order{}, false, fmt.Errorf("orders: order %q: %w", id, err)
	}
	return o, true, nil
}

// OrdersOf implements projections.OrderReader: newest placed first.
func (r OrderReader) OrdersOf(ctx context.Context, userID string) ([]projections.Order, error) {
	out := make([]projections.Order, 0)
	if !rmStorable(userID) {
		return out, nil
	}
	rows, err := r.Pool.Query(ctx, `SELECT `+orderColumns+` FROM `+rmTable(r.NS.Read(), "orders")+
		` WHERE user_id = $1 ORDER BY placed_pos DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("orders: orders of %q: %w", userID, err)
	}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("orders: orders of %q: %w", userID, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("orders: orders of %q: %w", userID, err)
	}
	return out, nil
}
