// Package loadgen drives virtual shoppers through the whole checkout
// (register, verify, add to cart, intent, payment, order) against a running
// engine over its public HTTP API and reports orders per second and the
// latency of each step. It is `commerce loadgen` and cmd/loadgen.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/payments"
)

// loadgenConfig is what `commerce loadgen` drives and how.
type loadgenConfig struct {
	URL           string
	Shoppers      int
	Orders        int
	Duration      time.Duration
	Products      int
	AdminEmail    string
	AdminPassword string
	// Sealer opens the sealed verification tokens read through the admin
	// stream browser: loadgen needs the engine's signing secret.
	Sealer *auth.Sealer
	// WebhookSecret, when set, pays by signing Stripe webhooks locally;
	// otherwise through the offline provider's simulator.
	WebhookSecret string
	Progress      io.Writer
}

// Exit codes of Command.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// The engine's settings loadgen reads for its defaults, and the file its
// signing key is kept in under the data dir (as internal/app keeps it).
const (
	envAdminEmail          = "COMMERCE_ADMIN_EMAIL"
	envAdminPassword       = "COMMERCE_ADMIN_PASSWORD"
	envDataDir             = "COMMERCE_DATA_DIR"
	envJWTSecret           = "COMMERCE_JWT_SECRET"   //nolint:gosec // G101: a variable's name, not a credential
	envStripeWebhookSecret = "STRIPE_WEBHOOK_SECRET" //nolint:gosec // G101: a variable's name, not a credential
	jwtKeyFile             = "jwt.key"
)

// Command parses the flags of `commerce loadgen` (name is how the caller
// is invoked, for messages), runs it and returns the exit code: 0 after a
// run, 1 when the run failed, 2 on bad flags. getenv supplies the engine's
// settings as defaults (the admin, the signing secret); the report goes to
// stdout, progress to stderr.
func Command(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := loadgenConfig{Progress: stderr}
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "base `url` of the running engine")
	fs.IntVar(&cfg.Shoppers, "shoppers", 20, "virtual shoppers buying at once")
	fs.IntVar(&cfg.Orders, "orders", 0, "stop after this many orders (0: run for -duration)")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to buy when -orders is 0")
	fs.IntVar(&cfg.Products, "products", 20, "products to create for the run")
	fs.StringVar(&cfg.AdminEmail, "admin-email", getenv(envAdminEmail), "an admin's `email` (creates products, reads verification tokens)")
	adminPassword := fs.String("admin-password", "", "the admin's password (default "+envAdminPassword+")")
	dataDir := fs.String("data-dir", or(getenv(envDataDir), "./data"), "the engine's data dir, for its signing key when "+envJWTSecret+" is not set")
	fs.StringVar(&cfg.WebhookSecret, "webhook-secret", getenv(envStripeWebhookSecret), "sign Stripe webhooks with this `secret` (empty: the offline provider's simulator)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	cfg.AdminPassword = or(*adminPassword, getenv(envAdminPassword))
	if cfg.AdminEmail == "" || cfg.AdminPassword == "" || cfg.Shoppers < 1 || cfg.Products < 1 {
		fmt.Fprintf(stderr, "%s: needs -admin-email and -admin-password (or %s, %s), -shoppers >= 1, -products >= 1\n", name, envAdminEmail, envAdminPassword)
		return exitUsage
	}
	secret := []byte(getenv(envJWTSecret))
	if len(secret) == 0 {
		b, err := os.ReadFile(filepath.Join(*dataDir, jwtKeyFile))
		if err != nil {
			fmt.Fprintf(stderr, "%s: set %s as the engine has it, or -data-dir to its data dir: %v\n", name, envJWTSecret, err)
			return exitUsage
		}
		secret = b
	}
	sealer, err := auth.NewSealer(secret)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	cfg.Sealer = sealer
	report, err := runLoadgen(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitError
	}
	report.print(stdout)
	return exitOK
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// loadgenReport is what a run measured.
type loadgenReport struct {
	Orders  int
	Elapsed time.Duration
	Errors  int64
	Steps   map[string][]time.Duration
}

// Steps are the timed steps of a run, in the report's order.
var Steps = []string{"register", "verify", "add_to_cart", "intent", "pay", "webhook_to_order_visible"}

func (r loadgenReport) print(w io.Writer) {
	fmt.Fprintf(w, "orders %d in %s: %.1f orders/s (%d errors)\n", r.Orders, r.Elapsed.Round(time.Millisecond), float64(r.Orders)/r.Elapsed.Seconds(), r.Errors)
	for _, s := range Steps {
		d := r.Steps[s]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
		fmt.Fprintf(w, "%-26s n=%-6d p50 %-9s p95 %-9s p99 %s\n", s, len(d), q(0.50).Round(100*time.Microsecond), q(0.95).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond))
	}
}

// lgClient is one HTTP identity of the load generator.
type lgClient struct {
	base  string
	token string
	http  *http.Client
}

func (c lgClient) call(ctx context.Context, method, path string, body, out any, header ...string) (int, http.Header, error) {
	code, b, h, err := SendJSON(ctx, c.http, method, c.base+path, c.token, body, header...)
	if err != nil {
		return code, h, err
	}
	if out != nil && code < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return code, h, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	if code >= 300 {
		return code, h, fmt.Errorf("%s %s: %d %s", method, path, code, bytes.TrimSpace(b))
	}
	return code, h, nil
}

// SendJSON sends body (when not nil) as JSON to url with a bearer token
// (when set) and the extra header name/value pairs, and returns the
// answer's status, body and header. loadgen and the engine's tests call the
// API through it.
func SendJSON(ctx context.Context, hc *http.Client, method, url, token string, body any, header ...string) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// runLoadgen signs in the admin, creates products, then runs the shoppers
// through register, verify, add, intent, payment and order until the
// orders or the duration are done.
func runLoadgen(ctx context.Context, cfg loadgenConfig) (loadgenReport, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Shoppers * 2}}
	admin := lgClient{base: strings.TrimRight(cfg.URL, "/"), http: hc}
	streams := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Shoppers}} // no timeout: live streams stay open
	var session struct {
		AccessToken string `json:"access_token"`
	}
	if _, _, err := admin.call(ctx, "POST", "/api/v1/auth/admin/login", map[string]string{"email": cfg.AdminEmail, "password": cfg.AdminPassword}, &session); err != nil {
		return loadgenReport{}, fmt.Errorf("admin login: %w", err)
	}
	admin.token = session.AccessToken
	run := fmt.Sprintf("%x", rand.Uint32()) //nolint:gosec // G404: tells load runs apart, guards nothing
	products := make([]string, cfg.Products)
	for i := range products {
		var p struct {
			ID string `json:"id"`
		}
		if _, _, err := admin.call(ctx, "POST", "/api/v1/admin/products", map[string]any{
			"sku": fmt.Sprintf("LOAD-%s-%d", run, i), "name": fmt.Sprintf("Load %d", i), "description": "loadgen",
			"category": "loadgen", "price": money.Money{Amount: int64(500 + i), Currency: "EUR"}, "stock": 1_000_000, "image_url": "",
		}, &p); err != nil {
			return loadgenReport{}, fmt.Errorf("create products: %w", err)
		}
		products[i] = p.ID
	}
	var (
		mu      sync.Mutex
		steps   = map[string][]time.Duration{}
		orders  atomic.Int64
		errs    atomic.Int64
		started = time.Now()
	)
	observe := func(step string, d time.Duration) {
		mu.Lock()
		steps[step] = append(steps[step], d)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Orders == 0 {
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	// The progress line and the shoppers' errors share one writer, which
	// need not be safe for concurrent use (a test's buffer is not).
	cfg.Progress = &lockedWriter{w: cfg.Progress}
	done := make(chan struct{})
	var ticking sync.WaitGroup
	ticking.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := orders.Load()
				fmt.Fprintf(cfg.Progress, "\r%s  orders %d  %.1f/s  errors %d   ", time.Since(started).Round(time.Second), n, float64(n)/time.Since(started).Seconds(), errs.Load())
			}
		}
	})
	var wg sync.WaitGroup
	for i := range cfg.Shoppers {
		wg.Go(func() {
			sh := &lgShopper{cfg: cfg, admin: admin, c: lgClient{base: admin.base, http: hc}, observe: observe, live: &lgLive{placed: map[string]chan struct{}{}}}
			if err := sh.signUp(ctx, fmt.Sprintf("loadgen-%s-%d@example.com", run, i)); err != nil {
				if ctx.Err() == nil {
					errs.Add(1)
					fmt.Fprintf(cfg.Progress, "\nshopper %d: %v\n", i, err)
				}
				return
			}
			go sh.live.follow(ctx, sh.c, streams)
			for ctx.Err() == nil {
				if cfg.Orders > 0 && orders.Load() >= int64(cfg.Orders) {
					cancel()
					return
				}
				if err := sh.buy(ctx, products[rand.IntN(len(products))]); err != nil { //nolint:gosec // G404: picks a product to buy
					if ctx.Err() == nil {
						errs.Add(1)
						fmt.Fprintf(cfg.Progress, "\nshopper %d: %v\n", i, err)
						time.Sleep(100 * time.Millisecond)
					}
					continue
				}
				orders.Add(1)
			}
		})
	}
	wg.Wait()
	close(done)
	ticking.Wait()
	fmt.Fprintln(cfg.Progress)
	return loadgenReport{Orders: int(orders.Load()), Elapsed: time.Since(started), Errors: errs.Load(), Steps: steps}, nil
}

// lgShopper is one virtual shopper.
type lgShopper struct {
	cfg     loadgenConfig
	admin   lgClient
	c       lgClient
	id      string
	observe func(string, time.Duration)
	live    *lgLive
}

// lgLive follows one shopper's live order stream, as a shop's page would,
// so that waiting for an order costs one read instead of a poll every few
// milliseconds (which, with many shoppers, would be most of the load).
type lgLive struct {
	mu     sync.Mutex
	placed map[string]chan struct{}
}

// wait returns a channel closed once the stream has shown order placed.
func (l *lgLive) wait(order string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.chanLocked(order)
}

func (l *lgLive) seen(order string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := l.chanLocked(order)
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// chanLocked is the order's channel, made on first use by either side.
func (l *lgLive) chanLocked(order string) chan struct{} {
	ch, ok := l.placed[order]
	if !ok {
		ch = make(chan struct{})
		l.placed[order] = ch
	}
	return ch
}

// forget drops an order's channel once its buy is over.
func (l *lgLive) forget(order string) {
	l.mu.Lock()
	delete(l.placed, order)
	l.mu.Unlock()
}

// follow reads GET /api/v1/orders/live until ctx ends, reconnecting after
// a dropped stream (a buy that misses its update falls back to polling).
func (l *lgLive) follow(ctx context.Context, c lgClient, stream *http.Client) {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/orders/live", nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Accept", "text/event-stream")
		if resp, err := stream.Do(req); err == nil {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok {
					continue
				}
				var u struct {
					OrderID string `json:"order_id"`
					Status  string `json:"status"`
				}
				if json.Unmarshal([]byte(data), &u) == nil && u.Status == "placed" {
					l.seen(u.OrderID)
				}
			}
			_ = resp.Body.Close()
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *lgShopper) timed(step string, fn func() error) error {
	start := time.Now()
	err := fn()
	if err == nil {
		s.observe(step, time.Since(start))
	}
	return err
}

// signUp registers and verifies the email with the token the notifier
// would send, opened from its sealed copy in the customer's stream.
func (s *lgShopper) signUp(ctx context.Context, email string) error {
	var reg struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
	}
	if err := s.timed("register", func() error {
		_, _, err := s.c.call(ctx, "POST", "/api/v1/auth/register", map[string]string{"email": email, "password": "loadgen passw0rd long", "name": "Load"}, &reg)
		return err
	}); err != nil {
		return err
	}
	s.id, s.c.token = reg.UserID, reg.AccessToken
	return s.timed("verify", func() error {
		var page struct {
			Events []struct {
				Type string `json:"type"`
				Data struct {
					SealedToken string `json:"sealed_token"`
				} `json:"data"`
			} `json:"events"`
		}
		if _, _, err := s.admin.call(ctx, "GET", "/api/v1/admin/streams/customer-"+s.id+"/events", nil, &page); err != nil {
			return err
		}
		var sealed string
		for _, e := range page.Events {
			if e.Type == "customer.email_verification_requested" {
				sealed = e.Data.SealedToken
			}
		}
		if sealed == "" {
			return errors.New("no sealed verification token (is the engine's signing secret the same?)")
		}
		token, err := s.cfg.Sealer.Open(sealed)
		if err != nil {
			return fmt.Errorf("open the verification token: %w", err)
		}
		_, _, err = s.c.call(ctx, "POST", "/api/v1/auth/verify-email", map[string]string{"token": token}, nil)
		return err
	})
}

// buy adds one unit, checks out, pays and waits until the order is
// visible in the shopper's own reads.
func (s *lgShopper) buy(ctx context.Context, product string) error {
	if err := s.timed("add_to_cart", func() error {
		// The previous order shows before its checkout has unfrozen the
		// cart (the saga's last steps): a 409 then is retried briefly.
		for deadline := time.Now().Add(5 * time.Second); ; {
			code, _, err := s.c.call(ctx, "POST", "/api/v1/cart/items", map[string]any{"product_id": product, "quantity": 1}, nil)
			if code != http.StatusConflict || time.Now().After(deadline) || ctx.Err() != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond)
		}
	}); err != nil {
		return err
	}
	var in struct {
		CheckoutID string      `json:"checkout_id"`
		PaymentID  string      `json:"payment_id"`
		Amount     money.Money `json:"amount"`
	}
	if err := s.timed("intent", func() error {
		_, _, err := s.c.call(ctx, "POST", "/api/v1/payments/intents", map[string]any{}, &in)
		return err
	}); err != nil {
		return err
	}
	var paidAt time.Time
	if err := s.timed("pay", func() error {
		defer func() { paidAt = time.Now() }()
		if s.cfg.WebhookSecret == "" {
			_, _, err := s.c.call(ctx, "POST", "/api/v1/payments/"+in.PaymentID+"/simulate", map[string]string{"outcome": "succeeded"}, nil)
			return err
		}
		return s.webhook(ctx, in.PaymentID, in.CheckoutID, in.Amount)
	}); err != nil {
		return err
	}
	// The live stream says when the order is placed; then the shopper's
	// own read must show it. Without the update within a second (a
	// reconnecting stream), poll.
	defer s.live.forget(in.CheckoutID)
	select {
	case <-s.live.wait(in.CheckoutID):
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var o struct {
			Status string `json:"status"`
		}
		code, _, err := s.c.call(ctx, "GET", "/api/v1/orders/"+in.CheckoutID, nil, &o)
		if err == nil && o.Status == "placed" {
			s.observe("webhook_to_order_visible", time.Since(paidAt))
			return nil
		}
		if code != http.StatusNotFound && err != nil && ctx.Err() == nil {
			return err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("order %s not visible after 30 s", in.CheckoutID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// webhook signs a payment_intent.succeeded as Stripe would and posts it.
func (s *lgShopper) webhook(ctx context.Context, paymentID, checkoutID string, amount money.Money) error {
	var page struct {
		Events []struct {
			Type string `json:"type"`
			Data struct {
				ProviderID string `json:"provider_id"`
			} `json:"data"`
		} `json:"events"`
	}
	if _, _, err := s.admin.call(ctx, "GET", "/api/v1/admin/streams/payment-"+paymentID+"/events", nil, &page); err != nil {
		return err
	}
	var providerID string
	for _, e := range page.Events {
		if e.Type == "payment.intent_created" {
			providerID = e.Data.ProviderID
		}
	}
	body, sig, err := payments.SignedEvent(s.cfg.WebhookSecret, payments.EventSpec{
		Type: payments.EventPaymentSucceeded, ProviderID: providerID, PaymentID: paymentID, CheckoutID: checkoutID, Amount: amount, Created: time.Now(),
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", s.c.base+"/api/v1/payments/webhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sig)
	resp, err := s.c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("webhook: %d %s", resp.StatusCode, b)
	}
	return nil
}

// lockedWriter serialises writes to w, so the progress line and the
// shoppers' error lines never interleave within a write.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
