package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// StripeConfig holds the plain fields NewStripe needs; cmd/commerce fills it
// from the environment.
type StripeConfig struct {
	SecretKey string        // STRIPE_SECRET_KEY; never logged
	APIBase   string        // STRIPE_API_BASE, e.g. http://127.0.0.1:12111 for stripe-mock; empty = Stripe
	Timeout   time.Duration // per call, default 10 s
	// Breaker: opens after ConsecutiveFailures (default 5) failures of
	// network/5xx/429 kind, stays open OpenFor (default 10 s), then half-open.
	ConsecutiveFailures uint32
	OpenFor             time.Duration
	HTTPClient          *http.Client // optional; default has no timeout of its own beyond Timeout
	Logger              *slog.Logger // optional; default slog.Default()
}

// Stripe defaults, used where StripeConfig leaves a field zero.
const (
	DefaultStripeTimeout             = 10 * time.Second
	DefaultStripeConsecutiveFailures = 5
	DefaultStripeOpenFor             = 10 * time.Second
)

// withDefaults returns c with zero fields set to their defaults.
func (c StripeConfig) withDefaults() StripeConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultStripeTimeout
	}
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = DefaultStripeConsecutiveFailures
	}
	if c.OpenFor <= 0 {
		c.OpenFor = DefaultStripeOpenFor
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.APIBase == "" {
		c.APIBase = stripe.APIURL
	}
	return c
}

// Validate reports a configuration NewStripe cannot work with: an empty
// secret key or an APIBase that is not an absolute http(s) URL.
func (c StripeConfig) Validate() error {
	if c.SecretKey == "" {
		return errors.New("payments: stripe: secret key is empty")
	}
	if c.APIBase != "" {
		u, err := url.Parse(c.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("payments: stripe: API base %q is not an http(s) URL", c.APIBase)
		}
	}
	return nil
}

// Stripe is the Provider backed by the Stripe API. Every call goes through
// one circuit breaker, so a Stripe outage fails fast with *UnavailableError
// instead of tying up checkout requests. It is safe for concurrent use.
type Stripe struct {
	api     *client.API
	cb      *gobreaker.CircuitBreaker[struct{}]
	timeout time.Duration
	openFor time.Duration
	log     *slog.Logger

	mu       sync.Mutex
	openedAt time.Time // when the breaker last opened
}

// NewStripe returns a Stripe provider for cfg. It returns an error if
// cfg.Validate fails. stripe-go's own retries are off (the breaker and the
// saga retry) and its logger is silenced, because it would log response
// bodies that hold client secrets; this package logs with slog instead.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(cfg.APIBase),
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		EnableTelemetry:   stripe.Bool(false),
	})
	s := &Stripe{
		api:     client.New(cfg.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend}),
		timeout: cfg.Timeout,
		openFor: cfg.OpenFor,
		log:     cfg.Logger.With("provider", "stripe"),
	}
	threshold := cfg.ConsecutiveFailures
	s.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "stripe",
		MaxRequests: 1,
		Timeout:     cfg.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		// A rejection proves Stripe is up: it counts as a success.
		IsSuccessful: func(err error) bool {
			return err == nil || errors.Is(err, ErrRejected) || errors.Is(err, ErrAlreadySucceeded)
		},
		// The caller giving up says nothing about Stripe's health.
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerGone) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				s.mu.Lock()
				s.openedAt = time.Now()
				s.mu.Unlock()
			}
			s.log.Warn("payments: circuit breaker state changed",
				"breaker", name, "from", from.String(), "to", to.String())
		},
	})
	return s, nil
}

// Name returns "stripe", the provider name recorded in events.
func (s *Stripe) Name() string { return "stripe" }

// BreakerState returns "closed", "open" or "half-open", for /readyz and tests.
func (s *Stripe) BreakerState() string { return s.cb.State().String() }

// CreateIntent creates a PaymentIntent for r.Amount with automatic payment
// methods and metadata checkout_id, payment_id and customer_id, using
// idempotency key "intent-"+CheckoutID so a retried checkout gets the same
// intent. It returns an error wrapping ErrRejected for an invalid request or
// a Stripe 4xx (not 429), and *UnavailableError for an outage or open breaker.
func (s *Stripe) CreateIntent(ctx context.Context, r IntentRequest) (Intent, error) {
	if err := validateIntent(r); err != nil {
		return Intent{}, fmt.Errorf("payments: stripe create intent: %w", err)
	}
	var pi *stripe.PaymentIntent
	err := s.call(ctx, func(ctx context.Context) error {
		p := &stripe.PaymentIntentParams{
			Amount:   stripe.Int64(r.Amount.Amount),
			Currency: stripe.String(strings.ToLower(r.Amount.Currency)),
			AutomaticPaymentMethods: &stripe.PaymentIntentAutomaticPaymentMethodsParams{
				Enabled: stripe.Bool(true),
			},
			Metadata: map[string]string{
				"checkout_id": r.CheckoutID,
				"payment_id":  r.PaymentID,
				"customer_id": r.CustomerID,
			},
		}
		p.Context = ctx
		p.SetIdempotencyKey("intent-" + r.CheckoutID)
		var err error
		pi, err = s.api.PaymentIntents.New(p)
		return err
	})
	if err != nil {
		s.log.WarnContext(ctx, "payments: create intent failed",
			"checkout_id", r.CheckoutID, "payment_id", r.PaymentID, "error", err)
		return Intent{}, fmt.Errorf("payments: stripe create intent for checkout %s: %w", r.CheckoutID, err)
	}
	s.log.InfoContext(ctx, "payments: intent created",
		"checkout_id", r.CheckoutID, "payment_id", r.PaymentID, "provider_id", pi.ID, "status", string(pi.Status))
	return Intent{ProviderID: pi.ID, ClientSecret: pi.ClientSecret, Status: string(pi.Status)}, nil
}

// stripeRefundReasons are the refund reasons Stripe accepts as reason; any
// other reason travels in metadata only.
var stripeRefundReasons = map[string]bool{
	"duplicate": true, "fraudulent": true, "requested_by_customer": true,
}

// Refund refunds r.Amount of PaymentIntent r.ProviderID with metadata
// payment_id (and reason) under r.IdempotencyKey. Stripe's own reason field
// gets r.Reason only if it is one of duplicate, fraudulent or
// requested_by_customer. Errors are as for CreateIntent.
func (s *Stripe) Refund(ctx context.Context, r RefundRequest) error {
	if err := validateRefund(r); err != nil {
		return fmt.Errorf("payments: stripe refund: %w", err)
	}
	err := s.call(ctx, func(ctx context.Context) error {
		p := &stripe.RefundParams{
			PaymentIntent: stripe.String(r.ProviderID),
			Amount:        stripe.Int64(r.Amount.Amount),
			Metadata:      map[string]string{"payment_id": r.PaymentID},
		}
		if r.Reason != "" {
			p.Metadata["reason"] = truncate(r.Reason, 500) // Stripe's metadata value limit
		}
		if stripeRefundReasons[r.Reason] {
			p.Reason = stripe.String(r.Reason)
		}
		p.Context = ctx
		p.SetIdempotencyKey(r.IdempotencyKey)
		_, err := s.api.Refunds.New(p)
		return err
	})
	if err != nil {
		s.log.WarnContext(ctx, "payments: refund failed",
			"provider_id", r.ProviderID, "payment_id", r.PaymentID, "amount", r.Amount.String(), "error", err)
		return fmt.Errorf("payments: stripe refund %s of %s: %w", r.Amount, r.ProviderID, err)
	}
	s.log.InfoContext(ctx, "payments: refund created",
		"provider_id", r.ProviderID, "payment_id", r.PaymentID, "amount", r.Amount.String())
	return nil
}

// CancelIntent cancels a still-pending PaymentIntent. It returns nil if the
// intent is already canceled, ErrAlreadySucceeded (wrapped) if Stripe says
// it already succeeded, and otherwise errors as for CreateIntent.
func (s *Stripe) CancelIntent(ctx context.Context, providerID, idempotencyKey string) error {
	if providerID == "" {
		return fmt.Errorf("payments: stripe cancel intent: %w: provider id is empty", ErrRejected)
	}
	err := s.call(ctx, func(ctx context.Context) error {
		p := &stripe.PaymentIntentCancelParams{CancellationReason: stripe.String("abandoned")}
		p.Context = ctx
		if idempotencyKey != "" {
			p.SetIdempotencyKey(idempotencyKey)
		}
		_, err := s.api.PaymentIntents.Cancel(providerID, p)
		switch intentStateInError(err) {
		case stripe.PaymentIntentStatusSucceeded:
			return ErrAlreadySucceeded
		case stripe.PaymentIntentStatusCanceled:
			return nil
		}
		return err
	})
	if err != nil {
		s.log.WarnContext(ctx, "payments: cancel intent failed", "provider_id", providerID, "error", err)
		return fmt.Errorf("payments: stripe cancel intent %s: %w", providerID, err)
	}
	s.log.InfoContext(ctx, "payments: intent canceled", "provider_id", providerID)
	return nil
}

// intentStateInError returns the PaymentIntent status a cancel was refused
// for ("succeeded", "canceled"), or "" if err is not such a refusal.
func intentStateInError(err error) stripe.PaymentIntentStatus {
	var se *stripe.Error
	if !errors.As(err, &se) || se.HTTPStatusCode >= 500 || se.HTTPStatusCode == http.StatusTooManyRequests {
		return ""
	}
	if se.PaymentIntent != nil && se.PaymentIntent.Status != "" {
		return se.PaymentIntent.Status
	}
	if se.Code == stripe.ErrorCodePaymentIntentUnexpectedState {
		// "You cannot cancel this PaymentIntent because it has a status of succeeded."
		for _, st := range []stripe.PaymentIntentStatus{stripe.PaymentIntentStatusSucceeded, stripe.PaymentIntentStatusCanceled} {
			if strings.Contains(se.Msg, "status of "+string(st)) {
				return st
			}
		}
	}
	return ""
}

// errCallerGone marks a call abandoned because the caller's context ended;
// the breaker ignores it.
var errCallerGone = errors.New("payments: caller gave up")

// call runs fn with the per-call timeout through the breaker and classifies
// its error: nil, an error wrapping ErrRejected or ErrAlreadySucceeded,
// *UnavailableError, or the caller's context error.
func (s *Stripe) call(ctx context.Context, fn func(ctx context.Context) error) error {
	callCtx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.cb.Execute(func() (struct{}, error) {
		return struct{}{}, classify(ctx, fn(callCtx))
	})
	if err == nil {
		return nil
	}
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return &UnavailableError{RetryAfter: s.retryAfter(), Err: err}
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		ue.RetryAfter = s.retryAfter()
	}
	return err
}

// classify sorts a stripe-go error into the package's error kinds. It never
// uses stripe.Error.Error(), whose JSON may embed a PaymentIntent with its
// client secret.
func classify(parent context.Context, err error) error {
	if err == nil || errors.Is(err, ErrAlreadySucceeded) {
		return err
	}
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("%w: %w", errCallerGone, perr)
	}
	var se *stripe.Error
	if errors.As(err, &se) {
		msg := describe(se)
		switch {
		case se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode >= 500 || se.HTTPStatusCode == 0:
			return &UnavailableError{Err: errors.New(msg)}
		default:
			return fmt.Errorf("%w: %s", ErrRejected, msg)
		}
	}
	// Network errors, the per-call timeout, and bodies that are not JSON
	// (a proxy's 502 page): Stripe could not answer.
	return &UnavailableError{Err: err}
}

// describe renders a Stripe error without its embedded objects.
func describe(se *stripe.Error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "stripe %d", se.HTTPStatusCode)
	if se.Type != "" {
		fmt.Fprintf(&b, " %s", se.Type)
	}
	if se.Code != "" {
		fmt.Fprintf(&b, " (%s", se.Code)
		if se.DeclineCode != "" {
			fmt.Fprintf(&b, "/%s", se.DeclineCode)
		}
		b.WriteString(")")
	}
	if se.Msg != "" {
		fmt.Fprintf(&b, ": %s", se.Msg)
	}
	if se.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", se.RequestID)
	}
	return b.String()
}

// retryAfter is how long the breaker stays open from now, at least one
// second and rounded up to whole seconds for the Retry-After header.
func (s *Stripe) retryAfter() time.Duration {
	s.mu.Lock()
	opened := s.openedAt
	s.mu.Unlock()
	d := time.Second
	if s.cb.State() == gobreaker.StateOpen && !opened.IsZero() {
		if rem := time.Until(opened.Add(s.openFor)); rem > d {
			d = rem
		}
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
