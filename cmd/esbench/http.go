package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/customer"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/httpedge"
)

// benchHTTP measures POST /api/v1/cart/items over loopback against the real
// edge and write API on s, beside a bare gin handler that answers the same
// bytes, at full speed with `clients` connections; then the add-to-cart
// latency at half the maximum rate.
func benchHTTP(ctx context.Context, name string, s eventstore.Store, dur time.Duration, clients int) {
	gin.SetMode(gin.ReleaseMode)
	tokens, err := auth.NewTokens(auth.TokensConfig{Secret: []byte(strings.Repeat("b", 32))})
	if err != nil {
		fatalf("%v", err)
	}
	r := &commands.Runner{Store: s, Codec: commands.NewCodec(), Cache: commands.NewStateCache(10000)}
	product := uuid.NewString()
	if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(product), catalog.CreateProduct{
		ProductID: product, SKU: "HTTP-1", Name: "Bench", Price: money.Money{Amount: 100, Currency: "EUR"}, At: time.Now(),
	}, commands.Metadata{CommandID: uuid.NewString()}); err != nil {
		fatalf("%v", err)
	}
	if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(product), catalog.AdjustStock{
		ProductID: product, Delta: 1 << 40, At: time.Now(),
	}, commands.Metadata{CommandID: uuid.NewString()}); err != nil {
		fatalf("%v", err)
	}
	engine, err := httpedge.New(httpedge.Config{Log: nil})
	if err != nil {
		fatalf("%v", err)
	}
	var server serverLatencies
	engine.Use(server.record)
	api := &httpapi.API{Runner: r, Now: time.Now}
	api.Mount(engine, auth.Authenticate(tokens), func(c *gin.Context) { c.Next() })
	url, stop := serve(engine)
	defer stop()

	body := []byte(`{"product_id":"` + product + `","quantity":1}`)
	// Each client is one shopper; a cart line caps at 99 units, so every
	// 90 requests a client switches to a new shopper.
	newToken := func() string {
		t, _, err := tokens.Issue(uuid.NewString(), customer.RoleShopper)
		if err != nil {
			fatalf("%v", err)
		}
		return t
	}
	sample := send(http.DefaultClient, url+"/api/v1/cart/items", newToken(), body)
	bare := gin.New()
	bare.POST("/api/v1/cart/items", func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", sample) })
	bareURL, stopBare := serve(bare)
	defer stopBare()

	full := load(ctx, url+"/api/v1/cart/items", clients, dur, 0, newToken, body)
	base := load(ctx, bareURL+"/api/v1/cart/items", clients, dur, 0, newToken, body)
	line(name+"_http_addtocart", full.rate, "requests/s", base.rate)
	line("bare_gin_same_body", base.rate, "requests/s", 0)
	server.reset(true)
	half := load(ctx, url+"/api/v1/cart/items", clients, dur, full.rate/2, newToken, body)
	sp50, sp99 := server.percentiles()
	fmt.Printf("%s_http_addtocart_at_half_rate %.0f requests/s p50=%.2fms p99=%.2fms (inside the server: p50=%.2fms p99=%.2fms)\n",
		name, half.rate, ms(half.p50), ms(half.p99), ms(sp50), ms(sp99))
	// The store alone at the same rate and concurrency: how much of that
	// tail is the durable append itself.
	raw := paced(ctx, clients, dur, full.rate/2, func(ctx context.Context, worker, n int) error {
		_, err := s.Append(ctx, fmt.Sprintf("latency-%d-%d", worker, n/shopperCommands), eventstore.Any, newEvents(1)...)
		return err
	})
	fmt.Printf("%s_append_at_the_same_rate %.0f events/s p50=%.2fms p99=%.2fms\n", name, raw.rate, ms(raw.p50), ms(raw.p99))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func serve(h http.Handler) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }
}

func send(c *http.Client, url, token string, body []byte) []byte {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		fatalf("%v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

type loadResult struct {
	rate     float64
	p50, p99 time.Duration
}

// load sends requests from clients connections for dur, as fast as they
// answer (rate 0) or paced to rate requests/s in all; it returns the
// achieved rate and latency percentiles.
func load(ctx context.Context, url string, clients int, dur time.Duration, rate float64, token func() string, body []byte) loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	tokens := make([]string, clients)
	return paced(ctx, clients, dur, rate, func(ctx context.Context, worker, n int) error {
		if n%shopperCommands == 0 || tokens[worker] == "" {
			tokens[worker] = token()
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tokens[worker])
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

// paced runs op from workers goroutines for dur, as fast as it returns
// (rate 0) or paced to rate calls/s in all, and returns the achieved rate
// and latency percentiles. Paced latency counts from the scheduled start,
// so time spent queueing behind a slow call is not hidden.
func paced(ctx context.Context, workers int, dur time.Duration, rate float64, op func(ctx context.Context, worker, n int) error) loadResult {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var mu sync.Mutex
	var lats []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(workers) / rate)
	}
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(time.Duration(i) * interval / time.Duration(workers))
			var mine []time.Duration
			for n := 1; ctx.Err() == nil; n++ {
				t0 := time.Now()
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					t0 = next
					next = next.Add(interval)
				}
				if err := op(ctx, i, n); err != nil {
					if ctx.Err() != nil {
						break
					}
					fatalf("load: %v", err)
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	res := loadResult{rate: float64(len(lats)) / el.Seconds()}
	if len(lats) > 0 {
		res.p50, res.p99 = lats[len(lats)/2], lats[len(lats)*99/100]
	}
	return res
}

// serverLatencies records handler latencies inside the server, to tell the
// time spent in the engine from the time spent reaching it.
type serverLatencies struct {
	mu   sync.Mutex
	on   bool
	lats []time.Duration
}

func (s *serverLatencies) record(c *gin.Context) {
	start := time.Now()
	c.Next()
	d := time.Since(start)
	s.mu.Lock()
	if s.on {
		s.lats = append(s.lats, d)
	}
	s.mu.Unlock()
}

func (s *serverLatencies) reset(on bool) {
	s.mu.Lock()
	s.on, s.lats = on, nil
	s.mu.Unlock()
}

func (s *serverLatencies) percentiles() (p50, p99 time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = false
	if len(s.lats) == 0 {
		return 0, 0
	}
	sort.Slice(s.lats, func(i, j int) bool { return s.lats[i] < s.lats[j] })
	return s.lats[len(s.lats)/2], s.lats[len(s.lats)*99/100]
}
