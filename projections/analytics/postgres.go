package analytics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections/postgres"
)

// Tables analysts query, each exposed as a view of the same name in the
// analytics schema.
const (
	TableSalesDaily        = "sales_daily"
	TableProductSalesDaily = "product_sales_daily"
	TableProducts          = "products"
	TableRefunds           = "refunds"
	TableFunnelDaily       = "funnel_daily"
)

// tableOpenCartLines is the fold's state: internal, never exposed.
const tableOpenCartLines = "open_cart_lines"

// Postgres is the analytics model kept in PostgreSQL tables (a
// postgres.Model). Apply folds a batch in Go and writes the aggregated
// increments with one statement per table, so a rebuild is fast.
type Postgres struct {
	Codec *eventstore.Codec
}

// NewPostgres returns the PostgreSQL analytics model decoding with codec.
func NewPostgres(codec *eventstore.Codec) *Postgres { return &Postgres{Codec: codec} }

var _ postgres.Model = (*Postgres)(nil)

// Name implements postgres.Model.
func (*Postgres) Name() string { return Name }

// Filter implements postgres.Model.
func (*Postgres) Filter() eventstore.Filter {
	return eventstore.Filter{Types: slices.Clone(Filter.Types)}
}

// Public implements postgres.Model: analysts query these tables.
func (*Postgres) Public() bool { return true }

// Tables implements postgres.Model: the analyst-facing tables only.
func (*Postgres) Tables() []string {
	return []string{TableSalesDaily, TableProductSalesDaily, TableProducts, TableRefunds, TableFunnelDaily}
}

func table(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

// Create implements postgres.Model.
func (*Postgres) Create(ctx context.Context, tx pgx.Tx, schema string) error {
	stmts := []string{
		`CREATE TABLE ` + table(schema, TableSalesDaily) + ` (
			day date NOT NULL,
			currency text NOT NULL,
			orders bigint NOT NULL DEFAULT 0,
			units bigint NOT NULL DEFAULT 0,
			revenue bigint NOT NULL DEFAULT 0,
			refunds bigint NOT NULL DEFAULT 0,
			PRIMARY KEY (day, currency))`,
		`CREATE TABLE ` + table(schema, TableProductSalesDaily) + ` (
			day date NOT NULL,
			product_id text NOT NULL,
			currency text NOT NULL,
			units bigint NOT NULL DEFAULT 0,
			revenue bigint NOT NULL DEFAULT 0,
			PRIMARY KEY (day, product_id, currency))`,
		`CREATE TABLE ` + table(schema, TableProducts) + ` (
			product_id text PRIMARY KEY,
			name text NOT NULL)`,
		`CREATE TABLE ` + table(schema, TableRefunds) + ` (
			order_id text NOT NULL,
			payment_id text NOT NULL,
			day date NOT NULL,
			refunded_at timestamptz NOT NULL,
			currency text NOT NULL,
			amount bigint NOT NULL)`,
		`CREATE INDEX ON ` + table(schema, TableRefunds) + ` (day)`,
		`CREATE INDEX ON ` + table(schema, TableRefunds) + ` (order_id)`,
		`CREATE TABLE ` + table(schema, TableFunnelDaily) + ` (
			day date PRIMARY KEY,
			carts bigint NOT NULL DEFAULT 0,
			checkouts bigint NOT NULL DEFAULT 0,
			paid bigint NOT NULL DEFAULT 0,
			shipped bigint NOT NULL DEFAULT 0,
			cancelled bigint NOT NULL DEFAULT 0)`,
		`CREATE TABLE ` + table(schema, tableOpenCartLines) + ` (
			cart_id text NOT NULL,
			product_id text NOT NULL,
			PRIMARY KEY (cart_id, product_id))`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("analytics: create tables in %s: %w", schema, err)
		}
	}
	return nil
}

// Apply implements postgres.Model: it loads the open carts the batch
// touches, folds the batch in Go and writes the increments in one round
// trip.
func (p *Postgres) Apply(ctx context.Context, tx pgx.Tx, schema string, evs []eventstore.Event) error {
	payloads, err := decodeAll(p.Codec, evs)
	if err != nil {
		return err
	}
	var touched []string
	seen := map[string]bool{}
	for _, pl := range payloads {
		if id, ok := CartOf(pl); ok && !seen[id] {
			seen[id] = true
			touched = append(touched, id)
		}
	}
	carts, err := loadCarts(ctx, tx, schema, touched)
	if err != nil {
		return err
	}
	before := make(OpenCarts, len(carts))
	for id, lines := range carts {
		before[id] = maps.Clone(lines)
	}
	d := NewDelta()
	for _, pl := range payloads {
		Fold(d, carts, pl)
	}
	b := &pgx.Batch{}
	queueDelta(b, schema, d)
	queueCarts(b, schema, touched, before, carts)
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("analytics projection: write the batch ending at %d: %w", evs[len(evs)-1].Position, err)
	}
	return nil
}

// queueCarts queues the changes of the touched carts' lines, from before
// to after: only lines that left or came, so the table does not churn.
func queueCarts(b *pgx.Batch, schema string, touched []string, before, after OpenCarts) {
	var goneCarts, goneProducts, newCarts, newProducts []string
	for _, id := range touched {
		for pid := range before[id] {
			if _, ok := after[id][pid]; !ok {
				goneCarts, goneProducts = append(goneCarts, id), append(goneProducts, pid)
			}
		}
		for pid := range after[id] {
			if _, ok := before[id][pid]; !ok {
				newCarts, newProducts = append(newCarts, id), append(newProducts, pid)
			}
		}
	}
	if len(goneCarts) > 0 {
		b.Queue(`DELETE FROM `+table(schema, tableOpenCartLines)+` AS t USING unnest($1::text[], $2::text[]) AS u(c, p)
			WHERE t.cart_id = u.c AND t.product_id = u.p`, goneCarts, goneProducts)
	}
	if len(newCarts) > 0 {
		b.Queue(`INSERT INTO `+table(schema, tableOpenCartLines)+` (cart_id, product_id)
			SELECT * FROM unnest($1::text[], $2::text[])`, newCarts, newProducts)
	}
}

// loadCarts reads the lines of the carts named in ids.
func loadCarts(ctx context.Context, tx pgx.Tx, schema string, ids []string) (OpenCarts, error) {
	carts := OpenCarts{}
	if len(ids) == 0 {
		return carts, nil
	}
	rows, err := tx.Query(ctx, `SELECT l.cart_id, l.product_id
		FROM unnest($1::text[]) AS u(id) JOIN `+table(schema, tableOpenCartLines)+` AS l ON l.cart_id = u.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("analytics projection: load open carts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, pid string
		if err := rows.Scan(&id, &pid); err != nil {
			return nil, fmt.Errorf("analytics projection: load open carts: %w", err)
		}
		if carts[id] == nil {
			carts[id] = map[string]struct{}{}
		}
		carts[id][pid] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics projection: load open carts: %w", err)
	}
	return carts, nil
}

// queueDelta queues one upsert per table d changes.
func queueDelta(b *pgx.Batch, schema string, d *Delta) {
	if n := len(d.Sales); n > 0 {
		days, curs := make([]string, 0, n), make([]string, 0, n)
		orders, units, revenue, refunds := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		for k, v := range d.Sales {
			days, curs = append(days, k.Day), append(curs, k.Currency)
			orders, units, revenue, refunds = append(orders, v.Orders), append(units, v.Units), append(revenue, v.Revenue), append(refunds, v.Refunds)
		}
		b.Queue(`INSERT INTO `+table(schema, TableSalesDaily)+` AS t (day, currency, orders, units, revenue, refunds)
			SELECT u.d::date, u.c, u.o, u.n, u.r, u.f FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) AS u(d, c, o, n, r, f)
			ON CONFLICT (day, currency) DO UPDATE SET orders = t.orders + excluded.orders, units = t.units + excluded.units,
				revenue = t.revenue + excluded.revenue, refunds = t.refunds + excluded.refunds`,
			days, curs, orders, units, revenue, refunds)
	}
	if n := len(d.Products); n > 0 {
		days, ids, curs := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		units, revenue := make([]int64, 0, n), make([]int64, 0, n)
		for k, v := range d.Products {
			days, ids, curs = append(days, k.Day), append(ids, k.ProductID), append(curs, k.Currency)
			units, revenue = append(units, v.Units), append(revenue, v.Revenue)
		}
		b.Queue(`INSERT INTO `+table(schema, TableProductSalesDaily)+` AS t (day, product_id, currency, units, revenue)
			SELECT u.d::date, u.p, u.c, u.n, u.r FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS u(d, p, c, n, r)
			ON CONFLICT (day, product_id, currency) DO UPDATE SET units = t.units + excluded.units, revenue = t.revenue + excluded.revenue`,
			days, ids, curs, units, revenue)
	}
	if n := len(d.Names); n > 0 {
		ids, names := make([]string, 0, n), make([]string, 0, n)
		for id, name := range d.Names {
			ids, names = append(ids, id), append(names, name)
		}
		b.Queue(`INSERT INTO `+table(schema, TableProducts)+` (product_id, name)
			SELECT * FROM unnest($1::text[], $2::text[])
			ON CONFLICT (product_id) DO UPDATE SET name = excluded.name`, ids, names)
	}
	if n := len(d.Refunds); n > 0 {
		orders, payments, days, curs := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		ats, amounts := make([]time.Time, 0, n), make([]int64, 0, n)
		for _, r := range d.Refunds {
			orders, payments, days, curs = append(orders, r.OrderID), append(payments, r.PaymentID), append(days, r.Day), append(curs, r.Currency)
			ats, amounts = append(ats, r.RefundedAt), append(amounts, r.Amount)
		}
		b.Queue(`INSERT INTO `+table(schema, TableRefunds)+` (order_id, payment_id, day, refunded_at, currency, amount)
			SELECT u.o, u.p, u.d::date, u.a, u.c, u.m FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::bigint[]) AS u(o, p, d, a, c, m)`,
			orders, payments, days, ats, curs, amounts)
	}
	if n := len(d.Funnel); n > 0 {
		days := make([]string, 0, n)
		carts, checkouts, paid, shipped, cancelled := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		for day, v := range d.Funnel {
			days = append(days, day)
			carts, checkouts, paid = append(carts, v.Carts), append(checkouts, v.Checkouts), append(paid, v.Paid)
			shipped, cancelled = append(shipped, v.Shipped), append(cancelled, v.Cancelled)
		}
		b.Queue(`INSERT INTO `+table(schema, TableFunnelDaily)+` AS t (day, carts, checkouts, paid, shipped, cancelled)
			SELECT u.d::date, u.a, u.b, u.p, u.s, u.c FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) AS u(d, a, b, p, s, c)
			ON CONFLICT (day) DO UPDATE SET carts = t.carts + excluded.carts, checkouts = t.checkouts + excluded.checkouts,
				paid = t.paid + excluded.paid, shipped = t.shipped + excluded.shipped, cancelled = t.cancelled + excluded.cancelled`,
			days, carts, checkouts, paid, shipped, cancelled)
	}
}

// PostgresReader answers Reader from the views of the analytics schema,
// the same ones analysts query, and the projection's checkpoint view.
type PostgresReader struct {
	Pool *pgxpool.Pool
	NS   postgres.Namespace
}

var _ Reader = PostgresReader{}

func (r PostgresReader) view(name string) string { return table(r.NS.Analytics(), name) }

// Position implements projections.Positioned: how far the projection has
// processed the log, counting events its filter skips.
func (r PostgresReader) Position(ctx context.Context) (eventstore.Position, error) {
	var pos int64
	err := r.Pool.QueryRow(ctx, `SELECT coalesce(greatest(position, through), 0) FROM `+table(r.NS.Read(), "checkpoint_"+Name)).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("analytics: read the checkpoint: %w", err)
	}
	return eventstore.Position(pos), nil
}

// Sales implements Reader.
func (r PostgresReader) Sales(ctx context.Context, from, to time.Time, granularity string) ([]SalesPoint, error) {
	if err := validGranularity(granularity); err != nil {
		return nil, err
	}
	rows, err := r.Pool.Query(ctx, `SELECT to_char(date_trunc($3::text, day::timestamp), 'YYYY-MM-DD') AS period, currency,
			sum(orders)::bigint, sum(units)::bigint, sum(revenue)::bigint, sum(refunds)::bigint
		FROM `+r.view(TableSalesDaily)+`
		WHERE day >= $1::text::date AND day < $2::text::date
		GROUP BY 1, 2 ORDER BY 1, currency COLLATE "C"`, Day(from), Day(to), granularity)
	if err != nil {
		return nil, fmt.Errorf("analytics: query sales: %w", err)
	}
	out := []SalesPoint{}
	for rows.Next() {
		var p SalesPoint
		var currency string
		if err := rows.Scan(&p.Period, &currency, &p.Orders, &p.Units, &p.Revenue.Amount, &p.Refunds.Amount); err != nil {
			rows.Close()
			return nil, fmt.Errorf("analytics: read sales: %w", err)
		}
		p.Revenue.Currency, p.Refunds.Currency = currency, currency
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: read sales: %w", err)
	}
	return out, nil
}

// TopProducts implements Reader.
func (r PostgresReader) TopProducts(ctx context.Context, from, to time.Time, limit int) ([]ProductSales, error) {
	if limit <= 0 {
		return []ProductSales{}, nil
	}
	rows, err := r.Pool.Query(ctx, `SELECT s.product_id, coalesce(p.name, ''), s.units, s.revenue, s.currency
		FROM (SELECT product_id, currency, sum(units)::bigint AS units, sum(revenue)::bigint AS revenue
			FROM `+r.view(TableProductSalesDaily)+`
			WHERE day >= $1::text::date AND day < $2::text::date
			GROUP BY product_id, currency) s
		LEFT JOIN `+r.view(TableProducts)+` p ON p.product_id = s.product_id
		ORDER BY s.revenue DESC, s.units DESC, s.product_id COLLATE "C", s.currency COLLATE "C"
		LIMIT $3`, Day(from), Day(to), limit)
	if err != nil {
		return nil, fmt.Errorf("analytics: query top products: %w", err)
	}
	out := []ProductSales{}
	for rows.Next() {
		var p ProductSales
		if err := rows.Scan(&p.ProductID, &p.Name, &p.Units, &p.Revenue.Amount, &p.Revenue.Currency); err != nil {
			rows.Close()
			return nil, fmt.Errorf("analytics: read top products: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: read top products: %w", err)
	}
	return out, nil
}

// Funnel implements Reader.
func (r PostgresReader) Funnel(ctx context.Context, from, to time.Time) (Funnel, error) {
	var f Funnel
	err := r.Pool.QueryRow(ctx, `SELECT coalesce(sum(carts), 0)::bigint, coalesce(sum(checkouts), 0)::bigint,
			coalesce(sum(paid), 0)::bigint, coalesce(sum(shipped), 0)::bigint, coalesce(sum(cancelled), 0)::bigint
		FROM `+r.view(TableFunnelDaily)+` WHERE day >= $1::text::date AND day < $2::text::date`, Day(from), Day(to)).
		Scan(&f.Carts, &f.Checkouts, &f.Paid, &f.Shipped, &f.Cancelled)
	if err != nil {
		return Funnel{}, fmt.Errorf("analytics: query the funnel: %w", err)
	}
	return f, nil
}
