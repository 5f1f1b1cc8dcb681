package cart_test

import (
	"math"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/domain/money"
)

type testCase = decidertest.Case[cart.State]

var (
	t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

const cid = "cart-1"

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

func added(p string, q, price int64) cart.ItemAdded {
	return cart.ItemAdded{CartID: cid, CustomerID: "cust-1", ProductID: p, Quantity: q, UnitPrice: eur(price), At: t0}
}

func add(p string, q int64, price money.Money) cart.AddItem {
	return cart.AddItem{CartID: cid, CustomerID: "cust-1", ProductID: p, Quantity: q, UnitPrice: price, At: t1}
}

func checkedOut(co string) cart.CheckedOut {
	return cart.CheckedOut{CartID: cid, CheckoutID: co, At: t0}
}

func TestAddItem(t *testing.T) {
	t.Parallel()
	decidertest.Run(t, cart.Evolve, cart.Decide, []testCase{
		{Name: "accepted", When: add("p1", 2, eur(500)), Then: []any{
			cart.ItemAdded{CartID: cid, CustomerID: "cust-1", ProductID: "p1", Quantity: 2, UnitPrice: eur(500), At: t1}}},
		{Name: "again up to the cap", Given: []any{added("p1", 98, 500)}, When: add("p1", 1, eur(450)), Then: []any{
			cart.ItemAdded{CartID: cid, CustomerID: "cust-1", ProductID: "p1", Quantity: 1, UnitPrice: eur(450), At: t1}}},
		{Name: "max in one go", When: add("p1", 99, eur(1)), Then: []any{
			cart.ItemAdded{CartID: cid, CustomerID: "cust-1", ProductID: "p1", Quantity: 99, UnitPrice: eur(1), At: t1}}},
		{Name: "again above the cap", Given: []any{added("p1", 98, 500)}, When: add("p1", 2, eur(500)), Err: cart.ErrInvalidQuantity},
		{Name: "zero", When: add("p1", 0, eur(500)), Err: cart.ErrInvalidQuantity},
		{Name: "zero to an existing line", Given: []any{added("p1", 5, 500)}, When: add("p1", 0, eur(500)), Err: cart.ErrInvalidQuantity},
		{Name: "negative to an existing line", Given: []any{added("p1", 5, 500)}, When: add("p1", -1, eur(500)), Err: cart.ErrInvalidQuantity},
		{Name: "negative", When: add("p1", -1, eur(500)), Err: cart.ErrInvalidQuantity},
		{Name: "above cap", When: add("p1", 100, eur(500)), Err: cart.ErrInvalidQuantity},
		{Name: "no product", When: add("", 1, eur(500)), Err: cart.ErrProductIDRequired},
		{Name: "zero price", When: add("p1", 1, eur(0)), Err: cart.ErrInvalidPrice},
		{Name: "bad currency", When: add("p1", 1, money.Money{Amount: 1, Currency: "xx"}), Err: cart.ErrInvalidPrice},
		{Name: "mixed currency", Given: []any{added("p1", 1, 500)}, When: add("p2", 1, money.Money{Amount: 1, Currency: "USD"}), Err: cart.ErrMixedCurrency},
		{Name: "checked out", Given: []any{added("p1", 1, 500), checkedOut("co-1")}, When: add("p2", 1, eur(1)), Err: cart.ErrCartCheckedOut},
		{Name: "after checkout cancelled", Given: []any{added("p1", 1, 500), checkedOut("co-1"), cart.CheckoutCancelled{CheckoutID: "co-1"}}, When: add("p2", 1, eur(1)), Then: []any{
			cart.ItemAdded{CartID: cid, CustomerID: "cust-1", ProductID: "p2", Quantity: 1, UnitPrice: eur(1), At: t1}}},
		{Name: "after cleared", Given: []any{added("p1", 1, 500), checkedOut("co-1"), cart.Cleared{CheckoutID: "co-1"}}, When: add("p1", 99, eur(1)), Then: []any{
			cart.ItemAdded{CartID: cid, CustomerID: "cust-1", ProductID: "p1", Quantity: 99, UnitPrice: eur(1), At: t1}}},
	})
}

func TestChangeItemQuantity(t *testing.T) {
	t.Parallel()
	chg := func(p string, q int64) cart.ChangeItemQuantity {
		return cart.ChangeItemQuantity{CartID: cid, ProductID: p, Quantity: q, At: t1}
	}
	base := []any{added("p1", 2, 500)}
	decidertest.Run(t, cart.Evolve, cart.Decide, []testCase{
		{Name: "accepted", Given: base, When: chg("p1", 5), Then: []any{cart.ItemQuantityChanged{CartID: cid, ProductID: "p1", Quantity: 5, At: t1}}},
		{Name: "same quantity is a no-op", Given: base, When: chg("p1", 2)},
		{Name: "zero", Given: base, When: chg("p1", 0), Err: cart.ErrInvalidQuantity},
		{Name: "above cap", Given: base, When: chg("p1", 100), Err: cart.ErrInvalidQuantity},
		{Name: "absent item", Given: base, When: chg("p2", 1), Err: cart.ErrItemNotInCart},
		{Name: "removed item", Given: []any{added("p1", 2, 500), cart.ItemRemoved{ProductID: "p1"}}, When: chg("p1", 1), Err: cart.ErrItemNotInCart},
		{Name: "checked out", Given: []any{added("p1", 2, 500), checkedOut("co-1")}, When: chg("p1", 3), Err: cart.ErrCartCheckedOut},
	})
}

func TestStockRule(t *testing.T) {
	t.Parallel()
	stock := func(units int64) cart.Availability { return cart.Availability{Known: true, Units: units} }
	addIn := func(q int64, a cart.Availability) cart.AddItem {
		c := add("p1", q, eur(500))
		c.Available = a
		return c
	}
	chg := func(q int64, a cart.Availability) cart.ChangeItemQuantity {
		return cart.ChangeItemQuantity{CartID: cid, ProductID: "p1", Quantity: q, Available: a, At: t1}
	}
	base := []any{added("p1", 2, 500)}
	decidertest.Run(t, cart.Evolve, cart.Decide, []testCase{
		{Name: "add within what is available", Given: base, When: addIn(1, stock(3)), Then: []any{
			cart.ItemAdded{CartID: cid, CustomerID: "cust-1", ProductID: "p1", Quantity: 1, UnitPrice: eur(500), At: t1}}},
		{Name: "add counts the units already in the line", Given: base, When: addIn(2, stock(3)), Err: catalog.ErrInsufficientStock},
		{Name: "add to an empty cart beyond what is available", When: addIn(4, stock(3)), Err: catalog.ErrInsufficientStock},
		{Name: "add with nothing available", When: addIn(1, stock(0)), Err: catalog.ErrInsufficientStock},
		{Name: "add with availability unknown sets no bound", When: addIn(50, cart.Availability{}), Then: []any{
			cart.ItemAdded{CartID: cid, CustomerID: "cust-1", ProductID: "p1", Quantity: 50, UnitPrice: eur(500), At: t1}}},
		{Name: "add short of stock to a checked-out cart reports the stock first", Given: []any{added("p1", 2, 500), checkedOut("co-1")},
			When: addIn(2, stock(3)), Err: catalog.ErrInsufficientStock},
		{Name: "change within what is available", Given: base, When: chg(3, stock(3)), Then: []any{
			cart.ItemQuantityChanged{CartID: cid, ProductID: "p1", Quantity: 3, At: t1}}},
		{Name: "change beyond what is available", Given: base, When: chg(4, stock(3)), Err: catalog.ErrInsufficientStock},
		{Name: "change down, still beyond what is available", Given: []any{added("p1", 5, 500)}, When: chg(1, stock(0)), Err: catalog.ErrInsufficientStock},
		{Name: "change with availability unknown sets no bound", Given: base, When: chg(60, cart.Availability{}), Then: []any{
			cart.ItemQuantityChanged{CartID: cid, ProductID: "p1", Quantity: 60, At: t1}}},
		{Name: "change short of stock of an absent line reports the stock first", Given: base,
			When: cart.ChangeItemQuantity{CartID: cid, ProductID: "p2", Quantity: 2, Available: stock(1), At: t1}, Err: catalog.ErrInsufficientStock},
	})
}

func TestRemoveItem(t *testing.T) {
	t.Parallel()
	rm := func(p string) cart.RemoveItem { return cart.RemoveItem{CartID: cid, ProductID: p, At: t1} }
	decidertest.Run(t, cart.Evolve, cart.Decide, []testCase{
		{Name: "accepted", Given: []any{added("p1", 2, 500)}, When: rm("p1"), Then: []any{cart.ItemRemoved{CartID: cid, ProductID: "p1", At: t1}}},
		{Name: "absent item", Given: []any{added("p1", 2, 500)}, When: rm("p2"), Err: cart.ErrItemNotInCart},
		{Name: "empty cart", When: rm("p1"), Err: cart.ErrItemNotInCart},
		{Name: "checked out", Given: []any{added("p1", 2, 500), checkedOut("co-1")}, When: rm("p1"), Err: cart.ErrCartCheckedOut},
	})
}

func TestCheckOut(t *testing.T) {
	t.Parallel()
	co := func(id string) cart.CheckOut { return cart.CheckOut{CartID: cid, CheckoutID: id, At: t1} }
	decidertest.Run(t, cart.Evolve, cart.Decide, []testCase{
		{Name: "priced snapshot sorted by product", Given: []any{
			added("p2", 1, 300), added("p1", 2, 500), added("p1", 1, 450), cart.ItemQuantityChanged{ProductID: "p2", Quantity: 4},
		}, When: co("co-1"), Then: []any{cart.CheckedOut{
			CartID: cid, CustomerID: "cust-1", CheckoutID: "co-1", At: t1, Total: eur(3*450 + 4*300),
			Lines: []cart.PricedLine{
				{ProductID: "p1", Quantity: 3, UnitPrice: eur(450), LineTotal: eur(1350)},
				{ProductID: "p2", Quantity: 4, UnitPrice: eur(300), LineTotal: eur(1200)},
			},
		}}},
		{Name: "empty", When: co("co-1"), Err: cart.ErrCartEmpty},
		{Name: "emptied", Given: []any{added("p1", 1, 1), cart.ItemRemoved{ProductID: "p1"}}, When: co("co-1"), Err: cart.ErrCartEmpty},
		{Name: "twice", Given: []any{added("p1", 1, 1), checkedOut("co-1")}, When: co("co-2"), Err: cart.ErrCartCheckedOut},
		{Name: "no checkout id", Given: []any{added("p1", 1, 1)}, When: co(""), Err: cart.ErrCheckoutIDRequired},
		{Name: "total overflow", Given: []any{added("p1", 99, math.MaxInt64/50)}, When: co("co-1"), Err: cart.ErrTotalOverflow},
		{Name: "sum overflow", Given: []any{added("p1", 1, math.MaxInt64), added("p2", 1, 1)}, When: co("co-1"), Err: cart.ErrTotalOverflow},
	})
}

func TestCancelCheckout(t *testing.T) {
	t.Parallel()
	cc := func(id string) cart.CancelCheckout {
		return cart.CancelCheckout{CartID: cid, CheckoutID: id, Reason: "payment failed", At: t1}
	}
	base := []any{added("p1", 1, 1), checkedOut("co-1")}
	decidertest.Run(t, cart.Evolve, cart.Decide, []testCase{
		{Name: "accepted", Given: base, When: cc("co-1"), Then: []any{cart.CheckoutCancelled{CartID: cid, CheckoutID: "co-1", Reason: "payment failed", At: t1}}},
		{Name: "other checkout", Given: base, When: cc("co-2"), Err: cart.ErrNotCheckedOut},
		{Name: "not checked out", Given: []any{added("p1", 1, 1)}, When: cc("co-1"), Err: cart.ErrNotCheckedOut},
		{Name: "twice", Given: append(base, cart.CheckoutCancelled{CheckoutID: "co-1"}), When: cc("co-1"), Err: cart.ErrNotCheckedOut},
		{Name: "no id", Given: base, When: cc(""), Err: cart.ErrCheckoutIDRequired},
	})
}

func TestClear(t *testing.T) {
	t.Parallel()
	clr := func(co string) cart.Clear { return cart.Clear{CartID: cid, CheckoutID: co, At: t1} }
	base := []any{added("p1", 1, 1), checkedOut("co-1")}
	decidertest.Run(t, cart.Evolve, cart.Decide, []testCase{
		{Name: "by its checkout", Given: base, When: clr("co-1"), Then: []any{cart.Cleared{CartID: cid, CheckoutID: "co-1", At: t1}}},
		{Name: "by shopper", Given: []any{added("p1", 1, 1)}, When: clr(""), Then: []any{cart.Cleared{CartID: cid, At: t1}}},
		{Name: "by shopper while checked out", Given: base, When: clr(""), Err: cart.ErrCartCheckedOut},
		{Name: "by another checkout", Given: base, When: clr("co-2"), Err: cart.ErrNotCheckedOut},
		{Name: "by checkout twice", Given: append(base, cart.Cleared{CheckoutID: "co-1"}), When: clr("co-1"), Err: cart.ErrNotCheckedOut},
		{Name: "empty by shopper is a no-op", When: clr("")},
	})
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	decidertest.Run(t, cart.Evolve, cart.Decide, []testCase{
		{Name: "foreign command", When: 42, Err: cart.ErrUnknownCommand},
	})
}

func TestEvolveDoesNotMutate(t *testing.T) {
	t.Parallel()
	s := cart.Evolve(cart.State{}, added("p1", 1, 1))
	_ = cart.Evolve(s, added("p1", 5, 1))
	_ = cart.Evolve(s, cart.ItemRemoved{ProductID: "p1"})
	_ = cart.Evolve(s, cart.ItemQuantityChanged{ProductID: "p1", Quantity: 7})
	if s.Lines["p1"].Quantity != 1 {
		t.Fatalf("Evolve mutated its input: %+v", s.Lines)
	}
	if cart.Evolve(s, "noise").Lines["p1"].Quantity != 1 {
		t.Fatal("unknown event changed the state")
	}
}
