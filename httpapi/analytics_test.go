package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/projections/analytics"
)

// paymentAggregate drives the payment decider for these tests.
var paymentAggregate = commands.Aggregate[payment.State]{Evolve: payment.Evolve, Decide: payment.Decide}

func TestAnalyticsEndpoints(t *testing.T) {
	t.Parallel()
	model := analytics.NewMemory(codec)
	f := newFixture(t, projections.Projection{Name: analytics.Name, Filter: analytics.Filter, Target: model})
	r, engine := f.runner, f.engine
	tokens, err := auth.NewTokens(auth.TokensConfig{Secret: []byte(strings.Repeat("a", 32))})
	if err != nil {
		t.Fatal(err)
	}
	(&httpapi.Reads{MaxWait: 300 * time.Millisecond}).MountAnalytics(engine, auth.Authenticate(tokens), auth.RequireRole(customer.RoleAdmin, customer.RoleAnalyst), model)

	ctx := context.Background()
	var last eventstore.Position
	handle := func(agg any, stream string, cmd any) {
		t.Helper()
		meta := commands.Metadata{CommandID: uuid.NewString()}
		var pos eventstore.Position
		var err error
		switch a := agg.(type) {
		case commands.Aggregate[catalog.State]:
			var res commands.Result[catalog.State]
			res, err = commands.Handle(ctx, r, a, stream, cmd, meta)
			pos = res.Position
		case commands.Aggregate[cart.State]:
			var res commands.Result[cart.State]
			res, err = commands.Handle(ctx, r, a, stream, cmd, meta)
			pos = res.Position
		case commands.Aggregate[payment.State]:
			var res commands.Result[payment.State]
			res, err = commands.Handle(ctx, r, a, stream, cmd, meta)
			pos = res.Position
		case commands.Aggregate[order.State]:
			var res commands.Result[order.State]
			res, err = commands.Handle(ctx, r, a, stream, cmd, meta)
			pos = res.Position
		}
		if err != nil {
			t.Fatalf("%T: %v", cmd, err)
		}
		last = max(last, pos)
	}
	eur := func(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }
	day := func(s string) time.Time {
		d, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	mug, capID := uuid.NewString(), uuid.NewString()
	handle(commands.Product, catalog.StreamID(mug), catalog.CreateProduct{ProductID: mug, SKU: "MUG", Name: "Mug", Price: eur(1000), At: time.Now()})
	handle(commands.Product, catalog.StreamID(capID), catalog.CreateProduct{ProductID: capID, SKU: "CAP", Name: "Cap", Price: eur(500), At: time.Now()})
	// A shopper's checkout today: a cart, a checkout, a payment.
	alice, checkout, pay := uuid.NewString(), uuid.NewString(), uuid.NewString()
	now := time.Now()
	handle(commands.Cart, cart.StreamID(alice), cart.AddItem{CartID: alice, CustomerID: alice, ProductID: mug, Quantity: 2, UnitPrice: eur(1000), At: now})
	handle(commands.Cart, cart.StreamID(alice), cart.AddItem{CartID: alice, CustomerID: alice, ProductID: capID, Quantity: 1, UnitPrice: eur(500), At: now})
	handle(commands.Cart, cart.StreamID(alice), cart.CheckOut{CartID: alice, CheckoutID: checkout, At: now})
	handle(paymentAggregate, "payment-"+pay, payment.CreateIntent{PaymentID: pay, CheckoutID: checkout, CustomerID: alice, ProviderID: "pi_1", Amount: eur(2500), At: now})
	handle(paymentAggregate, "payment-"+pay, payment.MarkSucceeded{PaymentID: pay, At: now})
	// Orders on known days: March 2nd and 3rd 2026 (one ISO week), and
	// April 1st, cancelled and refunded on April 2nd.
	place := func(id, at string, lines ...order.PlaceLine) {
		total := eur(0)
		for _, l := range lines {
			total.Amount += l.UnitPrice.Amount * l.Quantity
		}
		handle(commands.Order, order.StreamID(id), order.Place{OrderID: id, CustomerID: alice, CheckoutID: uuid.NewString(), PaymentID: "pi_" + id,
			Lines: lines, Paid: total, At: day(at)})
	}
	o1, o2, o3 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	place(o1, "2026-03-02T10:00:00Z", order.PlaceLine{ProductID: mug, Quantity: 2, UnitPrice: eur(1000)}, order.PlaceLine{ProductID: capID, Quantity: 1, UnitPrice: eur(500)})
	place(o2, "2026-03-03T10:00:00Z", order.PlaceLine{ProductID: capID, Quantity: 3, UnitPrice: eur(500)})
	place(o3, "2026-04-01T10:00:00Z", order.PlaceLine{ProductID: mug, Quantity: 1, UnitPrice: eur(1000)})
	handle(commands.Order, order.StreamID(o1), order.Ship{OrderID: o1, Carrier: "DHL", TrackingNumber: "T1", At: day("2026-03-04T10:00:00Z")})
	handle(commands.Order, order.StreamID(o3), order.Cancel{OrderID: o3, Reason: "changed my mind", At: day("2026-04-01T11:00:00Z")})
	handle(commands.Order, order.StreamID(o3), order.MarkRefunded{OrderID: o3, At: day("2026-04-02T09:00:00Z")})

	token := func(role customer.Role) string {
		tok, _, err := tokens.Issue(uuid.NewString(), role)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	analyst, admin, shopper := token(customer.RoleAnalyst), token(customer.RoleAdmin), token(customer.RoleShopper)
	get := func(path, tok string, header ...string) (*httptest.ResponseRecorder, map[string]any) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec, body
	}
	caughtUp := []string{httpapi.HeaderMinPosition, strconv.FormatInt(int64(last), 10)}

	// Read your own writes, as an analyst.
	rec, _ := get("/api/v1/analytics/sales?from=2026-03-01&to=2026-05-01", analyst, caughtUp...)
	if rec.Code != 200 {
		t.Fatalf("sales: %d %s", rec.Code, rec.Body)
	}
	want := `{"series":[` +
		`{"period":"2026-03-02","orders":1,"units":3,"revenue":{"amount":2500,"currency":"EUR"},"refunds":{"amount":0,"currency":"EUR"}},` +
		`{"period":"2026-03-03","orders":1,"units":3,"revenue":{"amount":1500,"currency":"EUR"},"refunds":{"amount":0,"currency":"EUR"}},` +
		`{"period":"2026-04-01","orders":1,"units":1,"revenue":{"amount":1000,"currency":"EUR"},"refunds":{"amount":0,"currency":"EUR"}},` +
		`{"period":"2026-04-02","orders":0,"units":0,"revenue":{"amount":0,"currency":"EUR"},"refunds":{"amount":1000,"currency":"EUR"}}]}`
	if got := rec.Body.String(); got != want {
		t.Errorf("daily sales:\n got %s\nwant %s", got, want)
	}
	rec, body := get("/api/v1/analytics/sales?from=2026-03-01&to=2026-05-01T00:00:00Z&granularity=week", admin)
	if series := body["series"].([]any); rec.Code != 200 || len(series) != 2 || series[0].(map[string]any)["period"] != "2026-03-02" ||
		series[0].(map[string]any)["orders"] != 2.0 || series[1].(map[string]any)["period"] != "2026-03-30" {
		t.Errorf("weekly sales: %d %s", rec.Code, rec.Body)
	}
	rec, body = get("/api/v1/analytics/sales?from=2026-03-01&to=2026-05-01&granularity=month", analyst)
	if series := body["series"].([]any); rec.Code != 200 || len(series) != 2 || series[1].(map[string]any)["period"] != "2026-04-01" ||
		series[1].(map[string]any)["refunds"].(map[string]any)["amount"] != 1000.0 {
		t.Errorf("monthly sales: %d %s", rec.Code, rec.Body)
	}
	// Equal revenue: more units first.
	rec, _ = get("/api/v1/analytics/top-products?from=2026-03-01&to=2026-04-01", analyst)
	want = `{"items":[{"product_id":"` + capID + `","name":"Cap","units":4,"revenue":{"amount":2000,"currency":"EUR"}},` +
		`{"product_id":"` + mug + `","name":"Mug","units":2,"revenue":{"amount":2000,"currency":"EUR"}}]}`
	if got := rec.Body.String(); rec.Code != 200 || got != want {
		t.Errorf("top products:\n got %d %s\nwant %s", rec.Code, got, want)
	}
	if rec, body := get("/api/v1/analytics/top-products?from=2026-03-01&to=2026-05-01&limit=1", analyst); rec.Code != 200 ||
		len(body["items"].([]any)) != 1 || body["items"].([]any)[0].(map[string]any)["name"] != "Mug" {
		t.Errorf("top 1: %d %s", rec.Code, rec.Body)
	}
	rec, _ = get("/api/v1/analytics/funnel?from=2026-03-01&to=2026-05-01", analyst)
	if got := rec.Body.String(); rec.Code != 200 || got != `{"carts":0,"checkouts":0,"paid":0,"shipped":1,"cancelled":1}` {
		t.Errorf("funnel in spring: %d %s", rec.Code, got)
	}
	// The default range is the last 30 days up to today: today's cart,
	// checkout and payment.
	rec, _ = get("/api/v1/analytics/funnel", admin)
	if got := rec.Body.String(); rec.Code != 200 || got != `{"carts":1,"checkouts":1,"paid":1,"shipped":0,"cancelled":0}` {
		t.Errorf("funnel by default: %d %s", rec.Code, got)
	}
	if rec, body := get("/api/v1/analytics/sales", analyst); rec.Code != 200 || len(body["series"].([]any)) != 0 {
		t.Errorf("sales by default: %d %s", rec.Code, rec.Body)
	}

	// Roles: only admins and analysts.
	for _, path := range []string{"/api/v1/analytics/sales", "/api/v1/analytics/top-products", "/api/v1/analytics/funnel"} {
		if rec, _ := get(path, shopper); rec.Code != 403 {
			t.Errorf("shopper %s: %d", path, rec.Code)
		}
		if rec, _ := get(path, ""); rec.Code != 401 {
			t.Errorf("anonymous %s: %d", path, rec.Code)
		}
		if rec, _ := get(path, analyst); rec.Code != 200 {
			t.Errorf("analyst %s: %d", path, rec.Code)
		}
		if rec, _ := get(path, admin); rec.Code != 200 {
			t.Errorf("admin %s: %d", path, rec.Code)
		}
	}

	// Validation: 400 problems naming the field.
	for path, field := range map[string]string{
		"/api/v1/analytics/sales?from=yesterday":                           "from",
		"/api/v1/analytics/sales?to=2026-13-01":                            "to",
		"/api/v1/analytics/sales?from=2026-03-02&to=2026-03-02":            "to",
		"/api/v1/analytics/sales?from=2026-03-05&to=2026-03-02":            "to",
		"/api/v1/analytics/sales?from=2020-01-01&to=2026-01-01":            "from",
		"/api/v1/analytics/sales?from=0000-01-01&to=0000-06-01":            "from",
		"/api/v1/analytics/sales?granularity=year":                         "granularity",
		"/api/v1/analytics/sales?granularity=":                             "granularity",
		"/api/v1/analytics/top-products?limit=0":                           "limit",
		"/api/v1/analytics/top-products?limit=101":                         "limit",
		"/api/v1/analytics/top-products?limit=ten":                         "limit",
		"/api/v1/analytics/funnel?from=2026-03-01T10:00:00":                "from",
		"/api/v1/analytics/funnel?to=2026-03-01&from=2026-03-01T23:00:00Z": "to",
	} {
		rec, body := get(path, analyst)
		if rec.Code != 400 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Errorf("GET %s: %d %s, want a 400 problem", path, rec.Code, rec.Body)
			continue
		}
		errs, _ := body["errors"].([]any)
		if len(errs) == 0 || errs[0].(map[string]any)["field"] != field {
			t.Errorf("GET %s: errors %v, want field %s", path, body["errors"], field)
		}
	}
	// Exactly three years is allowed; RFC 3339 times count by their UTC day.
	if rec, _ := get("/api/v1/analytics/sales?from=2023-03-01&to=2026-03-01", analyst); rec.Code != 200 {
		t.Errorf("three years: %d %s", rec.Code, rec.Body)
	}
	if rec, body := get("/api/v1/analytics/sales?from=2026-03-03T01:00:00%2B02:00&to=2026-03-03T00:00:00Z", analyst); rec.Code != 200 ||
		len(body["series"].([]any)) != 1 || body["series"].([]any)[0].(map[string]any)["period"] != "2026-03-02" {
		t.Errorf("RFC 3339 range: %d %s", rec.Code, rec.Body)
	}

	// X-Min-Position the model never reaches: 503 with Retry-After.
	rec, _ = get("/api/v1/analytics/funnel", analyst, httpapi.HeaderMinPosition, strconv.FormatInt(int64(last)+1000, 10))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("unreached position: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec, _ := get("/api/v1/analytics/funnel", analyst, httpapi.HeaderMinPosition, "-1"); rec.Code != 400 {
		t.Errorf("bad X-Min-Position: %d", rec.Code)
	}
}

// brokenReader is a model whose store is down.
type brokenReader struct{}

var errDown = errors.New("connection refused")

func (brokenReader) Position(context.Context) (eventstore.Position, error) { return 0, errDown }
func (brokenReader) Sales(context.Context, time.Time, time.Time, string) ([]analytics.SalesPoint, error) {
	return nil, errDown
}
func (brokenReader) TopProducts(context.Context, time.Time, time.Time, int) ([]analytics.ProductSales, error) {
	return nil, errDown
}
func (brokenReader) Funnel(context.Context, time.Time, time.Time) (analytics.Funnel, error) {
	return analytics.Funnel{}, errDown
}

func TestAnalyticsModelDownIs503(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	pass := func(c *gin.Context) { c.Next() }
	(&httpapi.Reads{}).MountAnalytics(f.engine, pass, pass, brokenReader{})
	for _, path := range []string{"/api/v1/analytics/sales", "/api/v1/analytics/top-products", "/api/v1/analytics/funnel"} {
		rec := httptest.NewRecorder()
		f.engine.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || strings.Contains(rec.Body.String(), "refused") {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func TestAnalyticsFailsClosedWithoutAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	(&httpapi.Reads{}).MountAnalytics(f.engine, nil, nil, analytics.NewMemory(codec))
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/analytics/funnel", nil))
	if rec.Code != 403 {
		t.Fatalf("no authn or allow: %d %s", rec.Code, rec.Body)
	}
}
