package checkout_test

import (
	"testing"
	"time"

	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/domain/money"
)

type testCase = decidertest.Case[checkout.State]

var (
	t0  = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	exp = t0.Add(15 * time.Minute)
)

const id = "co-1"

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

var (
	lines     = []checkout.Line{{ProductID: "p1", Quantity: 2, UnitPrice: eur(500), LineTotal: eur(1000)}}
	started   = checkout.Started{CheckoutID: id, CartID: "cart-1", CustomerID: "cust-1", Lines: lines, Total: eur(1000), ExpiresAt: exp, At: t0}
	requested = checkout.PaymentRequested{CheckoutID: id, PaymentID: "pay-1", Provider: "offline", ProviderID: "pi_1", Amount: eur(1000), At: t0}
	paid      = checkout.Paid{CheckoutID: id, PaymentID: "pay-1", At: t0}
	abandoned = checkout.Abandoned{CheckoutID: id, Reason: "expired", At: exp}
	released  = checkout.Released{CheckoutID: id, At: exp}
)

func upTo(events ...any) []any { return append([]any{}, events...) }

func TestStartAndSteps(t *testing.T) {
	t.Parallel()
	start := checkout.Start{CheckoutID: id, CartID: "cart-1", CustomerID: "cust-1", Lines: lines, Total: eur(1000), ExpiresAt: exp, At: t0}
	decidertest.Run(t, checkout.Evolve, checkout.Decide, []testCase{
		{Name: "start", When: start, Then: []any{started}},
		{Name: "start twice", Given: upTo(started), When: start, Err: checkout.ErrCheckoutExists},
		{Name: "start without cart", When: checkout.Start{CheckoutID: id, CustomerID: "c", Lines: lines, Total: eur(1000), ExpiresAt: exp, At: t0}, Err: checkout.ErrInvalidStart},
		{Name: "start already expired", When: checkout.Start{CheckoutID: id, CartID: "c", CustomerID: "c", Lines: lines, Total: eur(1000), ExpiresAt: t0, At: t0}, Err: checkout.ErrInvalidStart},
		{Name: "start without lines", When: checkout.Start{CheckoutID: id, CartID: "c", CustomerID: "c", Total: eur(1000), ExpiresAt: exp, At: t0}, Err: checkout.ErrInvalidPrice},
		{Name: "start with a zero total", When: checkout.Start{CheckoutID: id, CartID: "c", CustomerID: "c", Lines: lines, ExpiresAt: exp, At: t0}, Err: checkout.ErrInvalidPrice},
		{Name: "request payment", Given: upTo(started), When: checkout.RequestPayment{PaymentID: "pay-1", Provider: "offline", ProviderID: "pi_1", Amount: eur(1000), At: t0}, Then: []any{requested}},
		{Name: "request payment again", Given: upTo(started, requested), When: checkout.RequestPayment{PaymentID: "pay-1"}},
		{Name: "request payment after abandon", Given: upTo(started, abandoned), When: checkout.RequestPayment{PaymentID: "pay-1"}, Err: checkout.ErrOutOfOrder},
		{Name: "request payment of unknown checkout", When: checkout.RequestPayment{PaymentID: "pay-1"}, Err: checkout.ErrCheckoutNotFound},
	})
}

func TestPaymentOutcomes(t *testing.T) {
	t.Parallel()
	ok := checkout.PaymentSucceeded{PaymentID: "pay-1", At: t0}
	fail := checkout.PaymentFailed{PaymentID: "pay-1", Reason: "card_declined", At: t0}
	refund := checkout.RefundRequested{CheckoutID: id, PaymentID: "pay-1", Reason: "checkout abandoned: expired", At: t0}
	waiting := upTo(started, requested)
	decidertest.Run(t, checkout.Evolve, checkout.Decide, []testCase{
		{Name: "success while waiting", Given: waiting, When: ok, Then: []any{paid}},
		{Name: "success twice", Given: upTo(started, requested, paid), When: ok},
		{Name: "success after completion", Given: upTo(started, requested, paid, checkout.Completed{}), When: ok},
		{Name: "success of another payment", Given: waiting, When: checkout.PaymentSucceeded{PaymentID: "pay-2"}, Err: checkout.ErrPaymentMismatch},
		{Name: "success after expiry refunds", Given: upTo(started, requested, abandoned), When: ok, Then: []any{refund}},
		{Name: "success after release refunds", Given: upTo(started, requested, abandoned, released), When: ok, Then: []any{refund}},
		{Name: "refund decided once", Given: upTo(started, requested, abandoned, refund), When: ok},
		{Name: "success before its request was recorded", Given: upTo(started), When: ok, Then: []any{paid}},
		{Name: "success once its refund is decided is old news", Given: upTo(started, abandoned, released, checkout.RefundRequested{PaymentID: "pay-1"}), When: ok},
		{Name: "success of unknown checkout", When: ok, Err: checkout.ErrCheckoutNotFound},
		{Name: "failure abandons", Given: waiting, When: fail, Then: []any{checkout.Abandoned{CheckoutID: id, Reason: "payment_failed: card_declined", At: t0}}},
		{Name: "failure after success is old news", Given: upTo(started, requested, paid), When: fail},
		{Name: "failure after abandon is old news", Given: upTo(started, requested, abandoned), When: fail},
		{Name: "failure of another payment", Given: waiting, When: checkout.PaymentFailed{PaymentID: "pay-2"}, Err: checkout.ErrPaymentMismatch},
		{Name: "refund recorded", Given: upTo(started, requested, abandoned, refund), When: checkout.MarkRefunded{At: t0}, Then: []any{checkout.Refunded{CheckoutID: id, PaymentID: "pay-1", At: t0}}},
		{Name: "refund recorded once", Given: upTo(started, requested, abandoned, refund, checkout.Refunded{}), When: checkout.MarkRefunded{At: t0}},
		{Name: "refund recorded without request", Given: waiting, When: checkout.MarkRefunded{At: t0}, Err: checkout.ErrOutOfOrder},
	})
}

func TestAbandonExpireComplete(t *testing.T) {
	t.Parallel()
	waiting := upTo(started, requested)
	decidertest.Run(t, checkout.Evolve, checkout.Decide, []testCase{
		{Name: "abandon short", Given: upTo(started), When: checkout.Abandon{Reason: "stock_short", Short: []checkout.ShortLine{{ProductID: "p1", Requested: 2, Available: 1}}, At: t0},
			Then: []any{checkout.Abandoned{CheckoutID: id, Reason: "stock_short", Short: []checkout.ShortLine{{ProductID: "p1", Requested: 2, Available: 1}}, At: t0}}},
		{Name: "abandon paid", Given: upTo(started, requested, paid), When: checkout.Abandon{Reason: "x"}, Err: checkout.ErrAlreadyPaid},
		{Name: "abandon twice", Given: upTo(started, abandoned), When: checkout.Abandon{Reason: "x"}},
		{Name: "expire before expiry", Given: waiting, When: checkout.Expire{At: exp.Add(-time.Second)}, Err: checkout.ErrNotExpired},
		{Name: "expire at expiry", Given: waiting, When: checkout.Expire{At: exp}, Then: []any{abandoned}},
		{Name: "expire a started checkout (crashed mid-start)", Given: upTo(started), When: checkout.Expire{At: exp}, Then: []any{abandoned}},
		{Name: "expire an unknown checkout", When: checkout.Expire{At: exp}, Err: checkout.ErrCheckoutNotFound},
		{Name: "expire paid", Given: upTo(started, requested, paid), When: checkout.Expire{At: exp}},
		{Name: "expire released", Given: upTo(started, abandoned, released), When: checkout.Expire{At: exp}},
		{Name: "complete", Given: upTo(started, requested, paid), When: checkout.Complete{OrderID: id, At: t0}, Then: []any{checkout.Completed{CheckoutID: id, OrderID: id, At: t0}}},
		{Name: "complete unpaid", Given: waiting, When: checkout.Complete{OrderID: id}, Err: checkout.ErrOutOfOrder},
		{Name: "release", Given: upTo(started, abandoned), When: checkout.MarkReleased{At: exp}, Then: []any{released}},
		{Name: "release twice", Given: upTo(started, abandoned, released), When: checkout.MarkReleased{At: exp}},
		{Name: "release not abandoned", Given: waiting, When: checkout.MarkReleased{At: exp}, Err: checkout.ErrOutOfOrder},
		{Name: "foreign command", Given: waiting, When: struct{}{}, Err: checkout.ErrUnknownCommand},
	})
}
