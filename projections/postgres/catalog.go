package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
)

// Catalog is the catalog read model in PostgreSQL: one row per product,
// with the sort keys and search text the product list pages by computed
// in Go, so that PostgreSQL orders and matches exactly as the memory model.
type Catalog struct {
	Codec *eventstore.Codec
}

var _ Model = Catalog{}

// Name implements Model.
func (Catalog) Name() string { return "catalog" }

// Filter implements Model.
func (Catalog) Filter() eventstore.Filter { return projections.CatalogFilter }

// Public implements Model: the catalog serves the read API only.
func (Catalog) Public() bool { return false }

// Tables implements Model.
func (Catalog) Tables() []string { return []string{"products"} }

// catalogColumns are the products table's columns in the order every
// statement of this file lists them.
const catalogColumns = `id, sku, name, description, category, price_amount, price_currency, available, image_url,
	created_at, updated_at, created_pos`

// Create implements Model. Text that is compared or ordered is COLLATE "C"
// (byte order, like Go's string comparison); fillfactor leaves room for
// HOT updates of stock changes, which touch no indexed column.
func (Catalog) Create(ctx context.Context, tx pgx.Tx, schema string) error {
	t := rmTable(schema, "products")
	stmts := []string{
		`CREATE TABLE ` + t + ` (
			id             text COLLATE "C" PRIMARY KEY,
			sku            text NOT NULL,
			name           text NOT NULL,
			description    text NOT NULL,
			category       text COLLATE "C" NOT NULL,
			price_amount   bigint NOT NULL,
			price_currency text NOT NULL,
			available      bigint NOT NULL,
			image_url      text NOT NULL,
			created_at     timestamptz NOT NULL,
			updated_at     timestamptz NOT NULL,
			created_pos    bigint NOT NULL,
			key_newest     text COLLATE "C" NOT NULL,
			key_name       text COLLATE "C" NOT NULL,
			key_price_asc  text COLLATE "C" NOT NULL,
			key_price_desc text COLLATE "C" NOT NULL,
			search         text NOT NULL
		) WITH (fillfactor = 80)`,
		`CREATE INDEX ON ` + t + ` (key_newest, id)`,
		`CREATE INDEX ON ` + t + ` (key_name, id)`,
		`CREATE INDEX ON ` + t + ` (key_price_asc, id)`,
		`CREATE INDEX ON ` + t + ` (key_price_desc, id)`,
		`CREATE INDEX ON ` + t + ` (category, key_newest, id)`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("catalog: create %s: %w", t, err)
		}
	}
	return nil
}

// Apply implements Model: it loads every product the batch touches in one
// query, folds the events in Go with projections.FoldProduct and writes
// the touched products back in one upsert.
func (c Catalog) Apply(ctx context.Context, tx pgx.Tx, schema string, evs []eventstore.Event) error {
	t := rmTable(schema, "products")
	var ids []string
	seen := map[string]bool{}
	for _, e := range evs {
		if !projections.CatalogFilter.Match(e) {
			continue
		}
		if id := projections.ProductID(e); !seen[id] && rmStorable(id) {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	loaded := make(map[string]projections.Product, len(ids))
	rows, err := tx.Query(ctx, `SELECT `+catalogColumns+` FROM `+t+` WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("catalog: load products: %w", err)
	}
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("catalog: load products: %w", err)
		}
		loaded[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("catalog: load products: %w", err)
	}
	touched := make(map[string]projections.Product, len(ids))
	get := func(id string) (projections.Product, bool) {
		if p, ok := touched[id]; ok {
			return p, true
		}
		p, ok := loaded[id]
		return p, ok
	}
	for _, e := range evs {
		if !projections.CatalogFilter.Match(e) {
			continue
		}
		p, err := projections.FoldProduct(c.Codec, get, e)
		if err != nil {
			return err
		}
		if !rmStorable(p.ID, p.SKU, p.Name, p.Description, p.Category, p.Price.Currency, p.ImageURL) {
			return fmt.Errorf("catalog projection at %d: product %q: %w", e.Position, p.ID, ErrUnstorableText)
		}
		touched[p.ID] = p
	}
	return writeProducts(ctx, tx, t, touched)
}

// ErrUnstorableText means an event carries text PostgreSQL cannot store
// (a NUL character, or invalid UTF-8): the projection stops rather than
// serve a product or order other than the log's.
var ErrUnstorableText = errors.New("text PostgreSQL cannot store (NUL or invalid UTF-8)")

// writeProducts upserts ps into table t in one statement.
func writeProducts(ctx context.Context, tx pgx.Tx, t string, ps map[string]projections.Product) error {
	n := len(ps)
	var (
		id, sku, name, desc, cat, cur, img = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n),
			make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		amount, avail, pos               = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
		created, updated                 = make([]time.Time, 0, n), make([]time.Time, 0, n)
		kNew, kName, kAsc, kDesc, search = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n),
			make([]string, 0, n), make([]string, 0, n)
	)
	for _, p := range ps {
		id, sku, name, desc, cat = append(id, p.ID), append(sku, p.SKU), append(name, p.Name), append(desc, p.Description), append(cat, p.Category)
		amount, cur, avail, img = append(amount, p.Price.Amount), append(cur, p.Price.Currency), append(avail, p.Available), append(img, p.ImageURL)
		created, updated, pos = append(created, p.CreatedAt), append(updated, p.UpdatedAt), append(pos, int64(p.Created))
		kNew = append(kNew, projections.SortKey(p, projections.SortNewest))
		kName = append(kName, projections.SortKey(p, projections.SortName))
		kAsc = append(kAsc, projections.SortKey(p, projections.SortPriceAsc))
		kDesc = append(kDesc, projections.SortKey(p, projections.SortPriceDesc))
		search = append(search, searchText(p))
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+t+` (`+catalogColumns+`,
			key_newest, key_name, key_price_asc, key_price_desc, search)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
			$8::bigint[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::bigint[],
			$13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
		ON CONFLICT (id) DO UPDATE SET sku = EXCLUDED.sku, name = EXCLUDED.name, description = EXCLUDED.description,
			category = EXCLUDED.category, price_amount = EXCLUDED.price_amount, price_currency = EXCLUDED.price_currency,
			available = EXCLUDED.available, image_url = EXCLUDED.image_url, created_at = EXCLUDED.created_at,
			updated_at = EXCLUDED.updated_at, created_pos = EXCLUDED.created_pos, key_newest = EXCLUDED.key_newest,
			key_name = EXCLUDED.key_name, key_price_asc = EXCLUDED.key_price_asc,
			key_price_desc = EXCLUDED.key_price_desc, search = EXCLUDED.search`,
		id, sku, name, desc, cat, amount, cur, avail, img, created, updated, pos, kNew, kName, kAsc, kDesc, search)
	if err != nil {
		return fmt.Errorf("catalog: write %d products: %w", n, err)
	}
	return nil
}

// searchText is what a text query is matched against: the memory model's
// haystack with \x01 between the fields, as PostgreSQL text cannot hold
// the NUL the memory model uses.
func searchText(p projections.Product) string {
	return strings.ToLower(p.SKU + "\x01" + p.Name + "\x01" + p.Description)
}

// scanProduct reads one row of catalogColumns.
func scanProduct(row pgx.Row) (projections.Product, error) {
	var (
		p       projections.Product
		created int64
	)
	if err := row.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &p.Category, &p.Price.Amount, &p.Price.Currency,
		&p.Available, &p.ImageURL, &p.CreatedAt, &p.UpdatedAt, &created); err != nil {
		return projections.Product{}, err
	}
	p.CreatedAt, p.UpdatedAt, p.Created = p.CreatedAt.UTC(), p.UpdatedAt.UTC(), eventstore.Position(created)
	return p, nil
}

// CatalogReader answers the read API's catalog questions from the views of
// the live catalog generation, exactly as projections.MemoryCatalog does.
type CatalogReader struct {
	Pool *pgxpool.Pool
	NS   Namespace
}

var _ projections.CatalogReader = CatalogReader{}

// Position implements projections.Positioned.
func (r CatalogReader) Position(ctx context.Context) (eventstore.Position, error) {
	return rmPosition(ctx, r.Pool, r.NS, "catalog")
}

// Product implements projections.CatalogReader.
func (r CatalogReader) Product(ctx context.Context, id string) (projections.Product, bool, error) {
	if !rmStorable(id) {
		return projections.Product{}, false, nil
	}
	p, err := scanProduct(r.Pool.QueryRow(ctx, `SELECT `+catalogColumns+` FROM `+rmTable(r.NS.Read(), "products")+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.Product{}, false, nil
	}
	if err != nil {
		return projections.Product{}, false, fmt.Errorf("catalog: product %q: %w", id, err)
	}
	return p, true, nil
}

// sortColumn is the products column holding SortKey(p, order); unknown
// orders sort like newest, as in SortKey.
func sortColumn(order string) string {
	switch order {
	case projections.SortName:
		return "key_name"
	case projections.SortPriceAsc:
		return "key_price_asc"
	case projections.SortPriceDesc:
		return "key_price_desc"
	}
	return "key_newest"
}

// catalogScanChunk is how many rows a page query reads at a time when
// PostgreSQL's text match is only a superset of the memory model's (a
// query text holding \x00 or \x01) and Go filters the rest.
const catalogScanChunk = 500

// Products implements projections.CatalogReader: keyset paging over the
// sort key column and id, both in byte order.
func (r CatalogReader) Products(ctx context.Context, q projections.Query) ([]projections.Product, string, error) {
	order := q.SortOrder()
	var after *projections.Cursor
	keyOnly := false
	if q.Cursor != "" {
		c, err := projections.DecodeCursor(q.Cursor, order)
		if err != nil {
			return nil, "", err
		}
		// Stored keys and ids never hold NUL. Against them, an id cut at
		// its first NUL compares the same way; a key k cut there leaves
		// exactly the keys greater than k, whatever the id.
		if cut := cutNUL(c.Key); cut != c.Key {
			keyOnly = true
			c.Key = cut
		}
		c.ID = cutNUL(c.ID)
		after = &c
	}
	size := q.Size()
	if !rmStorable(q.Category) {
		return make([]projections.Product, 0), "", nil // no stored category can equal it
	}
	text := strings.ToLower(q.Text)
	// \x00 -> \x01 maps the memory model's haystack onto the stored
	// search text, so strpos finds every match; it is exact unless the
	// text holds either byte, when Go checks each row as the memory model.
	pgText := strings.ReplaceAll(text, "\x00", "\x01")
	exact := !strings.ContainsAny(text, "\x00\x01")
	col := sortColumn(order)
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if q.Category != "" {
		where = append(where, "category = "+arg(q.Category))
	}
	if q.MinPrice != nil {
		where = append(where, "price_amount >= "+arg(*q.MinPrice))
	}
	if q.MaxPrice != nil {
		where = append(where, "price_amount <= "+arg(*q.MaxPrice))
	}
	if text != "" {
		where = append(where, "strpos(search, "+arg(pgText)+") > 0")
	}
	fixed := len(args)
	need := size + 1
	limit := need
	if !exact {
		limit = max(need, catalogScanChunk)
	}
	out := make([]projections.Product, 0, min(need, 64))
	for {
		args = args[:fixed]
		conds := where
		switch {
		case after != nil && keyOnly:
			conds = append(conds[:len(conds):len(conds)], col+" > "+arg(after.Key))
		case after != nil:
			conds = append(conds[:len(conds):len(conds)], "("+col+", id) > ("+arg(after.Key)+", "+arg(after.ID)+")")
		}
		sql := `SELECT ` + catalogColumns + ` FROM ` + rmTable(r.NS.Read(), "products")
		if len(conds) > 0 {
			sql += ` WHERE ` + strings.Join(conds, " AND ")
		}
		sql += ` ORDER BY ` + col + `, id LIMIT ` + arg(limit)
		rows, err := r.Pool.Query(ctx, sql, args...)
		if err != nil {
			return nil, "", fmt.Errorf("catalog: products: %w", err)
		}
		scanned := 0
		var last projections.Product
		for rows.Next() {
			p, err := scanProduct(rows)
			if err != nil {
				rows.Close()
				return nil, "", fmt.Errorf("catalog: products: %w", err)
			}
			scanned++
			last = p
			if exact || strings.Contains(strings.ToLower(p.SKU+"\x00"+p.Name+"\x00"+p.Description), text) {
				out = append(out, p)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, "", fmt.Errorf("catalog: products: %w", err)
		}
		if len(out) >= need || scanned < limit {
			break
		}
		after, keyOnly = &projections.Cursor{Sort: order, Key: projections.SortKey(last, order), ID: last.ID}, false
	}
	if len(out) <= size {
		return out, "", nil
	}
	out = out[:size]
	end := out[size-1]
	return out, projections.Cursor{Sort: order, Key: projections.SortKey(end, order), ID: end.ID}.Encode(), nil
}

// Categories implements projections.CatalogReader.
func (r CatalogReader) Categories(ctx context.Context) ([]projections.Category, error) {
	rows, err := r.Pool.Query(ctx, `SELECT category, count(*) FROM `+rmTable(r.NS.Read(), "products")+
		` WHERE category <> '' GROUP BY category ORDER BY category`)
	if err != nil {
		return nil, fmt.Errorf("catalog: categories: %w", err)
	}
	out := make([]projections.Category, 0)
	for rows.Next() {
		var (
			c projections.Category
			n int64
		)
		if err := rows.Scan(&c.Name, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catalog: categories: %w", err)
		}
		c.ProductCount = int(n)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog: categories: %w", err)
	}
	return out, nil
}

// rmTable is schema.table quoted as identifiers.
func rmTable(schema, table string) string {
	return pgx.Identifier{schema, table}.Sanitize()
}

// rmStorable reports whether PostgreSQL text can hold every s: no NUL and
// valid UTF-8. Lookups of other values find nothing without asking.
func rmStorable(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// cutNUL returns s up to its first NUL.
func cutNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// rmPosition reads how far model name has processed the log from its
// checkpoint view: the later of its last applied and last read position.
func rmPosition(ctx context.Context, pool *pgxpool.Pool, ns Namespace, name string) (eventstore.Position, error) {
	var pos int64
	err := pool.QueryRow(ctx, `SELECT greatest(position, through) FROM `+rmTable(ns.Read(), "checkpoint_"+name)).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: position: %w", name, err)
	}
	return eventstore.Position(pos), nil
}
