// Package httpapi is the engine's HTTP API, above both sides: one file per
// resource group, each JSON shape defined once (resources.go). Writes
// (API, Payments) decode a request, run a command through the commands
// package and answer from what the command returned, with
// X-Event-Position; reads (Reads) answer from the read models and honour
// X-Min-Position so a client can read its own writes. httpedge is the
// middleware and problem+json in front of it.
package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpedge"
)

// API holds what the write handlers need; internal/app builds one and mounts
// it with Mount.
type API struct {
	Runner   *commands.Runner
	Accounts *commands.Accounts
	// Now is the clock every command gets its time from.
	Now func() time.Time
}

// Mount registers the catalog admin and cart write routes on r. authn
// verifies the bearer token; admin additionally requires the admin role.
// Both run before these handlers (and before the idempotency middleware).
func (a *API) Mount(r gin.IRouter, authn gin.HandlerFunc, idem gin.HandlerFunc) {
	v1 := r.Group("/api/v1", authn, idem)
	admin := v1.Group("/admin", auth.RequireRole(customer.RoleAdmin))
	admin.POST("/products", a.createProduct)
	admin.PUT("/products/:id", a.updateProduct)
	admin.POST("/products/:id/stock", a.adjustStock)
	admin.POST("/orders/:id/status", a.setOrderStatus)

	v1.POST("/cart/items", a.addCartItem)
	v1.PATCH("/cart/items/:product_id", a.changeCartItem)
	v1.DELETE("/cart/items/:product_id", a.removeCartItem)
}

// metadata builds the event metadata of a request's command. The command id
// comes from the Idempotency-Key when there is one, so a retried request
// whose first answer was lost cannot apply its command twice.
func metadata(c *gin.Context, step string) commands.Metadata {
	claims, _ := auth.ClaimsFrom(c)
	ctx := c.Request.Context()
	id := httpedge.RequestID(ctx)
	if key := c.GetHeader(httpedge.HeaderIdempotencyKey); key != "" {
		sum := sha256.Sum256([]byte(claims.UserID + "\x00" + c.Request.Method + " " + c.FullPath() + "\x00" + key))
		id = "idem-" + hex.EncodeToString(sum[:16])
	}
	if id == "" {
		id = uuid.NewString()
	}
	return commands.Metadata{
		CommandID:     id + "/" + step,
		CorrelationID: httpedge.CorrelationID(ctx),
		CausationID:   httpedge.RequestID(ctx),
		Actor:         claims.UserID,
		TraceParent:   c.GetHeader("traceparent"),
	}
}

// domainError turns a domain or command error into the application error
// the edge answers with; unknown errors stay internal.
func domainError(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	for _, m := range errorTable {
		for _, target := range m.errs {
			if errors.Is(err, target) {
				return apperr.Wrap(m.code, m.message(err), err)
			}
		}
	}
	return err
}

type errorMapping struct {
	code apperr.Code
	errs []error
}

func (m errorMapping) message(err error) string {
	switch m.code {
	case apperr.CodeNotFound:
		return "not found"
	case apperr.CodeUnauthorized:
		return "invalid credentials or token"
	case apperr.CodeRateLimited:
		return "too many attempts"
	}
	return err.Error()
}

// errorTable is the one place where domain rules meet HTTP semantics.
var errorTable = []errorMapping{
	{apperr.CodeUnauthorized, []error{commands.ErrBadCredentials, commands.ErrInvalidRefreshToken}},
	{apperr.CodeForbidden, []error{commands.ErrNotAdmin}},
	{apperr.CodeRateLimited, []error{commands.ErrRateLimited}},
	{apperr.CodeNotFound, []error{catalog.ErrProductNotFound, cart.ErrItemNotInCart, order.ErrOrderNotFound}},
	{apperr.CodeConflict, []error{
		catalog.ErrInsufficientStock, catalog.ErrStockBelowReserved, catalog.ErrProductExists,
		cart.ErrCartCheckedOut, cart.ErrCartEmpty, cart.ErrMixedCurrency, commands.ErrConflict, commands.ErrEmailTaken,
		order.ErrInvalidTransition, order.ErrOrderNotPaid, order.ErrAlreadyShipped, order.ErrNotShipped,
		order.ErrAlreadyDelivered, order.ErrOrderCancelled,
	}},
	{apperr.CodeInvalid, []error{
		catalog.ErrInvalidPrice, catalog.ErrInvalidQuantity, catalog.ErrNameRequired, catalog.ErrSKURequired, catalog.ErrInvalidText, order.ErrInvalidText,
		catalog.ErrStockOverflow, cart.ErrInvalidQuantity, cart.ErrInvalidPrice, cart.ErrProductIDRequired,
		money.ErrInvalidCurrency, customer.ErrInvalidEmail, customer.ErrNameRequired,
		auth.ErrPasswordTooShort, auth.ErrPasswordTooLong, auth.ErrPasswordNotUTF8, auth.ErrPasswordControlChars,
		auth.ErrPasswordOneClass, auth.ErrPasswordIsEmail, commands.ErrInvalidVerificationToken,
	}},
}

func fail(c *gin.Context, err error) { httpedge.WriteError(c, domainError(err)) }

func answer(c *gin.Context, status int, pos eventstore.Position, body any) {
	if pos > 0 {
		httpedge.SetEventPosition(c, pos)
	}
	c.JSON(status, body)
}
