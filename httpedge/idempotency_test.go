package httpedge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/httpedge/idempotencytest"
	"github.com/commerce-engine/commerce/internal/testsvc"
)

// MustSQLite opens a fresh SQLite event store closed at the end of the test.
func MustSQLite(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "events.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// idempotencyStores are the implementations every idempotency test runs over.
var idempotencyStores = map[string]func(tb testing.TB) httpedge.IdempotencyStore{
	"memory": func(testing.TB) httpedge.IdempotencyStore { return httpedge.NewMemoryIdempotencyStore() },
	"eventstore-sqlite": func(tb testing.TB) httpedge.IdempotencyStore {
		return httpedge.NewEventStoreIdempotency(MustSQLite(tb), httpedge.EventStoreIdempotencyConfig{})
	},
	"eventstore-postgres": func(tb testing.TB) httpedge.IdempotencyStore {
		return httpedge.NewEventStoreIdempotency(MustPostgres(tb), httpedge.EventStoreIdempotencyConfig{})
	},
}

// MustPostgres opens a PostgreSQL event store in a schema of the test's own
// (skipping without the service, failing under CI), closed at the end of
// the test.
func MustPostgres(tb testing.TB) *postgres.Store {
	tb.Helper()
	url, schema := testsvc.PostgresSchema(tb)
	ctx := context.Background()
	if _, err := postgres.Migrate(ctx, url, schema); err != nil {
		tb.Fatal(err)
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// idemServer is an edge engine with a few write routes behind Idempotency,
// scoped by the X-User header (what authentication would set).
type idemServer struct {
	h       http.Handler
	runs    atomic.Int64
	started chan struct{}
	release chan struct{}
}

func newIdemServer(tb testing.TB, store httpedge.IdempotencyStore) *idemServer {
	tb.Helper()
	s := &idemServer{started: make(chan struct{}, 10), release: make(chan struct{})}
	r, _ := MustEngine(tb, httpedge.Config{MaxBodyBytes: 4096})
	api := r.Group("/api/v1", httpedge.Idempotency(httpedge.IdempotencyConfig{
		Store: store,
		Scope: func(c *gin.Context) string { return c.GetHeader("X-User") },
	}))
	add := func(c *gin.Context) {
		n := s.runs.Add(1)
		var in struct {
			ProductID string `json:"product_id"`
			Quantity  int    `json:"quantity"`
		}
		if err := httpedge.DecodeJSON(c, &in); err != nil {
			httpedge.WriteError(c, err)
			return
		}
		httpedge.SetEventPosition(c, eventstore.Position(100+n))
		c.JSON(http.StatusCreated, gin.H{"run": n, "product_id": in.ProductID, "quantity": in.Quantity})
	}
	api.POST("/cart/items", add)
	api.PATCH("/cart/items/:id", add)
	api.GET("/cart", func(c *gin.Context) { c.JSON(200, gin.H{"run": s.runs.Add(1)}) })
	api.POST("/slow", func(c *gin.Context) {
		n := s.runs.Add(1)
		s.started <- struct{}{}
		<-s.release
		c.JSON(http.StatusCreated, gin.H{"run": n})
	})
	api.POST("/flaky", func(c *gin.Context) {
		if n := s.runs.Add(1); n == 1 {
			httpedge.WriteError(c, apperr.Unavailable("payment provider down", nil))
			return
		}
		c.JSON(http.StatusCreated, gin.H{"ok": true})
	})
	api.POST("/panicky", func(c *gin.Context) {
		if n := s.runs.Add(1); n == 1 {
			panic("first time")
		}
		c.JSON(http.StatusCreated, gin.H{"ok": true})
	})
	api.POST("/conflict", func(c *gin.Context) {
		n := s.runs.Add(1)
		httpedge.WriteError(c, apperr.Conflict("only "+strconv.FormatInt(n, 10)+" left", nil))
	})
	s.h = r
	return s
}

func (s *idemServer) do(tb testing.TB, method, path, body, key string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	if key != "" {
		header = append(header, httpedge.HeaderIdempotencyKey, key)
	}
	return do(tb, s.h, method, path, body, header...)
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	for name, newStore := range idempotencyStores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testIdempotency(t, newStore)
		})
	}
}

func testIdempotency(t *testing.T, newStore func(testing.TB) httpedge.IdempotencyStore) {
	t.Run("same key and request replay the first answer", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		body := `{"product_id":"p1","quantity":2}`
		first := s.do(t, http.MethodPost, "/api/v1/cart/items", body, "key-1")
		if first.Code != http.StatusCreated || first.Header().Get(httpedge.HeaderIdempotentReplayed) != "" {
			t.Fatalf("first: %d %v %s", first.Code, first.Header(), first.Body.String())
		}
		for range 2 {
			again := s.do(t, http.MethodPost, "/api/v1/cart/items", body, "key-1")
			if again.Code != first.Code || again.Body.String() != first.Body.String() {
				t.Fatalf("replay: %d %q, want %d %q", again.Code, again.Body.String(), first.Code, first.Body.String())
			}
			for _, h := range []string{"Content-Type", httpedge.HeaderEventPosition} {
				if again.Header().Get(h) != first.Header().Get(h) || first.Header().Get(h) == "" {
					t.Fatalf("replayed %s %q, first %q", h, again.Header().Get(h), first.Header().Get(h))
				}
			}
			if again.Header().Get(httpedge.HeaderIdempotentReplayed) != "true" {
				t.Fatal("replay not marked Idempotent-Replayed: true")
			}
		}
		if n := s.runs.Load(); n != 1 {
			t.Fatalf("the handler ran %d times", n)
		}
		// Another key is another request.
		if w := s.do(t, http.MethodPost, "/api/v1/cart/items", body, "key-2"); w.Code != 201 || s.runs.Load() != 2 {
			t.Fatalf("new key: %d, runs %d", w.Code, s.runs.Load())
		}
	})

	t.Run("same key with another request is 422", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		if w := s.do(t, http.MethodPost, "/api/v1/cart/items", `{"product_id":"p1","quantity":2}`, "k"); w.Code != 201 {
			t.Fatalf("first: %d", w.Code)
		}
		for _, tc := range []struct{ method, path, body string }{
			{http.MethodPost, "/api/v1/cart/items", `{"product_id":"p1","quantity":3}`},
			{http.MethodPost, "/api/v1/cart/items", `{"quantity":2,"product_id":"p1"}`},
			{http.MethodPatch, "/api/v1/cart/items/p1", `{"product_id":"p1","quantity":2}`},
		} {
			p := mustProblem(t, s.do(t, tc.method, tc.path, tc.body, "k"), 422)
			if p.Type != httpedge.ProblemTypeBase+"idempotency_mismatch" {
				t.Fatalf("type %q", p.Type)
			}
		}
		if n := s.runs.Load(); n != 1 {
			t.Fatalf("the handler ran %d times", n)
		}
	})

	t.Run("a second request while the first runs is 409", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- s.do(t, http.MethodPost, "/api/v1/slow", `{}`, "slow-key") }()
		<-s.started
		w := s.do(t, http.MethodPost, "/api/v1/slow", `{}`, "slow-key")
		p := mustProblem(t, w, 409)
		if p.Type != httpedge.ProblemTypeBase+"conflict" || w.Header().Get("Retry-After") == "" {
			t.Fatalf("in-flight duplicate: %+v %v", p, w.Header())
		}
		close(s.release)
		first := <-done
		if first.Code != 201 {
			t.Fatalf("first: %d %s", first.Code, first.Body.String())
		}
		if w := s.do(t, http.MethodPost, "/api/v1/slow", `{}`, "slow-key"); w.Code != 201 || w.Body.String() != first.Body.String() {
			t.Fatalf("after the first finished: %d %s", w.Code, w.Body.String())
		}
		if n := s.runs.Load(); n != 1 {
			t.Fatalf("the handler ran %d times", n)
		}
	})

	t.Run("concurrent first requests run once", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		const n = 8
		var wg sync.WaitGroup
		codes := make(chan int, n)
		for range n {
			wg.Go(func() {
				codes <- s.do(t, http.MethodPost, "/api/v1/cart/items", `{"product_id":"p","quantity":1}`, "race").Code
			})
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != 201 && c != 409 {
				t.Errorf("status %d", c)
			}
		}
		if got := s.runs.Load(); got != 1 {
			t.Fatalf("the handler ran %d times for one key", got)
		}
	})

	t.Run("5xx answers are not stored", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		mustProblem(t, s.do(t, http.MethodPost, "/api/v1/flaky", `{}`, "retry-me"), 503)
		ok := s.do(t, http.MethodPost, "/api/v1/flaky", `{}`, "retry-me")
		if ok.Code != 201 || ok.Header().Get(httpedge.HeaderIdempotentReplayed) != "" {
			t.Fatalf("retry after a 503: %d %v", ok.Code, ok.Header())
		}
		again := s.do(t, http.MethodPost, "/api/v1/flaky", `{}`, "retry-me")
		if again.Code != 201 || again.Header().Get(httpedge.HeaderIdempotentReplayed) != "true" || s.runs.Load() != 2 {
			t.Fatalf("after success: %d %v runs %d", again.Code, again.Header(), s.runs.Load())
		}
	})

	t.Run("a panic frees the key", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		mustProblem(t, s.do(t, http.MethodPost, "/api/v1/panicky", `{}`, "p"), 500)
		if w := s.do(t, http.MethodPost, "/api/v1/panicky", `{}`, "p"); w.Code != 201 {
			t.Fatalf("retry after a panic: %d %s", w.Code, w.Body.String())
		}
	})

	t.Run("4xx answers are stored", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		first := s.do(t, http.MethodPost, "/api/v1/conflict", `{}`, "c")
		mustProblem(t, first, 409)
		again := s.do(t, http.MethodPost, "/api/v1/conflict", `{}`, "c")
		if again.Body.String() != first.Body.String() || again.Header().Get(httpedge.HeaderIdempotentReplayed) != "true" {
			t.Fatalf("4xx not replayed: %s vs %s", again.Body.String(), first.Body.String())
		}
	})

	t.Run("keys are scoped per caller", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		a := s.do(t, http.MethodPost, "/api/v1/cart/items", `{"product_id":"a","quantity":1}`, "shared", "X-User", "alice")
		b := s.do(t, http.MethodPost, "/api/v1/cart/items", `{"product_id":"b","quantity":1}`, "shared", "X-User", "bob")
		if a.Code != 201 || b.Code != 201 || s.runs.Load() != 2 {
			t.Fatalf("alice %d, bob %d, runs %d", a.Code, b.Code, s.runs.Load())
		}
		// Bob sending Alice's exact request with the same key runs his own.
		b2 := s.do(t, http.MethodPost, "/api/v1/cart/items", `{"product_id":"a","quantity":1}`, "shared2", "X-User", "bob")
		a2 := s.do(t, http.MethodPost, "/api/v1/cart/items", `{"product_id":"a","quantity":1}`, "shared", "X-User", "alice")
		if b2.Code != 201 || a2.Body.String() != a.Body.String() || a2.Header().Get(httpedge.HeaderIdempotentReplayed) != "true" {
			t.Fatalf("bob %d, alice replay %s", b2.Code, a2.Body.String())
		}
		// A scope that is a prefix of another cannot collide with it.
		x := s.do(t, http.MethodPost, "/api/v1/cart/items", `{"product_id":"a","quantity":1}`, "1k", "X-User", "u")
		y := s.do(t, http.MethodPost, "/api/v1/cart/items", `{"product_id":"a","quantity":1}`, "k", "X-User", "u1")
		if x.Header().Get(httpedge.HeaderIdempotentReplayed) != "" || y.Header().Get(httpedge.HeaderIdempotentReplayed) != "" {
			t.Fatal("scope u + key 1k collided with scope u1 + key k")
		}
	})

	t.Run("bad keys are 400", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		for _, key := range []string{"", strings.Repeat("k", 256), "tab\there", "caf\u00e9"} {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/cart/items", strings.NewReader(`{}`))
			req.Header[httpedge.HeaderIdempotencyKey] = []string{key}
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, req)
			p := mustProblem(t, w, 400)
			if len(p.Errors) != 1 || p.Errors[0].Field != httpedge.HeaderIdempotencyKey {
				t.Fatalf("key %q: %+v", key, p)
			}
		}
		if w := s.do(t, http.MethodPost, "/api/v1/cart/items", `{}`, strings.Repeat("k", 255)); w.Code != 201 {
			t.Fatalf("255-character key: %d", w.Code)
		}
		if n := s.runs.Load(); n != 1 {
			t.Fatalf("the handler ran %d times", n)
		}
	})

	t.Run("reads and unkeyed writes pass through", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		for range 2 {
			if w := s.do(t, http.MethodGet, "/api/v1/cart", "", "get-key"); w.Code != 200 || w.Header().Get(httpedge.HeaderIdempotentReplayed) != "" {
				t.Fatalf("GET: %d %v", w.Code, w.Header())
			}
			if w := s.do(t, http.MethodPost, "/api/v1/cart/items", `{}`, ""); w.Code != 201 {
				t.Fatalf("POST without key: %d", w.Code)
			}
		}
		if n := s.runs.Load(); n != 4 {
			t.Fatalf("the handlers ran %d times, want 4", n)
		}
	})

	t.Run("a body over the limit is 413", func(t *testing.T) {
		t.Parallel()
		s := newIdemServer(t, newStore(t))
		req := httptest.NewRequest(http.MethodPost, "/api/v1/cart/items", strings.NewReader(`{"product_id":"`+strings.Repeat("x", 5000)+`"}`))
		req.ContentLength = -1
		req.Header.Set(httpedge.HeaderIdempotencyKey, "big")
		w := httptest.NewRecorder()
		s.h.ServeHTTP(w, req)
		mustProblem(t, w, 413)
		if s.runs.Load() != 0 {
			t.Fatal("the handler ran")
		}
	})
}

// failingStore fails every call, as an unreachable database would.
type failingStore struct{}

func (failingStore) Reserve(context.Context, string, string) (httpedge.IdempotencyRecord, bool, error) {
	return httpedge.IdempotencyRecord{}, false, fmt.Errorf("connection refused to secret-host")
}
func (failingStore) Complete(context.Context, string, httpedge.IdempotencyRecord) error { return nil }
func (failingStore) Release(context.Context, string, string) error                      { return nil }

func TestIdempotencyStoreDownIs503(t *testing.T) {
	t.Parallel()
	s := newIdemServer(t, failingStore{})
	w := s.do(t, http.MethodPost, "/api/v1/cart/items", `{}`, "k")
	mustProblem(t, w, 503)
	if strings.Contains(w.Body.String(), "secret-host") || s.runs.Load() != 0 {
		t.Fatalf("answer %s, runs %d", w.Body.String(), s.runs.Load())
	}
}

func TestEventStoreIdempotency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("exactly one concurrent reservation wins, with NoStream", func(t *testing.T) {
		t.Parallel()
		es := MustSQLite(t)
		st := httpedge.NewEventStoreIdempotency(es, httpedge.EventStoreIdempotencyConfig{})
		var wins atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				rec, won, err := st.Reserve(ctx, "abc", "fp")
				if err != nil {
					t.Error(err)
					return
				}
				if won {
					wins.Add(1)
				} else if rec.Done || rec.Fingerprint != "fp" {
					t.Errorf("loser saw %+v", rec)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d reservations won", wins.Load())
		}
		evs, err := es.ReadStream(ctx, eventstore.IdempotencyStreamPrefix+"abc", eventstore.ReadStreamOptions{})
		if err != nil || len(evs) != 1 || evs[0].Type != httpedge.EventIdempotencyReserved || evs[0].Version != 1 {
			t.Fatalf("stream: %+v %v", evs, err)
		}
	})

	t.Run("answers survive a restart", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "events.db")
		es, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st := httpedge.NewEventStoreIdempotency(es, httpedge.EventStoreIdempotencyConfig{})
		rec, won, err := st.Reserve(ctx, "k", "fp")
		if err != nil || !won {
			t.Fatalf("reserve: %v %v", won, err)
		}
		body := []byte("{\"id\":1}\n\x00\xff binary-safe")
		rec.Status, rec.Header, rec.Body = 201, map[string]string{"Content-Type": "application/json", httpedge.HeaderEventPosition: "7"}, body
		if err := st.Complete(ctx, "k", rec); err != nil {
			t.Fatal(err)
		}
		if err := es.Close(); err != nil {
			t.Fatal(err)
		}
		es, err = sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer es.Close()
		st = httpedge.NewEventStoreIdempotency(es, httpedge.EventStoreIdempotencyConfig{})
		got, won, err := st.Reserve(ctx, "k", "fp")
		if err != nil || won || !got.Done || got.Status != 201 || string(got.Body) != string(body) || got.Header[httpedge.HeaderEventPosition] != "7" {
			t.Fatalf("after reopen: %+v %v %v", got, won, err)
		}
	})

	t.Run("an expired reservation is taken over, only by the same request", func(t *testing.T) {
		t.Parallel()
		es := MustSQLite(t)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		st := httpedge.NewEventStoreIdempotency(es, httpedge.EventStoreIdempotencyConfig{Lease: time.Minute, Now: clock})
		dead, won, err := st.Reserve(ctx, "k", "fp")
		if err != nil || !won {
			t.Fatal(won, err)
		}
		if _, won, _ := st.Reserve(ctx, "k", "fp"); won {
			t.Fatal("a live reservation was taken over")
		}
		mu.Lock()
		now = now.Add(2 * time.Minute)
		mu.Unlock()
		if rec, won, _ := st.Reserve(ctx, "k", "other"); won || rec.Fingerprint != "fp" {
			t.Fatalf("another request took over an expired reservation: %+v", rec)
		}
		rec, won, err := st.Reserve(ctx, "k", "fp")
		if err != nil || !won {
			t.Fatalf("take-over: %v %v", won, err)
		}
		// The dead request's late answer must not overwrite the new one.
		if err := st.Complete(ctx, "k", dead); err == nil {
			t.Fatal("a reservation that was taken over could still complete")
		}
		if err := st.Release(ctx, "k", dead.Token); err == nil {
			t.Fatal("a reservation that was taken over could still release")
		}
		rec.Status, rec.Body = 200, []byte("{}")
		if err := st.Complete(ctx, "k", rec); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("release lets the key be used again", func(t *testing.T) {
		t.Parallel()
		es := MustSQLite(t)
		st := httpedge.NewEventStoreIdempotency(es, httpedge.EventStoreIdempotencyConfig{})
		rec, _, _ := st.Reserve(ctx, "k", "fp")
		if err := st.Release(ctx, "k", rec.Token); err != nil {
			t.Fatal(err)
		}
		if _, won, err := st.Reserve(ctx, "k", "fp"); err != nil || !won {
			t.Fatalf("after release: %v %v", won, err)
		}
		evs, _ := es.ReadStream(ctx, eventstore.IdempotencyStreamPrefix+"k", eventstore.ReadStreamOptions{})
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		if strings.Join(types, ",") != "idempotency.reserved,idempotency.released,idempotency.reserved" {
			t.Fatalf("stream: %v", types)
		}
	})

	t.Run("events carry the request ids", func(t *testing.T) {
		t.Parallel()
		es := MustSQLite(t)
		st := httpedge.NewEventStoreIdempotency(es, httpedge.EventStoreIdempotencyConfig{})
		if _, _, err := st.Reserve(httpedge.WithIDs(ctx, "req-9", "corr-9"), "k", "fp"); err != nil {
			t.Fatal(err)
		}
		evs, _ := es.ReadAll(ctx, eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefix: eventstore.IdempotencyStreamPrefix}})
		if len(evs) != 1 || !strings.Contains(string(evs[0].Metadata), `"correlation_id":"corr-9"`) {
			t.Fatalf("events %+v", evs)
		}
	})
}

// TestIdempotencyStores runs the store suite over every adapter.
func TestIdempotencyStores(t *testing.T) {
	t.Parallel()
	for name, newStore := range idempotencyStores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			idempotencytest.Run(t, func(t *testing.T) httpedge.IdempotencyStore { return newStore(t) })
		})
	}
}

func TestMemoryIdempotencyStoreRefusesStaleTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := httpedge.NewMemoryIdempotencyStore()
	rec, _, _ := st.Reserve(ctx, "k", "fp")
	if err := st.Complete(ctx, "k", httpedge.IdempotencyRecord{Token: "nope"}); err == nil {
		t.Fatal("a foreign token completed the key")
	}
	if err := st.Complete(ctx, "k", rec); err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, "k", rec.Token); err == nil {
		t.Fatal("a completed key was released")
	}
}
