package httpapi

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/projections"
)

// HeaderMinPosition asks a read to wait until its model has applied that
// position.
const HeaderMinPosition = httpedge.HeaderMinPosition

// DefaultMaxWait bounds how long a read waits for X-Min-Position.
const DefaultMaxWait = 5 * time.Second

// Reads serves the read endpoints from the read models, never from the
// event store's streams, and honours X-Min-Position so a client can read
// its own writes.
type Reads struct {
	Catalog projections.CatalogReader
	Carts   projections.CartReader
	Orders  projections.OrderReader
	// Correlations finds the events of an order's checkout for its timeline.
	Correlations projections.CorrelationReader
	// Projections reports the status of every projection of this process.
	Projections *projections.Runner
	// Rebuilds rebuilds projections on an admin's request; Lifetime is the
	// context they run under (the process's, not the request's).
	Rebuilds *projections.Rebuilds
	Lifetime context.Context
	// Store and Codec serve the admin's raw stream browser and the replay
	// of an order to a past position.
	Store eventstore.Store
	Codec *eventstore.Codec
	// CatalogCache, when set, answers catalog reads from a cache of
	// rendered answers (readapi/cache) in front of Catalog.
	CatalogCache gin.HandlerFunc
	// MaxWait overrides DefaultMaxWait (tests).
	MaxWait time.Duration
}

// Mount registers the public catalog routes on r, and the caller's own
// cart behind authn.
func (a *Reads) Mount(r gin.IRouter, authn gin.HandlerFunc) {
	v1 := r.Group("/api/v1")
	catalog := []gin.HandlerFunc{a.waitFor(a.through("catalog", a.Catalog))}
	if a.CatalogCache != nil {
		catalog = append(catalog, a.CatalogCache)
	}
	with := func(h gin.HandlerFunc) []gin.HandlerFunc { return append(catalog[:len(catalog):len(catalog)], h) }
	v1.GET("/products", with(a.listProducts)...)
	v1.GET("/products/:id", with(a.getProduct)...)
	v1.GET("/categories", with(a.categories)...)
	if a.Orders != nil {
		a.mountOrders(v1, authn)
	}
	if a.Carts != nil {
		// A cart's view names its products from the catalog: both models
		// must have reached the position.
		carts, catalog := a.through("carts", a.Carts), a.through("catalog", a.Catalog)
		both := a.waitFor(func(ctx context.Context) (eventstore.Position, error) {
			p1, err1 := carts(ctx)
			p2, err2 := catalog(ctx)
			return min(p1, p2), errors.Join(err1, err2)
		})
		v1.GET("/cart", authn, both, a.cart(false))
		v1.GET("/cart/summary", authn, both, a.cart(true))
	}
}

// through returns how far projection name has processed the log: from the
// runner when there is one (it counts events the filter skips), else the
// model's own checkpoint.
func (a *Reads) through(name string, model projections.Positioned) func(context.Context) (eventstore.Position, error) {
	return func(ctx context.Context) (eventstore.Position, error) {
		pos, err := model.Position(ctx)
		if a.Projections != nil {
			pos = max(pos, a.Projections.Through(name))
		}
		return pos, err
	}
}

// OrdersThrough is how far the shopper's order reads have applied the log:
// what a live push waits for, so that the order it announces can be read.
func (a *Reads) OrdersThrough(ctx context.Context) (eventstore.Position, error) {
	return a.through("orders", a.Orders)(ctx)
}

// errModelUnavailable is the 503 of a read whose model's store (Redis,
// PostgreSQL) cannot be reached: nothing is lost, the client retries.
type errModelUnavailable struct {
	model string
	err   error
}

func (e errModelUnavailable) Error() string {
	return "the " + e.model + " read model is unavailable: " + e.err.Error()
}
func (e errModelUnavailable) Unwrap() error             { return e.err }
func (e errModelUnavailable) RetryAfter() time.Duration { return time.Second }

// modelUnavailable wraps a read model's failure as a 503 with Retry-After,
// keeping the cause for the log but not for the client.
func modelUnavailable(model string, err error) error {
	return apperr.Unavailable("the "+model+" are unavailable, try again shortly", errModelUnavailable{model: model, err: err})
}

// errNotCaughtUp is the 503 of a read whose model did not reach the
// position the client asked for in time.
type errNotCaughtUp struct{}

func (errNotCaughtUp) Error() string             { return "the read model has not caught up yet" }
func (errNotCaughtUp) RetryAfter() time.Duration { return time.Second }

// waitFor holds a request until position() reaches X-Min-Position, at most
// MaxWait; then it answers 503 with Retry-After.
func (a *Reads) waitFor(position func(context.Context) (eventstore.Position, error)) gin.HandlerFunc {
	return WaitFor(position, a.MaxWait)
}

// WaitFor is X-Min-Position for any reader that knows how far the log has
// reached it (a read model, the relay): it holds the request until
// position() reaches the header's value, at most wait (DefaultMaxWait when
// zero), then answers 503 with Retry-After; a malformed header is a 400.
func WaitFor(position func(context.Context) (eventstore.Position, error), wait time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := c.GetHeader(HeaderMinPosition)
		if raw == "" {
			c.Next()
			return
		}
		want, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || want < 0 {
			httpedge.WriteError(c, apperr.Invalid("invalid "+HeaderMinPosition, apperr.Field(HeaderMinPosition, "must be a position, a whole number >= 0")))
			c.Abort()
			return
		}
		if wait <= 0 {
			wait = DefaultMaxWait
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), wait)
		defer cancel()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			pos, err := position(ctx)
			if err == nil && pos >= eventstore.Position(want) {
				break
			}
			select {
			case <-ctx.Done():
				httpedge.WriteError(c, apperr.Unavailable("the read model has not reached position "+raw+" yet", errNotCaughtUp{}))
				c.Abort()
				return
			case <-tick.C:
			}
		}
		c.Next()
	}
}
