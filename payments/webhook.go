package payments

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/commerce-engine/commerce/domain/money"
)

// Webhook event types the engine records; anything else is acknowledged and
// ignored.
const (
	EventPaymentSucceeded = "payment_intent.succeeded"
	EventPaymentFailed    = "payment_intent.payment_failed"
	EventChargeRefunded   = "charge.refunded"
)

// SignedEventAPIVersion is the api_version SignedEvent writes: the version
// stripe-go v76 is pinned to and the one to pin the webhook endpoint to.
const SignedEventAPIVersion = "2023-10-16"

// DefaultWebhookTolerance is how old a Stripe-Signature timestamp may be when
// Verifier.Tolerance is unset; it bounds replay of a captured webhook.
const DefaultWebhookTolerance = webhook.DefaultTolerance

var (
	// ErrBadSignature means the Stripe-Signature header is missing, garbled,
	// too old, or not made with the endpoint secret: answer 400, record
	// nothing.
	ErrBadSignature = errors.New("payments: bad webhook signature")
	// ErrBadPayload means a correctly signed body is not an event the engine
	// can use (not JSON, no id or type, or a known type without its
	// PaymentIntent id, metadata.payment_id or currency): answer 400, record
	// nothing.
	ErrBadPayload = errors.New("payments: bad webhook payload")
)

// WebhookEvent is the part of a Stripe event the engine acts on.
type WebhookEvent struct {
	ID             string      // Stripe event id "evt_..." (dedupe key)
	Type           string      // one of the Event* constants, or any other type to acknowledge and ignore
	APIVersion     string      // the version Stripe rendered the event in
	ProviderID     string      // the PaymentIntent id ("pi_..."); for charge.refunded, the charge's payment_intent
	PaymentID      string      // metadata.payment_id
	CheckoutID     string      // metadata.checkout_id
	Amount         money.Money // succeeded: amount_received (or amount); failed: amount; refunded: the charge amount
	AmountRefunded money.Money // charge.refunded: total refunded so far on the charge
	FailureReason  string      // payment_failed: last_payment_error.message or code
	Created        time.Time   // event creation, whole seconds, UTC
}

// Verifier checks Stripe-Signature with the endpoint secret and parses the
// event. The zero Tolerance means DefaultWebhookTolerance (300 s); a nil Now
// means time.Now. It never logs the secret, the header or the body.
type Verifier struct {
	Secret    string // STRIPE_WEBHOOK_SECRET, "whsec_..."
	Tolerance time.Duration
	Now       func() time.Time
}

// Parse verifies payload against signatureHeader and returns the event.
//
// It returns an error wrapping ErrBadSignature when the secret is empty, the
// header is missing or garbled, no v1 signature matches, or the signed
// timestamp is older than the tolerance; and one wrapping ErrBadPayload when
// the signed body is not a usable event (see ErrBadPayload). The event's
// api_version is not checked: see the package doc. Events of other types
// come back with only ID, Type and APIVersion set.
func (v Verifier) Parse(payload []byte, signatureHeader string) (WebhookEvent, error) {
	if v.Secret == "" {
		// An empty HMAC key would accept anything signed with an empty key.
		return WebhookEvent{}, fmt.Errorf("%w: no webhook secret configured", ErrBadSignature)
	}
	// Signature first, timestamp with our clock second: stripe-go's own
	// tolerance check reads time.Now, which tests cannot move.
	if err := webhook.ValidatePayloadIgnoringTolerance(payload, signatureHeader, v.Secret); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	signedAt, ok := signatureTime(signatureHeader)
	if !ok {
		return WebhookEvent{}, fmt.Errorf("%w: %w", ErrBadSignature, webhook.ErrInvalidHeader)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	if age := now().Sub(signedAt); age > tolerance {
		return WebhookEvent{}, fmt.Errorf("%w: %w (signed %s ago, tolerance %s)",
			ErrBadSignature, webhook.ErrTooOld, age.Truncate(time.Second), tolerance)
	}
	return parseEvent(payload)
}

// signatureTime returns the t= timestamp of a Stripe-Signature header.
func signatureTime(header string) (time.Time, bool) {
	for _, part := range strings.Split(header, ",") {
		k, val, found := strings.Cut(part, "=")
		if !found || k != "t" {
			continue
		}
		sec, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(sec, 0), true
	}
	return time.Time{}, false
}

// wireEvent is the envelope of a Stripe event, whatever its API version.
type wireEvent struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Livemode   bool   `json:"livemode"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// wirePaymentIntent holds the PaymentIntent fields the engine reads.
type wirePaymentIntent struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Amount           int64             `json:"amount"`
	AmountReceived   int64             `json:"amount_received"`
	Currency         string            `json:"currency"`
	Status           string            `json:"status,omitempty"`
	Metadata         map[string]string `json:"metadata"`
	LastPaymentError *wirePaymentError `json:"last_payment_error,omitempty"`
	Created          int64             `json:"created,omitempty"`
}

// wirePaymentError is a PaymentIntent's last_payment_error.
type wirePaymentError struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Type    string `json:"type,omitempty"`
}

// wireCharge holds the Charge fields the engine reads.
type wireCharge struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	Amount         int64             `json:"amount"`
	AmountRefunded int64             `json:"amount_refunded"`
	Currency       string            `json:"currency"`
	PaymentIntent  expandableID      `json:"payment_intent"`
	Metadata       map[string]string `json:"metadata"`
	Refunded       bool              `json:"refunded"`
	Created        int64             `json:"created,omitempty"`
}

// expandableID is a Stripe reference that is either an id string or, when
// expanded, an object with an id.
type expandableID string

// UnmarshalJSON accepts null, "pi_..." or {"id":"pi_...",...}.
func (e *expandableID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*e = ""
		return nil
	case len(b) > 0 && b[0] == '{':
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		*e = expandableID(obj.ID)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*e = expandableID(s)
	return nil
}

// parseEvent decodes a verified body; see Verifier.Parse for its errors.
func parseEvent(payload []byte) (WebhookEvent, error) {
	var w wireEvent
	if err := json.Unmarshal(payload, &w); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: decode event: %w", ErrBadPayload, err)
	}
	if w.ID == "" || w.Type == "" {
		return WebhookEvent{}, fmt.Errorf("%w: event without id or type", ErrBadPayload)
	}
	ev := WebhookEvent{ID: w.ID, Type: w.Type, APIVersion: w.APIVersion}
	switch w.Type {
	case EventPaymentSucceeded, EventPaymentFailed:
		var pi wirePaymentIntent
		if err := decodeObject(w, "payment_intent", &pi); err != nil {
			return WebhookEvent{}, err
		}
		amount := pi.Amount
		if w.Type == EventPaymentSucceeded && pi.AmountReceived > 0 {
			amount = pi.AmountReceived
		}
		cur, err := currency(w, pi.Currency)
		if err != nil {
			return WebhookEvent{}, err
		}
		ev.ProviderID = pi.ID
		ev.Amount = money.Money{Amount: amount, Currency: cur}
		ev.PaymentID, ev.CheckoutID = pi.Metadata["payment_id"], pi.Metadata["checkout_id"]
		if w.Type == EventPaymentFailed && pi.LastPaymentError != nil {
			ev.FailureReason = pi.LastPaymentError.Message
			if ev.FailureReason == "" {
				ev.FailureReason = pi.LastPaymentError.Code
			}
		}
	case EventChargeRefunded:
		var ch wireCharge
		if err := decodeObject(w, "charge", &ch); err != nil {
			return WebhookEvent{}, err
		}
		cur, err := currency(w, ch.Currency)
		if err != nil {
			return WebhookEvent{}, err
		}
		ev.ProviderID = string(ch.PaymentIntent)
		ev.Amount = money.Money{Amount: ch.Amount, Currency: cur}
		ev.AmountRefunded = money.Money{Amount: ch.AmountRefunded, Currency: cur}
		ev.PaymentID, ev.CheckoutID = ch.Metadata["payment_id"], ch.Metadata["checkout_id"]
	default:
		return ev, nil // acknowledged and ignored by the caller
	}
	if ev.ProviderID == "" {
		return WebhookEvent{}, fmt.Errorf("%w: %s event %s has no payment intent id", ErrBadPayload, w.Type, w.ID)
	}
	if ev.PaymentID == "" {
		return WebhookEvent{}, fmt.Errorf("%w: %s event %s has no metadata.payment_id", ErrBadPayload, w.Type, w.ID)
	}
	ev.Created = time.Unix(w.Created, 0).UTC()
	return ev, nil
}

// decodeObject decodes data.object of w into dst, checking its object kind
// when the event states one.
func decodeObject(w wireEvent, kind string, dst any) error {
	if len(w.Data.Object) == 0 || bytes.Equal(bytes.TrimSpace(w.Data.Object), []byte("null")) {
		return fmt.Errorf("%w: %s event %s has no data.object", ErrBadPayload, w.Type, w.ID)
	}
	if err := json.Unmarshal(w.Data.Object, dst); err != nil {
		return fmt.Errorf("%w: %s event %s: decode data.object: %w", ErrBadPayload, w.Type, w.ID, err)
	}
	var obj struct {
		Object string `json:"object"`
	}
	_ = json.Unmarshal(w.Data.Object, &obj) // same bytes decoded just above
	if obj.Object != "" && obj.Object != kind {
		return fmt.Errorf("%w: %s event %s carries a %q, want %q", ErrBadPayload, w.Type, w.ID, obj.Object, kind)
	}
	return nil
}

// currency turns Stripe's lower-case currency into the engine's ISO code.
func currency(w wireEvent, c string) (string, error) {
	up := strings.ToUpper(c)
	if !money.ValidCurrency(up) {
		return "", fmt.Errorf("%w: %s event %s: currency %q", ErrBadPayload, w.Type, w.ID, c)
	}
	return up, nil
}

// EventSpec describes a webhook event to build and sign (offline provider,
// tests, load generators).
type EventSpec struct {
	ID, Type, ProviderID, PaymentID, CheckoutID string
	Amount, AmountRefunded                      money.Money
	FailureReason                               string
	Created                                     time.Time
}

// SignedEvent builds a Stripe-shaped event JSON (api_version 2023-10-16,
// data.object a payment_intent, or a charge for charge.refunded, with
// metadata payment_id and checkout_id) and signs it now with stripe-go's
// webhook.GenerateTestSignedPayload. It returns the body and the
// Stripe-Signature header value. An empty ID becomes a random "evt_..." id,
// a zero Created the current time; Created is sent in whole seconds. It
// builds whatever spec says, incomplete events included, so tests can make
// bad payloads; it fails only for an empty secret or type.
func SignedEvent(secret string, spec EventSpec) (payload []byte, signature string, err error) {
	if secret == "" {
		return nil, "", errors.New("payments: sign event: empty webhook secret")
	}
	if spec.Type == "" {
		return nil, "", errors.New("payments: sign event: empty event type")
	}
	if spec.ID == "" {
		if spec.ID, err = randomID("evt_"); err != nil {
			return nil, "", fmt.Errorf("payments: sign event: %w", err)
		}
	}
	created := spec.Created
	if created.IsZero() {
		created = time.Now()
	}
	meta := map[string]string{}
	if spec.PaymentID != "" {
		meta["payment_id"] = spec.PaymentID
	}
	if spec.CheckoutID != "" {
		meta["checkout_id"] = spec.CheckoutID
	}
	cur := strings.ToLower(spec.Amount.Currency)

	var object any
	switch spec.Type {
	case EventChargeRefunded:
		chargeID, err := randomID("ch_")
		if err != nil {
			return nil, "", fmt.Errorf("payments: sign event: %w", err)
		}
		object = wireCharge{
			ID:             chargeID,
			Object:         "charge",
			Amount:         spec.Amount.Amount,
			AmountRefunded: spec.AmountRefunded.Amount,
			Currency:       cur,
			PaymentIntent:  expandableID(spec.ProviderID),
			Metadata:       meta,
			Refunded:       spec.AmountRefunded.Amount >= spec.Amount.Amount,
			Created:        created.Unix(),
		}
	default:
		pi := wirePaymentIntent{
			ID:       spec.ProviderID,
			Object:   "payment_intent",
			Amount:   spec.Amount.Amount,
			Currency: cur,
			Status:   "requires_payment_method",
			Metadata: meta,
			Created:  created.Unix(),
		}
		switch spec.Type {
		case EventPaymentSucceeded:
			pi.Status, pi.AmountReceived = "succeeded", spec.Amount.Amount
		case EventPaymentFailed:
			pi.LastPaymentError = &wirePaymentError{Type: "card_error", Code: "card_declined", Message: spec.FailureReason}
		}
		object = pi
	}

	body, err := json.Marshal(struct {
		ID              string `json:"id"`
		Object          string `json:"object"`
		APIVersion      string `json:"api_version"`
		Created         int64  `json:"created"`
		Type            string `json:"type"`
		Livemode        bool   `json:"livemode"`
		PendingWebhooks int    `json:"pending_webhooks"`
		Data            struct {
			Object any `json:"object"`
		} `json:"data"`
	}{
		ID: spec.ID, Object: "event", APIVersion: SignedEventAPIVersion,
		Created: created.Unix(), Type: spec.Type, PendingWebhooks: 1,
		Data: struct {
			Object any `json:"object"`
		}{Object: object},
	})
	if err != nil {
		return nil, "", fmt.Errorf("payments: sign event: encode: %w", err)
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret})
	return signed.Payload, signed.Header, nil
}

// randomID returns prefix plus 24 random hex digits, shaped like a Stripe id.
func randomID(prefix string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}
