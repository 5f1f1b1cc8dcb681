package catalog_test

import (
	"math"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/internal/decidertest"
	"github.com/commerce-engine/commerce/domain/money"
)

type testCase = decidertest.Case[catalog.State]

var (
	t0      = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	t1      = t0.Add(time.Minute)
	expires = t0.Add(15 * time.Minute)
	price   = money.Money{Amount: 1999, Currency: "EUR"}
)

const pid = "prod-1"

func created() catalog.ProductCreated {
	return catalog.ProductCreated{ProductID: pid, SKU: "SKU-1", Name: "Mug", Description: "A mug", Category: "kitchen", Price: price, ImageURL: "https://img/1", At: t0}
}

func stocked(n int64) catalog.StockAdjusted {
	return catalog.StockAdjusted{ProductID: pid, Delta: n, OnHand: n, Reason: "delivery", At: t0}
}

func reserved(id string, q int64) catalog.StockReserved {
	return catalog.StockReserved{ProductID: pid, ReservationID: id, CheckoutID: "co-1", Quantity: q, ExpiresAt: expires, At: t0}
}

func released(id string, q int64) catalog.ReservationReleased {
	return catalog.ReservationReleased{ProductID: pid, ReservationID: id, Quantity: q, Reason: "payment failed", At: t0}
}

func committed(id string, q int64) catalog.ReservationCommitted {
	return catalog.ReservationCommitted{ProductID: pid, ReservationID: id, Quantity: q, At: t0}
}

func reserve(id string, q int64) catalog.ReserveStock {
	return catalog.ReserveStock{ProductID: pid, ReservationID: id, CheckoutID: "co-1", Quantity: q, ExpiresAt: expires, At: t1}
}

func TestCreateProduct(t *testing.T) {
	t.Parallel()
	ok := catalog.CreateProduct{ProductID: pid, SKU: " SKU-1 ", Name: " Mug ", Description: "A mug", Category: "kitchen", Price: price, ImageURL: "https://img/1", At: t0}
	with := func(f func(*catalog.CreateProduct)) catalog.CreateProduct { c := ok; f(&c); return c }
	decidertest.Run(t, catalog.Evolve, catalog.Decide, []testCase{
		{Name: "accepted, sku and name trimmed", When: ok, Then: []any{created()}},
		{Name: "twice", Given: []any{created()}, When: ok, Err: catalog.ErrProductExists},
		{Name: "no product id", When: with(func(c *catalog.CreateProduct) { c.ProductID = " " }), Err: catalog.ErrProductIDRequired},
		{Name: "no sku", When: with(func(c *catalog.CreateProduct) { c.SKU = "" }), Err: catalog.ErrSKURequired},
		{Name: "no name", When: with(func(c *catalog.CreateProduct) { c.Name = "  " }), Err: catalog.ErrNameRequired},
		{Name: "NUL in the name", When: with(func(c *catalog.CreateProduct) { c.Name = "Mu\x00g" }), Err: catalog.ErrInvalidText},
		{Name: "NUL in the sku", When: with(func(c *catalog.CreateProduct) { c.SKU = "S\x00" }), Err: catalog.ErrInvalidText},
		{Name: "invalid UTF-8 in the description", When: with(func(c *catalog.CreateProduct) { c.Description = "\xff" }), Err: catalog.ErrInvalidText},
		{Name: "NUL in the image url", When: with(func(c *catalog.CreateProduct) { c.ImageURL = "https://img/\x00" }), Err: catalog.ErrInvalidText},
		{Name: "zero price", When: with(func(c *catalog.CreateProduct) { c.Price.Amount = 0 }), Err: catalog.ErrInvalidPrice},
		{Name: "negative price", When: with(func(c *catalog.CreateProduct) { c.Price.Amount = -1 }), Err: catalog.ErrInvalidPrice},
		{Name: "bad currency", When: with(func(c *catalog.CreateProduct) { c.Price.Currency = "eur" }), Err: catalog.ErrInvalidPrice},
	})
}

func TestUpdateProduct(t *testing.T) {
	t.Parallel()
	ok := catalog.UpdateProduct{ProductID: pid, Name: "Big mug", Description: "Bigger", Category: "home", Price: money.Money{Amount: 2499, Currency: "EUR"}, ImageURL: "https://img/2", At: t1}
	with := func(f func(*catalog.UpdateProduct)) catalog.UpdateProduct { c := ok; f(&c); return c }
	decidertest.Run(t, catalog.Evolve, catalog.Decide, []testCase{
		{Name: "accepted", Given: []any{created()}, When: ok, Then: []any{catalog.ProductUpdated{
			ProductID: pid, Name: "Big mug", Description: "Bigger", Category: "home", Price: money.Money{Amount: 2499, Currency: "EUR"}, ImageURL: "https://img/2", At: t1,
		}}},
		{Name: "unknown product", When: ok, Err: catalog.ErrProductNotFound},
		{Name: "blank name", Given: []any{created()}, When: with(func(c *catalog.UpdateProduct) { c.Name = "" }), Err: catalog.ErrNameRequired},
		{Name: "NUL in the category", Given: []any{created()}, When: with(func(c *catalog.UpdateProduct) { c.Category = "ho\x00me" }), Err: catalog.ErrInvalidText},
		{Name: "zero price", Given: []any{created()}, When: with(func(c *catalog.UpdateProduct) { c.Price.Amount = 0 }), Err: catalog.ErrInvalidPrice},
		{Name: "bad currency", Given: []any{created()}, When: with(func(c *catalog.UpdateProduct) { c.Price.Currency = "EURO" }), Err: catalog.ErrInvalidPrice},
	})
}

func TestAdjustStock(t *testing.T) {
	t.Parallel()
	adj := func(d int64) catalog.AdjustStock {
		return catalog.AdjustStock{ProductID: pid, Delta: d, Reason: "count", At: t1}
	}
	decidertest.Run(t, catalog.Evolve, catalog.Decide, []testCase{
		{Name: "add", Given: []any{created()}, When: adj(10), Then: []any{
			catalog.StockAdjusted{ProductID: pid, Delta: 10, OnHand: 10, Reason: "count", At: t1}}},
		{Name: "remove down to reserved", Given: []any{created(), stocked(10), reserved("r1", 4)}, When: adj(-6), Then: []any{
			catalog.StockAdjusted{ProductID: pid, Delta: -6, OnHand: 4, Reason: "count", At: t1}}},
		{Name: "remove below reserved", Given: []any{created(), stocked(10), reserved("r1", 4)}, When: adj(-7), Err: catalog.ErrStockBelowReserved},
		{Name: "remove below zero", Given: []any{created(), stocked(3)}, When: adj(-4), Err: catalog.ErrStockBelowReserved},
		{Name: "committed units are gone", Given: []any{created(), stocked(10), reserved("r1", 4), committed("r1", 4)}, When: adj(-7), Err: catalog.ErrStockBelowReserved},
		{Name: "zero delta", Given: []any{created()}, When: adj(0), Err: catalog.ErrInvalidQuantity},
		{Name: "overflow", Given: []any{created(), stocked(math.MaxInt64 - 1)}, When: adj(2), Err: catalog.ErrStockOverflow},
		{Name: "unknown product", When: adj(1), Err: catalog.ErrProductNotFound},
	})
}

func TestReserveStock(t *testing.T) {
	t.Parallel()
	base := []any{created(), stocked(10)}
	given := func(more ...any) []any { return append(append([]any{}, base...), more...) }
	decidertest.Run(t, catalog.Evolve, catalog.Decide, []testCase{
		{Name: "accepted", Given: base, When: reserve("r1", 4), Then: []any{
			catalog.StockReserved{ProductID: pid, ReservationID: "r1", CheckoutID: "co-1", Quantity: 4, ExpiresAt: expires, At: t1}}},
		{Name: "all available", Given: given(reserved("r1", 4)), When: reserve("r2", 6), Then: []any{
			catalog.StockReserved{ProductID: pid, ReservationID: "r2", CheckoutID: "co-1", Quantity: 6, ExpiresAt: expires, At: t1}}},
		{Name: "more than available", Given: given(reserved("r1", 4)), When: reserve("r2", 7), Err: catalog.ErrInsufficientStock},
		{Name: "more than on hand", Given: base, When: reserve("r1", 11), Err: catalog.ErrInsufficientStock},
		{Name: "released units available again", Given: given(reserved("r1", 10), released("r1", 10)), When: reserve("r2", 10), Then: []any{
			catalog.StockReserved{ProductID: pid, ReservationID: "r2", CheckoutID: "co-1", Quantity: 10, ExpiresAt: expires, At: t1}}},
		{Name: "committed units not available", Given: given(reserved("r1", 8), committed("r1", 8)), When: reserve("r2", 3), Err: catalog.ErrInsufficientStock},
		{Name: "zero quantity", Given: base, When: reserve("r1", 0), Err: catalog.ErrInvalidQuantity},
		{Name: "negative quantity", Given: base, When: reserve("r1", -1), Err: catalog.ErrInvalidQuantity},
		{Name: "duplicate id open", Given: given(reserved("r1", 1)), When: reserve("r1", 1), Err: catalog.ErrDuplicateReservation},
		{Name: "duplicate id released", Given: given(reserved("r1", 1), released("r1", 1)), When: reserve("r1", 1), Err: catalog.ErrDuplicateReservation},
		{Name: "no id", Given: base, When: reserve("", 1), Err: catalog.ErrReservationIDRequired},
		{Name: "expiry not after now", Given: base, When: func() catalog.ReserveStock { c := reserve("r1", 1); c.ExpiresAt = c.At; return c }(), Err: catalog.ErrInvalidExpiry},
		{Name: "unknown product", When: reserve("r1", 1), Err: catalog.ErrProductNotFound},
	})
}

func TestReleaseReservation(t *testing.T) {
	t.Parallel()
	rel := func(id string) catalog.ReleaseReservation {
		return catalog.ReleaseReservation{ProductID: pid, ReservationID: id, Reason: "expired", At: t1}
	}
	base := []any{created(), stocked(10), reserved("r1", 4)}
	given := func(more ...any) []any { return append(append([]any{}, base...), more...) }
	decidertest.Run(t, catalog.Evolve, catalog.Decide, []testCase{
		{Name: "accepted", Given: base, When: rel("r1"), Then: []any{
			catalog.ReservationReleased{ProductID: pid, ReservationID: "r1", Quantity: 4, Reason: "expired", At: t1}}},
		{Name: "unknown reservation", Given: base, When: rel("r9"), Err: catalog.ErrReservationUnknown},
		{Name: "twice", Given: given(released("r1", 4)), When: rel("r1"), Err: catalog.ErrReservationReleased},
		{Name: "after commit", Given: given(committed("r1", 4)), When: rel("r1"), Err: catalog.ErrReservationAlreadyCommitted},
		{Name: "unknown product", When: rel("r1"), Err: catalog.ErrProductNotFound},
	})
}

func TestCommitReservation(t *testing.T) {
	t.Parallel()
	com := func(id string) catalog.CommitReservation {
		return catalog.CommitReservation{ProductID: pid, ReservationID: id, At: t1}
	}
	base := []any{created(), stocked(10), reserved("r1", 4)}
	given := func(more ...any) []any { return append(append([]any{}, base...), more...) }
	decidertest.Run(t, catalog.Evolve, catalog.Decide, []testCase{
		{Name: "accepted", Given: base, When: com("r1"), Then: []any{
			catalog.ReservationCommitted{ProductID: pid, ReservationID: "r1", Quantity: 4, At: t1}}},
		{Name: "after expiry while still open", Given: base, When: catalog.CommitReservation{ProductID: pid, ReservationID: "r1", At: expires.Add(time.Hour)}, Then: []any{
			catalog.ReservationCommitted{ProductID: pid, ReservationID: "r1", Quantity: 4, At: expires.Add(time.Hour)}}},
		{Name: "twice", Given: given(committed("r1", 4)), When: com("r1"), Err: catalog.ErrReservationAlreadyCommitted},
		{Name: "after release", Given: given(released("r1", 4)), When: com("r1"), Err: catalog.ErrReservationReleased},
		{Name: "unknown reservation", Given: base, When: com("r2"), Err: catalog.ErrReservationUnknown},
		{Name: "unknown product", When: com("r1"), Err: catalog.ErrProductNotFound},
	})
}

func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	decidertest.Run(t, catalog.Evolve, catalog.Decide, []testCase{
		{Name: "foreign command", Given: []any{created()}, When: struct{}{}, Err: catalog.ErrUnknownCommand},
	})
}

// TestEvolveCounts checks the fold itself: commit leaves both counters,
// release only the reserved one, and unknown events change nothing.
func TestEvolveCounts(t *testing.T) {
	t.Parallel()
	var s catalog.State
	for _, e := range []any{created(), stocked(10), reserved("r1", 4), reserved("r2", 3), committed("r1", 4), released("r2", 3), "noise"} {
		s = catalog.Evolve(s, e)
	}
	if s.OnHand != 6 || s.Reserved != 0 || s.Available() != 6 {
		t.Fatalf("on hand %d reserved %d available %d, want 6 0 6", s.OnHand, s.Reserved, s.Available())
	}
	if s.Reservations["r1"].Status != catalog.StatusCommitted || s.Reservations["r2"].Status != catalog.StatusReleased {
		t.Fatalf("reservations = %+v", s.Reservations)
	}
	// Evolve must not mutate the state it was given.
	before := catalog.Evolve(catalog.Evolve(catalog.State{}, created()), reserved("r1", 1))
	_ = catalog.Evolve(before, committed("r1", 1))
	if before.Reservations["r1"].Status != catalog.StatusOpen {
		t.Fatal("Evolve mutated its input's reservations")
	}
}
