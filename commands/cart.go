package commands

import (
	"context"
	"fmt"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
)

// AddToCart adds quantity units of a product to the customer's cart at the
// product's current price (as this process last saw it: an admin's price
// change reaches the cache with the admin's command or the next reload). It refuses (catalog.ErrProductNotFound,
// catalog.ErrInsufficientStock) a product that does not exist or has fewer
// units available than the cart would then hold (the cart's rule, given the
// product's availability); the check is advisory, stock is only held by the
// reservation at checkout.
func AddToCart(ctx context.Context, r *Runner, cmd cart.AddItem, meta Metadata) (Result[cart.State], error) {
	product, _, err := Peek(ctx, r, Product, catalog.StreamID(cmd.ProductID))
	if err != nil {
		return Result[cart.State]{}, err
	}
	if !product.Exists {
		return Result[cart.State]{}, fmt.Errorf("add %s to cart: %w", cmd.ProductID, catalog.ErrProductNotFound)
	}
	cmd.UnitPrice = product.Price
	cmd.Available = cart.Availability{Known: true, Units: product.Available()}
	return Handle(ctx, r, Cart, cart.StreamID(cmd.CartID), cmd, meta)
}

// ChangeCartQuantity sets a line's quantity, refusing more than is available
// (catalog.ErrInsufficientStock, the cart's rule, given the product's
// availability); a product the catalog does not know sets no bound.
func ChangeCartQuantity(ctx context.Context, r *Runner, cmd cart.ChangeItemQuantity, meta Metadata) (Result[cart.State], error) {
	product, _, err := Peek(ctx, r, Product, catalog.StreamID(cmd.ProductID))
	if err != nil {
		return Result[cart.State]{}, err
	}
	cmd.Available = cart.Availability{}
	if product.Exists {
		cmd.Available = cart.Availability{Known: true, Units: product.Available()}
	}
	return Handle(ctx, r, Cart, cart.StreamID(cmd.CartID), cmd, meta)
}
