package projections

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/eventstore"
)

// Product is one product of the catalog read model: what shoppers browse.
// It is a record, not an API shape (httpapi.Product is); the fields tagged
// "-" are bookkeeping that in-process comparisons of read models
// (internal/readmodeltest snapshots) leave out, as the API does.
type Product struct {
	ID          string
	SKU         string
	Name        string
	Description string
	Category    string
	Price       money.Money
	// Available is on hand minus reserved: what can be bought now.
	Available int64
	ImageURL  string
	CreatedAt time.Time `json:"-"`
	UpdatedAt time.Time
	// Created is the position of the product's first event, the tie-break
	// that keeps paging stable.
	Created eventstore.Position `json:"-"`
}

// CatalogFilter is the only stream prefix the catalog projection reads.
var CatalogFilter = eventstore.Filter{StreamPrefix: catalog.StreamPrefix}

// ErrUnknownProduct means a catalog event names a product the model never
// saw created: the log and the model disagree, and the projection stops.
var ErrUnknownProduct = errors.New("catalog event for a product never created")

// MemoryCatalog is the catalog read model held in memory (the embedded
// default), rebuilt from the log at start. Readers never see a batch half
// applied: a batch is applied to copies of the products it touches, which
// replace the originals together with the checkpoint.
type MemoryCatalog struct {
	Codec *eventstore.Codec

	mu       sync.RWMutex
	pos      eventstore.Position
	products map[string]Product
}

// NewMemoryCatalog returns an empty catalog model decoding with codec.
func NewMemoryCatalog(codec *eventstore.Codec) *MemoryCatalog {
	return &MemoryCatalog{Codec: codec, products: map[string]Product{}}
}

// Checkpoint implements Target.
func (m *MemoryCatalog) Checkpoint(context.Context) (eventstore.Position, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pos, nil
}

// Position implements Positioned: the last position applied.
func (m *MemoryCatalog) Position(ctx context.Context) (eventstore.Position, error) {
	return m.Checkpoint(ctx)
}

// Apply implements Target.
func (m *MemoryCatalog) Apply(_ context.Context, evs []eventstore.Event) error {
	m.mu.RLock()
	from := m.pos
	m.mu.RUnlock()
	touched := map[string]Product{}
	get := func(id string) (Product, bool) {
		if p, ok := touched[id]; ok {
			return p, true
		}
		m.mu.RLock()
		p, ok := m.products[id]
		m.mu.RUnlock()
		return p, ok
	}
	last := from
	for _, e := range evs {
		if e.Position <= from {
			continue
		}
		p, err := FoldProduct(m.Codec, get, e)
		if err != nil {
			return err
		}
		touched[p.ID] = p
		last = e.Position
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pos != from {
		return fmt.Errorf("catalog projection: applied concurrently from %d and %d", from, m.pos)
	}
	for id, p := range touched {
		m.products[id] = p
	}
	m.pos = last
	return nil
}

// ProductID names the product a catalog event is about.
func ProductID(e eventstore.Event) string {
	return strings.TrimPrefix(e.StreamID, catalog.StreamPrefix)
}

// FoldProduct is the catalog projection's logic, written once for every
// store (times are kept to the microsecond, PostgreSQL's precision): it returns the product e leaves behind, given the product as
// the model holds it (get). Stores load the products a batch touches,
// fold, and write back.
func FoldProduct(codec *eventstore.Codec, get func(id string) (Product, bool), e eventstore.Event) (Product, error) {
	payload, err := codec.Decode(e)
	if err != nil {
		return Product{}, fmt.Errorf("catalog projection at %d: %w", e.Position, err)
	}
	if created, ok := payload.(catalog.ProductCreated); ok {
		return Product{
			ID: created.ProductID, SKU: created.SKU, Name: created.Name, Description: created.Description,
			Category: created.Category, Price: created.Price, ImageURL: created.ImageURL,
			CreatedAt: created.At.UTC().Truncate(time.Microsecond), UpdatedAt: created.At.UTC().Truncate(time.Microsecond), Created: e.Position,
		}, nil
	}
	p, ok := get(ProductID(e))
	if !ok {
		return Product{}, fmt.Errorf("catalog projection at %d (%s): %w", e.Position, e.Type, ErrUnknownProduct)
	}
	switch ev := payload.(type) {
	case catalog.ProductUpdated:
		p.Name, p.Description, p.Category, p.Price, p.ImageURL = ev.Name, ev.Description, ev.Category, ev.Price, ev.ImageURL
		p.UpdatedAt = ev.At.UTC().Truncate(time.Microsecond)
	case catalog.StockAdjusted:
		p.Available += ev.Delta
		p.UpdatedAt = ev.At.UTC().Truncate(time.Microsecond)
	case catalog.StockReserved:
		p.Available -= ev.Quantity
	case catalog.ReservationReleased:
		p.Available += ev.Quantity
	case catalog.ReservationCommitted:
		// Reserved units leave on hand: available does not change.
	}
	return p, nil
}

// Product implements CatalogReader.
func (m *MemoryCatalog) Product(_ context.Context, id string) (Product, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p, ok := m.products[id]
	return p, ok, nil
}

// Sort orders of the product list.
const (
	SortNewest    = "newest"
	SortName      = "name"
	SortPriceAsc  = "price_asc"
	SortPriceDesc = "price_desc"
)

// Query selects a page of the product list; zero values select everything.
type Query struct {
	Category           string
	Text               string // matched, case-insensitive, in sku, name and description
	MinPrice, MaxPrice *int64 // minor units, inclusive
	Sort               string // newest (default), name, price_asc, price_desc
	PageSize           int
	Cursor             string // from the previous page's NextCursor
}

// ErrBadCursor means a cursor was not made by List (or by this sort).
var ErrBadCursor = errors.New("invalid cursor")

// Cursor is the keyset position a page ends at: the sort, the last
// product's sort key and its id. Every store pages with it, so a cursor
// means the same on each.
type Cursor struct {
	Sort string `json:"s"`
	Key  string `json:"k"`
	ID   string `json:"i"`
}

// Encode renders c as the opaque next_cursor of the API.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor made by Encode for sort order; ErrBadCursor
// for anything else.
func DecodeCursor(raw, order string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	var c Cursor
	if err != nil || json.Unmarshal(b, &c) != nil || c.Sort != order {
		return Cursor{}, ErrBadCursor
	}
	return c, nil
}

// Size returns the page size of q, 20 when none is given.
func (q Query) Size() int {
	if q.PageSize <= 0 {
		return 20
	}
	return q.PageSize
}

// SortOrder returns the sort of q, newest when none is given.
func (q Query) SortOrder() string {
	if q.Sort == "" {
		return SortNewest
	}
	return q.Sort
}

// SortKey orders products for a sort as strings compared byte-wise, so
// that one keyset cursor works for every order.
func SortKey(p Product, order string) string {
	switch order {
	case SortName:
		return strings.ToLower(p.Name)
	case SortPriceAsc:
		return fmt.Sprintf("%020d", p.Price.Amount+1<<62)
	case SortPriceDesc:
		return fmt.Sprintf("%020d", 1<<62-p.Price.Amount)
	}
	return fmt.Sprintf("%020d", 1<<62-int64(p.Created))
}

// Products implements CatalogReader. Paging is by keyset: a product
// added or changed between two pages never makes another one appear twice
// or vanish.
func (m *MemoryCatalog) Products(_ context.Context, q Query) ([]Product, string, error) {
	order := q.SortOrder()
	var after *Cursor
	if q.Cursor != "" {
		c, err := DecodeCursor(q.Cursor, order)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	text := strings.ToLower(q.Text)
	type keyed struct {
		key string
		p   Product
	}
	var rows []keyed
	m.mu.RLock()
	for _, p := range m.products {
		if q.Category != "" && p.Category != q.Category ||
			q.MinPrice != nil && p.Price.Amount < *q.MinPrice ||
			q.MaxPrice != nil && p.Price.Amount > *q.MaxPrice ||
			text != "" && !strings.Contains(strings.ToLower(p.SKU+"\x00"+p.Name+"\x00"+p.Description), text) {
			continue
		}
		rows = append(rows, keyed{SortKey(p, order), p})
	}
	m.mu.RUnlock()
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].key != rows[j].key {
			return rows[i].key < rows[j].key
		}
		return rows[i].p.ID < rows[j].p.ID
	})
	start := 0
	if after != nil {
		start = sort.Search(len(rows), func(i int) bool {
			return rows[i].key > after.Key || rows[i].key == after.Key && rows[i].p.ID > after.ID
		})
	}
	size := q.Size()
	end := min(start+size, len(rows))
	page := make([]Product, 0, end-start)
	for _, r := range rows[start:end] {
		page = append(page, r.p)
	}
	next := ""
	if end < len(rows) {
		next = Cursor{Sort: order, Key: rows[end-1].key, ID: rows[end-1].p.ID}.Encode()
	}
	return page, next, nil
}

// Category is a category of the catalog read model and how many products
// it holds (httpapi.Category is its API shape).
type Category struct {
	Name         string
	ProductCount int
}

// Categories implements CatalogReader.
func (m *MemoryCatalog) Categories(context.Context) ([]Category, error) {
	m.mu.RLock()
	counts := map[string]int{}
	for _, p := range m.products {
		if p.Category != "" {
			counts[p.Category]++
		}
	}
	m.mu.RUnlock()
	out := make([]Category, 0, len(counts))
	for name, n := range counts {
		out = append(out, Category{Name: name, ProductCount: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
