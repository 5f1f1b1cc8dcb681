package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/eventstore/esdb/esdbstandin"
	"github.com/commerce-engine/commerce/internal/app"
	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/openapi/openapitest"
	"github.com/commerce-engine/commerce/projections/analytics"
	pgproj "github.com/commerce-engine/commerce/projections/postgres"
)

// readSetup is one way of running the read side: the embedded default, or
// PostgreSQL read models with carts in Redis.
type readSetup struct {
	name string
	cfg  func(t *testing.T) (Config, []Option)
}

const (
	testAdminEmail    = "root@example.com"
	testAdminPassword = "a long Passw0rd here"
)

func readSetups() []readSetup {
	return []readSetup{
		{"embedded", func(t *testing.T) (Config, []Option) {
			cfg := testConfig(t)
			cfg.AdminEmail, cfg.AdminPassword = testAdminEmail, testAdminPassword
			return cfg, nil
		}},
		{"postgres+redis", productionConfig},
		{"kurrentdb-standin+postgres+redis", kurrentConfig},
	}
}

// productionConfig points a Main at PostgreSQL (events and read models,
// each test its own schemas and analyst role) and Redis (its own prefix).
func productionConfig(t *testing.T) (Config, []Option) {
	t.Helper()
	url, schema := testsvc.PostgresSchema(t)
	redisURL := testsvc.Require(t, "COMMERCE_TEST_REDIS_URL")
	cfg := testConfig(t)
	cfg.AdminEmail, cfg.AdminPassword = testAdminEmail, testAdminPassword
	cfg.EventStoreURL, cfg.ReadModelURL, cfg.RedisURL = url, url, redisURL
	ns := pgproj.Namespace{Prefix: testsvc.UniqueName("rs") + "_"}
	role := testsvc.UniqueName("analyst")
	prefix := testsvc.UniqueName("rs") + ":"
	opts := []Option{app.WithSchema(schema), app.WithReadNamespace(ns), app.WithAnalystRole(role), app.WithRedisPrefix(prefix)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := readModelPool(ctx, url)
		if err != nil {
			t.Errorf("clean up: %v", err)
			return
		}
		defer pool.Close()
		if err := (&pgproj.Store{Pool: pool, NS: ns}).Drop(ctx, role); err != nil {
			t.Errorf("drop the read models: %v", err)
		}
		opts, _ := goredis.ParseURL(redisURL)
		client := goredis.NewClient(opts)
		defer client.Close()
		iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
	})
	return cfg, opts
}

// kurrentConfig is productionConfig with the events in KurrentDB: a real
// server when COMMERCE_ESDB_URL is set (in a namespace of the test's own),
// the in-process stand-in otherwise.
func kurrentConfig(t *testing.T) (Config, []Option) {
	t.Helper()
	cfg, opts := productionConfig(t)
	if url := os.Getenv("COMMERCE_ESDB_URL"); url != "" {
		cfg.EventStoreURL, cfg.EventStoreNamespace = url, testsvc.UniqueName("t")
	} else {
		cfg.EventStoreURL = esdbstandin.Start(t).URL()
	}
	return cfg, opts
}

// client calls a running engine as one user.
type client struct {
	t     testing.TB
	base  string
	token string
}

func (c client) do(method, path string, body any, header ...string) (int, []byte, http.Header, error) {
	return sendJSON(context.Background(), openapitest.Client(c.t), method, c.base+path, c.token, body, header...)
}

// must calls and fails the test unless the answer has status want; it
// decodes the body into out and returns the X-Event-Position.
func (c client) must(want int, method, path string, body, out any, header ...string) string {
	c.t.Helper()
	code, b, h, err := c.do(method, path, body, header...)
	if err != nil || code != want {
		c.t.Fatalf("%s %s: %d %s %v (want %d)", method, path, code, b, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return h.Get("X-Event-Position")
}

// shop signs in the admin, creates products and a shopper with a cart,
// and returns both clients, the product ids and the last position.
func shop(t *testing.T, base string, products int) (admin, shopper client, ids []string, last string) {
	t.Helper()
	admin, shopper = client{t: t, base: base}, client{t: t, base: base}
	var session struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
	}
	admin.must(200, "POST", "/api/v1/auth/admin/login", map[string]string{"email": testAdminEmail, "password": testAdminPassword}, &session)
	admin.token = session.AccessToken
	for i := range products {
		var p struct {
			ID string `json:"id"`
		}
		last = admin.must(201, "POST", "/api/v1/admin/products", map[string]any{
			"sku": fmt.Sprintf("SKU-%d", i), "name": fmt.Sprintf("Product %d", i), "description": "for the rebuild test",
			"category": []string{"kitchen", "garden", "books"}[i%3], "price": map[string]any{"amount": 100 + i, "currency": "EUR"},
			"stock": 50, "image_url": "https://img.example/p.png"}, &p)
		ids = append(ids, p.ID)
	}
	shopper.must(201, "POST", "/api/v1/auth/register", map[string]string{"email": "ann@example.com", "password": "another long Passw0rd", "name": "Ann"}, &session)
	shopper.token = session.AccessToken
	for _, id := range ids[:3] {
		last = shopper.must(200, "POST", "/api/v1/cart/items", map[string]any{"product_id": id, "quantity": 2}, nil)
	}
	return admin, shopper, ids, last
}

// TestRebuildUnderReadLoad rebuilds every projection through the admin API
// while readers hammer the catalog, categories and cart and an admin keeps
// changing stock: no read may fail or show a half-built model.
func TestRebuildUnderReadLoad(t *testing.T) {
	t.Parallel()
	for _, setup := range readSetups() {
		t.Run(setup.name, func(t *testing.T) {
			t.Parallel()
			cfg, opts := setup.cfg(t)
			srv := MustRun(t, cfg, opts...)
			const products = 30
			admin, shopper, ids, last := shop(t, srv.url, products)
			var page struct {
				Items []json.RawMessage `json:"items"`
			}
			shopper.must(200, "GET", "/api/v1/products?page_size=100", nil, &page, "X-Min-Position", last)
			shopper.must(200, "GET", "/api/v1/cart", nil, nil, "X-Min-Position", last)

			ctx, cancel := context.WithCancel(context.Background())
			var reads, bad atomic.Int64
			var firstBad atomic.Value
			var wg sync.WaitGroup
			check := func(ok bool, what string) {
				reads.Add(1)
				if !ok {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, what)
				}
			}
			for r := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						switch r {
						case 0:
							code, b, _, err := shopper.do("GET", "/api/v1/products?page_size=100", nil)
							var p struct {
								Items []json.RawMessage `json:"items"`
							}
							check(err == nil && code == 200 && json.Unmarshal(b, &p) == nil && len(p.Items) == products, fmt.Sprintf("products: %d %.200s %v", code, b, err))
						case 1:
							code, b, _, err := shopper.do("GET", "/api/v1/categories", nil)
							var c struct {
								Items []struct {
									Count int `json:"product_count"`
								} `json:"items"`
							}
							sum := 0
							if json.Unmarshal(b, &c) == nil {
								for _, it := range c.Items {
									sum += it.Count
								}
							}
							check(err == nil && code == 200 && sum == products, fmt.Sprintf("categories: %d %.200s %v", code, b, err))
						case 2:
							code, b, _, err := shopper.do("GET", "/api/v1/cart", nil)
							var c struct {
								ItemCount int `json:"item_count"`
							}
							check(err == nil && code == 200 && json.Unmarshal(b, &c) == nil && c.ItemCount == 6, fmt.Sprintf("cart: %d %.200s %v", code, b, err))
						case 3:
							code, b, _, err := shopper.do("GET", "/api/v1/products/"+ids[1], nil)
							check(err == nil && code == 200 && bytes.Contains(b, []byte(`"Product 1"`)), fmt.Sprintf("product: %d %.200s %v", code, b, err))
						}
					}
				}()
			}
			wg.Add(1)
			go func() { // stock keeps changing while the models are rebuilt
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					code, b, _, err := admin.do("POST", "/api/v1/admin/products/"+ids[i%products]+"/stock", map[string]any{"delta": 1})
					if err != nil || code != 200 {
						check(false, fmt.Sprintf("stock: %d %s %v", code, b, err))
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()

			// Some reads of every kind before the rebuilds, some during,
			// some after the swaps: counted, not left to a sleep's length.
			readsFor := func(what string, n int64) {
				t.Helper()
				for from, deadline := reads.Load(), time.Now().Add(60*time.Second); reads.Load() < from+n; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%d reads %s in 60s, want %d", reads.Load()-from, what, n)
					}
				}
			}
			readsFor("before the rebuilds", 25)
			names := []string{"catalog", "carts", "orders", "correlations", analytics.Name}
			rebuilding := reads.Load()
			for _, n := range names {
				admin.must(http.StatusAccepted, "POST", "/api/v1/admin/projections/"+n+"/rebuild", nil, nil)
			}
			admin.must(http.StatusNotFound, "POST", "/api/v1/admin/projections/nope/rebuild", nil, nil)
			deadline := time.Now().Add(60 * time.Second)
			for {
				var st struct {
					Items []struct {
						Name    string `json:"name"`
						Rebuild *struct {
							Running bool   `json:"running"`
							Error   string `json:"error"`
						} `json:"rebuild"`
					} `json:"items"`
				}
				admin.must(200, "GET", "/api/v1/admin/projections", nil, &st)
				done := 0
				for _, it := range st.Items {
					if it.Rebuild != nil && !it.Rebuild.Running {
						if it.Rebuild.Error != "" {
							t.Fatalf("rebuild of %s failed: %s", it.Name, it.Rebuild.Error)
						}
						done++
					}
				}
				if done == len(names) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("rebuilds not done after 60s: %+v", st)
				}
				time.Sleep(20 * time.Millisecond)
			}
			during := reads.Load() - rebuilding
			readsFor("after the swaps", 25)
			cancel()
			wg.Wait()
			if bad.Load() > 0 {
				t.Fatalf("%d of %d reads failed or saw a half-built model during the rebuilds; first: %v", bad.Load(), reads.Load(), firstBad.Load())
			}
			if during == 0 {
				t.Fatal("no read ran during the rebuilds: the test proves too little")
			}
			t.Logf("%s: %d reads, %d during the rebuilds of %s, none failed or incomplete", setup.name, reads.Load(), during, strings.Join(names, ", "))
		})
	}
}

// TestAnalystRoleReadsAnalyticsOnly migrates PostgreSQL read models, then
// connects as the analysts' role: every documented query runs, and nothing
// outside the analytics schema can be read or written.
func TestAnalystRoleReadsAnalyticsOnly(t *testing.T) {
	t.Parallel()
	cfg, opts := productionConfig(t)
	m := NewMain(cfg, opts...)
	var out bytes.Buffer
	if err := migrate(context.Background(), cfg, m.Schema(), slog.New(slog.DiscardHandler), &out, opts...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if !strings.Contains(out.String(), "role "+m.AnalystRole()+" can read "+m.ReadNamespace().Analytics()+" only") {
		t.Fatalf("migrate output:\n%s", out.String())
	}
	srv := MustRun(t, cfg, opts...)
	admin, shopper, _, last := shop(t, srv.url, 3)
	var funnel map[string]int
	admin.must(200, "GET", "/api/v1/analytics/funnel", nil, &funnel, "X-Min-Position", last)
	if funnel["carts"] != 1 {
		t.Fatalf("funnel = %v, want the shopper's cart", funnel)
	}
	shopper.must(403, "GET", "/api/v1/analytics/funnel", nil, nil)

	ctx := context.Background()
	pcfg, err := pgx.ParseConfig(cfg.ReadModelURL)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.User = m.AnalystRole()
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", m.AnalystRole(), err)
	}
	defer conn.Close(ctx)
	md, err := os.ReadFile("../../docs/analytics.md")
	if err != nil {
		t.Fatal(err)
	}
	queries := analytics.DocumentedQueries(md)
	if len(queries) < 4 {
		t.Fatalf("docs/analytics.md documents %d queries", len(queries))
	}
	schema := regexp.MustCompile(`(^|[^A-Za-z0-9_."])analytics\.`)
	for _, q := range queries {
		q = schema.ReplaceAllString(q, "${1}"+m.ReadNamespace().Analytics()+".")
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
		}
		if err != nil {
			t.Errorf("as %s the documented query fails: %v\n%s", m.AnalystRole(), err, q)
		}
	}
	for _, q := range []string{
		"SELECT * FROM " + m.ReadNamespace().Read() + ".products",
		"SELECT * FROM " + m.ReadNamespace().Read() + ".orders",
		"SELECT * FROM " + m.ReadNamespace().Registry() + ".projections",
		"SELECT * FROM " + m.Schema() + ".events",
		"INSERT INTO " + m.ReadNamespace().Analytics() + ".products VALUES ('x', 'y')",
		"DELETE FROM " + m.ReadNamespace().Analytics() + ".sales_daily",
	} {
		_, err := conn.Exec(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "denied") && !strings.Contains(err.Error(), "read-only") {
			t.Errorf("as %s, %q: %v, want permission denied", m.AnalystRole(), q, err)
		}
	}
}
