package readmodeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/projections/analytics"
)

// Readers are the read models a snapshot asks; nil ones are left out.
type Readers struct {
	Catalog      projections.CatalogReader
	Carts        projections.CartReader
	Orders       projections.OrderReader
	Correlations projections.CorrelationReader
	Analytics    analytics.Reader
}

// Snapshot is everything the read API can be asked about keys, one entry
// per question, rendered as JSON so two snapshots compare with == and a
// difference is readable.
type Snapshot map[string]string

// Take asks every reader every question about keys.
func Take(ctx context.Context, rd Readers, keys Keys) (Snapshot, error) {
	snap := Snapshot{}
	put := func(key string, v any, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		snap[key] = string(b)
		return nil
	}
	if c := rd.Catalog; c != nil {
		for _, sort := range []string{projections.SortNewest, projections.SortName, projections.SortPriceAsc, projections.SortPriceDesc} {
			for _, q := range []projections.Query{{Sort: sort, PageSize: 5}, {Sort: sort, Category: "kitchen", PageSize: 3}, {Sort: sort, Text: "MUG", PageSize: 100}} {
				page := 0
				for {
					items, next, err := c.Products(ctx, q)
					if err := put(fmt.Sprintf("products %s/%s/%s page %d", q.Sort, q.Category, q.Text, page), map[string]any{"items": items, "next": next != ""}, err); err != nil {
						return nil, err
					}
					if next == "" {
						break
					}
					q.Cursor, page = next, page+1
				}
			}
		}
		lo, hi := int64(1000), int64(5000)
		items, _, err := c.Products(ctx, projections.Query{MinPrice: &lo, MaxPrice: &hi, Sort: projections.SortPriceAsc, PageSize: 100})
		if err := put("products by price", items, err); err != nil {
			return nil, err
		}
		cats, err := c.Categories(ctx)
		if err := put("categories", cats, err); err != nil {
			return nil, err
		}
		for _, id := range append(keys.Products, "00000000-0000-0000-0000-000000000000") {
			p, ok, err := c.Product(ctx, id)
			if err := put("product "+id, map[string]any{"product": p, "found": ok}, err); err != nil {
				return nil, err
			}
		}
	}
	if c := rd.Carts; c != nil {
		for _, id := range keys.Customers {
			s, err := c.Cart(ctx, id)
			// The view is what the API shows; the folded state also
			// carries the ids, so compare both.
			if err := put("cart "+id, s, err); err != nil {
				return nil, err
			}
		}
	}
	if o := rd.Orders; o != nil {
		for _, id := range keys.Customers {
			items, err := o.OrdersOf(ctx, id)
			if err := put("orders of "+id, items, err); err != nil {
				return nil, err
			}
		}
		for _, id := range keys.Orders {
			ord, ok, err := o.Order(ctx, id)
			if err := put("order "+id, map[string]any{"order": ord, "found": ok}, err); err != nil {
				return nil, err
			}
		}
	}
	if c := rd.Correlations; c != nil {
		for _, id := range keys.Checkouts {
			ps, err := c.Correlated(ctx, id)
			if err := put("correlated "+id, ps, err); err != nil {
				return nil, err
			}
		}
	}
	if a := rd.Analytics; a != nil {
		for _, g := range []string{analytics.GranularityDay, analytics.GranularityWeek, analytics.GranularityMonth} {
			series, err := a.Sales(ctx, keys.From, keys.To, g)
			if err := put("sales by "+g, series, err); err != nil {
				return nil, err
			}
		}
		mid := keys.From.Add(keys.To.Sub(keys.From) / 2).Truncate(24 * time.Hour)
		for _, r := range [][2]time.Time{{keys.From, keys.To}, {keys.From, mid}, {mid, keys.To}} {
			top, err := a.TopProducts(ctx, r[0], r[1], 100)
			if err := put(fmt.Sprintf("top products %s..%s", r[0].Format(time.DateOnly), r[1].Format(time.DateOnly)), top, err); err != nil {
				return nil, err
			}
			f, err := a.Funnel(ctx, r[0], r[1])
			if err := put(fmt.Sprintf("funnel %s..%s", r[0].Format(time.DateOnly), r[1].Format(time.DateOnly)), f, err); err != nil {
				return nil, err
			}
		}
	}
	return snap, nil
}

// Diff describes how b differs from a, at most max entries; "" when equal.
func Diff(a, b Snapshot, max int) string {
	var out []string
	for k, va := range a {
		if vb, ok := b[k]; !ok {
			out = append(out, "only in the first: "+k)
		} else if va != vb {
			out = append(out, fmt.Sprintf("%s:\n  first:  %s\n  second: %s", k, va, vb))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, "only in the second: "+k)
		}
	}
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("... and %d more", len(out)-max))
	}
	return strings.Join(out, "\n")
}
