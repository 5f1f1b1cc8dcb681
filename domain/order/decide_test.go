package order_test

import (
	"math"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
)

type testCase = decidertest.Case[order.State]

var (
	t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

const id = "ord-1"

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

func placed() order.Placed {
	return order.Placed{
		OrderID: id, CustomerID: "cust-1", CheckoutID: "co-1", PaymentID: "pay-1", At: t0, Total: eur(2*500 + 300),
		Lines: []order.Line{
			{ProductID: "p1", Quantity: 2, UnitPrice: eur(500), LineTotal: eur(1000)},
			{ProductID: "p2", Quantity: 1, UnitPrice: eur(300), LineTotal: eur(300)},
		},
	}
}

var (
	processing = order.Processing{OrderID: id, At: t0}
	shipped    = order.Shipped{OrderID: id, Carrier: "DHL", TrackingNumber: "JD0001", At: t0}
	delivered  = order.Delivered{OrderID: id, At: t0}
	cancelled  = order.Cancelled{OrderID: id, Reason: "changed mind", At: t0}
	refunded   = order.Refunded{OrderID: id, PaymentID: "pay-1", Amount: eur(1300), At: t0}
)

func given(more ...any) []any { return append([]any{placed()}, more...) }

func TestPlace(t *testing.T) {
	t.Parallel()
	ok := order.Place{
		OrderID: id, CustomerID: "cust-1", CheckoutID: "co-1", PaymentID: "pay-1", Paid: eur(1300), At: t0,
		Lines: []order.PlaceLine{{ProductID: "p1", Quantity: 2, UnitPrice: eur(500)}, {ProductID: "p2", Quantity: 1, UnitPrice: eur(300)}},
	}
	with := func(f func(*order.Place)) order.Place {
		c := ok
		c.Lines = append([]order.PlaceLine{}, ok.Lines...)
		f(&c)
		return c
	}
	decidertest.Run(t, order.Evolve, order.Decide, []testCase{
		{Name: "accepted", When: ok, Then: []any{placed()}},
		{Name: "twice", Given: given(), When: ok, Err: order.ErrOrderExists},
		{Name: "no order id", When: with(func(c *order.Place) { c.OrderID = "" }), Err: order.ErrOrderIDRequired},
		{Name: "no customer", When: with(func(c *order.Place) { c.CustomerID = "" }), Err: order.ErrCustomerRequired},
		{Name: "no checkout", When: with(func(c *order.Place) { c.CheckoutID = "" }), Err: order.ErrCheckoutRequired},
		{Name: "unpaid", When: with(func(c *order.Place) { c.PaymentID = "" }), Err: order.ErrPaymentRequired},
		{Name: "no lines", When: with(func(c *order.Place) { c.Lines = nil }), Err: order.ErrNoLines},
		{Name: "line without product", When: with(func(c *order.Place) { c.Lines[1].ProductID = "" }), Err: order.ErrInvalidLine},
		{Name: "line quantity zero", When: with(func(c *order.Place) { c.Lines[0].Quantity = 0 }), Err: order.ErrInvalidLine},
		{Name: "line price zero", When: with(func(c *order.Place) { c.Lines[0].UnitPrice = eur(0) }), Err: order.ErrInvalidLine},
		{Name: "line currency invalid", When: with(func(c *order.Place) { c.Lines[0].UnitPrice.Currency = "" }), Err: order.ErrInvalidLine},
		{Name: "mixed line currencies", When: with(func(c *order.Place) { c.Lines[1].UnitPrice.Currency = "USD" }), Err: order.ErrMixedCurrency},
		{Name: "paid in other currency", When: with(func(c *order.Place) { c.Paid.Currency = "USD" }), Err: order.ErrMixedCurrency},
		{Name: "paid too little", When: with(func(c *order.Place) { c.Paid = eur(1299) }), Err: order.ErrTotalMismatch},
		{Name: "paid too much", When: with(func(c *order.Place) { c.Paid = eur(1301) }), Err: order.ErrTotalMismatch},
		{Name: "total overflows", When: with(func(c *order.Place) { c.Lines[0].UnitPrice = eur(math.MaxInt64) }), Err: order.ErrTotalMismatch},
		{Name: "overflowing line is not dropped from the total", When: with(func(c *order.Place) { c.Lines[0].UnitPrice = eur(math.MaxInt64); c.Paid = eur(300) }), Err: order.ErrTotalMismatch},
		{Name: "sum overflows", When: with(func(c *order.Place) {
			c.Lines = []order.PlaceLine{{ProductID: "p1", Quantity: 1, UnitPrice: eur(math.MaxInt64)}, {ProductID: "p2", Quantity: 1, UnitPrice: eur(1)}}
			c.Paid = eur(math.MinInt64)
		}), Err: order.ErrTotalMismatch},
	})
}

func TestStartProcessing(t *testing.T) {
	t.Parallel()
	cmd := order.StartProcessing{OrderID: id, At: t1}
	decidertest.Run(t, order.Evolve, order.Decide, []testCase{
		{Name: "accepted", Given: given(), When: cmd, Then: []any{order.Processing{OrderID: id, At: t1}}},
		{Name: "unpaid", When: cmd, Err: order.ErrOrderNotPaid},
		{Name: "unpaid is not found", When: cmd, Err: order.ErrOrderNotFound},
		{Name: "twice", Given: given(processing), When: cmd, Err: order.ErrInvalidTransition},
		{Name: "after shipping", Given: given(shipped), When: cmd, Err: order.ErrInvalidTransition},
		{Name: "after cancel", Given: given(cancelled), When: cmd, Err: order.ErrInvalidTransition},
	})
}

func TestShip(t *testing.T) {
	t.Parallel()
	cmd := order.Ship{OrderID: id, Carrier: " DHL ", TrackingNumber: " JD0001 ", At: t1}
	want := order.Shipped{OrderID: id, Carrier: "DHL", TrackingNumber: "JD0001", At: t1}
	decidertest.Run(t, order.Evolve, order.Decide, []testCase{
		{Name: "from placed", Given: given(), When: cmd, Then: []any{want}},
		{Name: "from processing", Given: given(processing), When: cmd, Then: []any{want}},
		{Name: "before paid", When: cmd, Err: order.ErrOrderNotPaid},
		{Name: "no carrier", Given: given(), When: order.Ship{OrderID: id, TrackingNumber: "x", At: t1}, Err: order.ErrCarrierRequired},
		{Name: "no tracking", Given: given(), When: order.Ship{OrderID: id, Carrier: "DHL", TrackingNumber: "  ", At: t1}, Err: order.ErrTrackingRequired},
		{Name: "NUL in the tracking number", Given: given(), When: order.Ship{OrderID: id, Carrier: "DHL", TrackingNumber: "T\x001", At: t1}, Err: order.ErrInvalidText},
		{Name: "invalid UTF-8 in the carrier", Given: given(), When: order.Ship{OrderID: id, Carrier: "\xffDHL", TrackingNumber: "T1", At: t1}, Err: order.ErrInvalidText},
		{Name: "twice", Given: given(shipped), When: cmd, Err: order.ErrAlreadyShipped},
		{Name: "after delivery", Given: given(shipped, delivered), When: cmd, Err: order.ErrAlreadyShipped},
		{Name: "cancelled", Given: given(cancelled), When: cmd, Err: order.ErrOrderCancelled},
		{Name: "refunded", Given: given(cancelled, refunded), When: cmd, Err: order.ErrOrderCancelled},
	})
}

func TestDeliver(t *testing.T) {
	t.Parallel()
	cmd := order.Deliver{OrderID: id, At: t1}
	decidertest.Run(t, order.Evolve, order.Decide, []testCase{
		{Name: "accepted", Given: given(shipped), When: cmd, Then: []any{order.Delivered{OrderID: id, At: t1}}},
		{Name: "placed", Given: given(), When: cmd, Err: order.ErrNotShipped},
		{Name: "processing", Given: given(processing), When: cmd, Err: order.ErrNotShipped},
		{Name: "cancelled", Given: given(cancelled), When: cmd, Err: order.ErrNotShipped},
		{Name: "twice", Given: given(shipped, delivered), When: cmd, Err: order.ErrAlreadyDelivered},
		{Name: "unknown order", When: cmd, Err: order.ErrOrderNotFound},
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	cmd := order.Cancel{OrderID: id, Reason: " changed mind ", At: t1}
	want := order.Cancelled{OrderID: id, Reason: "changed mind", At: t1}
	decidertest.Run(t, order.Evolve, order.Decide, []testCase{
		{Name: "from placed", Given: given(), When: cmd, Then: []any{want}},
		{Name: "from processing", Given: given(processing), When: cmd, Then: []any{want}},
		{Name: "no reason", Given: given(), When: order.Cancel{OrderID: id, Reason: " ", At: t1}, Err: order.ErrReasonRequired},
		{Name: "after shipping", Given: given(shipped), When: cmd, Err: order.ErrAlreadyShipped},
		{Name: "after delivery", Given: given(shipped, delivered), When: cmd, Err: order.ErrAlreadyShipped},
		{Name: "twice", Given: given(cancelled), When: cmd, Err: order.ErrOrderCancelled},
		{Name: "after refund", Given: given(cancelled, refunded), When: cmd, Err: order.ErrOrderCancelled},
		{Name: "unknown order", When: cmd, Err: order.ErrOrderNotFound},
	})
}

func TestMarkRefunded(t *testing.T) {
	t.Parallel()
	cmd := order.MarkRefunded{OrderID: id, At: t1}
	decidertest.Run(t, order.Evolve, order.Decide, []testCase{
		{Name: "after cancel, whole total", Given: given(cancelled), When: cmd, Then: []any{order.Refunded{OrderID: id, PaymentID: "pay-1", Amount: eur(1300), At: t1}}},
		{Name: "placed", Given: given(), When: cmd, Err: order.ErrNotCancelled},
		{Name: "shipped", Given: given(shipped), When: cmd, Err: order.ErrNotCancelled},
		{Name: "delivered", Given: given(shipped, delivered), When: cmd, Err: order.ErrNotCancelled},
		{Name: "twice", Given: given(cancelled, refunded), When: cmd, Err: order.ErrAlreadyRefunded},
		{Name: "unknown order", When: cmd, Err: order.ErrOrderNotFound},
	})
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	decidertest.Run(t, order.Evolve, order.Decide, []testCase{
		{Name: "foreign command", Given: given(), When: nil, Err: order.ErrUnknownCommand},
	})
}

func TestEvolveIgnoresUnknown(t *testing.T) {
	t.Parallel()
	s := order.Evolve(order.State{}, placed())
	if order.Evolve(s, "noise") != s {
		t.Fatal("unknown event changed the state")
	}
	if s.Total != eur(1300) || s.LineCount != 2 || s.Status != order.StatusPlaced {
		t.Fatalf("placed state = %+v", s)
	}
}

func TestStatusNames(t *testing.T) {
	t.Parallel()
	for s, want := range map[order.Status]string{
		0: "", order.StatusPlaced: "placed", order.StatusProcessing: "processing", order.StatusShipped: "shipped",
		order.StatusDelivered: "delivered", order.StatusCancelled: "cancelled", order.StatusRefunded: "refunded",
	} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", s, got, want)
		}
	}
}
