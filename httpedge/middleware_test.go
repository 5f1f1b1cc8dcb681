package httpedge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/httpedge"
)

type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

type addItem struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
	Price     money  `json:"price"`
	Gift      bool   `json:"gift"`
}

// decodeEngine answers 200 with the decoded body, or the DecodeJSON error.
func decodeEngine(tb testing.TB, cfg httpedge.Config) *gin.Engine {
	tb.Helper()
	r, _ := MustEngine(tb, cfg)
	r.POST("/items", func(c *gin.Context) {
		var in addItem
		if err := httpedge.DecodeJSON(c, &in); err != nil {
			httpedge.WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, in)
	})
	return r
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	r := decodeEngine(t, httpedge.Config{})
	ok := do(t, r, http.MethodPost, "/items", ` {"product_id":"p1","quantity":2,"price":{"amount":1200,"currency":"EUR"}} `+"\n")
	if ok.Code != 200 || !strings.Contains(ok.Body.String(), `"quantity":2`) {
		t.Fatalf("valid body: %d %s", ok.Code, ok.Body.String())
	}
	tests := []struct {
		name, body   string
		field, inMsg string
	}{
		{"empty", "", "body", "JSON object"},
		{"only spaces", "   ", "body", "JSON object"},
		{"unknown field", `{"product_id":"p1","quantiy":2}`, "quantiy", "not a known field"},
		{"unknown nested field", `{"price":{"amount":1,"cur":"EUR"}}`, "cur", "not a known field"},
		{"a field in another case", `{"product_id":"p1","Quantity":2}`, "Quantity", "not a known field"},
		{"a field twice, once in another case", `{"quantity":1,"quantitY":2}`, "quantitY", "not a known field"},
		{"a nested field in another case", `{"price":{"amount":1,"Currency":"EUR"}}`, "price.Currency", "not a known field"},
		{"string for a number", `{"quantity":"two"}`, "quantity", "must be a number"},
		{"fraction for an integer", `{"quantity":1.5}`, "quantity", "must be an integer"},
		{"number for a string", `{"product_id":7}`, "product_id", "must be a string"},
		{"nested wrong type", `{"price":{"amount":"12.00"}}`, "price.amount", "must be a number"},
		{"string for a boolean", `{"gift":"yes"}`, "gift", "must be a boolean"},
		{"array for the body", `[1,2]`, "body", "must be an object"},
		{"trailing data", `{"quantity":1} {"quantity":2}`, "body", "exactly one JSON value"},
		{"trailing garbage", `{"quantity":1}x`, "body", "exactly one JSON value"},
		{"malformed", `{"quantity":1,}`, "body", "malformed JSON"},
		{"truncated", `{"quantity":1`, "body", "ends before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustProblem(t, do(t, r, http.MethodPost, "/items", tt.body), 400)
			if p.Type != httpedge.ProblemTypeBase+"invalid" || len(p.Errors) != 1 {
				t.Fatalf("problem %+v", p)
			}
			if p.Errors[0].Field != tt.field || !strings.Contains(p.Errors[0].Message, tt.inMsg) {
				t.Fatalf("errors %+v, want field %q with %q", p.Errors, tt.field, tt.inMsg)
			}
		})
	}
}

func TestDecodeJSONPassesApperrFromUnmarshalers(t *testing.T) {
	t.Parallel()
	r, _ := MustEngine(t, httpedge.Config{})
	r.POST("/c", func(c *gin.Context) {
		var in struct {
			Currency currency `json:"currency"`
		}
		httpedge.WriteError(c, httpedge.DecodeJSON(c, &in))
	})
	p := mustProblem(t, do(t, r, http.MethodPost, "/c", `{"currency":"eur"}`), 400)
	if len(p.Errors) != 1 || p.Errors[0].Field != "currency" {
		t.Fatalf("problem %+v", p)
	}
}

type currency string

func (c *currency) UnmarshalJSON(b []byte) error {
	if string(b) != `"EUR"` {
		return apperr.Invalid("unsupported currency", apperr.Field("currency", "must be an ISO 4217 code we sell in"))
	}
	*c = "EUR"
	return nil
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	r := decodeEngine(t, httpedge.Config{MaxBodyBytes: 64})
	big := `{"product_id":"` + strings.Repeat("x", 100) + `"}`

	// A declared Content-Length over the limit is refused before the handler.
	p := mustProblem(t, do(t, r, http.MethodPost, "/items", big), 413)
	if p.Type != httpedge.ProblemTypeBase+"too_large" {
		t.Fatalf("type %q", p.Type)
	}
	// A body of unknown length is cut off while it is read.
	req := httptest.NewRequest(http.MethodPost, "/items", io.NopCloser(strings.NewReader(big)))
	req.ContentLength = -1
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	mustProblem(t, w, 413)
	// Trailing data past the limit is a 413 too, not a 400.
	req = httptest.NewRequest(http.MethodPost, "/items", io.NopCloser(strings.NewReader(`{"quantity":1}`+strings.Repeat(" ", 100))))
	req.ContentLength = -1
	w = httptest.NewRecorder()
	r.ServeHTTP(w, req)
	mustProblem(t, w, 413)
	// Under the limit is fine.
	if w := do(t, r, http.MethodPost, "/items", `{"quantity":1}`); w.Code != 200 {
		t.Fatalf("small body: %d %s", w.Code, w.Body.String())
	}
}

func TestDefaultBodyLimitIsOneMiB(t *testing.T) {
	t.Parallel()
	r := decodeEngine(t, httpedge.Config{})
	body := `{"product_id":"` + strings.Repeat("x", httpedge.DefaultMaxBodyBytes) + `"}`
	mustProblem(t, do(t, r, http.MethodPost, "/items", body), 413)
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	r, _ := MustEngine(t, httpedge.Config{Timeout: 20 * time.Millisecond})
	r.GET("/silent", func(c *gin.Context) { <-c.Request.Context().Done() })
	r.GET("/store", func(c *gin.Context) {
		<-c.Request.Context().Done()
		httpedge.WriteError(c, c.Request.Context().Err()) // what a store call returns
	})
	r.GET("/deadline", func(c *gin.Context) {
		d, ok := c.Request.Context().Deadline()
		if !ok || time.Until(d) > 20*time.Millisecond {
			c.Status(500)
			return
		}
		c.Status(204)
	})
	for _, path := range []string{"/silent", "/store"} {
		start := time.Now()
		w := do(t, r, http.MethodGet, path, "")
		mustProblem(t, w, 503)
		if w.Header().Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", path)
		}
		if el := time.Since(start); el > 20*time.Second { // a handler the timeout missed would hang
			t.Errorf("%s took %s", path, el)
		}
	}
	if w := do(t, r, http.MethodGet, "/deadline", ""); w.Code != 204 {
		t.Fatalf("the request context has no deadline: %d", w.Code)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []httpedge.Config{{MaxBodyBytes: -1}, {Timeout: -1}, {CORS: httpedge.CORSConfig{MaxAge: -1}}} {
		if _, err := httpedge.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	r, _ := MustEngine(t, httpedge.Config{CORS: httpedge.CORSConfig{AllowedOrigins: []string{"https://shop.example"}}})
	r.POST("/api/v1/cart/items", func(c *gin.Context) {
		httpedge.SetEventPosition(c, 9)
		c.JSON(200, gin.H{})
	})
	preflight := func(origin string) *httptest.ResponseRecorder {
		return do(t, r, http.MethodOptions, "/api/v1/cart/items", "",
			"Origin", origin,
			"Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type, idempotency-key")
	}

	w := preflight("https://shop.example")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("allowed preflight: %d %v", w.Code, w.Header())
	}
	for _, want := range []string{httpedge.HeaderIdempotencyKey, httpedge.HeaderMinPosition, "Authorization", "Content-Type"} {
		if !strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), want) {
			t.Errorf("Allow-Headers %q lacks %s", w.Header().Get("Access-Control-Allow-Headers"), want)
		}
	}
	if !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "PATCH") || w.Header().Get("Access-Control-Max-Age") == "" {
		t.Errorf("preflight headers %v", w.Header())
	}

	w = preflight("https://evil.example")
	mustProblem(t, w, 403)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a foreign origin was allowed")
	}

	w = do(t, r, http.MethodPost, "/api/v1/cart/items", "", "Origin", "https://shop.example")
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), httpedge.HeaderEventPosition) {
		t.Fatalf("allowed request: %d %v", w.Code, w.Header())
	}
	if !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "Origin") {
		t.Error("no Vary: Origin")
	}
	w = do(t, r, http.MethodPost, "/api/v1/cart/items", "", "Origin", "https://evil.example")
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a foreign origin got Allow-Origin")
	}
	// Same-origin and non-browser requests carry no Origin and are untouched.
	if w := do(t, r, http.MethodPost, "/api/v1/cart/items", ""); w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("request without Origin: %d %v", w.Code, w.Header())
	}
}

func TestCORSAllowsNoOriginByDefault(t *testing.T) {
	t.Parallel()
	r, _ := MustEngine(t, httpedge.Config{})
	r.GET("/x", func(c *gin.Context) { c.Status(204) })
	w := do(t, r, http.MethodOptions, "/x", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "GET")
	mustProblem(t, w, 403)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("the default allows an origin")
	}
}
