package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP connections to a server until cut, when it drops
// every connection and refuses new ones; heal lets them through again.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// TestRedisDownAndBack cuts Redis away from a running engine: catalog
// reads keep answering from PostgreSQL, cart reads answer 503 with
// Retry-After, a cart write made meanwhile is not lost, and everything
// recovers without a restart when Redis returns.
func TestRedisDownAndBack(t *testing.T) {
	t.Parallel()
	cfg, opts := productionConfig(t)
	u, err := url.Parse(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	cfg.RedisURL = "redis://" + proxy.ln.Addr().String() + "/0"
	srv := MustRun(t, cfg, opts...)
	_, shopper, ids, last := shop(t, srv.url, 4)
	shopper.must(200, "GET", "/api/v1/cart", nil, nil, "X-Min-Position", last)

	proxy.cut()
	for _, path := range []string{"/api/v1/products?category=kitchen", "/api/v1/products/" + ids[0], "/api/v1/categories"} {
		code, b, _, err := shopper.do("GET", path, nil)
		if err != nil || code != 200 {
			t.Fatalf("with Redis down, GET %s: %d %s %v", path, code, b, err)
		}
	}
	code, b, h, err := shopper.do("GET", "/api/v1/cart", nil)
	if err != nil || code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("with Redis down, GET /api/v1/cart: %d %s %v %v", code, b, h, err)
	}
	// The write side does not need Redis for a cart: the event is recorded.
	pos := shopper.must(200, "POST", "/api/v1/cart/items", map[string]any{"product_id": ids[3], "quantity": 1}, nil)

	proxy.heal()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b, _, err := shopper.do("GET", "/api/v1/cart", nil, "X-Min-Position", pos)
		if err == nil && code == 200 && strings.Contains(string(b), ids[3]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Redis returned, the cart never showed the item added while it was down: %d %s %v", code, b, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
