package projections_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/projections"
)

func TestMemoryCatalog(t *testing.T) {
	t.Parallel()
	s := mustStore(t)
	r := &commands.Runner{Store: s, Codec: commands.NewCodec()}
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	do := func(id string, cmd any) {
		t.Helper()
		if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(id), cmd, commands.Metadata{CommandID: uuid.NewString()}); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]string{}
	for i, p := range []struct {
		name, category string
		price          int64
	}{{"Blue mug", "kitchen", 1299}, {"Apron", "kitchen", 2500}, {"Cap", "clothes", 999}, {"Zebra socks", "clothes", 499}, {"Mug rack", "kitchen", 3999}} {
		id := uuid.NewString()
		ids[p.name] = id
		do(id, catalog.CreateProduct{ProductID: id, SKU: fmt.Sprintf("SKU-%d", i), Name: p.name, Category: p.category,
			Price: money.Money{Amount: p.price, Currency: "EUR"}, At: at.Add(time.Duration(i) * time.Minute)})
		do(id, catalog.AdjustStock{ProductID: id, Delta: 10, At: at})
	}
	mug := ids["Blue mug"]
	do(mug, catalog.ReserveStock{ProductID: mug, ReservationID: "r1", CheckoutID: "c1", Quantity: 3, ExpiresAt: at.Add(time.Hour), At: at})
	do(mug, catalog.ReserveStock{ProductID: mug, ReservationID: "r2", CheckoutID: "c2", Quantity: 2, ExpiresAt: at.Add(time.Hour), At: at})
	do(mug, catalog.CommitReservation{ProductID: mug, ReservationID: "r1", At: at})
	do(mug, catalog.ReleaseReservation{ProductID: mug, ReservationID: "r2", At: at})
	do(mug, catalog.UpdateProduct{ProductID: mug, Name: "Big blue mug", Category: "kitchen", Price: money.Money{Amount: 1499, Currency: "EUR"}, At: at.Add(time.Hour)})

	model := projections.NewMemoryCatalog(r.Codec)
	runner := &projections.Runner{Store: s, Poll: 5 * time.Millisecond}
	start(t, runner, projections.Projection{Name: "catalog", Filter: projections.CatalogFilter, Target: model})
	head, _ := s.Head(ctx)
	eventually(t, "the catalog to catch up", func() bool { pos, _ := model.Position(ctx); return pos == head })

	p, ok, _ := model.Product(ctx, mug)
	if !ok || p.Name != "Big blue mug" || p.Available != 7 || p.Price.Amount != 1499 {
		t.Fatalf("mug = %+v, want renamed, 1499 and 10-3 committed = 7 available", p)
	}
	names := func(ps []projections.Product) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return fmt.Sprint(out)
	}
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		q    projections.Query
		want string
	}{
		{projections.Query{}, "[Mug rack Zebra socks Cap Apron Big blue mug]"},
		{projections.Query{Category: "kitchen", Sort: projections.SortPriceAsc}, "[Big blue mug Apron Mug rack]"},
		{projections.Query{Sort: projections.SortPriceDesc, MaxPrice: i64(2500)}, "[Apron Big blue mug Cap Zebra socks]"},
		{projections.Query{Text: "MUG", Sort: projections.SortName}, "[Big blue mug Mug rack]"},
		{projections.Query{MinPrice: i64(1000), MaxPrice: i64(3000), Sort: projections.SortName}, "[Apron Big blue mug]"},
		{projections.Query{Category: "toys"}, "[]"},
	} {
		got, next, err := model.Products(ctx, tc.q)
		if err != nil || next != "" || names(got) != tc.want {
			t.Errorf("%+v: %s (next %q, %v), want %s", tc.q, names(got), next, err, tc.want)
		}
	}
	// Paging by name, two at a time, walks every product exactly once.
	var walked []projections.Product
	q := projections.Query{Sort: projections.SortName, PageSize: 2}
	for {
		page, next, err := model.Products(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, page...)
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if names(walked) != "[Apron Big blue mug Cap Mug rack Zebra socks]" {
		t.Fatalf("paged = %s", names(walked))
	}
	if _, _, err := model.Products(ctx, projections.Query{Sort: projections.SortPriceAsc, Cursor: q.Cursor}); !errors.Is(err, projections.ErrBadCursor) {
		t.Fatalf("a name cursor with another sort: %v", err)
	}
	if _, _, err := model.Products(ctx, projections.Query{Cursor: "!!"}); !errors.Is(err, projections.ErrBadCursor) {
		t.Fatalf("a junk cursor: %v", err)
	}
	if got := fmt.Sprint(must(model.Categories(ctx))); got != "[{clothes 2} {kitchen 3}]" {
		t.Fatalf("categories = %s", got)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
