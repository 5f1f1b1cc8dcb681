package cache_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/readapi/cache"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// env is one "API process": a cache in front of a catalog handler that
// counts its calls and answers with the model version.
type env struct {
	cache   *cache.Cache
	engine  *gin.Engine
	reg     *prometheus.Registry
	calls   *atomic.Int64
	version *atomic.Int64
}

func newEnv(t *testing.T, client goredis.UniversalClient, prefix string, version *atomic.Int64, local int) *env {
	t.Helper()
	e := &env{reg: prometheus.NewRegistry(), calls: &atomic.Int64{}, version: version}
	e.cache = &cache.Cache{
		Redis:        client,
		Prefix:       prefix,
		Version:      func(context.Context) (eventstore.Position, error) { return eventstore.Position(version.Load()), nil },
		Poll:         time.Millisecond,
		LocalEntries: local,
		Registerer:   e.reg,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.cache.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	e.engine = gin.New()
	handler := func(c *gin.Context) {
		n := e.calls.Add(1)
		if c.Param("id") == "missing" {
			c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"version": version.Load(), "call": n, "path": c.Request.URL.String()})
	}
	g := e.engine.Group("/api/v1", e.cache.Middleware())
	g.GET("/products", handler)
	g.GET("/products/:id", handler)
	g.GET("/categories", handler)
	// Run has read a first version once answers carry X-Cache.
	deadline := time.Now().Add(30 * time.Second)
	for e.get(t, "/api/v1/categories?warmup=1").Header().Get(cache.HeaderCache) == "" {
		if time.Now().After(deadline) {
			t.Fatal("the cache never read a version")
		}
		time.Sleep(time.Millisecond)
	}
	return e
}

func (e *env) get(tb testing.TB, path string, header ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	return rec
}

// expect GETs path and checks the status and X-Cache of the answer.
func (e *env) expect(t *testing.T, path string, status int, xcache string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	rec := e.get(t, path, header...)
	if rec.Code != status || rec.Header().Get(cache.HeaderCache) != xcache {
		t.Fatalf("GET %s: %d X-Cache %q, want %d %q (%s)", path, rec.Code, rec.Header().Get(cache.HeaderCache), status, xcache, rec.Body)
	}
	return rec
}

func (e *env) metric(t *testing.T, name, result string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if result == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == result) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func versionAt(v int64) *atomic.Int64 {
	a := &atomic.Int64{}
	a.Store(v)
	return a
}

// redisClient returns a client of the test Redis and a prefix whose keys
// are deleted when the test ends.
func redisClient(t *testing.T) (goredis.UniversalClient, string) {
	t.Helper()
	url := testsvc.Require(t, "COMMERCE_TEST_REDIS_URL")
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opts)
	prefix := testsvc.UniqueName("test_cache") + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := client.Del(ctx, iter.Val()).Err(); err != nil {
				t.Errorf("delete %s: %v", iter.Val(), err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan %s: %v", prefix, err)
		}
		_ = client.Close()
	})
	return client, prefix
}

func TestHitsMissesETagAndBypass(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "", versionAt(7), 0)
	calls := e.calls.Load()
	first := e.expect(t, "/api/v1/products?sort=name&category=kitchen", 200, "miss")
	etag := first.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag = %q", etag)
	}
	// The same query in another order is the same answer, from memory.
	hit := e.expect(t, "/api/v1/products?category=kitchen&sort=name", 200, "hit-local")
	if !bytes.Equal(hit.Body.Bytes(), first.Body.Bytes()) || hit.Header().Get("ETag") != etag ||
		hit.Header().Get("Content-Type") != first.Header().Get("Content-Type") {
		t.Fatalf("hit %q %q %s, miss %q %q %s", hit.Header().Get("ETag"), hit.Header().Get("Content-Type"), hit.Body,
			etag, first.Header().Get("Content-Type"), first.Body)
	}
	if got := e.calls.Load() - calls; got != 1 {
		t.Fatalf("the handler ran %d times, want 1", got)
	}
	if rec := e.expect(t, "/api/v1/products?sort=name&category=kitchen", 304, "hit-local", "If-None-Match", `"other", `+etag); rec.Body.Len() != 0 {
		t.Fatalf("304 with a body: %s", rec.Body)
	}
	// Repeated parameters are kept, in their order.
	e.expect(t, "/api/v1/products?tag=a&tag=b", 200, "miss")
	e.expect(t, "/api/v1/products?tag=b&tag=a", 200, "miss")
	e.expect(t, "/api/v1/products?tag=a&tag=b", 200, "hit-local")
	// Read-your-writes goes to the model.
	calls = e.calls.Load()
	e.expect(t, "/api/v1/products?sort=name&category=kitchen", 200, "", "X-Min-Position", "3")
	if e.calls.Load() != calls+1 {
		t.Fatal("X-Min-Position did not reach the handler")
	}
	// Only 200 answers are kept.
	e.expect(t, "/api/v1/products/missing", 404, "miss")
	e.expect(t, "/api/v1/products/missing", 404, "miss")
	for result, want := range map[string]float64{"hit_local": 3, "miss": 6, "bypass": 1} {
		if got := e.metric(t, "commerce_catalog_cache_requests_total", result); got < want {
			t.Errorf("requests{result=%q} = %v, want >= %v", result, got, want)
		}
	}
}

func TestNewVersionInvalidates(t *testing.T) {
	t.Parallel()
	v := versionAt(1)
	e := newEnv(t, nil, "", v, 0)
	old := e.expect(t, "/api/v1/categories", 200, "miss")
	e.expect(t, "/api/v1/categories", 200, "hit-local")
	v.Store(2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec := e.get(t, "/api/v1/categories")
		if rec.Header().Get(cache.HeaderCache) == "miss" {
			if bytes.Equal(rec.Body.Bytes(), old.Body.Bytes()) || !strings.Contains(rec.Body.String(), `"version":2`) {
				t.Fatalf("after the new version: %s", rec.Body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new version never invalidated the answer")
		}
		time.Sleep(time.Millisecond)
	}
	// Once Run has seen version 2, no answer of version 1 comes back.
	for range 20 {
		if rec := e.get(t, "/api/v1/categories"); !strings.Contains(rec.Body.String(), `"version":2`) {
			t.Fatalf("an answer of an older version: %s", rec.Body)
		}
	}
}

func TestSharedThroughRedis(t *testing.T) {
	t.Parallel()
	client, prefix := redisClient(t)
	v := versionAt(42)
	a := newEnv(t, client, prefix, v, 0)
	b := newEnv(t, client, prefix, v, 0)
	first := a.expect(t, "/api/v1/products/p1?x=1", 200, "miss")
	got := b.expect(t, "/api/v1/products/p1?x=1", 200, "hit-redis")
	if !bytes.Equal(got.Body.Bytes(), first.Body.Bytes()) || got.Header().Get("ETag") != first.Header().Get("ETag") ||
		got.Header().Get("Content-Type") != first.Header().Get("Content-Type") {
		t.Fatalf("from redis %s %v, first %s %v", got.Body, got.Header(), first.Body, first.Header())
	}
	b.expect(t, "/api/v1/products/p1?x=1", 200, "hit-local")
	if b.metric(t, "commerce_catalog_cache_requests_total", "hit_redis") < 1 {
		t.Fatal("hit_redis not counted")
	}
	if ttl := client.TTL(context.Background(), prefix+"42 /api/v1/products/p1?x=1").Val(); ttl <= 0 || ttl > cache.DefaultTTL {
		t.Fatalf("redis TTL = %v", ttl)
	}
}

func TestRedisDownAndBack(t *testing.T) {
	t.Parallel()
	real, prefix := redisClient(t)
	down := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer func() { _ = down.Close() }()
	v := versionAt(5)
	a := newEnv(t, down, prefix, v, 0)
	// The pause after a Redis error is timed by a clock the test moves:
	// however slow the requests, they all fall within it.
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	a.cache.Now = func() time.Time { return time.Unix(0, now.Load()) }
	for i := range 5 {
		a.expect(t, fmt.Sprintf("/api/v1/products/d%d", i), 200, "miss")
	}
	errs := a.metric(t, "commerce_catalog_cache_redis_errors_total", "")
	if errs < 1 {
		t.Fatal("no Redis error counted")
	}
	if errs > 2 {
		t.Errorf("%v Redis errors within the pause: Redis was not skipped", errs)
	}
	// Redis is back: after the pause, answers are shared again.
	a.cache.Redis = real
	now.Add(int64(2 * time.Second))
	b := newEnv(t, real, prefix, v, 0)
	a.expect(t, "/api/v1/products/back", 200, "miss")
	b.expect(t, "/api/v1/products/back", 200, "hit-redis")
	b.expect(t, "/api/v1/categories", 200, "miss")
	a.expect(t, "/api/v1/categories", 200, "hit-redis")
	if got := a.metric(t, "commerce_catalog_cache_redis_errors_total", ""); got != errs {
		t.Fatalf("redis errors went from %v to %v with Redis up", errs, got)
	}
}

func TestLocalTableIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, "", versionAt(1), 3)
	for pass := range 2 {
		hits := 0
		for i := range 20 {
			if e.get(t, fmt.Sprintf("/api/v1/products/b%d", i)).Header().Get(cache.HeaderCache) == "hit-local" {
				hits++
			}
		}
		if hits > 0 {
			t.Fatalf("pass %d: %d local hits with 3 entries cycling through 20 keys", pass, hits)
		}
	}
	// An entry hit since the last eviction survives the next one.
	e2 := newEnv(t, nil, "", versionAt(1), 2)
	e2.get(t, "/api/v1/products/x") // evicts the warm-up answer
	e2.expect(t, "/api/v1/products/a", 200, "miss")
	e2.expect(t, "/api/v1/products/b", 200, "miss")
	e2.expect(t, "/api/v1/products/a", 200, "hit-local")
	e2.expect(t, "/api/v1/products/c", 200, "miss")
	e2.expect(t, "/api/v1/products/a", 200, "hit-local")
	e2.expect(t, "/api/v1/products/b", 200, "miss")
}

// BenchmarkCachedVsBare compares a warm cached read with a bare gin handler
// writing the same 1 KB; the target is cached >= 0.7 of bare's throughput.
func BenchmarkCachedVsBare(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	body := []byte(`{"items":[` + strings.Repeat(`{"id":"0123456789","name":"A product name","price":1299},`, 17) + `{}],"next_cursor":null}`)
	handler := func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", body) }
	bare := gin.New()
	bare.GET("/api/v1/products", handler)

	c := &cache.Cache{Version: func(context.Context) (eventstore.Position, error) { return 1234, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Run(ctx) }()
	cached := gin.New()
	cached.GET("/api/v1/products", c.Middleware(), handler)
	const path = "/api/v1/products?category=kitchen&sort=price_asc"
	for deadline := time.Now().Add(30 * time.Second); ; {
		rec := httptest.NewRecorder()
		cached.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Header().Get(cache.HeaderCache) == "hit-local" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the cache never warmed")
		}
		time.Sleep(time.Millisecond)
	}
	for _, bc := range []struct {
		name   string
		engine *gin.Engine
	}{{"bare", bare}, {"cached", cached}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				rec := httptest.NewRecorder()
				bc.engine.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || rec.Body.Len() != len(body) {
					b.Fatalf("%d %d bytes", rec.Code, rec.Body.Len())
				}
			}
		})
	}
}
