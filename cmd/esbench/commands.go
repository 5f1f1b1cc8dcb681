package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/eventstore"
)

// benchCommands measures the command path on s: add-to-cart by 1 and 16
// shoppers each on their own cart, and 16 shoppers reserving stock of one
// product (every command races on the same stream). appendRate16 is the
// store's raw 16-writer single-event append rate, the baseline.
func benchCommands(ctx context.Context, name string, s eventstore.Store, dur time.Duration, appendRate16 float64) {
	r := &commands.Runner{Store: s, Codec: commands.NewCodec(), Cache: commands.NewStateCache(10000)}
	product := uuid.NewString()
	at := time.Now()
	must := func(_ any, err error) {
		if err != nil {
			fatalf("%v", err)
		}
	}
	must(commands.Handle(ctx, r, commands.Product, catalog.StreamID(product), catalog.CreateProduct{
		ProductID: product, SKU: "BENCH-1", Name: "Bench", Price: money.Money{Amount: 100, Currency: "EUR"}, At: at,
	}, commands.Metadata{CommandID: uuid.NewString()}))
	must(commands.Handle(ctx, r, commands.Product, catalog.StreamID(product), catalog.AdjustStock{
		ProductID: product, Delta: 1 << 40, At: at,
	}, commands.Metadata{CommandID: uuid.NewString()}))

	for _, shoppers := range []int{1, 16} {
		rate := commandRate(ctx, shoppers, dur, func(ctx context.Context, shopper string) error {
			_, err := commands.AddToCart(ctx, r, cart.AddItem{CartID: shopper, CustomerID: shopper, ProductID: product, Quantity: 1, At: time.Now()},
				commands.Metadata{CommandID: uuid.NewString()})
			if err != nil && ctx.Err() == nil {
				// A cart line caps at 99 units: start a new cart.
				return err
			}
			return nil
		})
		base := 0.0
		if shoppers == 16 {
			base = appendRate16
		}
		line(fmt.Sprintf("%s_addtocart_%dshoppers", name, shoppers), rate, "commands/s", base)
	}
	var exhausted atomic.Int64
	rate := commandRate(ctx, 16, dur, func(ctx context.Context, _ string) error {
		_, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(product), catalog.ReserveStock{
			ProductID: product, ReservationID: uuid.NewString(), CheckoutID: uuid.NewString(), Quantity: 1,
			ExpiresAt: time.Now().Add(time.Hour), At: time.Now(),
		}, commands.Metadata{CommandID: uuid.NewString()})
		if errors.Is(err, commands.ErrConflict) {
			exhausted.Add(1) // counted, not fatal: the caller would answer 409
			return nil
		}
		return err
	})
	line(name+"_reserve_16shoppers_one_product", rate, "commands/s", 0)
	fmt.Printf("%s_reserve_16shoppers_retries_exhausted %d commands\n", name, exhausted.Load())
}

// commandRate runs fn by n goroutines for dur; each shopper id is used for
// shopperCommands commands and then replaced, so carts stay the size of a
// real cart rather than growing without end.
const shopperCommands = 10

func commandRate(ctx context.Context, n int, dur time.Duration, fn func(context.Context, string) error) float64 {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shopper := uuid.NewString()
			for i := 1; ctx.Err() == nil; i++ {
				if i%shopperCommands == 0 {
					shopper = uuid.NewString()
				}
				if err := fn(ctx, shopper); err != nil {
					if ctx.Err() == nil {
						fatalf("command: %v", err)
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}
