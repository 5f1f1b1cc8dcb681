package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/openapi/openapitest"
)

// FuzzWriteBodies sends arbitrary bodies to every write endpoint: whatever
// arrives, the answer is a 2xx or a 4xx problem, never a 5xx.
func FuzzWriteBodies(f *testing.F) {
	e := newEnv(f)
	_, p := e.do("POST", "/api/v1/admin/products", e.admin, mug)
	id := p["id"].(string)
	routes := []struct{ method, path, token string }{
		{"POST", "/api/v1/admin/products", e.admin},
		{"PUT", "/api/v1/admin/products/" + id, e.admin},
		{"POST", "/api/v1/admin/products/" + id + "/stock", e.admin},
		{"POST", "/api/v1/admin/orders/" + id + "/status", e.admin},
		{"POST", "/api/v1/cart/items", e.shopper},
		{"PATCH", "/api/v1/cart/items/" + id, e.shopper},
		{"POST", "/api/v1/auth/register", ""},
		{"POST", "/api/v1/auth/login", ""},
		{"POST", "/api/v1/auth/admin/login", ""},
		{"POST", "/api/v1/auth/refresh", ""},
		{"POST", "/api/v1/auth/verify-email", ""},
	}
	for _, seed := range []string{
		mug, `{"delta":3}`, `{"delta":-1e30}`, `{"product_id":"` + id + `","quantity":1}`, `{"quantity":0}`,
		`{"status":"shipped","carrier":"DHL","tracking_number":"1"}`, `{}`, `null`, `[]`, `{"price":{"amount":1,"currency":"EU"}}`,
		"\xff\xfe", `{"name":"` + strings.Repeat("n", 300) + `"}`,
		`{"email":"a@example.com","password":"correct horse battery 9","name":"A"}`,
		`{"email":"a@example.com","password":"correct horse battery 9"}`, `{"refresh_token":"a.b"}`, `{"token":"abc"}`,
	} {
		for r := range routes {
			f.Add(uint8(r), seed)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := routes[int(route)%len(routes)]
		req := httptest.NewRequest(r.method, r.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+r.token)
		rec := httptest.NewRecorder()
		openapitest.Handler(t, e.h).ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", r.method, r.path, body, rec.Code, rec.Body)
		}
	})
}
