package analytics_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/projections/analytics"
)

var codec = commands.NewCodec()

var _ projections.Target = (*analytics.Memory)(nil)
var _ analytics.Reader = (*analytics.Memory)(nil)

// log builds events as the store would hand them to a projection.
type log struct {
	tb  testing.TB
	evs []eventstore.Event
}

func (l *log) add(payload any) {
	name, version, data, err := codec.Encode(payload)
	if err != nil {
		l.tb.Fatal(err)
	}
	l.evs = append(l.evs, eventstore.Event{
		ID: uuid.New(), StreamID: "s", Version: 1, Position: eventstore.Position(len(l.evs) + 1),
		Type: name, SchemaVersion: version, Data: data,
	})
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func m(amount int64, currency string) money.Money {
	return money.Money{Amount: amount, Currency: currency}
}

func placed(id, when string, lines ...order.Line) order.Placed {
	total := m(0, lines[0].LineTotal.Currency)
	for _, l := range lines {
		total.Amount += l.LineTotal.Amount
	}
	return order.Placed{OrderID: id, CustomerID: "c", CheckoutID: "k-" + id, PaymentID: "p-" + id, Lines: lines, Total: total, At: at(when)}
}

func line(product string, qty, unit int64, currency string) order.Line {
	return order.Line{ProductID: product, Quantity: qty, UnitPrice: m(unit, currency), LineTotal: m(qty*unit, currency)}
}

// scenario is a small log whose answers are worked out by hand below.
func scenario(tb testing.TB) []eventstore.Event {
	l := &log{tb: tb}
	l.add(catalog.ProductCreated{ProductID: "mug", Name: "Mug", Price: m(1000, "EUR"), At: at("2026-03-01T08:00:00Z")})
	l.add(catalog.ProductCreated{ProductID: "cap", Name: "Cap", Price: m(500, "EUR"), At: at("2026-03-01T08:00:00Z")})
	l.add(catalog.ProductUpdated{ProductID: "mug", Name: "Big mug", Price: m(1000, "EUR"), At: at("2026-03-01T09:00:00Z")})
	// Cart a: one cart, though two items and a re-add.
	l.add(cart.ItemAdded{CartID: "a", ProductID: "mug", Quantity: 1, UnitPrice: m(1000, "EUR"), At: at("2026-03-01T10:00:00Z")})
	l.add(cart.ItemAdded{CartID: "a", ProductID: "cap", Quantity: 1, UnitPrice: m(500, "EUR"), At: at("2026-03-01T10:01:00Z")})
	l.add(cart.ItemAdded{CartID: "a", ProductID: "mug", Quantity: 1, UnitPrice: m(1000, "EUR"), At: at("2026-03-01T10:02:00Z")})
	l.add(cart.ItemQuantityChanged{CartID: "a", ProductID: "mug", Quantity: 3, At: at("2026-03-01T10:03:00Z")})
	l.add(cart.CheckedOut{CartID: "a", CheckoutID: "k1", Total: m(3500, "EUR"), At: at("2026-03-01T10:05:00Z")})
	l.add(payment.Succeeded{PaymentID: "p1", CheckoutID: "k1", Amount: m(3500, "EUR"), At: at("2026-03-01T10:06:00Z")})
	l.add(placed("o1", "2026-03-01T10:06:00Z", line("mug", 3, 1000, "EUR"), line("cap", 1, 500, "EUR")))
	l.add(cart.Cleared{CartID: "a", CheckoutID: "k1", At: at("2026-03-01T10:06:00Z")})
	// Cart a again after clearing: a new cart, on March 2nd.
	l.add(cart.ItemAdded{CartID: "a", ProductID: "cap", Quantity: 2, UnitPrice: m(500, "EUR"), At: at("2026-03-02T23:59:59Z")})
	// Cart b: emptied by removal, then filled again: two carts.
	l.add(cart.ItemAdded{CartID: "b", ProductID: "cap", Quantity: 1, UnitPrice: m(500, "EUR"), At: at("2026-03-02T12:00:00Z")})
	l.add(cart.ItemRemoved{CartID: "b", ProductID: "cap", At: at("2026-03-02T12:01:00Z")})
	l.add(cart.ItemAdded{CartID: "b", ProductID: "mug", Quantity: 1, UnitPrice: m(1000, "EUR"), At: at("2026-03-09T12:02:00Z")})
	// An order in another time zone counts on its UTC day (March 2nd).
	l.add(placed("o2", "2026-03-03T00:30:00+02:00", line("cap", 4, 500, "EUR")))
	l.add(order.Shipped{OrderID: "o1", Carrier: "DHL", TrackingNumber: "T", At: at("2026-03-03T09:00:00Z")})
	// A dollar order, cancelled and refunded in another month.
	l.add(placed("o3", "2026-03-31T20:00:00Z", line("hat", 1, 2000, "USD")))
	l.add(order.Cancelled{OrderID: "o3", At: at("2026-04-01T08:00:00Z")})
	l.add(order.Refunded{OrderID: "o3", PaymentID: "p-o3", Amount: m(2000, "USD"), At: at("2026-04-01T08:05:00Z")})
	// Events the model ignores.
	l.add(catalog.StockAdjusted{ProductID: "mug", Delta: 5, At: at("2026-03-01T08:00:00Z")})
	return l.evs
}

func TestMemoryAnswersTheScenario(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := analytics.NewMemory(codec)
	evs := scenario(t)
	if err := mem.Apply(ctx, evs); err != nil {
		t.Fatal(err)
	}
	checkScenario(t, mem)
	if pos, _ := mem.Position(ctx); pos != evs[len(evs)-1].Position {
		t.Fatalf("position = %d", pos)
	}
	refunds := mem.Refunds(day("2026-01-01"), day("2027-01-01"))
	if len(refunds) != 1 || refunds[0].OrderID != "o3" || refunds[0].Day != "2026-04-01" || refunds[0].Amount != 2000 {
		t.Fatalf("refunds = %+v", refunds)
	}
}

// checkScenario checks r's answers about scenario's log.
func checkScenario(t *testing.T, r analytics.Reader) {
	t.Helper()
	ctx := context.Background()
	eur := func(a int64) money.Money { return m(a, "EUR") }
	usd := func(a int64) money.Money { return m(a, "USD") }
	sales, err := r.Sales(ctx, day("2026-03-01"), day("2026-05-01"), analytics.GranularityDay)
	if err != nil {
		t.Fatal(err)
	}
	want := []analytics.SalesPoint{
		{Period: "2026-03-01", Orders: 1, Units: 4, Revenue: eur(3500), Refunds: eur(0)},
		{Period: "2026-03-02", Orders: 1, Units: 4, Revenue: eur(2000), Refunds: eur(0)},
		{Period: "2026-03-31", Orders: 1, Units: 1, Revenue: usd(2000), Refunds: usd(0)},
		{Period: "2026-04-01", Orders: 0, Units: 0, Revenue: usd(0), Refunds: usd(2000)},
	}
	if !reflect.DeepEqual(sales, want) {
		t.Errorf("daily sales = %+v\nwant %+v", sales, want)
	}
	sales, _ = r.Sales(ctx, day("2026-02-01"), day("2026-05-01"), analytics.GranularityWeek)
	want = []analytics.SalesPoint{
		// Sunday March 1st belongs to the ISO week of Monday February 23rd.
		{Period: "2026-02-23", Orders: 1, Units: 4, Revenue: eur(3500), Refunds: eur(0)},
		{Period: "2026-03-02", Orders: 1, Units: 4, Revenue: eur(2000), Refunds: eur(0)},
		{Period: "2026-03-30", Orders: 1, Units: 1, Revenue: usd(2000), Refunds: usd(2000)},
	}
	if !reflect.DeepEqual(sales, want) {
		t.Errorf("weekly sales = %+v\nwant %+v", sales, want)
	}
	sales, _ = r.Sales(ctx, day("2026-03-02"), day("2026-04-02"), analytics.GranularityMonth)
	want = []analytics.SalesPoint{
		{Period: "2026-03-01", Orders: 1, Units: 4, Revenue: eur(2000), Refunds: eur(0)},
		{Period: "2026-03-01", Orders: 1, Units: 1, Revenue: usd(2000), Refunds: usd(0)},
		{Period: "2026-04-01", Orders: 0, Units: 0, Revenue: usd(0), Refunds: usd(2000)},
	}
	if !reflect.DeepEqual(sales, want) {
		t.Errorf("monthly sales = %+v\nwant %+v", sales, want)
	}
	if _, err := r.Sales(ctx, day("2026-03-01"), day("2026-04-01"), "year"); !errors.Is(err, analytics.ErrGranularity) {
		t.Errorf("granularity year: %v", err)
	}
	top, err := r.TopProducts(ctx, day("2026-03-01"), day("2026-04-01"), 10)
	if err != nil {
		t.Fatal(err)
	}
	// By revenue: mug 3000 first (its latest name), then cap 2500 and
	// hat 2000 (never in the catalog: no name).
	wantTop := []analytics.ProductSales{
		{ProductID: "mug", Name: "Big mug", Units: 3, Revenue: eur(3000)},
		{ProductID: "cap", Name: "Cap", Units: 5, Revenue: eur(2500)},
		{ProductID: "hat", Name: "", Units: 1, Revenue: usd(2000)},
	}
	if !reflect.DeepEqual(top, wantTop) {
		t.Errorf("top = %+v\nwant %+v", top, wantTop)
	}
	if top, _ := r.TopProducts(ctx, day("2026-03-01"), day("2026-04-01"), 1); len(top) != 1 || top[0].ProductID != "mug" {
		t.Errorf("top 1 = %+v", top)
	}
	f, err := r.Funnel(ctx, day("2026-03-01"), day("2026-03-09"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (analytics.Funnel{Carts: 3, Checkouts: 1, Paid: 1, Shipped: 1}); f != want {
		t.Errorf("funnel = %+v, want %+v", f, want)
	}
	if f, _ := r.Funnel(ctx, day("2026-03-01"), day("2026-05-01")); f != (analytics.Funnel{Carts: 4, Checkouts: 1, Paid: 1, Shipped: 1, Cancelled: 1}) {
		t.Errorf("whole funnel = %+v", f)
	}
	if s, _ := r.Sales(ctx, day("2027-01-01"), day("2027-02-01"), analytics.GranularityDay); s == nil || len(s) != 0 {
		t.Errorf("no sales = %#v, want an empty series", s)
	}
}

func TestMemoryApplyIsIdempotentAndAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	evs := scenario(t)
	mem := analytics.NewMemory(codec)
	// Applied in two batches, with the first retried (its success lost) and
	// overlapping the second.
	if err := mem.Apply(ctx, evs[:10]); err != nil {
		t.Fatal(err)
	}
	if err := mem.Apply(ctx, evs[:10]); err != nil {
		t.Fatal(err)
	}
	bad := append([]eventstore.Event{}, evs[5:]...)
	broken := bad[len(bad)-1]
	broken.Data = []byte(`{"product_id": 7}`)
	bad[len(bad)-1] = broken
	if err := mem.Apply(ctx, bad); err == nil {
		t.Fatal("a batch with an undecodable event applied")
	}
	if pos, _ := mem.Position(ctx); pos != 10 {
		t.Fatalf("position after a failed batch = %d, want 10", pos)
	}
	if err := mem.Apply(ctx, evs[5:]); err != nil {
		t.Fatal(err)
	}
	checkScenario(t, mem)
}

func TestDocumentedQueriesExtractsSQLBlocks(t *testing.T) {
	t.Parallel()
	md := "# Title\n\n```sql\nSELECT 1;\n```\n\ntext\n```go\nfmt.Println()\n```\n  ```SQL\nSELECT 2\nFROM x\n  ```\n```sql\n```\n```sql\nSELECT 3 -- unterminated\n"
	got := analytics.DocumentedQueries([]byte(md))
	if want := []string{"SELECT 1;", "SELECT 2\nFROM x"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("queries = %q, want %q", got, want)
	}
}

// generate returns n events of a busy shop over about four months, with
// two currencies, carts emptied and refilled, cancellations and refunds.
func generate(tb testing.TB, n int, seed uint64) []eventstore.Event {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	l := &log{tb: tb, evs: make([]eventstore.Event, 0, n+16)}
	start := at("2026-01-01T00:00:00Z")
	const products = 300
	name := func(i int) string {
		return "product-" + string(rune('a'+i%26)) + uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i), byte(i >> 8)}).String()[:8]
	}
	ids := make([]string, products)
	for i := range ids {
		ids[i] = uuid.NewSHA1(uuid.NameSpaceURL, []byte{byte(i), byte(i >> 8), 1}).String()
		l.add(catalog.ProductCreated{ProductID: ids[i], Name: name(i), Price: m(100, "EUR"), At: start})
	}
	carts := 3000
	for session := 0; len(l.evs) < n; session++ {
		t := start.Add(time.Duration(rng.Int64N(int64(120 * 24 * time.Hour))))
		tick := func() time.Time { t = t.Add(time.Duration(rng.Int64N(int64(3 * time.Hour)))); return t }
		cartID := "cart-" + string(rune('0'+rng.IntN(10))) + uuid.NewSHA1(uuid.NameSpaceDNS, []byte{byte(session % carts), byte(session % carts >> 8)}).String()
		currency := "EUR"
		if rng.IntN(4) == 0 {
			currency = "USD"
		}
		type pick struct {
			id  string
			qty int64
		}
		var picks []pick
		for range 1 + rng.IntN(4) {
			p := ids[rng.IntN(products)]
			q := 1 + rng.Int64N(3)
			l.add(cart.ItemAdded{CartID: cartID, ProductID: p, Quantity: q, UnitPrice: m(100, currency), At: tick()})
			picks = append(picks, pick{p, q})
		}
		switch rng.IntN(10) {
		case 0: // abandoned, lines stay
			continue
		case 1: // emptied by hand
			for _, p := range picks {
				l.add(cart.ItemRemoved{CartID: cartID, ProductID: p.id, At: tick()})
			}
			continue
		case 2:
			l.add(cart.Cleared{CartID: cartID, At: tick()})
			continue
		}
		checkout, orderID := uuid.NewString(), uuid.NewString()
		l.add(cart.CheckedOut{CartID: cartID, CheckoutID: checkout, At: tick()})
		if rng.IntN(8) == 0 {
			l.add(cart.CheckoutCancelled{CartID: cartID, CheckoutID: checkout, At: tick()})
			continue
		}
		l.add(payment.Succeeded{PaymentID: "pay-" + orderID, CheckoutID: checkout, At: tick()})
		merged := map[string]int64{}
		var order_ []string
		for _, p := range picks {
			if _, ok := merged[p.id]; !ok {
				order_ = append(order_, p.id)
			}
			merged[p.id] += p.qty
		}
		var lines []order.Line
		for _, id := range order_ {
			lines = append(lines, line(id, merged[id], 100+int64(id[0]%7)*10, currency))
		}
		p := placed(orderID, tick().Format(time.RFC3339Nano), lines...)
		l.add(p)
		l.add(cart.Cleared{CartID: cartID, CheckoutID: checkout, At: tick()})
		switch rng.IntN(6) {
		case 0:
			l.add(order.Cancelled{OrderID: orderID, At: tick()})
			l.add(order.Refunded{OrderID: orderID, PaymentID: p.PaymentID, Amount: p.Total, At: tick().Add(24 * time.Hour)})
		case 1, 2, 3:
			l.add(order.Shipped{OrderID: orderID, Carrier: "DHL", TrackingNumber: "T", At: tick().Add(36 * time.Hour)})
		}
		if rng.IntN(20) == 0 {
			i := rng.IntN(products)
			l.add(catalog.ProductUpdated{ProductID: ids[i], Name: name(i) + " v" + string(rune('0'+rng.IntN(10))), At: tick()})
		}
	}
	return l.evs
}

func TestMemoryBatchingDoesNotChangeTheAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	evs := generate(t, 5000, 7)
	whole, batched := analytics.NewMemory(codec), analytics.NewMemory(codec)
	if err := whole.Apply(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(evs); i += 37 {
		if err := batched.Apply(ctx, evs[i:min(i+37, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
	compareReaders(t, whole, batched)
}

// ranges are the queries compareReaders asks both readers.
var ranges = []struct{ from, to time.Time }{
	{day("2025-12-01"), day("2026-07-01")},
	{day("2026-01-01"), day("2026-01-02")},
	{day("2026-02-11"), day("2026-03-19")},
	{at("2026-03-04T17:00:00Z"), at("2026-04-28T03:00:00+02:00")},
	{day("2027-01-01"), day("2027-02-01")},
}

// compareReaders fails unless a and b answer every query the same.
func compareReaders(t *testing.T, a, b analytics.Reader) {
	t.Helper()
	ctx := context.Background()
	for _, r := range ranges {
		for _, g := range []string{analytics.GranularityDay, analytics.GranularityWeek, analytics.GranularityMonth} {
			sa, err := a.Sales(ctx, r.from, r.to, g)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := b.Sales(ctx, r.from, r.to, g)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sa, sb) {
				t.Errorf("sales %s..%s by %s differ:\n%+v\n%+v", r.from, r.to, g, sa, sb)
			}
		}
		for _, limit := range []int{1, 10, 100} {
			ta, err := a.TopProducts(ctx, r.from, r.to, limit)
			if err != nil {
				t.Fatal(err)
			}
			tb, err := b.TopProducts(ctx, r.from, r.to, limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ta, tb) {
				t.Errorf("top %d %s..%s differ:\n%+v\n%+v", limit, r.from, r.to, ta, tb)
			}
		}
		fa, err := a.Funnel(ctx, r.from, r.to)
		if err != nil {
			t.Fatal(err)
		}
		fb, err := b.Funnel(ctx, r.from, r.to)
		if err != nil {
			t.Fatal(err)
		}
		if fa != fb {
			t.Errorf("funnel %s..%s differs: %+v %+v", r.from, r.to, fa, fb)
		}
	}
}
