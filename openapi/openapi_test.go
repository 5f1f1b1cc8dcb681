package openapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/openapi"
)

// contract is every route of API.md (/work/shared/API.md), written out by
// hand from it with the roles it gives, so that the document can be checked
// to hold exactly these operations.
var contract = []struct {
	route string // "METHOD path" in OpenAPI form
	roles []string
}{
	// Auth.
	{"POST /api/v1/auth/register", anon},
	{"POST /api/v1/auth/verify-email", anon},
	{"POST /api/v1/auth/login", anon},
	{"POST /api/v1/auth/refresh", anon},
	{"POST /api/v1/auth/admin/login", anon},
	// Catalog.
	{"GET /api/v1/products", anon},
	{"GET /api/v1/products/{id}", anon},
	{"GET /api/v1/categories", anon},
	// Cart (the caller's own).
	{"GET /api/v1/cart", anyUser},
	{"POST /api/v1/cart/items", anyUser},
	{"PATCH /api/v1/cart/items/{product_id}", anyUser},
	{"DELETE /api/v1/cart/items/{product_id}", anyUser},
	{"GET /api/v1/cart/summary", anyUser},
	// Payments and checkout.
	{"POST /api/v1/payments/intents", anyUser},
	{"POST /api/v1/payments/webhook", anon},
	{"POST /api/v1/payments/{payment_id}/simulate", anyUser},
	// Orders.
	{"GET /api/v1/orders/user/{userId}", anyUser},
	{"GET /api/v1/orders/{id}", anyUser},
	{"POST /api/v1/orders/{id}/cancel", anyUser},
	{"GET /api/v1/orders/live", anyUser},
	// Admin.
	{"POST /api/v1/admin/products", adminOnly},
	{"PUT /api/v1/admin/products/{id}", adminOnly},
	{"POST /api/v1/admin/products/{id}/stock", adminOnly},
	{"POST /api/v1/admin/orders/{id}/status", adminOnly},
	{"GET /api/v1/admin/orders/{id}/timeline", adminOnly},
	{"GET /api/v1/admin/orders/{id}/state", adminOnly},
	{"GET /api/v1/admin/streams/{stream_id}/events", adminOnly},
	{"GET /api/v1/admin/projections", adminOnly},
	{"POST /api/v1/admin/projections/{name}/rebuild", adminOnly},
	// Beyond API.md: the message bus's dead-letter queue (issue 5).
	{"GET /api/v1/admin/messages/poisoned", adminOnly},
	{"POST /api/v1/admin/messages/poisoned/{id}/redrive", adminOnly},
	{"GET /api/v1/admin/notifications", adminOnly},
	// Analytics.
	{"GET /api/v1/analytics/sales", analysts},
	{"GET /api/v1/analytics/top-products", analysts},
	{"GET /api/v1/analytics/funnel", analysts},
	// Operations.
	{"GET /healthz", anon},
	{"GET /readyz", anon},
	{"GET /metrics", anon},
	{"GET /openapi.json", anon},
}

var (
	anon      = []string{openapi.RoleAnonymous}
	anyUser   = []string{"shopper", "admin", "analyst"}
	adminOnly = []string{"admin"}
	analysts  = []string{"admin", "analyst"}
)

// mustDoc decodes the embedded document into generic JSON.
func mustDoc(tb testing.TB) map[string]any {
	tb.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapi.Document(), &doc); err != nil {
		tb.Fatalf("the document is not JSON: %v", err)
	}
	return doc
}

// resolve follows a local JSON pointer ("#/components/schemas/Money").
func resolve(doc map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref resolves v if it is a {"$ref": ...} object, else returns it.
func deref(tb testing.TB, doc map[string]any, v any) map[string]any {
	tb.Helper()
	m, _ := v.(map[string]any)
	if r, ok := m["$ref"].(string); ok {
		t, ok := resolve(doc, r)
		if !ok {
			tb.Fatalf("unresolved $ref %q", r)
		}
		return deref(tb, doc, t)
	}
	return m
}

// operation is one method of one path item, as generic JSON.
type operation struct {
	method, path string
	op           map[string]any
	shared       []any // the path item's parameters, shared by its operations
}

// params returns the operation's parameters and its path item's.
func (o operation) params() []any {
	own, _ := o.op["parameters"].([]any)
	return append(slices.Clone(o.shared), own...)
}

func (o operation) String() string { return o.method + " " + o.path }

func operations(tb testing.TB, doc map[string]any) []operation {
	tb.Helper()
	var ops []operation
	for path, item := range doc["paths"].(map[string]any) {
		for m, op := range item.(map[string]any) {
			switch m {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				shared, _ := item.(map[string]any)["parameters"].([]any)
				ops = append(ops, operation{strings.ToUpper(m), path, op.(map[string]any), shared})
			case "summary", "description", "parameters", "servers":
			default:
				tb.Errorf("%s: unexpected path item key %q", path, m)
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

func isWrite(method string) bool { return method != http.MethodGet && method != http.MethodHead }

func TestDocumentIsOpenAPI31(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == "" || info["title"] == nil || info["version"] == "" || info["version"] == nil {
		t.Errorf("info needs a title and a version: %v", info)
	}
	for _, k := range []string{"paths", "components"} {
		if _, ok := doc[k].(map[string]any); !ok {
			t.Errorf("no %s object", k)
		}
	}
	comps := doc["components"].(map[string]any)
	for _, k := range []string{"schemas", "securitySchemes", "parameters", "headers", "responses"} {
		if _, ok := comps[k].(map[string]any); !ok {
			t.Errorf("no components.%s", k)
		}
	}
	schemas := comps["schemas"].(map[string]any)
	for _, name := range []string{"Money", "Problem", "FieldError", "Product", "Cart", "CartLine", "Order", "OrderLine",
		"Event", "ProjectionStatus", "Notification", "SalesReport", "TopProductList", "Funnel", "TokenPair"} {
		if _, ok := schemas[name]; !ok {
			t.Errorf("no components.schemas.%s", name)
		}
	}
}

func TestEveryRefResolves(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	var refs int
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"]; ok {
				refs++
				s, _ := r.(string)
				if !strings.HasPrefix(s, "#/components/") {
					t.Errorf("%s: $ref %q does not point into components", at, s)
				} else if _, ok := resolve(doc, s); !ok {
					t.Errorf("%s: $ref %q does not resolve", at, s)
				}
			}
			for k, c := range v {
				walk(at+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", at, i), c)
			}
		}
	}
	walk("#", doc)
	if refs == 0 {
		t.Fatal("found no $ref at all")
	}
}

func TestDocumentHoldsExactlyTheContract(t *testing.T) {
	t.Parallel()
	ops, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]openapi.Operation{}
	for _, op := range ops {
		got[op.Method+" "+op.Path] = op
	}
	want := map[string]bool{}
	for _, c := range contract {
		if want[c.route] {
			t.Errorf("the contract table lists %s twice", c.route)
		}
		want[c.route] = true
		op, ok := got[c.route]
		if !ok {
			t.Errorf("missing from the document: %s", c.route)
			continue
		}
		if !slices.Equal(op.Roles, c.roles) {
			t.Errorf("%s: x-roles = %v, want %v", c.route, op.Roles, c.roles)
		}
		if public := slices.Equal(c.roles, anon); op.Public != public {
			t.Errorf("%s: Public = %v, want %v", c.route, op.Public, public)
		}
	}
	for route := range got {
		if !want[route] {
			t.Errorf("in the document but not in API.md: %s", route)
		}
	}
	if len(ops) != len(contract) {
		t.Errorf("%d operations, want %d", len(ops), len(contract))
	}
}

func TestEveryOperationIsComplete(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	tags := map[string]bool{"auth": true, "catalog": true, "cart": true, "payments": true, "orders": true,
		"admin": true, "analytics": true, "operations": true}
	roles := map[string]bool{"anonymous": true, "shopper": true, "admin": true, "analyst": true}
	ids := map[string]string{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)

	for _, o := range operations(t, doc) {
		id, _ := o.op["operationId"].(string)
		switch {
		case id == "":
			t.Errorf("%s: no operationId", o)
		case ids[id] != "":
			t.Errorf("%s: operationId %q is also %s's", o, id, ids[id])
		default:
			ids[id] = o.String()
		}

		tagList, _ := o.op["tags"].([]any)
		if len(tagList) != 1 || !tags[fmt.Sprint(tagList[0])] {
			t.Errorf("%s: tags = %v, want exactly one of the known tags", o, tagList)
		}

		rl, _ := o.op["x-roles"].([]any)
		if len(rl) == 0 {
			t.Errorf("%s: no x-roles", o)
		}
		for _, r := range rl {
			if !roles[fmt.Sprint(r)] {
				t.Errorf("%s: unknown role %v", o, r)
			}
			if r == "anonymous" && len(rl) != 1 {
				t.Errorf("%s: anonymous must be the only role, got %v", o, rl)
			}
		}

		resps, _ := o.op["responses"].(map[string]any)
		var ok2xx bool
		for code := range resps {
			ok2xx = ok2xx || strings.HasPrefix(code, "2")
		}
		if !ok2xx {
			t.Errorf("%s: no 2xx response", o)
		}

		// Path parameters: declared exactly, required.
		inTemplate := map[string]bool{}
		for _, m := range pathParam.FindAllStringSubmatch(o.path, -1) {
			inTemplate[m[1]] = true
		}
		declared := map[string]bool{}
		for _, p := range o.params() {
			pm := deref(t, doc, p)
			if pm["in"] != "path" {
				continue
			}
			name := fmt.Sprint(pm["name"])
			declared[name] = true
			if pm["required"] != true {
				t.Errorf("%s: path parameter %s is not required", o, name)
			}
			if !inTemplate[name] {
				t.Errorf("%s: path parameter %s is not in the path", o, name)
			}
		}
		for name := range inTemplate {
			if !declared[name] {
				t.Errorf("%s: path parameter {%s} is not declared", o, name)
			}
		}
	}
}

// hasParam reports whether op declares the parameter name in loc.
func hasParam(tb testing.TB, doc map[string]any, o operation, loc, name string) bool {
	tb.Helper()
	for _, p := range o.params() {
		pm := deref(tb, doc, p)
		if pm["in"] == loc && strings.EqualFold(fmt.Sprint(pm["name"]), name) {
			return true
		}
	}
	return false
}

func TestHeadersAndErrors(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	for _, o := range operations(t, doc) {
		api := strings.HasPrefix(o.path, "/api/v1/")
		resps := o.op["responses"].(map[string]any)
		if api && isWrite(o.method) {
			if !hasParam(t, doc, o, "header", "Idempotency-Key") {
				t.Errorf("%s: a write without the Idempotency-Key parameter", o)
			}
			for code, r := range resps {
				if !strings.HasPrefix(code, "2") {
					continue
				}
				h, _ := deref(t, doc, r)["headers"].(map[string]any)
				if _, ok := h["X-Event-Position"]; !ok {
					t.Errorf("%s: %s answer without X-Event-Position", o, code)
				}
			}
			if _, ok := resps["422"]; !ok {
				t.Errorf("%s: a write without the 422 idempotency answer", o)
			}
		}
		if api && o.method == http.MethodGet && !hasParam(t, doc, o, "header", "X-Min-Position") {
			t.Errorf("%s: a read without the X-Min-Position parameter", o)
		}
		if api {
			for _, code := range []string{"429", "503"} {
				if _, ok := resps[code]; !ok {
					t.Errorf("%s: no %s answer", o, code)
				}
			}
			if !slices.Equal(rolesOf(o.op), anon) {
				if _, ok := resps["401"]; !ok {
					t.Errorf("%s: authenticated but no 401 answer", o)
				}
			}
		}
		for code, r := range resps {
			if code < "400" || !api {
				continue
			}
			rm := deref(t, doc, r)
			content, _ := rm["content"].(map[string]any)
			if _, ok := content["application/problem+json"]; !ok || len(content) != 1 {
				t.Errorf("%s: %s answer is not only application/problem+json", o, code)
			}
			if code == "429" || code == "503" {
				h, _ := rm["headers"].(map[string]any)
				if _, ok := h["Retry-After"]; !ok {
					t.Errorf("%s: %s answer without Retry-After", o, code)
				}
			}
		}
	}
}

func rolesOf(op map[string]any) []string {
	var out []string
	rl, _ := op["x-roles"].([]any)
	for _, r := range rl {
		out = append(out, fmt.Sprint(r))
	}
	return out
}

func TestSecurity(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	bearer := deref(t, doc, schemes["bearerAuth"])
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" || bearer["bearerFormat"] != "JWT" {
		t.Errorf("bearerAuth = %v, want an http bearer JWT scheme", bearer)
	}
	webhook := doc["paths"].(map[string]any)["/api/v1/payments/webhook"].(map[string]any)["post"].(map[string]any)
	b, _ := json.Marshal(webhook["security"])
	if string(b) != `[{"stripeSignature":[]}]` {
		t.Errorf("webhook security = %s, want only stripeSignature", b)
	}
	sig := deref(t, doc, schemes["stripeSignature"])
	if sig["in"] != "header" || sig["name"] != "Stripe-Signature" {
		t.Errorf("stripeSignature = %v, want the Stripe-Signature header", sig)
	}
}

func TestSchemas(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)

	money := schemas["Money"].(map[string]any)
	props := money["properties"].(map[string]any)
	amount := props["amount"].(map[string]any)
	currency := props["currency"].(map[string]any)
	if amount["type"] != "integer" || amount["format"] != "int64" {
		t.Errorf("Money.amount = %v, want an int64", amount)
	}
	if currency["pattern"] != "^[A-Z]{3}$" {
		t.Errorf("Money.currency pattern = %v", currency["pattern"])
	}

	problem := schemas["Problem"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"type", "title", "status", "detail", "instance", "request_id", "errors"} {
		if _, ok := problem[f]; !ok {
			t.Errorf("Problem has no %s", f)
		}
	}
	event := schemas["Event"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"position", "stream_id", "version", "type", "schema_version", "recorded_at", "data", "metadata"} {
		if _, ok := event[f]; !ok {
			t.Errorf("Event has no %s", f)
		}
	}

	// Every member name is snake_case.
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if p, ok := v["properties"].(map[string]any); ok {
				for name := range p {
					if !snake.MatchString(name) {
						t.Errorf("%s: member %q is not snake_case", at, name)
					}
				}
			}
			for k, c := range v {
				walk(at+"/"+k, c)
			}
		case []any:
			for _, c := range v {
				walk(at, c)
			}
		}
	}
	walk("#/components/schemas", schemas)
}

func TestRequestBodiesRejectUnknownFields(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	var bodies int
	for _, o := range operations(t, doc) {
		rb, ok := o.op["requestBody"].(map[string]any)
		if !ok {
			continue
		}
		bodies++
		content, _ := rb["content"].(map[string]any)
		mt, ok := content["application/json"].(map[string]any)
		if !ok {
			t.Errorf("%s: request body is not application/json", o)
			continue
		}
		schema := deref(t, doc, mt["schema"])
		want := any(false)
		if o.path == "/api/v1/payments/webhook" {
			want = true // Stripe's events: the shop accepts what Stripe adds
		}
		if schema["additionalProperties"] != want {
			t.Errorf("%s: request schema additionalProperties = %v, want %v", o, schema["additionalProperties"], want)
		}
	}
	if bodies == 0 {
		t.Fatal("no request bodies")
	}
}

func TestQueryEnums(t *testing.T) {
	t.Parallel()
	doc := mustDoc(t)
	paths := doc["paths"].(map[string]any)
	for _, tc := range []struct {
		path, param string
		want        []string
	}{
		{"/api/v1/products", "sort", []string{"price_asc", "price_desc", "name", "newest"}},
		{"/api/v1/analytics/sales", "granularity", []string{"day", "week", "month"}},
	} {
		op := paths[tc.path].(map[string]any)["get"].(map[string]any)
		var got []string
		for _, p := range op["parameters"].([]any) {
			pm := deref(t, doc, p)
			if pm["in"] == "query" && pm["name"] == tc.param {
				for _, e := range pm["schema"].(map[string]any)["enum"].([]any) {
					got = append(got, fmt.Sprint(e))
				}
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %s enum = %v, want %v", tc.path, tc.param, got, tc.want)
		}
	}
}

func TestGinPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/healthz":                                 "/healthz",
		"/api/v1/orders/{id}":                      "/api/v1/orders/:id",
		"/api/v1/orders/{id}/cancel":               "/api/v1/orders/:id/cancel",
		"/api/v1/orders/user/{userId}":             "/api/v1/orders/user/:userId",
		"/api/v1/admin/streams/{stream_id}/events": "/api/v1/admin/streams/:stream_id/events",
		"/a/{x}/{y}":                               "/a/:x/:y",
		"/a/{unclosed":                             "/a/{unclosed",
		"":                                         "",
	} {
		if got := openapi.GinPath(in); got != want {
			t.Errorf("GinPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestContractMountsOnGin registers every operation with gin, which panics
// on conflicting routes, and checks that each one is reached.
func TestContractMountsOnGin(t *testing.T) {
	t.Parallel()
	ops, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	for _, op := range ops {
		route := openapi.GinPath(op.Path)
		r.Handle(op.Method, route, func(c *gin.Context) { c.String(http.StatusOK, c.FullPath()) })
	}
	sample := strings.NewReplacer(":id", "0b7f3c4e-1d2a-4e5f-8a9b-0c1d2e3f4a5b", ":product_id", "p", ":payment_id", "pi_1",
		":userId", "u", ":stream_id", "order-1", ":name", "orders")
	for _, op := range ops {
		route := openapi.GinPath(op.Path)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(op.Method, sample.Replace(route), nil))
		if w.Code != http.StatusOK || w.Body.String() != route {
			t.Errorf("%s %s reached %q (%d), want %q", op.Method, op.Path, w.Body.String(), w.Code, route)
		}
	}
}

func TestOperationsAreCopies(t *testing.T) {
	t.Parallel()
	ops, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	ops[0].Roles[0] = "changed"
	again, err := openapi.Operations()
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Roles[0] == "changed" {
		t.Error("Operations shares its Roles slices with its callers")
	}
	doc := openapi.Document()
	doc[0] = 'X'
	if openapi.Document()[0] == 'X' {
		t.Error("Document shares its bytes with its callers")
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := openapi.Handler()

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET: status %d", w.Code)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	etag := w.Header().Get("ETag")
	if etag != openapi.ETag() || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 3 {
		t.Errorf("ETag = %q, want the strong ETag %q", etag, openapi.ETag())
	}
	if w.Body.String() != string(openapi.Document()) {
		t.Error("GET: the body is not the document")
	}

	w = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/openapi.json", nil)
	req.Header.Set("If-None-Match", etag)
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: status %d with %d bytes, want 304 and none", w.Code, w.Body.Len())
	}

	w = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/openapi.json", nil)
	req.Header.Set("If-None-Match", `"stale"`)
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Errorf("stale If-None-Match: status %d, want 200", w.Code)
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/openapi.json", nil))
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
		t.Errorf("HEAD: status %d, %d bytes, ETag %q", w.Code, w.Body.Len(), w.Header().Get("ETag"))
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/openapi.json", strings.NewReader("{}")))
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" ||
		w.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST: status %d, Allow %q, Content-Type %q", w.Code, w.Header().Get("Allow"), w.Header().Get("Content-Type"))
	}
	body, _ := io.ReadAll(w.Body)
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil || p["status"] != float64(http.StatusMethodNotAllowed) {
		t.Errorf("POST: body %s is not a 405 problem", body)
	}
}
