package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/commands/saga"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/payments"
)

// maxWebhookBytes bounds a webhook body; Stripe's events are a few KiB.
const maxWebhookBytes = 256 << 10

// Payments is the checkout's HTTP side: intents, the provider's webhook,
// the offline provider's simulator and order cancellation.
type Payments struct {
	API  *API
	Saga *saga.Saga
	// Webhooks verifies and parses the provider's webhook bodies.
	Webhooks payments.Verifier
	// Offline is set when no real provider is configured: it enables the
	// simulate endpoint, which signs with Webhooks.Secret.
	Offline *payments.Offline
}

// Mount registers the payment routes: the webhook without a bearer token
// (Stripe authenticates by signature), the rest behind authn and idem.
func (p *Payments) Mount(r gin.IRouter, authn, idem gin.HandlerFunc) {
	r.POST("/api/v1/payments/webhook", p.webhook)
	v1 := r.Group("/api/v1", authn, idem)
	v1.POST("/payments/intents", p.createIntent)
	v1.POST("/payments/:payment_id/simulate", p.simulate)
	v1.POST("/orders/:id/cancel", p.cancelOrder)
}

type intentView struct {
	CheckoutID   string      `json:"checkout_id"`
	PaymentID    string      `json:"payment_id"`
	ClientSecret string      `json:"client_secret"`
	Amount       money.Money `json:"amount"`
	Status       string      `json:"status"`
	ExpiresAt    time.Time   `json:"expires_at"`
}

// createIntent starts a checkout of the caller's cart (API.md: 201, 409
// with the short lines, 409 empty cart, 403 email not verified, 503 with
// Retry-After while the provider is down).
func (p *Payments) createIntent(c *gin.Context) {
	var req struct{}
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	claims, _ := auth.ClaimsFrom(c)
	ctx := c.Request.Context()
	// Verification is never undone: a cached verified state need not be read again.
	cust, _, err := commands.LoadCached(ctx, p.API.Runner, commands.Customer, customer.StreamID(claims.UserID),
		func(c customer.State) bool { return c.EmailVerified })
	if err != nil {
		fail(c, err)
		return
	}
	if !cust.EmailVerified {
		fail(c, apperr.Forbidden("verify your email address before checking out"))
		return
	}
	intent, err := p.Saga.Start(ctx, claims.UserID, metadata(c, "checkout"))
	var short *saga.ShortError
	switch {
	case errors.As(err, &short):
		if short.Position > 0 {
			httpedge.SetEventPosition(c, short.Position)
		}
		writeShort(c, short.Lines)
		return
	case err != nil:
		fail(c, paymentError(err))
		return
	}
	answer(c, http.StatusCreated, intent.Position, intentView{
		CheckoutID: intent.CheckoutID, PaymentID: intent.PaymentID, ClientSecret: intent.ClientSecret,
		Amount: intent.Amount, Status: intent.Status, ExpiresAt: intent.ExpiresAt.UTC(),
	})
}

// shortProblem is the 409 answer of a checkout some of whose lines are
// short: the problem document with the lines as an extension member.
type shortProblem struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Lines  []checkout.ShortLine `json:"lines"`
}

func writeShort(c *gin.Context, lines []checkout.ShortLine) {
	c.Header("Content-Type", "application/problem+json")
	c.Status(http.StatusConflict)
	c.JSON(http.StatusConflict, shortProblem{
		Type: httpedge.ProblemTypeBase + "conflict", Title: "Conflict", Status: http.StatusConflict,
		Detail: "some lines are short of stock; nothing was reserved", Lines: lines,
	})
	c.Abort()
}

// unavailable carries the provider's Retry-After to the edge.
type unavailable struct {
	err   *apperr.Error
	after time.Duration
}

func (u unavailable) Error() string { return u.err.Error() }

// Unwrap lets the edge find the application error inside.
func (u unavailable) Unwrap() error { return u.err }

// RetryAfter says when the provider's circuit may close again.
func (u unavailable) RetryAfter() time.Duration { return u.after }

// paymentError maps the saga's and the provider's errors to API answers.
func paymentError(err error) error {
	var ue *payments.UnavailableError
	switch {
	case errors.As(err, &ue):
		return unavailable{err: apperr.Unavailable("the payment provider is unavailable", err), after: ue.RetryAfter}
	case errors.Is(err, saga.ErrCheckoutInProgress):
		return apperr.Conflict("a checkout of this cart is already in progress", err)
	case errors.Is(err, saga.ErrCartChanged):
		return apperr.Conflict("the cart changed during checkout; nothing is held, try again", err)
	case errors.Is(err, payments.ErrRejected):
		return apperr.Conflict("the payment provider refused the payment", err)
	}
	return err
}

// webhook records a provider event as a command: 200 once recorded, also
// for duplicates and ignored types; 400 for a bad signature or body, with
// nothing recorded.
func (p *Payments) webhook(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxWebhookBytes+1))
	if err != nil {
		fail(c, apperr.Invalid("unreadable body"))
		return
	}
	if len(body) > maxWebhookBytes {
		fail(c, apperr.TooLarge("webhook body too large"))
		return
	}
	pos, err := p.Record(c.Request.Context(), body, c.GetHeader("Stripe-Signature"), c.GetHeader("traceparent"))
	if err != nil {
		fail(c, err)
		return
	}
	answer(c, http.StatusOK, pos, gin.H{"received": true})
}

// Record verifies one webhook body and records it as a payment command,
// deduplicated by the provider's event id. The simulate endpoint sends its
// signed events through here too.
func (p *Payments) Record(ctx context.Context, body []byte, signature, trace string) (eventstore.Position, error) {
	ev, err := p.Webhooks.Parse(body, signature)
	switch {
	case errors.Is(err, payments.ErrBadSignature):
		return 0, apperr.Invalid("bad Stripe-Signature")
	case err != nil:
		return 0, apperr.Invalid("bad webhook body: " + err.Error())
	}
	var cmd any
	at := ev.Created
	if at.IsZero() {
		at = p.API.Now()
	}
	switch ev.Type {
	case payments.EventPaymentSucceeded:
		cmd = payment.MarkSucceeded{PaymentID: ev.PaymentID, Amount: ev.Amount, At: at}
	case payments.EventPaymentFailed:
		cmd = payment.MarkFailed{PaymentID: ev.PaymentID, Reason: ev.FailureReason, At: at}
	case payments.EventChargeRefunded:
		cmd = payment.RecordRefund{PaymentID: ev.PaymentID, TotalRefunded: ev.AmountRefunded, Reason: "refunded at the provider", At: at}
	default:
		return 0, nil
	}
	stream := payment.StreamID(ev.PaymentID)
	// What is checked here (recorded, its provider intent and checkout) never
	// changes once recorded; the command below decides on the current state.
	current, _, err := commands.LoadCached(ctx, p.API.Runner, commands.Payment, stream, paymentRecorded)
	if err != nil {
		return 0, err
	}
	if current.Status == 0 {
		// Not recorded yet (or not ours): a non-2xx makes Stripe retry.
		return 0, apperr.Conflict("payment "+ev.PaymentID+" is not recorded (yet)", payment.ErrPaymentNotFound)
	}
	if current.ProviderID != ev.ProviderID {
		return 0, apperr.Invalid(fmt.Sprintf("event names payment %s with another provider intent", ev.PaymentID))
	}
	res, err := commands.Handle(ctx, p.API.Runner, commands.Payment, stream, cmd, commands.Metadata{
		CommandID: "webhook/" + ev.ID, CorrelationID: current.CheckoutID, CausationID: ev.ID,
		Actor: "provider:" + p.Saga.Provider().Name(), TraceParent: trace,
	})
	switch {
	case errors.Is(err, payment.ErrAmountMismatch), errors.Is(err, payment.ErrRefundExceedsPayment), errors.Is(err, payment.ErrInvalidAmount):
		return 0, apperr.Invalid("webhook contradicts the recorded payment: " + err.Error())
	case err != nil:
		return 0, err
	}
	return res.Position, nil
}

type simulateRequest struct {
	Outcome string `json:"outcome"`
}

// simulate makes the offline provider send a signed webhook for one of the
// caller's payments through the webhook path (404 with a real provider).
func (p *Payments) simulate(c *gin.Context) {
	if p.Offline == nil {
		fail(c, apperr.NotFound("not found"))
		return
	}
	id, ok := pathUUID(c, "payment_id")
	if !ok {
		return
	}
	var req simulateRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	var typ string
	switch req.Outcome {
	case "succeeded":
		typ = payments.EventPaymentSucceeded
	case "failed":
		typ = payments.EventPaymentFailed
	default:
		fail(c, apperr.Invalid("invalid simulation", apperr.Field("outcome", "must be succeeded or failed")))
		return
	}
	claims, _ := auth.ClaimsFrom(c)
	ctx := c.Request.Context()
	pay, _, err := commands.LoadCached(ctx, p.API.Runner, commands.Payment, payment.StreamID(id), paymentRecorded)
	if err != nil {
		fail(c, err)
		return
	}
	if pay.Status == 0 || (pay.CustomerID != claims.UserID && claims.Role != customer.RoleAdmin) {
		fail(c, apperr.NotFound("not found"))
		return
	}
	spec := payments.EventSpec{
		Type: typ, ProviderID: pay.ProviderID, PaymentID: id, CheckoutID: pay.CheckoutID, Amount: pay.Amount,
		Created: p.API.Now(),
	}
	if typ == payments.EventPaymentFailed {
		spec.FailureReason = "card_declined (simulated)"
	} else {
		p.Offline.MarkSucceeded(pay.ProviderID)
	}
	body, sig, err := payments.SignedEvent(p.Webhooks.Secret, spec)
	if err != nil {
		fail(c, err)
		return
	}
	pos, err := p.Record(ctx, body, sig, c.GetHeader("traceparent"))
	if err != nil {
		fail(c, err)
		return
	}
	answer(c, http.StatusAccepted, pos, gin.H{"payment_id": id, "outcome": req.Outcome})
}

// cancelOrder cancels the caller's own order (admins: anyone's) before it
// ships; the saga then returns its units to stock and refunds the payment.
func (p *Payments) cancelOrder(c *gin.Context) {
	id, ok := pathUUID(c, "id")
	if !ok {
		return
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if c.Request.ContentLength != 0 {
		if err := httpedge.DecodeJSON(c, &req); err != nil {
			fail(c, err)
			return
		}
	}
	claims, _ := auth.ClaimsFrom(c)
	ctx := c.Request.Context()
	stream := order.StreamID(id)
	o, _, err := commands.Load(ctx, p.API.Runner, commands.Order, stream)
	if err != nil {
		fail(c, err)
		return
	}
	if o.Status == 0 || (o.CustomerID != claims.UserID && claims.Role != customer.RoleAdmin) {
		fail(c, apperr.NotFound("not found"))
		return
	}
	reason := req.Reason
	if reason == "" {
		reason = "cancelled by " + string(claims.Role)
	}
	if len(reason) > 500 {
		fail(c, apperr.Invalid("invalid cancellation", apperr.Field("reason", "at most 500 bytes")))
		return
	}
	m := metadata(c, "cancel")
	m.CorrelationID = o.CheckoutID
	res, err := commands.Handle(ctx, p.API.Runner, commands.Order, stream, order.Cancel{OrderID: id, Reason: reason, At: p.API.Now()}, m)
	if err != nil {
		fail(c, err)
		return
	}
	p.API.writeOrder(c, id, res)
}

// paymentRecorded holds once a payment's intent is recorded: from then on
// its provider intent, checkout, customer and amount never change.
func paymentRecorded(p payment.State) bool { return p.Status != 0 }
