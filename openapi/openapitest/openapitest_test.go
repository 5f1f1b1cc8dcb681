package openapitest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/openapi/openapitest"
)

func init() { gin.SetMode(gin.ReleaseMode) }

const (
	jsonType    = "application/json"
	problemType = "application/problem+json"
)

// money, product and order are answers as the document describes them.
var (
	money   = `{"amount":1299,"currency":"EUR"}`
	product = `{"id":"` + uuid.NewString() + `","sku":"MUG-1","name":"Mug","description":"","category":"kitchen","price":` + money +
		`,"available":3,"image_url":"","updated_at":"2026-11-26T12:00:00Z"}`
	problem = `{"type":"https://commerce.dev/problems/invalid","title":"Invalid","status":400}`
)

// order is an order answer whose one line is line.
func order(line string) string {
	return `{"id":"` + uuid.NewString() + `","user_id":"` + uuid.NewString() + `","status":"placed","lines":[` + line +
		`],"total":` + money + `,"payment_id":"pi_1","created_at":"2026-11-26T12:00:00Z","updated_at":"2026-11-26T12:00:00Z"}`
}

// exchange is one request and its answer for Check.
func exchange(method, path, reqBody string, status int, contentType, body string, header ...string) openapitest.Exchange {
	req := httptest.NewRequest(method, path, strings.NewReader(reqBody))
	if reqBody != "" {
		req.Header.Set("Content-Type", jsonType)
	}
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	x := openapitest.Exchange{Request: req, Status: status, Header: h, Body: []byte(body)}
	if reqBody != "" {
		x.RequestBody = []byte(reqBody)
	}
	return x
}

func TestCheck(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	line := func(fields string) string {
		return `{"product_id":"` + id + `",` + fields + `"quantity":1,"unit_price":` + money + `,"line_total":` + money + `}`
	}
	for _, tc := range []struct {
		name string
		x    openapitest.Exchange
		want string // a part of the violation; "" for none
	}{
		{"a documented answer", exchange("GET", "/healthz", "", 200, jsonType, `{"status":"ok"}`), ""},
		{"a wrong type", exchange("GET", "/healthz", "", 200, jsonType, `{"status":3}`), "does not match the document"},
		{"an undocumented status", exchange("GET", "/healthz", "", 418, jsonType, `{"status":"ok"}`), "answered 418, which the document does not list"},
		{"an undocumented 304", exchange("GET", "/healthz", "", 304, "", ""), "answered 304, which the document does not list"},
		{"a documented 304", exchange("GET", "/openapi.json", "", 304, "", "", "ETag", `"abc"`), ""},
		{"a catalog 304", exchange("GET", "/api/v1/products/"+id, "", 304, "", "", "ETag", `"abc"`), ""},
		{"an undocumented content type", exchange("GET", "/healthz", "", 200, "text/plain", "ok"), `as "text/plain"`},
		{"a body where none is documented", exchange("GET", "/openapi.json", "", 304, jsonType, "{}", "ETag", `"abc"`), "where the document declares none"},
		{"an undocumented field where additionalProperties is false",
			exchange("GET", "/api/v1/products/"+id, "", 200, jsonType, strings.Replace(product, `"currency":"EUR"`, `"currency":"EUR","cents":99`, 1)),
			"does not match the document"},
		{"a problem", exchange("GET", "/api/v1/products/not-a-uuid", "", 400, problemType, problem), ""},
		{"a problem that is not one", exchange("GET", "/api/v1/products/"+id, "", 404, problemType, `{"error":"not found"}`), "does not match the document"},
		{"an undocumented operation", exchange("GET", "/api/v1/nothing", "", 200, jsonType, `{}`), "not a documented operation"},
		{"an undocumented operation refused", exchange("GET", "/api/v1/nothing", "", 404, problemType, problem), ""},
		{"an undocumented method refused", exchange("DELETE", "/healthz", "", 405, problemType, problem), ""},
		{"a request the document refuses, refused", exchange("GET", "/api/v1/analytics/funnel?from=yesterday", "", 400, problemType, problem), ""},
		{"a request the document refuses, accepted",
			exchange("GET", "/api/v1/analytics/funnel?from=yesterday", "", 200, jsonType, `{"carts":0,"checkouts":0,"paid":0,"shipped":0,"cancelled":0}`),
			"answered 200 to a request the document refuses"},
		{"a day where a day or a time is documented",
			exchange("GET", "/api/v1/analytics/funnel?from=2026-03-01&to=2026-03-02T10:00:00Z", "", 200, jsonType, `{"carts":0,"checkouts":0,"paid":0,"shipped":0,"cancelled":0}`), ""},
		{"an unknown member where additionalProperties is false, accepted",
			exchange("POST", "/api/v1/orders/"+id+"/cancel", `{"reason":"changed my mind","refund":false}`, 200, jsonType, order(line(`"sku":"MUG-1","name":"Mug",`)), "X-Event-Position", "7"),
			"answered 200 to a request the document refuses"},
		{"an undocumented request body, accepted",
			exchange("POST", "/api/v1/admin/projections/catalog/rebuild", `{"now":true}`, 202, jsonType, `{"name":"catalog","status":"rebuilding"}`),
			"request body not allowed"},
		{"an order", exchange("GET", "/api/v1/orders/"+id, "", 200, jsonType, order(line(`"sku":"MUG-1","name":"Mug",`))), ""},
		{"an order line without sku and name (issue 15)", exchange("GET", "/api/v1/orders/"+id, "", 200, jsonType, order(line(""))), ""},
		{"an order line without a quantity",
			exchange("GET", "/api/v1/orders/"+id, "", 200, jsonType, strings.Replace(order(line("")), `"quantity":1,`, "", 1)),
			"does not match the document"},
		{"a write without its position", exchange("POST", "/api/v1/admin/products/"+id+"/stock", `{"delta":1}`, 200, jsonType, product), `"X-Event-Position"`},
		{"a write with its position", exchange("POST", "/api/v1/admin/products/"+id+"/stock", `{"delta":1}`, 200, jsonType, product, "X-Event-Position", "7"), ""},
		{"an event stream", exchange("GET", "/api/v1/orders/live", "", 200, "text/event-stream", "data: {}\n\n"), ""},
		{"a stream that is not one", exchange("GET", "/api/v1/orders/live", "", 200, jsonType, "{}"), `as "application/json"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := openapitest.Check(tc.x.Request.Context(), tc.x)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("a documented exchange is a violation: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("a drift passed; want a violation with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("violation %q, want one with %q", err, tc.want)
			}
		})
	}
}

// recordingTB is a testing.TB that keeps what Errorf reports.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

// drifting answers /healthz as documented and /api/v1/categories with a
// planted drift, and serves a route beside the API.
func drifting() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", jsonType)
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /api/v1/categories", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", jsonType)
		_, _ = io.WriteString(w, `{"items":[{"name":"kitchen","product_count":"two"}]}`)
	})
	mux.HandleFunc("GET /test/extra", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "beside the API") })
	return mux
}

// TestHelpersReport drives the client, proxy, handler and gin helpers with one
// documented and one drifting answer: each reports the drift, and only it,
// and hands the answer on unchanged.
func TestHelpersReport(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(drifting())
	t.Cleanup(srv.Close)
	engine := func(tb testing.TB) http.Handler {
		e := gin.New()
		e.Use(openapitest.Middleware(tb, openapitest.IgnorePrefix("/test/")))
		e.Any("/*path", gin.WrapH(drifting()))
		return e
	}
	for _, h := range []struct {
		name string
		get  func(tb testing.TB, path string) (int, string)
	}{
		{"Client", func(tb testing.TB, path string) (int, string) {
			resp, err := openapitest.Client(tb, openapitest.IgnorePrefix("/test/")).Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}},
		{"Proxy", func(tb testing.TB, path string) (int, string) {
			resp, err := http.Get(openapitest.Proxy(tb, srv.URL, openapitest.IgnorePrefix("/test/")) + path)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}},
		{"Handler", func(tb testing.TB, path string) (int, string) {
			rec := httptest.NewRecorder()
			openapitest.Handler(tb, drifting(), openapitest.IgnorePrefix("/test/")).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			return rec.Code, rec.Body.String()
		}},
		{"Middleware", func(tb testing.TB, path string) (int, string) {
			rec := httptest.NewRecorder()
			engine(tb).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			return rec.Code, rec.Body.String()
		}},
	} {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			tb := &recordingTB{TB: t}
			if code, body := h.get(tb, "/healthz"); code != 200 || body != `{"status":"ok"}` {
				t.Fatalf("healthz: %d %s", code, body)
			}
			if code, body := h.get(tb, "/test/extra"); code != 200 || body != "beside the API" {
				t.Fatalf("a test route: %d %s", code, body)
			}
			if got := tb.reported(); len(got) != 0 {
				t.Fatalf("documented answers reported: %q", got)
			}
			if code, body := h.get(tb, "/api/v1/categories"); code != 200 || !strings.Contains(body, `"two"`) {
				t.Fatalf("categories: %d %s", code, body)
			}
			if got := tb.reported(); len(got) != 1 || !strings.Contains(got[0], "GET /api/v1/categories") {
				t.Fatalf("the drift was reported as %q, want one violation of GET /api/v1/categories", got)
			}
		})
	}
}

// TestCheckRecorded checks an answer a test recorded itself.
func TestCheckRecorded(t *testing.T) {
	t.Parallel()
	tb := &recordingTB{TB: t}
	req := httptest.NewRequest("GET", "/api/v1/categories", nil)
	rec := httptest.NewRecorder()
	drifting().ServeHTTP(rec, req)
	openapitest.CheckRecorded(tb, req, nil, rec)
	if got := tb.reported(); len(got) != 1 {
		t.Fatalf("reported %q, want the drift", got)
	}
}
