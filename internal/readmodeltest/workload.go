// Package readmodeltest drives read models the same way whatever store
// holds them: a random but reproducible workload of catalog, cart, payment
// and order commands, run by concurrent shoppers, and a snapshot of
// everything the read API can ask a model, so that two models built from
// the same log (live and rebuilt, memory and PostgreSQL) can be compared.
package readmodeltest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
)

// payments is the payment aggregate as the saga will run it.
var payments = commands.Aggregate[payment.State]{Evolve: payment.Evolve, Decide: payment.Decide}

// Keys are the ids a workload created: what a snapshot asks the models.
type Keys struct {
	Products  []string
	Customers []string
	Orders    []string
	// Checkouts are the correlation ids of the checkouts.
	Checkouts []string
	// From and To bound the days the workload's events happened on.
	From, To time.Time
}

// Workload is a reproducible mix of commands.
type Workload struct {
	Seed     uint64
	Products int // default 12
	Shoppers int // concurrent shoppers, default 8
	Rounds   int // checkouts tried per shopper, default 6
	Start    time.Time
}

// Run drives the workload through r and returns the ids it made. Expected
// refusals (stock short, a concurrent change after retries) are part of
// the workload; any other error fails it.
func (w Workload) Run(ctx context.Context, r *commands.Runner) (Keys, error) {
	if w.Products <= 0 {
		w.Products = 12
	}
	if w.Shoppers <= 0 {
		w.Shoppers = 8
	}
	if w.Rounds <= 0 {
		w.Rounds = 6
	}
	if w.Start.IsZero() {
		w.Start = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	}
	categories := []string{"kitchen", "garden", "clothes", "books"}
	rng := rand.New(rand.NewPCG(w.Seed, w.Seed^0x9e3779b97f4a7c15))
	var keys Keys
	keys.From = w.Start.Truncate(24 * time.Hour)
	meta := func(corr string) commands.Metadata {
		return commands.Metadata{CommandID: uuid.NewString(), CorrelationID: corr, Actor: "workload"}
	}
	at := w.Start
	for i := range w.Products {
		id := uuid.NewString()
		keys.Products = append(keys.Products, id)
		price := money.Money{Amount: int64(199 + rng.IntN(9000)), Currency: "EUR"}
		if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(id), catalog.CreateProduct{
			ProductID: id, SKU: fmt.Sprintf("SKU-%03d", i), Name: fmt.Sprintf("Product %d %s", i, []string{"mug", "rake", "cap", "novel"}[i%4]),
			Description: "made for the convergence test", Category: categories[rng.IntN(len(categories))], Price: price,
			At: at.Add(time.Duration(i) * time.Minute)}, meta("")); err != nil {
			return keys, err
		}
		if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(id), catalog.AdjustStock{
			ProductID: id, Delta: int64(5 + rng.IntN(40)), Reason: "delivery", At: at}, meta("")); err != nil {
			return keys, err
		}
	}
	// One rename and one price change while shoppers are away.
	if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(keys.Products[0]), catalog.UpdateProduct{
		ProductID: keys.Products[0], Name: "Big mug", Category: "kitchen", Price: money.Money{Amount: 1599, Currency: "EUR"}, At: at.Add(time.Hour)}, meta("")); err != nil {
		return keys, err
	}

	type shopper struct {
		id   string
		seed uint64
	}
	var shoppers []shopper
	for range w.Shoppers {
		s := shopper{id: uuid.NewString(), seed: rng.Uint64()}
		shoppers = append(shoppers, s)
		keys.Customers = append(keys.Customers, s.id)
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for si, s := range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			orders, checkouts, err := w.shop(ctx, r, s.id, s.seed, keys.Products, w.Start.Add(time.Duration(si)*time.Hour))
			mu.Lock()
			defer mu.Unlock()
			keys.Orders = append(keys.Orders, orders...)
			keys.Checkouts = append(keys.Checkouts, checkouts...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	}
	wg.Wait()
	sort.Strings(keys.Orders)
	sort.Strings(keys.Checkouts)
	keys.To = w.Start.Add(time.Duration(w.Shoppers+w.Rounds+2) * 24 * time.Hour).Truncate(24 * time.Hour)
	return keys, firstErr
}

// expected reports whether err is a refusal a racing shopper may get.
func expected(err error) bool {
	return errors.Is(err, catalog.ErrInsufficientStock) || errors.Is(err, commands.ErrConflict)
}

// shop is one shopper's life: fill the cart, check out, pay or fail, and
// have some orders shipped, delivered or cancelled and refunded.
func (w Workload) shop(ctx context.Context, r *commands.Runner, customer string, seed uint64, products []string, day time.Time) (orders, checkouts []string, err error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	meta := func(corr string) commands.Metadata {
		return commands.Metadata{CommandID: uuid.NewString(), CorrelationID: corr, Actor: customer}
	}
	cartStream := cart.StreamID(customer)
	for round := range w.Rounds {
		at := day.Add(time.Duration(round) * 26 * time.Hour)
		for range 1 + rng.IntN(3) {
			p := products[rng.IntN(len(products))]
			_, err := commands.AddToCart(ctx, r, cart.AddItem{CartID: customer, CustomerID: customer, ProductID: p, Quantity: int64(1 + rng.IntN(3)), At: at}, meta(""))
			if err != nil && !expected(err) && !errors.Is(err, cart.ErrCartCheckedOut) {
				return orders, checkouts, fmt.Errorf("add to cart: %w", err)
			}
		}
		state, _, err := commands.Load(ctx, r, commands.Cart, cartStream)
		if err != nil {
			return orders, checkouts, err
		}
		if rng.IntN(4) == 0 && len(state.Lines) > 0 {
			for id, l := range state.Lines {
				var err error
				if l.Quantity > 1 {
					_, err = commands.ChangeCartQuantity(ctx, r, cart.ChangeItemQuantity{CartID: customer, ProductID: id, Quantity: l.Quantity - 1, At: at}, meta(""))
				} else {
					_, err = commands.Handle(ctx, r, commands.Cart, cartStream, cart.RemoveItem{CartID: customer, ProductID: id, At: at}, meta(""))
				}
				if err != nil && !expected(err) {
					return orders, checkouts, fmt.Errorf("change quantity: %w", err)
				}
				break
			}
		}
		if rng.IntN(5) == 0 {
			continue // leaves the cart for later
		}
		checkout := uuid.NewString()
		res, err := commands.Handle(ctx, r, commands.Cart, cartStream, cart.CheckOut{CartID: customer, CheckoutID: checkout, At: at.Add(time.Minute)}, meta(checkout))
		if err != nil {
			if errors.Is(err, cart.ErrCartEmpty) {
				continue
			}
			return orders, checkouts, fmt.Errorf("check out: %w", err)
		}
		checkouts = append(checkouts, checkout)
		lines := res.State.Lines
		var place []order.PlaceLine
		total := money.Money{Currency: "EUR"}
		reserved := map[string]string{}
		short := false
		ids := make([]string, 0, len(lines))
		for id := range lines {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			l := lines[id]
			rid := uuid.NewString()
			_, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(id), catalog.ReserveStock{ProductID: id, ReservationID: rid, CheckoutID: checkout, Quantity: l.Quantity, ExpiresAt: at.Add(time.Hour), At: at.Add(time.Minute)}, meta(checkout))
			if err != nil {
				if expected(err) {
					short = true
					break
				}
				return orders, checkouts, fmt.Errorf("reserve: %w", err)
			}
			reserved[id] = rid
			place = append(place, order.PlaceLine{ProductID: id, Quantity: l.Quantity, UnitPrice: l.UnitPrice})
			lt, _ := l.UnitPrice.Mul(l.Quantity)
			total, _ = total.Add(lt)
		}
		release := func(reason string) error {
			for id, rid := range reserved {
				if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(id), catalog.ReleaseReservation{ProductID: id, ReservationID: rid, Reason: reason, At: at.Add(2 * time.Minute)}, meta(checkout)); err != nil {
					return fmt.Errorf("release: %w", err)
				}
			}
			_, err := commands.Handle(ctx, r, commands.Cart, cartStream, cart.CancelCheckout{CartID: customer, CheckoutID: checkout, Reason: reason, At: at.Add(2 * time.Minute)}, meta(checkout))
			return err
		}
		if short {
			if err := release("stock short"); err != nil {
				return orders, checkouts, err
			}
			continue
		}
		paymentID := uuid.NewString()
		payStream := payment.StreamID(paymentID)
		if _, err := commands.Handle(ctx, r, payments, payStream, payment.CreateIntent{PaymentID: paymentID, CheckoutID: checkout, CustomerID: customer, ProviderID: "pi_" + paymentID[:8], Amount: total, At: at.Add(time.Minute)}, meta(checkout)); err != nil {
			return orders, checkouts, fmt.Errorf("intent: %w", err)
		}
		if rng.IntN(4) == 0 {
			if _, err := commands.Handle(ctx, r, payments, payStream, payment.MarkFailed{PaymentID: paymentID, Reason: "card declined", At: at.Add(2 * time.Minute)}, meta(checkout)); err != nil {
				return orders, checkouts, fmt.Errorf("fail payment: %w", err)
			}
			if err := release("payment failed"); err != nil {
				return orders, checkouts, err
			}
			continue
		}
		if _, err := commands.Handle(ctx, r, payments, payStream, payment.MarkSucceeded{PaymentID: paymentID, Amount: total, At: at.Add(2 * time.Minute)}, meta(checkout)); err != nil {
			return orders, checkouts, fmt.Errorf("pay: %w", err)
		}
		for id, rid := range reserved {
			if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(id), catalog.CommitReservation{ProductID: id, ReservationID: rid, At: at.Add(2 * time.Minute)}, meta(checkout)); err != nil {
				return orders, checkouts, fmt.Errorf("commit: %w", err)
			}
		}
		orderID := uuid.NewString()
		os := order.StreamID(orderID)
		if _, err := commands.Handle(ctx, r, commands.Order, os, order.Place{OrderID: orderID, CustomerID: customer, CheckoutID: checkout, PaymentID: paymentID, Lines: place, Paid: total, At: at.Add(3 * time.Minute)}, meta(checkout)); err != nil {
			return orders, checkouts, fmt.Errorf("place: %w", err)
		}
		orders = append(orders, orderID)
		if _, err := commands.Handle(ctx, r, commands.Cart, cartStream, cart.Clear{CartID: customer, CheckoutID: checkout, At: at.Add(3 * time.Minute)}, meta(checkout)); err != nil {
			return orders, checkouts, fmt.Errorf("clear: %w", err)
		}
		later := at.Add(24 * time.Hour)
		switch rng.IntN(4) {
		case 0: // stays placed
		case 1:
			if _, err := commands.Handle(ctx, r, commands.Order, os, order.Cancel{OrderID: orderID, Reason: "changed my mind", At: later}, meta(checkout)); err != nil {
				return orders, checkouts, fmt.Errorf("cancel: %w", err)
			}
			if _, err := commands.Handle(ctx, r, payments, payStream, payment.Refund{PaymentID: paymentID, Amount: total, Reason: "cancelled", At: later}, meta(checkout)); err != nil {
				return orders, checkouts, fmt.Errorf("refund payment: %w", err)
			}
			if _, err := commands.Handle(ctx, r, commands.Order, os, order.MarkRefunded{OrderID: orderID, At: later}, meta(checkout)); err != nil {
				return orders, checkouts, fmt.Errorf("mark refunded: %w", err)
			}
		default:
			steps := []any{order.StartProcessing{OrderID: orderID, At: later}, order.Ship{OrderID: orderID, Carrier: "DHL", TrackingNumber: "TRK" + orderID[:6], At: later.Add(time.Hour)}}
			if rng.IntN(2) == 0 {
				steps = append(steps, order.Deliver{OrderID: orderID, At: later.Add(26 * time.Hour)})
			}
			for _, c := range steps {
				if _, err := commands.Handle(ctx, r, commands.Order, os, c, meta(checkout)); err != nil {
					return orders, checkouts, fmt.Errorf("order step %T: %w", c, err)
				}
			}
		}
	}
	return orders, checkouts, nil
}
