package projections

import (
	"context"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/eventstore"
)

// The readers below are what the read API asks of a read model. Each model
// has one implementation per store (memory, PostgreSQL, Redis), so the API
// answers the same way on the embedded default and in production.

// Positioned reports how far a model has applied the log: the position of
// the last event it applied, or later when its projection has processed
// the log further without finding events for it. X-Min-Position waits on
// it.
type Positioned interface {
	Position(ctx context.Context) (eventstore.Position, error)
}

// CatalogReader serves the product list, product pages and categories.
type CatalogReader interface {
	Positioned
	// Product returns one product; false when there is none.
	Product(ctx context.Context, id string) (Product, bool, error)
	// Products returns one page of products and the next page's cursor
	// ("" on the last); ErrBadCursor for a cursor it did not make.
	Products(ctx context.Context, q Query) ([]Product, string, error)
	// Categories counts products per category, by name.
	Categories(ctx context.Context) ([]Category, error)
}

// CartReader serves a shopper's own cart.
type CartReader interface {
	Positioned
	// Cart returns the cart of customer cartID; an empty cart when none.
	Cart(ctx context.Context, cartID string) (cart.State, error)
}

// OrderReader serves order detail and each customer's history.
type OrderReader interface {
	Positioned
	// Order returns one order; false when there is none.
	Order(ctx context.Context, id string) (Order, bool, error)
	// OrdersOf returns a customer's orders, newest first.
	OrdersOf(ctx context.Context, userID string) ([]Order, error)
}

// CorrelationReader finds the events of one checkout across streams, for
// an order's timeline.
type CorrelationReader interface {
	Positioned
	// Correlated returns the positions of the events carrying correlation
	// id, in order.
	Correlated(ctx context.Context, id string) ([]eventstore.Position, error)
}
