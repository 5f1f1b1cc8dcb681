package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/openapi/openapitest"
)

func init() { gin.SetMode(gin.ReleaseMode) }

type env struct {
	t       testing.TB
	h       http.Handler
	store   eventstore.Store
	tokens  *auth.Tokens
	admin   string
	shopper string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	tokens, err := auth.NewTokens(auth.TokensConfig{Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := httpedge.New(httpedge.Config{})
	if err != nil {
		t.Fatal(err)
	}
	runner := &commands.Runner{Store: store, Codec: commands.NewCodec()}
	accounts := &commands.Accounts{Runner: runner, Tokens: tokens, Hasher: auth.Hasher{Params: auth.CheapArgon2Params()},
		Limiter: auth.NewMemoryLimiter(1000, time.Minute, time.Now), Now: time.Now}
	api := &httpapi.API{Runner: runner, Accounts: accounts, Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }}
	api.MountAuth(engine, func(c *gin.Context) { c.Next() })
	idem := httpedge.Idempotency(httpedge.IdempotencyConfig{
		Store: httpedge.NewMemoryIdempotencyStore(),
		Scope: func(c *gin.Context) string { cl, _ := auth.ClaimsFrom(c); return cl.UserID },
	})
	api.Mount(engine, auth.Authenticate(tokens), idem)
	e := &env{t: t, h: engine, store: store, tokens: tokens}
	e.admin = e.token(uuid.NewString(), customer.RoleAdmin)
	e.shopper = e.token(uuid.NewString(), customer.RoleShopper)
	return e
}

func (e *env) token(user string, role customer.Role) string {
	tok, _, err := e.tokens.Issue(user, role)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) do(method, path, token, body string, headers ...string) (*httptest.ResponseRecorder, map[string]any) {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	openapitest.Handler(e.t, e.h).ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

func (e *env) head() eventstore.Position {
	h, err := e.store.Head(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

const mug = `{"sku":"MUG-1","name":"Mug","description":"A mug","category":"kitchen","price":{"amount":1299,"currency":"EUR"},"stock":5,"image_url":"https://img.example/mug.png"}`

func TestAdminProductsAndCart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec, p := e.do("POST", "/api/v1/admin/products", e.admin, mug)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("X-Event-Position") == "" || p["available"] != 5.0 || p["sku"] != "MUG-1" {
		t.Fatalf("create answered %v, headers %v", p, rec.Header())
	}
	id := p["id"].(string)

	rec, p = e.do("PUT", "/api/v1/admin/products/"+id, e.admin, `{"name":"Big mug","description":"","category":"kitchen","price":{"amount":1499,"currency":"EUR"},"image_url":""}`)
	if rec.Code != http.StatusOK || p["name"] != "Big mug" {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	// Text no read model can store is refused, and nothing is recorded.
	rec, _ = e.do("PUT", "/api/v1/admin/products/"+id, e.admin, `{"name":"Big\u0000mug","description":"","category":"kitchen","price":{"amount":1499,"currency":"EUR"},"image_url":""}`)
	if rec.Code != http.StatusBadRequest || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		t.Fatalf("a NUL in the name: %d %s", rec.Code, rec.Body)
	}
	rec, p = e.do("POST", "/api/v1/admin/products/"+id+"/stock", e.admin, `{"delta":-2}`)
	if rec.Code != http.StatusOK || p["available"] != 3.0 || p["name"] != "Big mug" {
		t.Fatalf("stock: %d %s", rec.Code, rec.Body)
	}

	rec, c := e.do("POST", "/api/v1/cart/items", e.shopper, `{"product_id":"`+id+`","quantity":2}`)
	if rec.Code != http.StatusOK || c["item_count"] != 2.0 || rec.Header().Get("X-Event-Position") == "" {
		t.Fatalf("add: %d %s", rec.Code, rec.Body)
	}
	if sub := c["subtotal"].(map[string]any); sub["amount"] != 2998.0 {
		t.Fatalf("subtotal = %v, want 2 x 1499", sub)
	}
	rec, _ = e.do("POST", "/api/v1/cart/items", e.shopper, `{"product_id":"`+id+`","quantity":2}`)
	if rec.Code != http.StatusConflict {
		t.Fatalf("adding beyond stock: %d %s", rec.Code, rec.Body)
	}
	rec, c = e.do("PATCH", "/api/v1/cart/items/"+id, e.shopper, `{"quantity":3}`)
	if rec.Code != http.StatusOK || c["item_count"] != 3.0 {
		t.Fatalf("patch: %d %s", rec.Code, rec.Body)
	}
	rec, c = e.do("PATCH", "/api/v1/cart/items/"+id, e.shopper, `{"quantity":0}`)
	if rec.Code != http.StatusOK || c["item_count"] != 0.0 {
		t.Fatalf("patch to 0: %d %s", rec.Code, rec.Body)
	}
	rec, _ = e.do("DELETE", "/api/v1/cart/items/"+id, e.shopper, ``)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("removing an absent item: %d %s", rec.Code, rec.Body)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, p := e.do("POST", "/api/v1/admin/products", e.admin, mug)
	id := p["id"].(string)
	before := e.head()
	cases := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"anonymous", "POST", "/api/v1/cart/items", "", `{"product_id":"` + id + `","quantity":1}`, 401},
		{"bad token", "POST", "/api/v1/cart/items", "not-a-token", `{"product_id":"` + id + `","quantity":1}`, 401},
		{"shopper on admin", "POST", "/api/v1/admin/products", e.shopper, mug, 403},
		{"unknown field", "POST", "/api/v1/cart/items", e.shopper, `{"product_id":"` + id + `","quantity":1,"price":1}`, 400},
		{"malformed JSON", "POST", "/api/v1/cart/items", e.shopper, `{"product_id":`, 400},
		{"wrong type", "POST", "/api/v1/cart/items", e.shopper, `{"product_id":"` + id + `","quantity":"1"}`, 400},
		{"zero quantity", "POST", "/api/v1/cart/items", e.shopper, `{"product_id":"` + id + `","quantity":0}`, 400},
		{"quantity over the cap", "POST", "/api/v1/cart/items", e.shopper, `{"product_id":"` + id + `","quantity":100}`, 400},
		{"not a product id", "POST", "/api/v1/cart/items", e.shopper, `{"product_id":"x","quantity":1}`, 400},
		{"unknown product", "POST", "/api/v1/cart/items", e.shopper, `{"product_id":"` + uuid.NewString() + `","quantity":1}`, 404},
		{"negative price", "POST", "/api/v1/admin/products", e.admin, strings.Replace(mug, "1299", "-1", 1), 400},
		{"bad currency", "POST", "/api/v1/admin/products", e.admin, strings.Replace(mug, `"EUR"`, `"euro"`, 1), 400},
		{"missing name", "POST", "/api/v1/admin/products", e.admin, strings.Replace(mug, `"name":"Mug",`, ``, 1), 400},
		{"stock on update", "PUT", "/api/v1/admin/products/" + id, e.admin, mug, 400},
		{"sku change", "PUT", "/api/v1/admin/products/" + id, e.admin, strings.Replace(strings.Replace(mug, `"stock":5,`, ``, 1), "MUG-1", "MUG-2", 1), 400},
		{"stock below zero", "POST", "/api/v1/admin/products/" + id + "/stock", e.admin, `{"delta":-6}`, 409},
		{"zero delta", "POST", "/api/v1/admin/products/" + id + "/stock", e.admin, `{"delta":0}`, 400},
		{"unknown product id", "POST", "/api/v1/admin/products/" + uuid.NewString() + "/stock", e.admin, `{"delta":1}`, 404},
		{"junk product id", "PUT", "/api/v1/admin/products/..%2F..", e.admin, mug, 404},
		{"empty body", "POST", "/api/v1/admin/products", e.admin, ``, 400},
	}
	for _, tc := range cases {
		rec, prob := e.do(tc.method, tc.path, tc.token, tc.body)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, rec.Code, tc.status, rec.Body)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") || prob["status"] != float64(tc.status) {
			t.Errorf("%s: %s %s is not a problem+json answer", tc.name, ct, rec.Body)
		}
	}
	if after := e.head(); after != before {
		t.Fatalf("bad input wrote events: head %d -> %d", before, after)
	}
}

func TestIdempotencyKeyReplaysAndCommandRunsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, p := e.do("POST", "/api/v1/admin/products", e.admin, mug)
	id := p["id"].(string)
	body := `{"product_id":"` + id + `","quantity":1}`
	first, _ := e.do("POST", "/api/v1/cart/items", e.shopper, body, "Idempotency-Key", "k-1")
	head := e.head()
	again, _ := e.do("POST", "/api/v1/cart/items", e.shopper, body, "Idempotency-Key", "k-1")
	if again.Code != 200 || again.Body.String() != first.Body.String() || again.Header().Get("X-Event-Position") != first.Header().Get("X-Event-Position") {
		t.Fatalf("replay differs: %d %s vs %s", again.Code, again.Body, first.Body)
	}
	if e.head() != head {
		t.Fatal("the replayed request wrote events")
	}
	other, _ := e.do("POST", "/api/v1/cart/items", e.shopper, `{"product_id":"`+id+`","quantity":2}`, "Idempotency-Key", "k-1")
	if other.Code != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other body: %d", other.Code)
	}
}

func TestAdminOrderStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := &commands.Runner{Store: e.store, Codec: commands.NewCodec()}
	id, customer := uuid.NewString(), uuid.NewString()
	eur := func(a int64) money.Money { return money.Money{Amount: a, Currency: "EUR"} }
	// The checkout saga places orders; here the test does.
	if _, err := commands.Handle(t.Context(), r, commands.Order, order.StreamID(id), order.Place{
		OrderID: id, CustomerID: customer, CheckoutID: uuid.NewString(), PaymentID: "pi_1",
		Lines: []order.PlaceLine{{ProductID: uuid.NewString(), Quantity: 2, UnitPrice: eur(500)}},
		Paid:  eur(1000), At: time.Now(),
	}, commands.Metadata{CommandID: "place"}); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/admin/orders/" + id + "/status"
	steps := []struct {
		token, body string
		status      int
		want        string
	}{
		{e.shopper, `{"status":"processing"}`, 403, ""},
		{e.admin, `{"status":"delivered"}`, 409, ""},
		{e.admin, `{"status":"cancelled"}`, 400, ""},
		{e.admin, `{"status":"processing","carrier":"DHL"}`, 400, ""},
		{e.admin, `{"status":"processing"}`, 200, "processing"},
		{e.admin, `{"status":"shipped","carrier":"DHL"}`, 400, ""},
		{e.admin, `{"status":"shipped","carrier":"DHL","tracking_number":"JD0123"}`, 200, "shipped"},
		{e.admin, `{"status":"processing"}`, 409, ""},
		{e.admin, `{"status":"delivered"}`, 200, "delivered"},
	}
	for i, s := range steps {
		rec, body := e.do("POST", path, s.token, s.body)
		if rec.Code != s.status {
			t.Fatalf("step %d %s: %d %s", i, s.body, rec.Code, rec.Body)
		}
		if s.want != "" && (body["status"] != s.want || body["user_id"] != customer) {
			t.Fatalf("step %d: order = %v", i, body)
		}
		if s.want == "shipped" && (body["carrier"] != "DHL" || body["tracking_number"] != "JD0123" || len(body["lines"].([]any)) != 1) {
			t.Fatalf("shipped order = %v", body)
		}
	}
	rec, _ := e.do("POST", "/api/v1/admin/orders/"+uuid.NewString()+"/status", e.admin, `{"status":"processing"}`)
	if rec.Code != 404 {
		t.Fatalf("unknown order: %d %s", rec.Code, rec.Body)
	}
}

func TestAuthEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec, reg := e.do("POST", "/api/v1/auth/register", "", `{"email":"Bo@Example.com","password":"correct horse battery 9","name":"Bo"}`)
	if rec.Code != 201 || reg["email_verified"] != false || reg["access_token"] == "" || rec.Header().Get("X-Event-Position") == "" {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		path, body string
		status     int
	}{
		{"/api/v1/auth/register", `{"email":"bo@example.com","password":"correct horse battery 9","name":"Bo"}`, 409},
		{"/api/v1/auth/register", `{"email":"x@example.com","password":"short","name":"X"}`, 400},
		{"/api/v1/auth/register", `{"email":"nope","password":"correct horse battery 9","name":"X"}`, 400},
		{"/api/v1/auth/login", `{"email":"bo@example.com","password":"wrong password 12"}`, 401},
		{"/api/v1/auth/login", `{"email":"bo@example.com","password":"correct horse battery 9"}`, 200},
		{"/api/v1/auth/admin/login", `{"email":"bo@example.com","password":"correct horse battery 9"}`, 403},
		{"/api/v1/auth/refresh", `{"refresh_token":"` + reg["refresh_token"].(string) + `"}`, 200},
		{"/api/v1/auth/refresh", `{"refresh_token":"` + reg["refresh_token"].(string) + `"}`, 401},
		{"/api/v1/auth/verify-email", `{"token":"not-a-token"}`, 400},
	} {
		rec, _ := e.do("POST", tc.path, "", tc.body)
		if rec.Code != tc.status {
			t.Errorf("POST %s %s: %d %s, want %d", tc.path, tc.body, rec.Code, rec.Body, tc.status)
		}
	}
}
