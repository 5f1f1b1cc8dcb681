// Package saga is the checkout process manager of DESIGN.md: it reserves a
// cart's lines before any money is taken, asks the payment provider for an
// intent, and reacts to what follows (the provider's webhooks recorded as
// payment events, its own decisions, order cancellations, timeouts) until the
// checkout ends in exactly one order or in released stock, with a refund for
// any payment that arrived too late.
//
// Its decisions live in the checkout's own stream (domain/checkout), so that
// two triggers racing for one checkout (a webhook and the timeout, two
// redeliveries) are serialised by the stream's expected version and decided
// once. Every side effect is a command whose id derives from the checkout
// (or the triggering event), and every provider call carries an idempotency
// key: a step repeated after a crash or a redelivery changes nothing.
//
// Every event of a checkout carries the checkout id as its correlation id,
// which is how an order's timeline gathers cart, product, payment, checkout
// and order events.
package saga

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/messaging"
	"github.com/commerce-engine/commerce/payments"
)

// DefaultExpiry is how long a checkout holds its stock waiting for payment.
const DefaultExpiry = 15 * time.Minute

// Actor names the saga in the metadata of the events it causes.
const Actor = "saga:checkout"

// ErrCheckoutInProgress means the cart is already frozen by another
// checkout that still waits for its payment (HTTP 409).
var ErrCheckoutInProgress = errors.New("a checkout of this cart is in progress")

// ErrCartChanged means the cart changed between the checkout's pricing and
// its freeze; nothing is held and the shopper may try again (HTTP 409).
var ErrCartChanged = errors.New("the cart changed during checkout; try again")

// ErrStockShort is what ShortError matches with errors.Is (HTTP 409).
var ErrStockShort = errors.New("some lines are short of stock")

// ShortError lists the lines that could not be reserved; nothing stays held.
type ShortError struct {
	Lines []checkout.ShortLine
	// Position is where the release was recorded: a read with it as
	// X-Min-Position sees nothing held.
	Position eventstore.Position
}

// Error names how many lines were short.
func (e *ShortError) Error() string {
	return fmt.Sprintf("%d line(s) short of stock", len(e.Lines))
}

// Is makes errors.Is(err, ErrStockShort) hold.
func (e *ShortError) Is(target error) bool { return target == ErrStockShort }

// Config wires the saga to the command path and the payment provider.
type Config struct {
	Runner   *commands.Runner
	Provider payments.Provider
	// Expiry is how long reservations hold (DefaultExpiry when zero).
	Expiry time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Saga runs checkouts; it is safe for concurrent use, also by several
// processes on one event store.
type Saga struct {
	run      *commands.Runner
	provider payments.Provider
	expiry   time.Duration
	now      func() time.Time
	log      *slog.Logger
}

// New returns a saga with cfg's defaults filled in.
func New(cfg Config) *Saga {
	s := &Saga{run: cfg.Runner, provider: cfg.Provider, expiry: cfg.Expiry, now: cfg.Now, log: cfg.Logger}
	if s.expiry <= 0 {
		s.expiry = DefaultExpiry
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Provider returns the payment provider the saga charges through.
func (s *Saga) Provider() payments.Provider { return s.provider }

// Expiry returns how long a checkout's reservations hold.
func (s *Saga) Expiry() time.Duration { return s.expiry }

// Intent is what a started checkout answers the shopper.
type Intent struct {
	CheckoutID   string
	PaymentID    string
	ClientSecret string
	Amount       money.Money
	Status       string
	ExpiresAt    time.Time
	Position     eventstore.Position
}

var checkoutNamespace = uuid.MustParse("0f9f3f0e-7c55-4a3c-8f0c-6c7e2a9d41b5")

// Start checks out customerID's cart: it records the checkout, freezes and
// prices the cart, reserves every line until the expiry, and asks the
// provider for a payment intent. With any line short it releases what it
// reserved and returns a *ShortError; with the provider down it releases and
// returns the provider's *payments.UnavailableError. meta.CommandID (from
// the request's Idempotency-Key when there is one) fixes the checkout id, so
// a retried request resumes the same checkout. A crash part-way leaves a
// checkout the timeout abandons and releases.
func (s *Saga) Start(ctx context.Context, customerID string, meta commands.Metadata) (Intent, error) {
	checkoutID := uuid.NewSHA1(checkoutNamespace, []byte(customerID+"\x00"+meta.CommandID)).String()
	paymentID := uuid.NewSHA1(checkoutNamespace, []byte("payment\x00"+checkoutID)).String()
	cartStream := cart.StreamID(customerID)
	c, _, err := commands.Load(ctx, s.run, commands.Cart, cartStream)
	if err != nil {
		return Intent{}, fmt.Errorf("load cart: %w", err)
	}
	if c.CheckedOut() && c.CheckoutID != checkoutID {
		return Intent{}, fmt.Errorf("%w: %s", ErrCheckoutInProgress, c.CheckoutID)
	}
	if len(c.Lines) == 0 && c.CheckoutID != checkoutID {
		return Intent{}, cart.ErrCartEmpty
	}
	now := s.now().UTC()
	m := s.meta(checkoutID, meta.CausationID, meta.TraceParent, customerID)
	priced, total, err := c.Priced()
	if err != nil {
		return Intent{}, err
	}
	lines := make([]checkout.Line, len(priced))
	for i, l := range priced {
		lines[i] = checkout.Line{ProductID: l.ProductID, Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: l.LineTotal}
	}
	st, err := s.checkout(ctx, checkoutID, m, "start", checkout.Start{
		CheckoutID: checkoutID, CartID: customerID, CustomerID: customerID, Lines: lines, Total: total,
		ExpiresAt: now.Add(s.expiry), At: now,
	})
	if err != nil && !errors.Is(err, checkout.ErrCheckoutExists) {
		return Intent{}, err
	}
	if errors.Is(err, checkout.ErrCheckoutExists) {
		// A retried request: go on with the checkout as it was recorded.
		if st, _, err = commands.Load(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID)); err != nil {
			return Intent{}, fmt.Errorf("load checkout: %w", err)
		}
		lines, total = st.Lines, st.Total
	}
	if st.Status > checkout.StatusAwaitingPayment {
		return Intent{}, fmt.Errorf("%w: checkout %s is %s", ErrCheckoutInProgress, checkoutID, st.Status)
	}
	// The cart is frozen after the checkout is recorded, so a crash in
	// between leaves nothing the timeout cannot undo; the frozen snapshot
	// must be what the checkout recorded (the shopper may have changed the
	// cart meanwhile in another tab).
	res, err := commands.Handle(ctx, s.run, commands.Cart, cartStream, cart.CheckOut{CartID: customerID, CheckoutID: checkoutID, At: now}, m.step("cart-checkout"))
	if err != nil {
		_ = s.abandonNow(ctx, checkoutID, m, "cart: "+err.Error(), nil)
		return Intent{}, err
	}
	if res.State.CheckoutID != checkoutID {
		_ = s.abandonNow(ctx, checkoutID, m, "cart checked out elsewhere", nil)
		return Intent{}, fmt.Errorf("%w: %s", ErrCheckoutInProgress, res.State.CheckoutID)
	}
	if frozen, _, err := res.State.Priced(); err != nil || !sameLines(frozen, lines) {
		_ = s.abandonNow(ctx, checkoutID, m, "cart changed during checkout", nil)
		return Intent{}, ErrCartChanged
	}
	var short []checkout.ShortLine
	var mu sync.Mutex
	err = eachLine(lines, func(l checkout.Line) error {
		_, err := commands.Handle(ctx, s.run, commands.Product, catalog.StreamID(l.ProductID), catalog.ReserveStock{
			ProductID: l.ProductID, ReservationID: checkoutID, CheckoutID: checkoutID, Quantity: l.Quantity,
			ExpiresAt: st.ExpiresAt, At: now,
		}, m.step("reserve/"+l.ProductID))
		switch {
		case err == nil, errors.Is(err, catalog.ErrDuplicateReservation):
			return nil
		case errors.Is(err, catalog.ErrInsufficientStock), errors.Is(err, catalog.ErrProductNotFound):
			p, _, perr := commands.Load(ctx, s.run, commands.Product, catalog.StreamID(l.ProductID))
			if perr != nil {
				return perr
			}
			mu.Lock()
			short = append(short, checkout.ShortLine{ProductID: l.ProductID, Requested: l.Quantity, Available: max(p.Available(), 0)})
			mu.Unlock()
			return nil
		}
		return err
	})
	if err != nil {
		return Intent{}, s.failStart(ctx, checkoutID, m, "reserve: "+err.Error(), err)
	}
	slices.SortFunc(short, func(a, b checkout.ShortLine) int { return strings.Compare(a.ProductID, b.ProductID) })
	if len(short) > 0 {
		if err := s.abandonNow(ctx, checkoutID, m, "stock_short", short); err != nil {
			return Intent{}, err
		}
		head, err := s.run.Store.Head(ctx)
		if err != nil {
			return Intent{}, fmt.Errorf("read the head after releasing: %w", err)
		}
		return Intent{}, &ShortError{Lines: short, Position: head}
	}
	intent, err := s.provider.CreateIntent(ctx, payments.IntentRequest{CheckoutID: checkoutID, PaymentID: paymentID, CustomerID: customerID, Amount: total})
	if err != nil {
		return Intent{}, s.failStart(ctx, checkoutID, m, "provider: "+err.Error(), err)
	}
	if _, err := commands.Handle(ctx, s.run, commands.Payment, payment.StreamID(paymentID), payment.CreateIntent{
		PaymentID: paymentID, CheckoutID: checkoutID, CustomerID: customerID, ProviderID: intent.ProviderID, Amount: total, At: now,
	}, m.step("intent")); err != nil && !errors.Is(err, payment.ErrIntentExists) {
		return Intent{}, err
	}
	cres, err := commands.Handle(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID), checkout.RequestPayment{
		PaymentID: paymentID, Provider: s.provider.Name(), ProviderID: intent.ProviderID, Amount: total, At: now,
	}, m.step("request-payment"))
	if err != nil {
		return Intent{}, err
	}
	status := intent.Status
	if status == "" {
		status = "requires_payment_method"
	}
	return Intent{
		CheckoutID: checkoutID, PaymentID: paymentID, ClientSecret: intent.ClientSecret, Amount: total,
		Status: status, ExpiresAt: st.ExpiresAt, Position: cres.Position,
	}, nil
}

// eachLine runs fn for every line at once (each on its own product stream)
// and returns the first error.
func eachLine(lines []checkout.Line, fn func(checkout.Line) error) error {
	if len(lines) == 1 {
		return fn(lines[0])
	}
	errs := make([]error, len(lines))
	var wg sync.WaitGroup
	for i, l := range lines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(l)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sameLines reports whether the frozen cart is the priced snapshot.
func sameLines(frozen []cart.PricedLine, lines []checkout.Line) bool {
	if len(frozen) != len(lines) {
		return false
	}
	for i, f := range frozen {
		l := lines[i]
		if f.ProductID != l.ProductID || f.Quantity != l.Quantity || f.UnitPrice != l.UnitPrice {
			return false
		}
	}
	return true
}

// failStart abandons a checkout that could not finish starting, releases
// what it held, and returns cause for the caller.
func (s *Saga) failStart(ctx context.Context, checkoutID string, m meta, reason string, cause error) error {
	if err := s.abandonNow(ctx, checkoutID, m, reason, nil); err != nil {
		s.log.WarnContext(ctx, "checkout could not be released at once; its timeout will",
			"checkout_id", checkoutID, "error", err)
	}
	return cause
}

// abandonNow records the abandonment and releases in the caller's request,
// so a refused checkout answers only once nothing is held.
func (s *Saga) abandonNow(ctx context.Context, checkoutID string, m meta, reason string, short []checkout.ShortLine) error {
	if _, err := s.checkout(ctx, checkoutID, m, "abandon", checkout.Abandon{Reason: reason, Short: short, At: s.now().UTC()}); err != nil {
		return err
	}
	return s.release(ctx, checkoutID, m)
}

// Expire is the timeout's trigger: it abandons checkoutID if it is still
// open at its expiry; the abandonment's event then releases its holds.
func (s *Saga) Expire(ctx context.Context, checkoutID string) error {
	m := s.meta(checkoutID, "timeout", "", Actor)
	_, err := s.checkout(ctx, checkoutID, m, "expire", checkout.Expire{At: s.now().UTC()})
	if errors.Is(err, checkout.ErrNotExpired) {
		return nil
	}
	return err
}

// Types lists the event types Handle acts on: the saga's subscription.
var Types = []string{
	payment.SucceededType, payment.FailedType, payment.RefundedType,
	checkout.PaidType, checkout.AbandonedType, checkout.RefundRequestedType,
	order.CancelledType,
}

// Topics are the bus topics the saga binds: those of the stream categories
// Types come from.
var Topics = []string{
	messaging.Topic(payment.StreamPrefix), messaging.Topic(checkout.StreamPrefix), messaging.Topic(order.StreamPrefix),
}

// Handle is the saga's message handler: it applies one committed event.
// Delivery is at least once and in any order; Handle is idempotent and
// returns an error only when a retry may succeed.
func (s *Saga) Handle(ctx context.Context, e eventstore.Event) error {
	p, err := s.run.Codec.Decode(e)
	if err != nil {
		return fmt.Errorf("decode %s at %d: %w", e.Type, e.Position, err)
	}
	trace := traceParent(e)
	cause := e.ID.String()
	switch ev := p.(type) {
	case payment.Succeeded:
		m := s.meta(ev.CheckoutID, cause, trace, Actor)
		_, err := s.checkout(ctx, ev.CheckoutID, m, "paid/"+cause, checkout.PaymentSucceeded{PaymentID: ev.PaymentID, At: s.now().UTC()})
		return err
	case payment.Failed:
		m := s.meta(ev.CheckoutID, cause, trace, Actor)
		_, err := s.checkout(ctx, ev.CheckoutID, m, "failed/"+cause, checkout.PaymentFailed{PaymentID: ev.PaymentID, Reason: ev.Reason, At: s.now().UTC()})
		return err
	case payment.Refunded:
		return s.refunded(ctx, ev, s.meta(ev.CheckoutID, cause, trace, Actor))
	case checkout.Paid:
		return s.complete(ctx, ev.CheckoutID, e.Version, s.meta(ev.CheckoutID, cause, trace, Actor))
	case checkout.Abandoned:
		return s.release(ctx, ev.CheckoutID, s.meta(ev.CheckoutID, cause, trace, Actor))
	case checkout.RefundRequested:
		return s.refundLatePayment(ctx, ev.CheckoutID, s.meta(ev.CheckoutID, cause, trace, Actor))
	case order.Cancelled:
		return s.compensateCancellation(ctx, ev.OrderID, cause, trace)
	}
	return nil
}

// complete commits the reservations, places the order (its id is the
// checkout's: one checkout, at most one order), clears the cart and records
// the completion.
//
// paidAt is the version of the checkout's paid event: a cached state that
// includes it is as good as a read (what follows a payment is decided by
// the commands below, on the current state).
func (s *Saga) complete(ctx context.Context, checkoutID string, paidAt int64, m meta) error {
	st, _, err := commands.LoadAtLeast(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID), paidAt)
	if err != nil {
		return fmt.Errorf("load checkout %s: %w", checkoutID, err)
	}
	if st.Status != checkout.StatusPaid {
		return nil
	}
	now := s.now().UTC()
	err = eachLine(st.Lines, func(l checkout.Line) error {
		_, err := commands.Handle(ctx, s.run, commands.Product, catalog.StreamID(l.ProductID),
			catalog.CommitReservation{ProductID: l.ProductID, ReservationID: checkoutID, At: now}, m.step("commit/"+l.ProductID))
		if err != nil && !errors.Is(err, catalog.ErrReservationAlreadyCommitted) {
			return fmt.Errorf("commit %s of checkout %s: %w", l.ProductID, checkoutID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	lines := make([]order.PlaceLine, len(st.Lines))
	for i, l := range st.Lines {
		lines[i] = order.PlaceLine{ProductID: l.ProductID, Quantity: l.Quantity, UnitPrice: l.UnitPrice}
	}
	_, err = commands.Handle(ctx, s.run, commands.Order, order.StreamID(checkoutID), order.Place{
		OrderID: checkoutID, CustomerID: st.CustomerID, CheckoutID: checkoutID, PaymentID: st.PaymentID,
		Lines: lines, Paid: st.Total, At: now,
	}, m.step("place"))
	if err != nil && !errors.Is(err, order.ErrOrderExists) {
		return fmt.Errorf("place order %s: %w", checkoutID, err)
	}
	_, err = commands.Handle(ctx, s.run, commands.Cart, cart.StreamID(st.CartID),
		cart.Clear{CartID: st.CartID, CheckoutID: checkoutID, At: now}, m.step("clear-cart"))
	if err != nil && !errors.Is(err, cart.ErrNotCheckedOut) {
		return fmt.Errorf("clear cart of checkout %s: %w", checkoutID, err)
	}
	_, err = s.checkout(ctx, checkoutID, m, "complete", checkout.Complete{OrderID: checkoutID, At: now})
	return err
}

// release gives back every reservation of an abandoned checkout, unfreezes
// its cart, cancels its payment intent at the provider (a payment arriving
// anyway is refunded), and records the release.
func (s *Saga) release(ctx context.Context, checkoutID string, m meta) error {
	st, _, err := commands.Load(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID))
	if err != nil {
		return fmt.Errorf("load checkout %s: %w", checkoutID, err)
	}
	if st.Status != checkout.StatusAbandoned {
		return nil
	}
	now := s.now().UTC()
	for _, l := range st.Lines {
		_, err := commands.Handle(ctx, s.run, commands.Product, catalog.StreamID(l.ProductID),
			catalog.ReleaseReservation{ProductID: l.ProductID, ReservationID: checkoutID, Reason: st.Reason, At: now}, m.step("release/"+l.ProductID))
		switch {
		case err == nil, errors.Is(err, catalog.ErrReservationUnknown), errors.Is(err, catalog.ErrReservationReleased),
			errors.Is(err, catalog.ErrProductNotFound):
		case errors.Is(err, catalog.ErrReservationAlreadyCommitted):
			// Only a paid checkout commits, and a paid one is never
			// abandoned: this is a bug worth shouting about, not retrying.
			s.log.ErrorContext(ctx, "abandoned checkout's reservation was committed", "checkout_id", checkoutID, "product_id", l.ProductID)
		default:
			return fmt.Errorf("release %s of checkout %s: %w", l.ProductID, checkoutID, err)
		}
	}
	_, err = commands.Handle(ctx, s.run, commands.Cart, cart.StreamID(st.CartID),
		cart.CancelCheckout{CartID: st.CartID, CheckoutID: checkoutID, Reason: st.Reason, At: now}, m.step("cart-cancel"))
	if err != nil && !errors.Is(err, cart.ErrNotCheckedOut) {
		return fmt.Errorf("unfreeze cart of checkout %s: %w", checkoutID, err)
	}
	if st.ProviderID != "" {
		err := s.provider.CancelIntent(ctx, st.ProviderID, "cancel-"+checkoutID)
		if err != nil && !errors.Is(err, payments.ErrAlreadySucceeded) {
			return fmt.Errorf("cancel payment intent of checkout %s: %w", checkoutID, err)
		}
	}
	_, err = s.checkout(ctx, checkoutID, m, "released", checkout.MarkReleased{At: now})
	return err
}

// refundLatePayment gives back a payment that succeeded after its checkout
// had been abandoned.
func (s *Saga) refundLatePayment(ctx context.Context, checkoutID string, m meta) error {
	st, _, err := commands.Load(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID))
	if err != nil {
		return fmt.Errorf("load checkout %s: %w", checkoutID, err)
	}
	if st.RefundPaymentID == "" || st.RefundDone {
		return nil
	}
	if err := s.refundPayment(ctx, st.RefundPaymentID, "checkout abandoned before payment ("+st.Reason+")", m); err != nil {
		return err
	}
	_, err = s.checkout(ctx, checkoutID, m, "refunded", checkout.MarkRefunded{At: s.now().UTC()})
	return err
}

// refundPayment refunds what is left of a payment through the provider,
// then records it; the idempotency key and the command id make a repeat a
// no-op at both ends.
func (s *Saga) refundPayment(ctx context.Context, paymentID, reason string, m meta) error {
	p, _, err := commands.Load(ctx, s.run, commands.Payment, payment.StreamID(paymentID))
	if err != nil {
		return fmt.Errorf("load payment %s: %w", paymentID, err)
	}
	if p.Status == payment.StatusRefunded {
		return nil
	}
	if p.Status != payment.StatusSucceeded {
		return fmt.Errorf("refund payment %s: it is not succeeded (status %d)", paymentID, p.Status)
	}
	left, err := p.Amount.Sub(p.Refunded)
	if err != nil {
		return fmt.Errorf("refund payment %s: %w", paymentID, err)
	}
	if err := s.provider.Refund(ctx, payments.RefundRequest{
		ProviderID: p.ProviderID, PaymentID: paymentID, Amount: left, Reason: reason, IdempotencyKey: "refund-" + paymentID,
	}); err != nil {
		return fmt.Errorf("refund payment %s at the provider: %w", paymentID, err)
	}
	_, err = commands.Handle(ctx, s.run, commands.Payment, payment.StreamID(paymentID), payment.RecordRefund{
		PaymentID: paymentID, TotalRefunded: p.Amount, Reason: reason, At: s.now().UTC(),
	}, m.step("refund/"+paymentID))
	if err != nil {
		return fmt.Errorf("record refund of payment %s: %w", paymentID, err)
	}
	return nil
}

// refunded follows a recorded refund: a cancelled order becomes refunded,
// a late payment's checkout records its refund.
func (s *Saga) refunded(ctx context.Context, ev payment.Refunded, m meta) error {
	p, _, err := commands.Load(ctx, s.run, commands.Payment, payment.StreamID(ev.PaymentID))
	if err != nil {
		return fmt.Errorf("load payment %s: %w", ev.PaymentID, err)
	}
	if p.Status != payment.StatusRefunded {
		return nil
	}
	o, _, err := commands.Load(ctx, s.run, commands.Order, order.StreamID(ev.CheckoutID))
	if err != nil {
		return fmt.Errorf("load order %s: %w", ev.CheckoutID, err)
	}
	if o.Status == order.StatusCancelled {
		_, err := commands.Handle(ctx, s.run, commands.Order, order.StreamID(ev.CheckoutID), order.MarkRefunded{OrderID: ev.CheckoutID, At: s.now().UTC()}, m.step("order-refunded"))
		if err != nil && !errors.Is(err, order.ErrAlreadyRefunded) {
			return fmt.Errorf("mark order %s refunded: %w", ev.CheckoutID, err)
		}
	}
	return nil
}

// compensateCancellation returns a cancelled order's units to stock and
// refunds its payment; the payment's refunded event then marks the order
// refunded.
func (s *Saga) compensateCancellation(ctx context.Context, orderID, cause, trace string) error {
	o, _, err := commands.Load(ctx, s.run, commands.Order, order.StreamID(orderID))
	if err != nil {
		return fmt.Errorf("load order %s: %w", orderID, err)
	}
	if o.Status != order.StatusCancelled && o.Status != order.StatusRefunded {
		return nil
	}
	m := s.meta(o.CheckoutID, cause, trace, Actor)
	st, _, err := commands.Load(ctx, s.run, commands.Checkout, checkout.StreamID(o.CheckoutID))
	if err != nil {
		return fmt.Errorf("load checkout %s: %w", o.CheckoutID, err)
	}
	for _, l := range st.Lines {
		_, err := commands.Handle(ctx, s.run, commands.Product, catalog.StreamID(l.ProductID), catalog.AdjustStock{
			ProductID: l.ProductID, Delta: l.Quantity, Reason: "order " + orderID + " cancelled", At: s.now().UTC(),
		}, m.step("restock/"+l.ProductID))
		if err != nil && !errors.Is(err, catalog.ErrProductNotFound) {
			return fmt.Errorf("restock %s of order %s: %w", l.ProductID, orderID, err)
		}
	}
	if o.Status == order.StatusRefunded {
		return nil
	}
	if err := s.refundPayment(ctx, o.PaymentID, "order cancelled", m); err != nil {
		return err
	}
	_, err = commands.Handle(ctx, s.run, commands.Order, order.StreamID(orderID), order.MarkRefunded{OrderID: orderID, At: s.now().UTC()}, m.step("order-refunded"))
	if err != nil && !errors.Is(err, order.ErrAlreadyRefunded) {
		return fmt.Errorf("mark order %s refunded: %w", orderID, err)
	}
	return nil
}

// checkout runs one decision on the checkout's stream.
func (s *Saga) checkout(ctx context.Context, checkoutID string, m meta, step string, cmd any) (checkout.State, error) {
	res, err := commands.Handle(ctx, s.run, commands.Checkout, checkout.StreamID(checkoutID), cmd, m.step(step))
	if err != nil {
		return res.State, fmt.Errorf("checkout %s %s: %w", checkoutID, step, err)
	}
	return res.State, nil
}

// meta is the metadata every command of one checkout carries; step makes
// the command id.
type meta struct {
	checkoutID, causation, trace, actor string
}

func (s *Saga) meta(checkoutID, causation, trace, actor string) meta {
	return meta{checkoutID: checkoutID, causation: causation, trace: trace, actor: actor}
}

func (m meta) step(name string) commands.Metadata {
	return commands.Metadata{
		CommandID:     "checkout/" + m.checkoutID + "/" + name,
		CorrelationID: m.checkoutID,
		CausationID:   m.causation,
		Actor:         m.actor,
		TraceParent:   m.trace,
	}
}

// traceParent returns the W3C trace context an event was written under.
func traceParent(e eventstore.Event) string {
	md, err := commands.DecodeMetadata(e.Metadata)
	if err != nil {
		return ""
	}
	return md.TraceParent
}
