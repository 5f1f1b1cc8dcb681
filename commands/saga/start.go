package saga

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/payments"
)

// Starting a checkout: price and freeze the cart, reserve every line, ask
// the provider for an intent; or, when any of it fails, abandon and release
// before answering.

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
		_, _ = s.abandonNow(ctx, checkoutID, m, "cart: "+err.Error(), nil)
		return Intent{}, err
	}
	if res.State.CheckoutID != checkoutID {
		_, _ = s.abandonNow(ctx, checkoutID, m, "cart checked out elsewhere", nil)
		return Intent{}, fmt.Errorf("%w: %s", ErrCheckoutInProgress, res.State.CheckoutID)
	}
	if frozen, _, err := res.State.Priced(); err != nil || !sameLines(frozen, lines) {
		_, _ = s.abandonNow(ctx, checkoutID, m, "cart changed during checkout", nil)
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
		// The release's own position, not the store's head: on PostgreSQL
		// the head lags behind what this request wrote while any older
		// transaction on the server is open, and a read that waits for it
		// could miss the writes this answer promises.
		pos, err := s.abandonNow(ctx, checkoutID, m, "stock_short", short)
		if err != nil {
			return Intent{}, err
		}
		return Intent{}, &ShortError{Lines: short, Position: pos}
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
	if _, err := s.abandonNow(ctx, checkoutID, m, reason, nil); err != nil {
		s.log.WarnContext(ctx, "checkout could not be released at once; its timeout will",
			"checkout_id", checkoutID, "error", err)
	}
	return cause
}

// abandonNow records the abandonment and releases in the caller's request,
// so a refused checkout answers only once nothing is held. It returns the
// position of the release's record.
func (s *Saga) abandonNow(ctx context.Context, checkoutID string, m meta, reason string, short []checkout.ShortLine) (eventstore.Position, error) {
	if _, err := s.checkout(ctx, checkoutID, m, "abandon", checkout.Abandon{Reason: reason, Short: short, At: s.now().UTC()}); err != nil {
		return 0, err
	}
	return s.release(ctx, checkoutID, m)
}
