package payment_test

import (
	"testing"
	"time"

	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/payment"
)

type testCase = decidertest.Case[payment.State]

var (
	t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Minute)
)

const id = "pay-1"

func eur(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }

func created() payment.IntentCreated {
	return payment.IntentCreated{PaymentID: id, CheckoutID: "co-1", CustomerID: "cust-1", ProviderID: "pi_123", Amount: eur(5000), At: t0}
}

func succeeded() payment.Succeeded {
	return payment.Succeeded{PaymentID: id, CheckoutID: "co-1", Amount: eur(5000), At: t0}
}

func refunded(a int64) payment.Refunded {
	return payment.Refunded{PaymentID: id, CheckoutID: "co-1", Amount: eur(a), Reason: "cancelled", At: t0}
}

func TestCreateIntent(t *testing.T) {
	t.Parallel()
	ok := payment.CreateIntent{PaymentID: id, CheckoutID: "co-1", CustomerID: "cust-1", ProviderID: "pi_123", Amount: eur(5000), At: t0}
	with := func(f func(*payment.CreateIntent)) payment.CreateIntent { c := ok; f(&c); return c }
	decidertest.Run(t, payment.Evolve, payment.Decide, []testCase{
		{Name: "accepted", When: ok, Then: []any{created()}},
		{Name: "twice", Given: []any{created()}, When: ok, Err: payment.ErrIntentExists},
		{Name: "after failure", Given: []any{created(), payment.Failed{}}, When: ok, Err: payment.ErrIntentExists},
		{Name: "no payment id", When: with(func(c *payment.CreateIntent) { c.PaymentID = "" }), Err: payment.ErrPaymentIDRequired},
		{Name: "no checkout id", When: with(func(c *payment.CreateIntent) { c.CheckoutID = "" }), Err: payment.ErrCheckoutIDRequired},
		{Name: "no provider id", When: with(func(c *payment.CreateIntent) { c.ProviderID = "" }), Err: payment.ErrProviderIDRequired},
		{Name: "zero amount", When: with(func(c *payment.CreateIntent) { c.Amount = eur(0) }), Err: payment.ErrInvalidAmount},
		{Name: "negative amount", When: with(func(c *payment.CreateIntent) { c.Amount = eur(-5) }), Err: payment.ErrInvalidAmount},
		{Name: "bad currency", When: with(func(c *payment.CreateIntent) { c.Amount = money.Money{Amount: 5, Currency: "Eu"} }), Err: payment.ErrInvalidAmount},
	})
}

func TestMarkSucceeded(t *testing.T) {
	t.Parallel()
	ok := payment.MarkSucceeded{PaymentID: id, At: t1}
	want := payment.Succeeded{PaymentID: id, CheckoutID: "co-1", Amount: eur(5000), At: t1}
	decidertest.Run(t, payment.Evolve, payment.Decide, []testCase{
		{Name: "accepted", Given: []any{created()}, When: ok, Then: []any{want}},
		{Name: "accepted with matching amount", Given: []any{created()}, When: payment.MarkSucceeded{PaymentID: id, Amount: eur(5000), At: t1}, Then: []any{want}},
		{Name: "amount mismatch", Given: []any{created()}, When: payment.MarkSucceeded{PaymentID: id, Amount: eur(4999), At: t1}, Err: payment.ErrAmountMismatch},
		{Name: "currency mismatch", Given: []any{created()}, When: payment.MarkSucceeded{PaymentID: id, Amount: money.Money{Amount: 5000, Currency: "USD"}, At: t1}, Err: payment.ErrAmountMismatch},
		{Name: "duplicate is idempotent", Given: []any{created(), succeeded()}, When: ok},
		{Name: "duplicate after refund is idempotent", Given: []any{created(), succeeded(), refunded(5000)}, When: ok},
		{Name: "after failure (retried with another card)", Given: []any{created(), payment.Failed{}}, When: ok, Then: []any{want}},
		{Name: "unknown payment", When: ok, Err: payment.ErrPaymentNotFound},
	})
}

func TestMarkFailed(t *testing.T) {
	t.Parallel()
	ok := payment.MarkFailed{PaymentID: id, Reason: "card_declined", At: t1}
	decidertest.Run(t, payment.Evolve, payment.Decide, []testCase{
		{Name: "accepted", Given: []any{created()}, When: ok, Then: []any{payment.Failed{PaymentID: id, CheckoutID: "co-1", Reason: "card_declined", At: t1}}},
		{Name: "duplicate is idempotent", Given: []any{created(), payment.Failed{}}, When: ok},
		{Name: "after success is old news", Given: []any{created(), succeeded()}, When: ok},
		{Name: "after refund is old news", Given: []any{created(), succeeded(), refunded(5000)}, When: ok},
		{Name: "unknown payment", When: ok, Err: payment.ErrPaymentNotFound},
	})
}

func TestRefund(t *testing.T) {
	t.Parallel()
	rf := func(m money.Money) payment.Refund {
		return payment.Refund{PaymentID: id, Amount: m, Reason: "cancelled", At: t1}
	}
	want := func(a int64) payment.Refunded {
		return payment.Refunded{PaymentID: id, CheckoutID: "co-1", Amount: eur(a), Reason: "cancelled", At: t1}
	}
	paid := []any{created(), succeeded()}
	given := func(more ...any) []any { return append(append([]any{}, paid...), more...) }
	decidertest.Run(t, payment.Evolve, payment.Decide, []testCase{
		{Name: "full", Given: paid, When: rf(eur(5000)), Then: []any{want(5000)}},
		{Name: "partial", Given: paid, When: rf(eur(1000)), Then: []any{want(1000)}},
		{Name: "rest after partial", Given: given(refunded(1000)), When: rf(eur(4000)), Then: []any{want(4000)}},
		{Name: "above paid", Given: paid, When: rf(eur(5001)), Err: payment.ErrRefundExceedsPayment},
		{Name: "above rest", Given: given(refunded(1000)), When: rf(eur(4001)), Err: payment.ErrRefundExceedsPayment},
		{Name: "after full refund", Given: given(refunded(5000)), When: rf(eur(1)), Err: payment.ErrRefundExceedsPayment},
		{Name: "zero", Given: paid, When: rf(eur(0)), Err: payment.ErrInvalidAmount},
		{Name: "negative", Given: paid, When: rf(eur(-1)), Err: payment.ErrInvalidAmount},
		{Name: "other currency", Given: paid, When: rf(money.Money{Amount: 1, Currency: "USD"}), Err: payment.ErrAmountMismatch},
		{Name: "pending", Given: []any{created()}, When: rf(eur(1)), Err: payment.ErrPaymentNotSucceeded},
		{Name: "failed", Given: []any{created(), payment.Failed{}}, When: rf(eur(1)), Err: payment.ErrPaymentNotSucceeded},
		{Name: "unknown payment", When: rf(eur(1)), Err: payment.ErrPaymentNotFound},
	})
}

func TestRecordRefund(t *testing.T) {
	t.Parallel()
	rr := func(total money.Money) payment.RecordRefund {
		return payment.RecordRefund{PaymentID: id, TotalRefunded: total, Reason: "provider", At: t1}
	}
	want := func(a int64) payment.Refunded {
		return payment.Refunded{PaymentID: id, CheckoutID: "co-1", Amount: eur(a), Reason: "provider", At: t1}
	}
	paid := []any{created(), succeeded()}
	success := payment.Succeeded{PaymentID: id, CheckoutID: "co-1", Amount: eur(5000), At: t1}
	decidertest.Run(t, payment.Evolve, payment.Decide, []testCase{
		{Name: "first refund", Given: paid, When: rr(eur(5000)), Then: []any{want(5000)}},
		{Name: "partial", Given: paid, When: rr(eur(1000)), Then: []any{want(1000)}},
		{Name: "records only what is new", Given: append(paid, refunded(1000)), When: rr(eur(3000)), Then: []any{want(2000)}},
		{Name: "redelivered is old news", Given: append(paid, refunded(5000)), When: rr(eur(5000))},
		{Name: "older total is old news", Given: append(paid, refunded(3000)), When: rr(eur(1000))},
		{Name: "before the success it implies", Given: []any{created()}, When: rr(eur(5000)), Then: []any{success, want(5000)}},
		{Name: "after a failure", Given: []any{created(), payment.Failed{}}, When: rr(eur(5000)), Then: []any{success, want(5000)}},
		{Name: "above paid", Given: paid, When: rr(eur(5001)), Err: payment.ErrRefundExceedsPayment},
		{Name: "zero", Given: paid, When: rr(eur(0)), Err: payment.ErrInvalidAmount},
		{Name: "other currency", Given: paid, When: rr(money.Money{Amount: 1, Currency: "USD"}), Err: payment.ErrAmountMismatch},
		{Name: "unknown payment", When: rr(eur(1)), Err: payment.ErrPaymentNotFound},
	})
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	decidertest.Run(t, payment.Evolve, payment.Decide, []testCase{
		{Name: "foreign command", Given: []any{created()}, When: struct{ X int }{1}, Err: payment.ErrUnknownCommand},
	})
}

func TestEvolveStatus(t *testing.T) {
	t.Parallel()
	s := payment.State{}
	for _, e := range []any{created(), succeeded(), refunded(2000), "noise"} {
		s = payment.Evolve(s, e)
	}
	if s.Status != payment.StatusSucceeded || s.Refunded != eur(2000) {
		t.Fatalf("after partial refund: %+v", s)
	}
	if s = payment.Evolve(s, refunded(3000)); s.Status != payment.StatusRefunded {
		t.Fatalf("after full refund: %+v", s)
	}
}
