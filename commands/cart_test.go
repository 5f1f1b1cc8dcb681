package commands_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
)

func TestAddToCartChecksTheProduct(t *testing.T) {
	t.Parallel()
	r := mustRunner(t)
	r.Codec = commands.NewCodec()
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	price := money.Money{Amount: 1999, Currency: "EUR"}
	if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID("p1"),
		catalog.CreateProduct{ProductID: "p1", SKU: "SKU-1", Name: "Mug", Price: price, At: at}, meta("create")); err != nil {
		t.Fatal(err)
	}
	if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID("p1"),
		catalog.AdjustStock{ProductID: "p1", Delta: 3, At: at}, meta("stock")); err != nil {
		t.Fatal(err)
	}
	add := func(id, product string, qty int64) (commands.Result[cart.State], error) {
		return commands.AddToCart(ctx, r, cart.AddItem{CartID: "c1", CustomerID: "c1", ProductID: product, Quantity: qty, At: at}, meta(id))
	}
	if _, err := add("a1", "missing", 1); !errors.Is(err, catalog.ErrProductNotFound) {
		t.Fatalf("unknown product: %v", err)
	}
	res, err := add("a2", "p1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if l := res.State.Lines["p1"]; l.Quantity != 2 || l.UnitPrice != price {
		t.Fatalf("line = %+v, want 2 at the product's price", l)
	}
	if _, err := add("a3", "p1", 2); !errors.Is(err, catalog.ErrInsufficientStock) {
		t.Fatalf("more than available: %v", err)
	}
	if _, err := commands.ChangeCartQuantity(ctx, r, cart.ChangeItemQuantity{CartID: "c1", ProductID: "p1", Quantity: 4, At: at}, meta("q1")); !errors.Is(err, catalog.ErrInsufficientStock) {
		t.Fatalf("change beyond available: %v", err)
	}
	res, err = commands.ChangeCartQuantity(ctx, r, cart.ChangeItemQuantity{CartID: "c1", ProductID: "p1", Quantity: 3, At: at}, meta("q2"))
	if err != nil || res.State.Lines["p1"].Quantity != 3 {
		t.Fatalf("change within available: %+v, %v", res.State.Lines, err)
	}
}
