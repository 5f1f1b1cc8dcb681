package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/httpedge"
)

// viewCart renders the cart a command returned with each line's product
// sku and name, from the write side's cached product states (at most
// commands.PeekMaxAge old), never from a read model.
func (a *API) viewCart(ctx context.Context, s cart.State) (Cart, error) {
	return renderCart(s, func(id string) (cartProduct, bool, error) {
		p, _, err := commands.Peek(ctx, a.Runner, commands.Product, catalog.StreamID(id))
		if err != nil {
			return cartProduct{}, false, err
		}
		return cartProduct{SKU: p.SKU, Name: p.Name, Available: p.Available()}, p.Exists, nil
	}, false)
}

type addItemRequest struct {
	ProductID string `json:"product_id"`
	Quantity  *int64 `json:"quantity"`
}

type quantityRequest struct {
	Quantity *int64 `json:"quantity"`
}

func (a *API) addCartItem(c *gin.Context) {
	var req addItemRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	var fields []apperr.FieldError
	if !isUUID(req.ProductID) {
		fields = append(fields, apperr.Field("product_id", "must be a product id"))
	}
	if req.Quantity == nil || *req.Quantity < 1 || *req.Quantity > cart.MaxLineQuantity {
		fields = append(fields, apperr.Field("quantity", "must be between 1 and 99"))
	}
	if len(fields) > 0 {
		fail(c, apperr.Invalid("invalid cart item", fields...))
		return
	}
	user := userID(c)
	res, err := commands.AddToCart(c.Request.Context(), a.Runner, cart.AddItem{
		CartID: user, CustomerID: user, ProductID: req.ProductID, Quantity: *req.Quantity, At: a.Now(),
	}, metadata(c, "add"))
	a.answerCart(c, res, err)
}

func (a *API) changeCartItem(c *gin.Context) {
	id, ok := pathUUID(c, "product_id")
	if !ok {
		return
	}
	var req quantityRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.Quantity == nil || *req.Quantity < 0 || *req.Quantity > cart.MaxLineQuantity {
		fail(c, apperr.Invalid("invalid quantity", apperr.Field("quantity", "must be between 0 (remove) and 99")))
		return
	}
	user := userID(c)
	if *req.Quantity == 0 {
		res, err := commands.Handle(c.Request.Context(), a.Runner, commands.Cart, cart.StreamID(user),
			cart.RemoveItem{CartID: user, ProductID: id, At: a.Now()}, metadata(c, "remove"))
		a.answerCart(c, res, err)
		return
	}
	res, err := commands.ChangeCartQuantity(c.Request.Context(), a.Runner,
		cart.ChangeItemQuantity{CartID: user, ProductID: id, Quantity: *req.Quantity, At: a.Now()}, metadata(c, "quantity"))
	a.answerCart(c, res, err)
}

func (a *API) removeCartItem(c *gin.Context) {
	id, ok := pathUUID(c, "product_id")
	if !ok {
		return
	}
	user := userID(c)
	res, err := commands.Handle(c.Request.Context(), a.Runner, commands.Cart, cart.StreamID(user),
		cart.RemoveItem{CartID: user, ProductID: id, At: a.Now()}, metadata(c, "remove"))
	a.answerCart(c, res, err)
}

func (a *API) answerCart(c *gin.Context, res commands.Result[cart.State], err error) {
	if err != nil {
		fail(c, err)
		return
	}
	v, err := a.viewCart(c.Request.Context(), res.State)
	if err != nil {
		fail(c, err)
		return
	}
	answer(c, http.StatusOK, res.Position, v)
}

func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

func userID(c *gin.Context) string {
	claims, _ := auth.ClaimsFrom(c)
	return claims.UserID
}

// cart answers the caller's own cart: the cart stream is the user's id, so
// no other cart can be named.
func (a *Reads) cart(summary bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		claims, _ := auth.ClaimsFrom(c)
		ctx := c.Request.Context()
		s, err := a.Carts.Cart(ctx, claims.UserID)
		if err != nil {
			httpedge.WriteError(c, modelUnavailable("carts", err))
			return
		}
		v, err := renderCart(s, func(id string) (cartProduct, bool, error) {
			p, ok, err := a.Catalog.Product(ctx, id)
			return cartProduct{SKU: p.SKU, Name: p.Name, Available: p.Available}, ok, err
		}, summary)
		if err != nil {
			httpedge.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, v)
	}
}
