package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/openapi/openapitest"
	"github.com/commerce-engine/commerce/projections"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// fixture is a store, its runner and codec, and an engine to mount on.
type fixture struct {
	store  *sqlite.Store
	runner *commands.Runner
	engine *gin.Engine
	// projections runs the fixture's projections: it knows how far each
	// has read the log, past the events its filter skips.
	projections *projections.Runner
}

// newFixture opens a fresh store and runs the given projections on it
// until the test ends.
func newFixture(t *testing.T, ps ...projections.Projection) fixture {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	runner := &projections.Runner{Store: s, Poll: 2 * time.Millisecond}
	done := make(chan struct{}, len(ps))
	for _, p := range ps {
		go func() { _ = runner.Run(ctx, p); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range ps {
			<-done
		}
	})
	engine, err := httpedge.New(httpedge.Config{})
	if err != nil {
		t.Fatal(err)
	}
	engine.Use(openapitest.Middleware(t))
	return fixture{store: s, runner: &commands.Runner{Store: s, Codec: codec}, engine: engine, projections: runner}
}

// codec is shared by every model and runner of these tests.
var codec = commands.NewCodec()

func TestCatalogEndpoints(t *testing.T) {
	t.Parallel()
	model := projections.NewMemoryCatalog(codec)
	f := newFixture(t, projections.Projection{Name: "catalog", Filter: projections.CatalogFilter, Target: model})
	r, engine := f.runner, f.engine
	(&httpapi.Reads{Catalog: model, MaxWait: 300 * time.Millisecond}).Mount(engine, nil)
	get := func(path string, header ...string) (*httptest.ResponseRecorder, map[string]any) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec, body
	}
	create := func(name, category string, price int64) (string, int64) {
		id := uuid.NewString()
		res, err := commands.Handle(context.Background(), r, commands.Product, catalog.StreamID(id), catalog.CreateProduct{
			ProductID: id, SKU: "SKU-" + name, Name: name, Category: category, Price: money.Money{Amount: price, Currency: "EUR"}, At: time.Now(),
		}, commands.Metadata{CommandID: uuid.NewString()})
		if err != nil {
			t.Fatal(err)
		}
		return id, int64(res.Position)
	}
	mug, _ := create("Mug", "kitchen", 1299)
	_, _ = create("Cap", "clothes", 999)
	_, last := create("Apron", "kitchen", 2500)

	// Read your own write: wait for the position the write answered.
	rec, body := get("/api/v1/products?category=kitchen&sort=price_asc", httpapi.HeaderMinPosition, strconv.FormatInt(last, 10))
	if rec.Code != 200 {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	items := body["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["name"] != "Mug" || body["next_cursor"] != nil {
		t.Fatalf("list = %s", rec.Body)
	}
	rec, body = get("/api/v1/products?page_size=1&sort=name")
	if rec.Code != 200 || len(body["items"].([]any)) != 1 || body["next_cursor"] == nil {
		t.Fatalf("first page = %s", rec.Body)
	}
	rec, body = get("/api/v1/products?page_size=1&sort=name&cursor=" + body["next_cursor"].(string))
	if rec.Code != 200 || body["items"].([]any)[0].(map[string]any)["name"] != "Cap" {
		t.Fatalf("second page = %s", rec.Body)
	}
	rec, body = get("/api/v1/products/" + mug)
	if rec.Code != 200 || body["sku"] != "SKU-Mug" || body["available"] != 0.0 {
		t.Fatalf("product = %d %s", rec.Code, rec.Body)
	}
	rec, body = get("/api/v1/categories")
	if rec.Code != 200 || len(body["items"].([]any)) != 2 {
		t.Fatalf("categories = %s", rec.Body)
	}
	for path, status := range map[string]int{
		"/api/v1/products/" + uuid.NewString():           404,
		"/api/v1/products/not-an-id":                     404,
		"/api/v1/products?sort=cheapest":                 400,
		"/api/v1/products?min_price=-1":                  400,
		"/api/v1/products?max_price=ten":                 400,
		"/api/v1/products?page_size=0":                   400,
		"/api/v1/products?page_size=1000":                400,
		"/api/v1/products?cursor=junk":                   400,
		"/api/v1/products?q=" + strings.Repeat("q", 201): 400,
		"/api/v1/products?q=mu%01g":                      400,
		"/api/v1/products?category=kit%00chen":           400,
		"/api/v1/products?q=%ff":                         400,
	} {
		if rec, _ := get(path); rec.Code != status || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Errorf("GET %s: %d %s, want %d problem", path, rec.Code, rec.Body, status)
		}
	}
	if rec, _ := get("/api/v1/products", httpapi.HeaderMinPosition, "x"); rec.Code != 400 {
		t.Errorf("bad X-Min-Position: %d", rec.Code)
	}
	rec, _ = get("/api/v1/products", httpapi.HeaderMinPosition, strconv.FormatInt(last+1000, 10))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("a position the model never reaches: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestCartEndpointsServeOnlyTheCallersCart(t *testing.T) {
	t.Parallel()
	catalogModel, carts := projections.NewMemoryCatalog(codec), projections.NewMemoryCarts(codec)
	f := newFixture(t,
		projections.Projection{Name: "catalog", Filter: projections.CatalogFilter, Target: catalogModel},
		projections.Projection{Name: "carts", Filter: projections.CartFilter, Target: carts})
	r, engine := f.runner, f.engine
	tokens, err := auth.NewTokens(auth.TokensConfig{Secret: []byte(strings.Repeat("r", 32))})
	if err != nil {
		t.Fatal(err)
	}
	(&httpapi.Reads{Catalog: catalogModel, Carts: carts, Projections: f.projections}).Mount(engine, auth.Authenticate(tokens))

	product := uuid.NewString()
	for _, cmd := range []any{
		catalog.CreateProduct{ProductID: product, SKU: "MUG-1", Name: "Mug", Price: money.Money{Amount: 1299, Currency: "EUR"}, At: time.Now()},
		catalog.AdjustStock{ProductID: product, Delta: 2, At: time.Now()},
	} {
		if _, err := commands.Handle(context.Background(), r, commands.Product, catalog.StreamID(product), cmd, commands.Metadata{CommandID: uuid.NewString()}); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := uuid.NewString(), uuid.NewString()
	res, err := commands.AddToCart(context.Background(), r, cart.AddItem{CartID: alice, CustomerID: alice, ProductID: product, Quantity: 2, At: time.Now()}, commands.Metadata{CommandID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, user string) (*httptest.ResponseRecorder, map[string]any) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set(httpapi.HeaderMinPosition, strconv.FormatInt(int64(res.Position), 10))
		if user != "" {
			tok, _, _ := tokens.Issue(user, customer.RoleShopper)
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec, body
	}
	rec, body := get("/api/v1/cart", alice)
	if rec.Code != 200 || body["item_count"] != 2.0 || body["items"].([]any)[0].(map[string]any)["sku"] != "MUG-1" || body["all_available"] != nil {
		t.Fatalf("alice's cart: %d %s", rec.Code, rec.Body)
	}
	rec, body = get("/api/v1/cart", bob)
	if rec.Code != 200 || body["item_count"] != 0.0 || len(body["items"].([]any)) != 0 {
		t.Fatalf("bob's cart: %d %s", rec.Code, rec.Body)
	}
	rec, body = get("/api/v1/cart/summary", alice)
	line := body["items"].([]any)[0].(map[string]any)
	if rec.Code != 200 || body["all_available"] != true || line["available"] != 2.0 {
		t.Fatalf("summary: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := get("/api/v1/cart", ""); rec.Code != 401 {
		t.Fatalf("anonymous cart: %d", rec.Code)
	}
}

func TestStreamBrowserAndOrderStateAtAPosition(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s, r, engine := f.store, f.runner, f.engine
	pass := func(c *gin.Context) { c.Next() }
	(&httpapi.Reads{Store: s, Codec: r.Codec}).MountAdmin(engine, pass, pass)

	id, customer := uuid.NewString(), uuid.NewString()
	eur := func(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }
	placed, err := commands.Handle(context.Background(), r, commands.Order, order.StreamID(id), order.Place{
		OrderID: id, CustomerID: customer, CheckoutID: uuid.NewString(), PaymentID: "pi_1",
		Lines: []order.PlaceLine{{ProductID: uuid.NewString(), Quantity: 1, UnitPrice: eur(700)}}, Paid: eur(700), At: time.Now(),
	}, commands.Metadata{CommandID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := commands.Handle(context.Background(), r, commands.Order, order.StreamID(id),
		order.Ship{OrderID: id, Carrier: "DHL", TrackingNumber: "T1", At: time.Now()}, commands.Metadata{CommandID: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (*httptest.ResponseRecorder, map[string]any) {
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec, body
	}
	state := "/api/v1/admin/orders/" + id + "/state?at_position="
	if rec, body := get(state + strconv.FormatInt(int64(placed.Position), 10)); rec.Code != 200 || body["status"] != "placed" || body["user_id"] != customer {
		t.Fatalf("state at placement: %d %s", rec.Code, rec.Body)
	}
	if rec, body := get(state + strconv.FormatInt(int64(shipped.Position), 10)); rec.Code != 200 || body["status"] != "shipped" || body["carrier"] != "DHL" {
		t.Fatalf("state after shipping: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := get(state + strconv.FormatInt(int64(placed.Position)-1, 10)); rec.Code != 404 {
		t.Fatalf("state before the order existed: %d", rec.Code)
	}
	if rec, _ := get("/api/v1/admin/orders/" + id + "/state"); rec.Code != 400 {
		t.Fatalf("state without a position: %d", rec.Code)
	}
	rec, body := get("/api/v1/admin/streams/order-" + id + "/events?from_version=2")
	evs := body["events"].([]any)
	if rec.Code != 200 || len(evs) != 1 || evs[0].(map[string]any)["type"] != "order.shipped" || evs[0].(map[string]any)["version"] != 2.0 {
		t.Fatalf("stream browser: %d %s", rec.Code, rec.Body)
	}
	for path, status := range map[string]int{
		"/api/v1/admin/streams/order-" + id + "/events?from_version=0": 400,
		"/api/v1/admin/streams/order-" + id + "/events?limit=5000":     400,
		"/api/v1/admin/streams/no-such-stream/events":                  200,
	} {
		if rec, _ := get(path); rec.Code != status {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, status)
		}
	}
}

func TestOrdersAreTheirOwnersOnly(t *testing.T) {
	t.Parallel()
	orders := projections.NewMemoryOrders(codec)
	f := newFixture(t, projections.Projection{Name: "orders", Filter: projections.OrderFilter, Target: orders})
	r, engine := f.runner, f.engine
	tokens, _ := auth.NewTokens(auth.TokensConfig{Secret: []byte(strings.Repeat("o", 32))})
	(&httpapi.Reads{Catalog: projections.NewMemoryCatalog(codec), Orders: orders}).Mount(engine, auth.Authenticate(tokens))

	alice, bob := uuid.NewString(), uuid.NewString()
	eur := func(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }
	var ids []string
	var last int64
	for i := range 2 {
		id := uuid.NewString()
		ids = append(ids, id)
		res, err := commands.Handle(context.Background(), r, commands.Order, order.StreamID(id), order.Place{
			OrderID: id, CustomerID: alice, CheckoutID: uuid.NewString(), PaymentID: fmt.Sprint("pi_", i),
			Lines: []order.PlaceLine{{ProductID: uuid.NewString(), Quantity: 1, UnitPrice: eur(100)}}, Paid: eur(100), At: time.Now(),
		}, commands.Metadata{CommandID: uuid.NewString()})
		if err != nil {
			t.Fatal(err)
		}
		last = int64(res.Position)
	}
	get := func(path, user string, role customer.Role) (*httptest.ResponseRecorder, map[string]any) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set(httpapi.HeaderMinPosition, strconv.FormatInt(last, 10))
		tok, _, _ := tokens.Issue(user, role)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec, body
	}
	rec, body := get("/api/v1/orders/user/"+alice, alice, customer.RoleShopper)
	items := body["items"].([]any)
	if rec.Code != 200 || len(items) != 2 || items[0].(map[string]any)["id"] != ids[1] {
		t.Fatalf("alice's history (newest first): %d %s", rec.Code, rec.Body)
	}
	if rec, body := get("/api/v1/orders/"+ids[0], alice, customer.RoleShopper); rec.Code != 200 || body["status"] != "placed" {
		t.Fatalf("alice's order: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := get("/api/v1/orders/"+ids[0], bob, customer.RoleShopper); rec.Code != 404 {
		t.Fatalf("bob reading alice's order: %d, want 404", rec.Code)
	}
	if rec, _ := get("/api/v1/orders/user/"+alice, bob, customer.RoleShopper); rec.Code != 404 {
		t.Fatalf("bob reading alice's history: %d, want 404", rec.Code)
	}
	if rec, body := get("/api/v1/orders/user/"+alice, bob, customer.RoleAdmin); rec.Code != 200 || len(body["items"].([]any)) != 2 {
		t.Fatalf("an admin reading alice's history: %d %s", rec.Code, rec.Body)
	}
	if rec, _ := get("/api/v1/orders/"+uuid.NewString(), alice, customer.RoleShopper); rec.Code != 404 {
		t.Fatalf("an unknown order: %d", rec.Code)
	}
}

func TestOrderTimelineGathersTheCheckoutAcrossStreams(t *testing.T) {
	t.Parallel()
	corr := projections.NewMemoryCorrelations()
	f := newFixture(t, projections.Projection{Name: "correlations", Target: corr})
	s, r, engine := f.store, f.runner, f.engine
	pass := func(c *gin.Context) { c.Next() }
	(&httpapi.Reads{Store: s, Codec: r.Codec, Correlations: corr}).MountAdmin(engine, pass, pass)

	meta := func(correlation string) commands.Metadata {
		return commands.Metadata{CommandID: uuid.NewString(), CorrelationID: correlation}
	}
	eur := func(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }
	product, customer, orderID := uuid.NewString(), uuid.NewString(), uuid.NewString()
	bg := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(commands.Handle(bg, r, commands.Product, catalog.StreamID(product), catalog.CreateProduct{ProductID: product, SKU: "S", Name: "N", Price: eur(100), At: time.Now()}, meta("admin-req")))
	must(commands.Handle(bg, r, commands.Product, catalog.StreamID(product), catalog.AdjustStock{ProductID: product, Delta: 5, At: time.Now()}, meta("admin-req-2")))
	// The checkout: one correlation across product, cart and order streams.
	must(commands.Handle(bg, r, commands.Product, catalog.StreamID(product), catalog.ReserveStock{ProductID: product, ReservationID: "r", CheckoutID: "co", Quantity: 1, ExpiresAt: time.Now().Add(time.Hour), At: time.Now()}, meta("checkout-1")))
	must(commands.Handle(bg, r, commands.Order, order.StreamID(orderID), order.Place{OrderID: orderID, CustomerID: customer, CheckoutID: "co", PaymentID: "pi",
		Lines: []order.PlaceLine{{ProductID: product, Quantity: 1, UnitPrice: eur(100)}}, Paid: eur(100), At: time.Now()}, meta("checkout-1")))
	must(commands.Handle(bg, r, commands.Product, catalog.StreamID(product), catalog.CommitReservation{ProductID: product, ReservationID: "r", At: time.Now()}, meta("checkout-1")))
	// Later, an admin ships it in another request.
	res, err := commands.Handle(bg, r, commands.Order, order.StreamID(orderID), order.Ship{OrderID: orderID, Carrier: "DHL", TrackingNumber: "T", At: time.Now()}, meta("admin-req-3"))
	must(res, err)

	req := httptest.NewRequest("GET", "/api/v1/admin/orders/"+orderID+"/timeline", nil)
	req.Header.Set(httpapi.HeaderMinPosition, strconv.FormatInt(int64(res.Position), 10))
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, req)
	var body struct {
		OrderID string `json:"order_id"`
		Events  []struct {
			Position int64  `json:"position"`
			Type     string `json:"type"`
		} `json:"events"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 {
		t.Fatalf("timeline: %d %s", rec.Code, rec.Body)
	}
	var types []string
	for i, e := range body.Events {
		types = append(types, e.Type)
		if i > 0 && e.Position <= body.Events[i-1].Position {
			t.Fatalf("timeline not oldest first: %s", rec.Body)
		}
	}
	if got := fmt.Sprint(types); got != "[product.stock_reserved order.placed product.reservation_committed order.shipped]" {
		t.Fatalf("timeline = %s", got)
	}
	rec = httptest.NewRecorder()
	engine.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/admin/orders/"+uuid.NewString()+"/timeline", nil))
	if rec.Code != 404 {
		t.Fatalf("timeline of an unknown order: %d", rec.Code)
	}
}
