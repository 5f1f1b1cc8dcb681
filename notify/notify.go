// Package notify turns domain events into emails to customers (verification
// links, order and payment news), sends them through a Sender with retries,
// and records every delivery in a notification Log, the admin's
// GET /api/v1/admin/notifications. Handle is idempotent by event id, so a
// redelivered event sends no second email.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
)

// ErrUnknownRecipient is returned by a Directory that has no customer,
// order or checkout with the given id; the notifier then skips the event
// (logged at warn) instead of making the bus retry it forever.
var ErrUnknownRecipient = errors.New("notify: unknown recipient")

// Email is one message to send.
type Email struct {
	To, Subject, Text, HTML string
}

// Sender delivers an email; it returns an error when the message was not
// accepted, and the notifier retries it.
type Sender interface {
	Send(ctx context.Context, e Email) error
}

// Directory finds who to write to; the engine implements it over the event
// store. Each method returns an error wrapping ErrUnknownRecipient when the
// id is not known, and any other error when it could not look.
type Directory interface {
	// Customer returns the customer's email address and display name.
	Customer(ctx context.Context, customerID string) (email, name string, err error)
	// OrderCustomer returns the customer who placed the order.
	OrderCustomer(ctx context.Context, orderID string) (customerID string, err error)
	// CheckoutCustomer returns the customer of a checkout, which may never
	// have become an order (a failed or refunded payment).
	CheckoutCustomer(ctx context.Context, checkoutID string) (customerID string, err error)
}

// Config wires the notifier; zero fields take the defaults noted.
type Config struct {
	// Sender delivers the emails (required).
	Sender Sender
	// Log records every delivery (required).
	Log Log
	// Directory resolves recipients (required).
	Directory Directory
	// Codec decodes the events, usually commands.NewCodec() (required).
	Codec *eventstore.Codec
	// OpenToken turns an EmailVerificationRequested's SealedToken back into
	// the token for the link; nil: no verification emails.
	OpenToken func(sealed string) (string, error)
	// BaseURL prefixes links in emails, e.g. "http://localhost:8080"; the
	// verification link is BaseURL + "/verify-email?token=" + token.
	BaseURL string
	// ShopName names the shop in subjects and bodies; default "commerce".
	ShopName string
	// Attempts is how many sends a notification gets before it is recorded
	// failed; default 4.
	Attempts int
	// Backoff is the first pause between attempts, doubling after each;
	// default 500ms.
	Backoff time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives the notifier's logs; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ShopName == "" {
		c.ShopName = "commerce"
	}
	if c.Attempts <= 0 {
		c.Attempts = 4
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
}

// Validate returns an error naming the first required field that is
// missing.
func (c Config) Validate() error {
	switch {
	case c.Sender == nil:
		return errors.New("notify: config: Sender is required")
	case c.Log == nil:
		return errors.New("notify: config: Log is required")
	case c.Directory == nil:
		return errors.New("notify: config: Directory is required")
	case c.Codec == nil:
		return errors.New("notify: config: Codec is required")
	}
	return nil
}

// Notifier is the bus consumer that emails customers about their events.
type Notifier struct {
	cfg   Config
	tmpls *templates

	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// New returns a notifier for cfg after filling its defaults; it returns an
// error if a required field is missing or the embedded templates do not
// parse.
func New(cfg Config) (*Notifier, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, err := loadTemplates()
	if err != nil {
		return nil, err
	}
	return &Notifier{cfg: cfg, tmpls: t, locks: map[string]*keyLock{}}, nil
}

// Types lists the event types the notifier acts on (its bus subscription).
var Types = []string{
	customer.EmailVerificationRequestedType,
	order.PlacedType,
	order.ProcessingType,
	order.ShippedType,
	order.DeliveredType,
	order.CancelledType,
	order.RefundedType,
	payment.FailedType,
	checkout.RefundedType,
}

// Topics are the bus topics the notifier binds: those of the stream
// categories Types come from.
var Topics = []string{
	messaging.Topic(customer.StreamPrefix), messaging.Topic(order.StreamPrefix),
	messaging.Topic(payment.StreamPrefix), messaging.Topic(checkout.StreamPrefix),
}

// Template names, also the suffix of a notification's id.
const (
	tmplVerifyEmail       = "verify_email"
	tmplOrderConfirmation = "order_confirmation"
	tmplOrderProcessing   = "order_processing"
	tmplOrderShipped      = "order_shipped"
	tmplOrderDelivered    = "order_delivered"
	tmplOrderCancelled    = "order_cancelled"
	tmplOrderRefunded     = "order_refunded"
	tmplPaymentFailed     = "payment_failed"
	tmplPaymentRefunded   = "payment_refunded"
)

// plan is what one event asks for: a template, its data and how to find
// the recipient.
type plan struct {
	template   string
	data       view
	customerID string
	orderID    string // resolve through Directory.OrderCustomer
	checkoutID string // resolve through Directory.CheckoutCustomer
	to         string // an address the event itself names
	secret     string // redacted from the recorded body
}

// Handle is the bus consumer's handler: decode e, pick the template, find
// the recipient, render, send with retries and backoff, and record every
// outcome in the Log. Idempotent by event id: a notification already "sent"
// is not sent again. After the last failed attempt it records status
// "failed" and returns nil; it returns an error only when the Log or the
// Directory fails (or ctx ends mid-retry), so that the bus retries. Events
// of other types, undecodable events and unknown recipients are logged and
// return nil.
func (n *Notifier) Handle(ctx context.Context, e eventstore.Event) error {
	if !handled(e.Type) {
		return nil
	}
	log := n.cfg.Logger.With("event_id", e.ID.String(), "event_type", e.Type)
	payload, err := n.cfg.Codec.Decode(e)
	if err != nil {
		log.ErrorContext(ctx, "notify: cannot decode event; skipped", "err", err)
		return nil
	}
	p, ok, err := n.plan(payload)
	if err != nil {
		log.ErrorContext(ctx, "notify: cannot prepare notification; skipped", "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	id := e.ID.String() + "/" + p.template
	log = log.With("notification_id", id)

	unlock := n.lock(id)
	defer unlock()

	prev, found, err := n.cfg.Log.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("notify: get %s: %w", id, err)
	}
	if found && prev.Status == StatusSent {
		log.DebugContext(ctx, "notify: already sent")
		return nil
	}

	to, name, err := n.recipient(ctx, p)
	if errors.Is(err, ErrUnknownRecipient) {
		log.WarnContext(ctx, "notify: unknown recipient; skipped", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("notify: recipient of %s: %w", id, err)
	}
	p.data.Name = name
	p.data.Shop = n.cfg.ShopName
	msg, err := n.tmpls.render(p.template, p.data)
	if err != nil {
		log.ErrorContext(ctx, "notify: cannot render; skipped", "err", err)
		return nil
	}
	msg.To = to

	rec := Notification{
		ID:       id,
		Channel:  "email",
		To:       to,
		Template: p.template,
		Subject:  msg.Subject,
		Body:     msg.Text,
		EventID:  e.ID.String(),
		Attempts: prev.Attempts,
	}
	if p.secret != "" {
		rec.Body = strings.ReplaceAll(rec.Body, p.secret, "[redacted]")
	}
	sendErr := n.send(ctx, msg, &rec)
	rec.At = n.cfg.Now().UTC()
	if sendErr == nil {
		rec.Status = StatusSent
		at := rec.At
		rec.SentAt = &at
		rec.Error = ""
	} else {
		rec.Status = StatusFailed
		rec.Error = sendErr.Error()
	}
	if err := n.cfg.Log.Put(context.WithoutCancel(ctx), rec); err != nil {
		return fmt.Errorf("notify: record %s: %w", id, err)
	}
	if sendErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("notify: send %s interrupted: %w", id, ctx.Err())
		}
		log.ErrorContext(ctx, "notify: delivery failed", "attempts", rec.Attempts, "err", sendErr)
		return nil
	}
	log.InfoContext(ctx, "notify: sent", "template", p.template, "attempts", rec.Attempts)
	return nil
}

// send tries up to Attempts times with doubling pauses (no cap, no
// jitter), counting attempts in rec; it returns the last error, or ctx's
// when ctx ends first.
func (n *Notifier) send(ctx context.Context, msg Email, rec *Notification) error {
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		rec.Attempts++
		last = n.cfg.Sender.Send(ctx, msg)
		if last != nil && ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(last)
		}
		return struct{}{}, last
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: n.cfg.Backoff, Multiplier: 2, MaxInterval: math.MaxInt64}),
		backoff.WithMaxTries(uint(n.cfg.Attempts)),
		backoff.WithMaxElapsedTime(0))
	if err != nil && !errors.Is(err, last) {
		// ctx ended during a pause.
		return fmt.Errorf("%w (after: %w)", err, last)
	}
	return err
}

func (n *Notifier) recipient(ctx context.Context, p plan) (to, name string, err error) {
	id := p.customerID
	switch {
	case p.orderID != "":
		if id, err = n.cfg.Directory.OrderCustomer(ctx, p.orderID); err != nil {
			return "", "", fmt.Errorf("order %s: %w", p.orderID, err)
		}
	case p.checkoutID != "":
		if id, err = n.cfg.Directory.CheckoutCustomer(ctx, p.checkoutID); err != nil {
			return "", "", fmt.Errorf("checkout %s: %w", p.checkoutID, err)
		}
	}
	email, name, err := n.cfg.Directory.Customer(ctx, id)
	if err != nil {
		return "", "", fmt.Errorf("customer %s: %w", id, err)
	}
	if p.to != "" {
		email = p.to
	}
	return email, name, nil
}

// plan maps a decoded payload to its notification; ok is false for
// payloads the notifier does not act on.
func (n *Notifier) plan(payload any) (p plan, ok bool, err error) {
	switch ev := payload.(type) {
	case customer.EmailVerificationRequested:
		if n.cfg.OpenToken == nil {
			return plan{}, false, nil
		}
		sealed := ev.SealedToken
		if sealed == "" {
			return plan{}, false, errors.New("verification request without a sealed token")
		}
		token, err := n.cfg.OpenToken(sealed)
		if err != nil {
			return plan{}, false, fmt.Errorf("open verification token: %w", err)
		}
		link := n.cfg.BaseURL + "/verify-email?token=" + url.QueryEscape(token)
		return plan{template: tmplVerifyEmail, customerID: ev.CustomerID, to: ev.Email,
			data: view{Link: link}, secret: url.QueryEscape(token)}, true, nil
	case order.Placed:
		v := view{OrderID: ev.OrderID, Total: FormatMoney(ev.Total)}
		for _, l := range ev.Lines {
			v.Lines = append(v.Lines, lineView{ProductID: l.ProductID, Quantity: l.Quantity,
				UnitPrice: FormatMoney(l.UnitPrice), LineTotal: FormatMoney(l.LineTotal)})
		}
		return plan{template: tmplOrderConfirmation, customerID: ev.CustomerID, data: v}, true, nil
	case order.Processing:
		return plan{template: tmplOrderProcessing, orderID: ev.OrderID, data: view{OrderID: ev.OrderID}}, true, nil
	case order.Shipped:
		return plan{template: tmplOrderShipped, orderID: ev.OrderID,
			data: view{OrderID: ev.OrderID, Carrier: ev.Carrier, Tracking: ev.TrackingNumber}}, true, nil
	case order.Delivered:
		return plan{template: tmplOrderDelivered, orderID: ev.OrderID, data: view{OrderID: ev.OrderID}}, true, nil
	case order.Cancelled:
		return plan{template: tmplOrderCancelled, orderID: ev.OrderID,
			data: view{OrderID: ev.OrderID, Reason: ev.Reason}}, true, nil
	case order.Refunded:
		return plan{template: tmplOrderRefunded, orderID: ev.OrderID,
			data: view{OrderID: ev.OrderID, Amount: FormatMoney(ev.Amount)}}, true, nil
	case payment.Failed:
		return plan{template: tmplPaymentFailed, checkoutID: ev.CheckoutID,
			data: view{OrderID: ev.CheckoutID, Reason: ev.Reason}}, true, nil
	case checkout.Refunded:
		return plan{template: tmplPaymentRefunded, checkoutID: ev.CheckoutID,
			data: view{OrderID: ev.CheckoutID}}, true, nil
	}
	return plan{}, false, nil
}

func handled(t string) bool {
	for _, x := range Types {
		if x == t {
			return true
		}
	}
	return false
}

// lock serialises work on one notification id within this process, so that
// two concurrent deliveries of one event send one email.
func (n *Notifier) lock(id string) (unlock func()) {
	n.mu.Lock()
	l := n.locks[id]
	if l == nil {
		l = &keyLock{}
		n.locks[id] = l
	}
	l.refs++
	n.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		n.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(n.locks, id)
		}
		n.mu.Unlock()
	}
}
