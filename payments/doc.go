// Package payments talks to payment providers for the checkout saga: it
// creates payment intents, refunds and cancels them, and turns the
// provider's signed webhooks into WebhookEvent values the engine records.
//
// Two providers implement Provider: Stripe (stripe-go v76 behind a circuit
// breaker) and Offline, the embedded default that needs no Stripe account.
//
// # Webhook API version
//
// stripe-go v76 pins Stripe API version 2023-10-16, and its
// webhook.ConstructEvent rejects any event rendered in another version.
// Stripe renders webhook events in the endpoint's pinned version (or the
// account's default), so an account upgrade would silently turn every
// webhook into an error. Verifier therefore only checks the signature with
// stripe-go (webhook.ValidatePayloadIgnoringTolerance plus its own
// timestamp check against an injected clock) and decodes the few fields the
// engine needs with its own small structs. Those fields (event id, type,
// created, the PaymentIntent or Charge id, amount, currency, metadata,
// last_payment_error) have been stable across API versions, so an event of
// another version parses as long as they are present; a known event type
// missing its PaymentIntent id or metadata.payment_id is ErrBadPayload.
//
// # Setting up the Stripe webhook endpoint
//
//  1. In the Stripe dashboard (Developers, Webhooks) add an endpoint with URL
//     https://<your host>/api/v1/payments/webhook.
//  2. Select exactly the three events the engine records:
//     payment_intent.succeeded, payment_intent.payment_failed and
//     charge.refunded. Other events are acknowledged and ignored, so adding
//     more only costs traffic.
//  3. Copy the endpoint's signing secret ("whsec_...") into
//     STRIPE_WEBHOOK_SECRET. It is a secret: never log it.
//  4. Pin the endpoint to API version 2023-10-16 (the version stripe-go v76
//     and SignedEvent use), or leave it on the account default and rely on
//     the tolerant parsing described above.
//
// Metadata: CreateIntent writes checkout_id, payment_id and customer_id into
// the PaymentIntent's metadata. charge.refunded events carry a Charge, and
// Verifier reads payment_id from the Charge's metadata, relying on Stripe
// copying the PaymentIntent's metadata onto the Charge it creates. Verify
// this once against a test-mode account: a charge.refunded without
// metadata.payment_id is ErrBadPayload (HTTP 400, which Stripe retries).
package payments
