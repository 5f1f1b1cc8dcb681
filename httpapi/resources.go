package httpapi

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
)

// This file defines each JSON resource of the API once (openapi.json names
// them), with the conversions from what a command returned and from what
// a read model holds.

// Product is the product resource: what a catalog write answers and what
// the catalog reads list.
type Product struct {
	ID          string      `json:"id"`
	SKU         string      `json:"sku"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Category    string      `json:"category"`
	Price       money.Money `json:"price"`
	// Available is on hand minus reserved: what can be bought now.
	Available int64     `json:"available"`
	ImageURL  string    `json:"image_url"`
	UpdatedAt time.Time `json:"updated_at"`
}

// productOfState is the product a catalog command returned, as of at.
func productOfState(s catalog.State, at time.Time) Product {
	return Product{
		ID: s.ProductID, SKU: s.SKU, Name: s.Name, Description: s.Description, Category: s.Category,
		Price: s.Price, Available: s.Available(), ImageURL: s.ImageURL, UpdatedAt: at.UTC(),
	}
}

// productOfModel is the product the catalog read model holds.
func productOfModel(p projections.Product) Product {
	return Product{
		ID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description, Category: p.Category,
		Price: p.Price, Available: p.Available, ImageURL: p.ImageURL, UpdatedAt: p.UpdatedAt,
	}
}

// projectionView is one entry of GET /api/v1/admin/projections.
type projectionView struct {
	Name     string  `json:"name"`
	Position int64   `json:"position"`
	Head     int64   `json:"head"`
	Lag      int64   `json:"lag"`
	Status   string  `json:"status"`
	Error    *string `json:"error"`
	// FailedAt names the event a failed projection is stuck on.
	FailedAt *projections.EventRef `json:"failed_at,omitempty"`
	// Rebuild is the last rebuild this process ran of the projection.
	Rebuild *rebuildView `json:"rebuild,omitempty"`
}

// rebuildView is a projection's last rebuild in the admin API.
type rebuildView struct {
	Running    bool                `json:"running"`
	Position   eventstore.Position `json:"position"`
	Head       eventstore.Position `json:"head"`
	StartedAt  time.Time           `json:"started_at"`
	FinishedAt *time.Time          `json:"finished_at,omitempty"`
	Error      string              `json:"error,omitempty"`
}

// rebuildOfStatus is the rebuild the projections' registry reports.
func rebuildOfStatus(s projections.RebuildStatus) rebuildView {
	return rebuildView{Running: s.Running, Position: s.Position, Head: s.Head, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt, Error: s.Error}
}

// Category is one entry of GET /api/v1/categories.
type Category struct {
	Name         string `json:"name"`
	ProductCount int    `json:"product_count"`
}

// categoryOfModel is the category the catalog read model counts.
func categoryOfModel(c projections.Category) Category {
	return Category{Name: c.Name, ProductCount: c.ProductCount}
}

// Order is the order resource: detail and history entries, and what an
// order command answers.
type Order struct {
	ID             string       `json:"id"`
	UserID         string       `json:"user_id"`
	Status         string       `json:"status"`
	Lines          []order.Line `json:"lines"`
	Total          money.Money  `json:"total"`
	PaymentID      string       `json:"payment_id"`
	Carrier        *string      `json:"carrier"`
	TrackingNumber *string      `json:"tracking_number"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
}

// orderOfModel is the order the orders read model holds.
func orderOfModel(o projections.Order) Order {
	return Order{
		ID: o.ID, UserID: o.UserID, Status: o.Status, Lines: o.Lines, Total: o.Total, PaymentID: o.PaymentID,
		Carrier: o.Carrier, TrackingNumber: o.TrackingNumber, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

// Event is the event resource of the admin API (the stream browser and
// the order timeline), which `commerce timeline --json` prints too.
type Event struct {
	Position      int64           `json:"position"`
	StreamID      string          `json:"stream_id"`
	Version       int64           `json:"version"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schema_version"`
	RecordedAt    time.Time       `json:"recorded_at"`
	Data          json.RawMessage `json:"data"`
	Metadata      json.RawMessage `json:"metadata"`
}

// NewEvent is the resource of a recorded event.
func NewEvent(e eventstore.Event) Event {
	return Event{Position: int64(e.Position), StreamID: e.StreamID, Version: e.Version, Type: e.Type,
		SchemaVersion: e.SchemaVersion, RecordedAt: e.RecordedAt, Data: e.Data, Metadata: e.Metadata}
}

// Timeline is the answer of an order's timeline: every event of its
// checkout across streams, oldest first.
type Timeline struct {
	OrderID string  `json:"order_id"`
	Events  []Event `json:"events"`
}

// CartLine is one line of the cart resource.
type CartLine struct {
	ProductID string      `json:"product_id"`
	SKU       string      `json:"sku"`
	Name      string      `json:"name"`
	Quantity  int64       `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	LineTotal money.Money `json:"line_total"`
	// Available is set by the summary only: units that can be bought now.
	Available *int64 `json:"available,omitempty"`
}

// Cart is the cart resource, as shoppers see it.
type Cart struct {
	Items     []CartLine  `json:"items"`
	ItemCount int64       `json:"item_count"`
	Subtotal  money.Money `json:"subtotal"`
	Total     money.Money `json:"total"`
	// AllAvailable is set by the summary only.
	AllAvailable *bool `json:"all_available,omitempty"`
}

// cartProduct is what a cart line shows of its product.
type cartProduct struct {
	SKU, Name string
	Available int64
}

// renderCart turns a cart into its view, lines in the order they were
// added, with each product's sku and name from product; with summary set
// it adds each line's availability.
func renderCart(s cart.State, product func(id string) (cartProduct, bool, error), summary bool) (Cart, error) {
	ids := make([]string, 0, len(s.Lines))
	for id := range s.Lines {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := s.Lines[ids[i]], s.Lines[ids[j]]
		if !a.AddedAt.Equal(b.AddedAt) {
			return a.AddedAt.Before(b.AddedAt)
		}
		return ids[i] < ids[j]
	})
	cur := s.Currency()
	if cur == "" {
		cur = "EUR"
	}
	v := Cart{Items: []CartLine{}, Subtotal: money.Money{Currency: cur}}
	all := true
	for _, id := range ids {
		l := s.Lines[id]
		total, err := l.UnitPrice.Mul(l.Quantity)
		if err != nil {
			return Cart{}, err
		}
		line := CartLine{ProductID: id, Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: total}
		p, ok, err := product(id)
		if err != nil {
			return Cart{}, err
		}
		if ok {
			line.SKU, line.Name = p.SKU, p.Name
		}
		if summary {
			avail := p.Available
			line.Available = &avail
			all = all && ok && avail >= l.Quantity
		}
		v.Items = append(v.Items, line)
		v.ItemCount += l.Quantity
		if v.Subtotal, err = v.Subtotal.Add(total); err != nil {
			return Cart{}, err
		}
	}
	v.Total = v.Subtotal
	if summary {
		v.AllAvailable = &all
	}
	return v, nil
}

// mapSlice converts each element with f; nil stays nil, so that an answer
// renders null or [] as the model returned it.
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
