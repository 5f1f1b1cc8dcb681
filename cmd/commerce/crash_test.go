package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/checkout"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/openapi/openapitest"
)

// crashExpiry is the child's checkout expiry: short, so that the checkouts
// nobody pays are released within the test.
const crashExpiry = 3 * time.Second

// TestCheckoutSurvivesSIGKILL runs the engine as a child process under a
// checkout load, kills it with SIGKILL at random moments and restarts it on
// the same data dir. Once the load stops and the engine is quiet, the log
// must show every successful payment with exactly one order or a refund, no
// unit sold twice, no event written twice, every checkout ended, and every
// projection must equal its rebuild.
func TestCheckoutSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the engine and kills it under load for half a minute")
	}
	const (
		products  = 5
		stock     = 15
		shoppers  = 20
		workers   = 8
		kills     = 4
		sampleOut = 6 // shoppers whose reads are compared with the rebuild
	)
	dataDir := filepath.Join(t.TempDir(), "data")
	eng := newCrashChild(t, buildCommerce(t), dataDir)
	eng.start(t)

	admin := crashClient{t: t, base: eng.url}
	admin.token = admin.login(t)
	productIDs := make([]string, products)
	for i := range products {
		var p struct {
			ID string `json:"id"`
		}
		admin.must(t, http.StatusCreated, "POST", "/api/v1/admin/products", map[string]any{
			"sku": fmt.Sprintf("CRASH-%d", i), "name": fmt.Sprintf("Crash product %d", i), "description": "sold while the engine is killed",
			"category": "kitchen", "price": map[string]any{"amount": 500 + 100*i, "currency": "EUR"},
			"stock": stock, "image_url": "https://img.example/p.png",
		}, &p)
		productIDs[i] = p.ID
	}
	users := make([]crashClient, shoppers)
	for i := range users {
		var s struct {
			UserID      string `json:"user_id"`
			AccessToken string `json:"access_token"`
		}
		c := crashClient{t: t, base: eng.url}
		c.must(t, http.StatusCreated, "POST", "/api/v1/auth/register", map[string]string{
			"email": fmt.Sprintf("shopper%02d@example.com", i), "password": "a shopper's long Passw0rd", "name": fmt.Sprintf("Shopper %d", i),
		}, &s)
		c.token, c.userID = s.AccessToken, s.UserID
		c.must(t, http.StatusOK, "POST", "/api/v1/auth/verify-email", map[string]string{"token": eng.verificationToken(t, s.UserID)}, nil)
		users[i] = c
	}

	// The load: each worker drives its own shoppers through checkouts and
	// shrugs off whatever a killed engine answers.
	var st crashStats
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range workers {
		var mine []crashClient
		for i := w; i < shoppers; i += workers {
			mine = append(mine, users[i])
		}
		wg.Go(func() { shopUntil(ctx, mine, productIDs, &st) })
	}
	wg.Go(func() { // restock now and then, so checkouts do not all run short
		for ctx.Err() == nil {
			if code, _, err := admin.do(ctx, "POST", "/api/v1/admin/products/"+productIDs[rand.IntN(products)]+"/stock", map[string]any{"delta": 2}); err == nil && code == http.StatusOK {
				st.restocks.Add(1)
			}
			pause(ctx, 400*time.Millisecond)
		}
	})
	for range kills {
		time.Sleep(time.Second + rand.N(2*time.Second))
		eng.kill(t)
		eng.start(t)
	}
	time.Sleep(2 * time.Second) // load on the last incarnation too
	stopLoad()
	wg.Wait()

	store, err := sqlite.Open(filepath.Join(dataDir, sqliteFileName))
	if err != nil {
		t.Fatalf("open the child's event store: %v", err)
	}
	defer store.Close()
	lg := &crashLog{store: store, codec: commands.NewCodec()}
	head := waitQuiet(t, lg)

	// Projections against the log, then against their rebuild.
	admin.token = admin.login(t)
	minPos := strconv.FormatInt(int64(head), 10)
	sample := users[:sampleOut]
	before := crashReads(t, admin, sample, productIDs, minPos)
	fold := lg.fold()
	for _, id := range productIDs {
		var p struct {
			Available int64 `json:"available"`
		}
		if err := json.Unmarshal(before["product "+id], &p); err != nil {
			t.Fatalf("product %s: %v", id, err)
		}
		if s := fold.products[id]; p.Available != s.Available() {
			t.Errorf("product %s: the API says %d available, the log %d (on hand %d, reserved %d)", id, p.Available, s.Available(), s.OnHand, s.Reserved)
		}
	}
	for _, u := range sample {
		var got struct {
			Items []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"items"`
		}
		if err := json.Unmarshal(before["orders "+u.userID], &got); err != nil {
			t.Fatalf("orders of %s: %v", u.userID, err)
		}
		api := map[string]string{}
		for _, o := range got.Items {
			api[o.ID] = o.Status
		}
		want := map[string]string{}
		for id, o := range fold.orders {
			if o.CustomerID == u.userID {
				want[id] = o.Status.String()
			}
		}
		if !maps.Equal(api, want) {
			t.Errorf("orders of %s: the API lists %v, the log %v", u.userID, api, want)
		}
	}
	rebuildAll(t, admin)
	after := crashReads(t, admin, sample, productIDs, minPos)
	for k, b := range before {
		if !bytes.Equal(b, after[k]) {
			t.Errorf("%s differs from its rebuild:\nbefore  %s\nrebuilt %s", k, b, after[k])
		}
	}

	eng.term(t)
	fold = lg.fold() // the final log, nothing can append any more
	for _, p := range fold.check() {
		t.Error(p)
	}
	t.Logf("kills %d; intents created %d (short %d, refused %d, connection errors %d, server errors %d); simulated: succeeded %d (of which after the expiry %d), failed %d, left to expire %d; cancels %d; restocks %d",
		eng.kills, st.intents.Load(), st.short.Load(), st.refused.Load(), st.errors.Load(), st.serverErrors.Load(),
		st.succeeded.Load(), st.late.Load(), st.failed.Load(), st.abandoned.Load(), st.cancels.Load(), st.restocks.Load())
	if v := st.firstServerError.Load(); v != nil {
		t.Logf("first server error the load saw: %s", v)
	}
	t.Logf("log: %d events; payments succeeded %d; orders placed %d, cancelled %d; refunds %d (late payments %d); checkouts completed %d, released %d",
		len(lg.events), fold.stats.succeeded, len(fold.orders), fold.stats.cancelled, fold.stats.refunds, fold.stats.late,
		fold.stats.completed, fold.stats.released)
	if t.Failed() {
		t.Logf("the child's last warnings and errors:\n%s", eng.logTail(40, `"level":"WARN"`, `"level":"ERROR"`))
	}
}

// crashStats counts what the load did, as the clients saw it.
type crashStats struct {
	intents, short, refused, errors    atomic.Int64
	succeeded, failed, abandoned, late atomic.Int64
	cancels, restocks                  atomic.Int64
	serverErrors                       atomic.Int64
	firstServerError                   atomic.Value
}

// count records an answer that was neither success nor short: a conflict
// (the cart is frozen by a checkout in progress), a 503 while the engine
// starts, or a 5xx worth reporting.
func (s *crashStats) count(code int, body []byte) {
	if code >= 500 && code != http.StatusServiceUnavailable {
		s.serverErrors.Add(1)
		s.firstServerError.CompareAndSwap(nil, fmt.Sprintf("%d %.300s", code, body))
		return
	}
	s.refused.Add(1)
}

// shopUntil loops over checkouts of the shoppers until ctx is done: add a
// line, check out, then pay (80%), fail the payment (10%) or walk away
// (10%), and cancel some of the orders placed.
func shopUntil(ctx context.Context, shoppers []crashClient, productIDs []string, st *crashStats) {
	for ctx.Err() == nil {
		u := shoppers[rand.IntN(len(shoppers))]
		pause(ctx, time.Duration(10+rand.IntN(40))*time.Millisecond)
		code, b, err := u.do(ctx, "POST", "/api/v1/cart/items", map[string]any{"product_id": productIDs[rand.IntN(len(productIDs))], "quantity": 1 + rand.IntN(2)})
		if err != nil {
			st.errors.Add(1)
			pause(ctx, 100*time.Millisecond)
			continue
		}
		var cart struct {
			ItemCount int `json:"item_count"`
			Items     []struct {
				ProductID string `json:"product_id"`
			} `json:"items"`
		}
		if code != http.StatusOK || json.Unmarshal(b, &cart) != nil {
			// 409: short, or the cart is frozen by a checkout in progress.
			// An empty cart is not checked out: that answers 500, which
			// would hide the 500s worth seeing.
			st.count(code, b)
			pause(ctx, 100*time.Millisecond)
			continue
		}
		if cart.ItemCount > 4 {
			for _, it := range cart.Items[:len(cart.Items)-1] { // keep the cart small
				_, _, _ = u.do(ctx, "DELETE", "/api/v1/cart/items/"+it.ProductID, nil)
			}
		}
		code, b, err = u.do(ctx, "POST", "/api/v1/payments/intents", map[string]any{})
		var intent struct {
			CheckoutID string `json:"checkout_id"`
			PaymentID  string `json:"payment_id"`
			Lines      []struct {
				ProductID string `json:"product_id"`
			} `json:"lines"`
		}
		switch {
		case err != nil:
			st.errors.Add(1)
			pause(ctx, 100*time.Millisecond)
			continue
		case code == http.StatusConflict && json.Unmarshal(b, &intent) == nil && len(intent.Lines) > 0:
			st.short.Add(1)
			for _, l := range intent.Lines {
				_, _, _ = u.do(ctx, "DELETE", "/api/v1/cart/items/"+l.ProductID, nil)
			}
			continue
		case code != http.StatusCreated || json.Unmarshal(b, &intent) != nil:
			st.count(code, b)
			pause(ctx, 150*time.Millisecond)
			continue
		}
		st.intents.Add(1)
		outcome := ""
		switch r := rand.IntN(100); {
		case r < 75:
			outcome = "succeeded"
		case r < 85:
			outcome = "failed"
		case r < 93:
			st.abandoned.Add(1)
			continue
		default: // pay after the expiry: the payment must be refunded
			st.late.Add(1)
			pause(ctx, crashExpiry+time.Duration(500+rand.IntN(1000))*time.Millisecond)
			outcome = "succeeded"
		}
		// Retried across a kill: a payment that lands after the expiry
		// must be refunded.
		if !retry(ctx, 6*time.Second, func() (bool, bool) {
			code, _, err := u.do(ctx, "POST", "/api/v1/payments/"+intent.PaymentID+"/simulate", map[string]string{"outcome": outcome})
			return err == nil && code == http.StatusAccepted, err == nil && code < 500 && code != http.StatusAccepted
		}) {
			continue
		}
		if outcome == "failed" {
			st.failed.Add(1)
			continue
		}
		st.succeeded.Add(1)
		if rand.IntN(5) == 0 {
			if retry(ctx, 3*time.Second, func() (bool, bool) {
				code, _, err := u.do(ctx, "POST", "/api/v1/orders/"+intent.CheckoutID+"/cancel", map[string]string{"reason": "changed my mind"})
				// 404 until the saga has placed the order.
				return err == nil && code == http.StatusOK, err == nil && code != http.StatusNotFound && code < 500 && code != http.StatusOK
			}) {
				st.cancels.Add(1)
			}
		}
	}
}

// retry calls try every 150ms until it reports done or give up, ctx is done
// or the time is up; it returns whether it was done.
func retry(ctx context.Context, within time.Duration, try func() (done, giveUp bool)) bool {
	deadline := time.Now().Add(within)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		done, giveUp := try()
		if done {
			return true
		}
		if giveUp {
			return false
		}
		pause(ctx, 150*time.Millisecond)
	}
	return false
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// crashHTTP bounds every request: a killed engine must not hang a client.
var crashHTTP = &http.Client{Timeout: 10 * time.Second}

// crashClient calls the child engine as one user.
type crashClient struct {
	t                   testing.TB // fails on a drift from openapi.json
	base, token, userID string
}

func (c crashClient) do(ctx context.Context, method, path string, body any, header ...string) (int, []byte, error) {
	code, b, _, err := sendJSON(ctx, &http.Client{Timeout: crashHTTP.Timeout, Transport: openapitest.Transport(c.t, nil)}, method, c.base+path, c.token, body, header...)
	return code, b, err
}

// must calls and fails the test unless the answer has status want; it
// decodes the body into out.
func (c crashClient) must(t *testing.T, want int, method, path string, body, out any, header ...string) []byte {
	t.Helper()
	code, b, err := c.do(context.Background(), method, path, body, header...)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %s %v (want %d)", method, path, code, b, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

func (c crashClient) login(t *testing.T) string {
	t.Helper()
	var s struct {
		AccessToken string `json:"access_token"`
	}
	c.must(t, http.StatusOK, "POST", "/api/v1/auth/admin/login", map[string]string{"email": testAdminEmail, "password": testAdminPassword}, &s)
	return s.AccessToken
}

// readModels reads what the projections answer: every product, and the
// orders and cart of each shopper, once the models have reached minPos.
func crashReads(t *testing.T, admin crashClient, shoppers []crashClient, productIDs []string, minPos string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for _, id := range productIDs {
		got["product "+id] = admin.must(t, http.StatusOK, "GET", "/api/v1/products/"+id, nil, nil, "X-Min-Position", minPos)
	}
	for _, u := range shoppers {
		got["orders "+u.userID] = u.must(t, http.StatusOK, "GET", "/api/v1/orders/user/"+u.userID, nil, nil, "X-Min-Position", minPos)
		got["cart "+u.userID] = u.must(t, http.StatusOK, "GET", "/api/v1/cart", nil, nil, "X-Min-Position", minPos)
	}
	return got
}

// rebuildAll rebuilds every projection the engine lists and waits until
// each rebuild has been swapped in.
func rebuildAll(t *testing.T, admin crashClient) {
	t.Helper()
	type status struct {
		Items []struct {
			Name    string `json:"name"`
			Rebuild *struct {
				Running bool   `json:"running"`
				Error   string `json:"error"`
			} `json:"rebuild"`
		} `json:"items"`
	}
	var list status
	admin.must(t, http.StatusOK, "GET", "/api/v1/admin/projections", nil, &list)
	if len(list.Items) < 4 {
		t.Fatalf("only %d projections listed: %+v", len(list.Items), list)
	}
	for _, p := range list.Items {
		admin.must(t, http.StatusAccepted, "POST", "/api/v1/admin/projections/"+p.Name+"/rebuild", nil, nil)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st status
		admin.must(t, http.StatusOK, "GET", "/api/v1/admin/projections", nil, &st)
		done := 0
		for _, p := range st.Items {
			if p.Rebuild != nil && !p.Rebuild.Running {
				if p.Rebuild.Error != "" {
					t.Fatalf("rebuild of %s failed: %s", p.Name, p.Rebuild.Error)
				}
				done++
			}
		}
		if done == len(list.Items) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rebuilds not done after 60s: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildCommerce builds this command into a temporary directory.
func buildCommerce(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "commerce")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/commerce-engine/commerce/cmd/commerce")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// crashChild is the engine as a child process, started again and again on
// one data dir and one port.
type crashChild struct {
	bin, url, logPath string
	env               []string
	cmd               *exec.Cmd
	exited            chan struct{}
	waitErr           error
	kills             int
}

func newCrashChild(t *testing.T, bin, dataDir string) *crashChild {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	var env []string
	for _, kv := range os.Environ() { // nothing of the caller's engine setup leaks in
		if !strings.HasPrefix(kv, "COMMERCE_") && !strings.HasPrefix(kv, "STRIPE_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		envDataDir+"="+dataDir, envHTTPAddr+"="+addr,
		envAdminEmail+"="+testAdminEmail, envAdminPassword+"="+testAdminPassword,
		envJWTSecret+"=crash-test-jwt-secret-of-more-than-32-bytes",
		envCheckoutExpiry+"="+crashExpiry.String(), envLogLevel+"=info",
	)
	c := &crashChild{bin: bin, url: "http://" + addr, logPath: filepath.Join(t.TempDir(), "child.log"), env: env}
	t.Cleanup(func() {
		if c.running() {
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	return c
}

func (c *crashChild) running() bool {
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// start runs `commerce serve` and waits until /readyz answers 200.
func (c *crashChild) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(c.bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the engine: %v", err)
	}
	c.cmd, c.exited = cmd, make(chan struct{})
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := crashHTTP.Get(c.url + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-c.exited:
			t.Fatalf("the engine exited before it was ready: %v\n%s", c.waitErr, c.logTail(50))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine is not ready 30s after its start\n%s", c.logTail(50))
		}
	}
}

// kill sends SIGKILL to the child and waits for it to be gone.
func (c *crashChild) kill(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(c.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL %d: %v", c.cmd.Process.Pid, err)
	}
	<-c.exited
	c.kills++
}

// term stops the child with SIGTERM and fails unless it exits cleanly
// within 30 s.
func (c *crashChild) term(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-c.exited:
		if c.waitErr != nil {
			t.Errorf("the engine exited with %v after SIGTERM\n%s", c.waitErr, c.logTail(50))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the engine still runs 30s after SIGTERM")
	}
}

// verificationToken finds the email verification link the engine logged
// for userID.
func (c *crashChild) verificationToken(t *testing.T, userID string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(c.logPath)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				CustomerID string `json:"customer_id"`
				Link       string `json:"link"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.CustomerID == userID {
				if tok, ok := strings.CutPrefix(rec.Link, "/verify-email?token="); ok {
					return tok
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no verification link logged for %s", userID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail returns the last n lines the child processes wrote, only those
// containing one of the filters when there are any.
func (c *crashChild) logTail(n int, filters ...string) string {
	b, _ := os.ReadFile(c.logPath)
	var lines []string
	for l := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		if len(filters) == 0 || slices.ContainsFunc(filters, func(f string) bool { return strings.Contains(l, f) }) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// crashLog is the child's log read from its SQLite file, incrementally.
type crashLog struct {
	store  eventstore.Store
	codec  *eventstore.Codec
	events []eventstore.Event
}

// catchUp reads the events appended since the last call.
func (l *crashLog) catchUp(t *testing.T) eventstore.Position {
	t.Helper()
	var after eventstore.Position
	if len(l.events) > 0 {
		after = l.events[len(l.events)-1].Position
	}
	for {
		evs, err := l.store.ReadAll(context.Background(), eventstore.ReadAllOptions{After: after, Limit: eventstore.MaxReadLimit})
		if err != nil {
			t.Fatalf("read $all after %d: %v", after, err)
		}
		l.events = append(l.events, evs...)
		if len(evs) > 0 {
			after = evs[len(evs)-1].Position
		}
		if len(evs) < eventstore.MaxReadLimit {
			return after
		}
	}
}

// waitQuiet waits up to 30 s for the engine to finish every checkout: no
// checkout open or half-done, no stock held, and no event appended for a
// second. It returns the head; what is still unfinished then is reported
// by the final checks.
func waitQuiet(t *testing.T, l *crashLog) eventstore.Position {
	t.Helper()
	head := l.catchUp(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		time.Sleep(time.Second)
		now := l.catchUp(t)
		if now == head && len(l.fold().unfinished()) == 0 {
			return head
		}
		head = now
		if time.Now().After(deadline) {
			t.Logf("the engine is not quiet 30s after the load: %v", l.fold().unfinished())
			return head
		}
	}
}

// crashFold is the log folded per aggregate.
type crashFold struct {
	codec     *eventstore.Codec
	events    []eventstore.Event
	products  map[string]catalog.State
	checkouts map[string]checkout.State
	payments  map[string]payment.State
	orders    map[string]order.State
	problems  []string
	stats     struct {
		succeeded, cancelled, refunds, late, completed, released int
	}
	// Seen while folding, checked by check.
	placed    map[string][]order.Placed // by order stream
	succeeded map[string]bool           // payment ids with a payment.succeeded
	refunded  map[string]int64          // payment id: refunded amount
	committed map[string]int64          // product id: units committed
	cancelled map[string]bool           // order ids
}

func (l *crashLog) fold() *crashFold {
	f := &crashFold{
		codec: l.codec, events: l.events,
		products: map[string]catalog.State{}, checkouts: map[string]checkout.State{},
		payments: map[string]payment.State{}, orders: map[string]order.State{},
		placed: map[string][]order.Placed{}, succeeded: map[string]bool{}, refunded: map[string]int64{},
		committed: map[string]int64{}, cancelled: map[string]bool{},
	}
	resCommitted, resReleased := map[string]int{}, map[string]int{} // product/reservation
	for _, e := range l.events {
		stream, id, _ := strings.Cut(e.StreamID, "-")
		switch stream {
		case "product", "checkout", "payment", "order":
		default:
			continue
		}
		p, err := l.codec.Decode(e)
		if err != nil {
			f.problems = append(f.problems, fmt.Sprintf("event %d (%s %s): %v", e.Position, e.StreamID, e.Type, err))
			continue
		}
		switch stream {
		case "product":
			s := catalog.Evolve(f.products[id], p)
			f.products[id] = s
			if s.Reserved < 0 || s.OnHand < s.Reserved {
				f.problems = append(f.problems, fmt.Sprintf("product %s after v%d %s: on hand %d, reserved %d", id, e.Version, e.Type, s.OnHand, s.Reserved))
			}
			switch ev := p.(type) {
			case catalog.ReservationCommitted:
				resCommitted[id+"/"+ev.ReservationID]++
				f.committed[id] += ev.Quantity
			case catalog.ReservationReleased:
				resReleased[id+"/"+ev.ReservationID]++
			}
		case "checkout":
			f.checkouts[id] = checkout.Evolve(f.checkouts[id], p)
			switch p.(type) {
			case checkout.RefundRequested:
				f.stats.late++
			case checkout.Completed:
				f.stats.completed++
			case checkout.Released:
				f.stats.released++
			}
		case "payment":
			f.payments[id] = payment.Evolve(f.payments[id], p)
			switch ev := p.(type) {
			case payment.Succeeded:
				f.succeeded[id] = true
				f.stats.succeeded++
			case payment.Refunded:
				f.refunded[id] += ev.Amount.Amount
				f.stats.refunds++
			}
		case "order":
			f.orders[id] = order.Evolve(f.orders[id], p)
			switch ev := p.(type) {
			case order.Placed:
				f.placed[id] = append(f.placed[id], ev)
			case order.Cancelled:
				f.cancelled[id] = true
				f.stats.cancelled++
			}
		}
	}
	for k, n := range resCommitted {
		if n > 1 || resReleased[k] > 0 {
			f.problems = append(f.problems, fmt.Sprintf("reservation %s committed %d times and released %d times", k, n, resReleased[k]))
		}
	}
	for k, n := range resReleased {
		if n > 1 {
			f.problems = append(f.problems, fmt.Sprintf("reservation %s released %d times", k, n))
		}
	}
	return f
}

// unfinished lists the checkouts not ended yet and the products still
// holding stock.
func (f *crashFold) unfinished() []string {
	var out []string
	for id, s := range f.checkouts {
		if (s.Status != checkout.StatusCompleted && s.Status != checkout.StatusReleased) || (s.RefundPaymentID != "" && !s.RefundDone) {
			out = append(out, fmt.Sprintf("checkout %s is %s (refund of %q done: %v)", id, s.Status, s.RefundPaymentID, s.RefundDone))
		}
	}
	for id, s := range f.products {
		if s.Reserved != 0 {
			out = append(out, fmt.Sprintf("product %s holds %d reserved units", id, s.Reserved))
		}
	}
	slices.Sort(out)
	return out
}

// check returns every invariant the folded log breaks.
func (f *crashFold) check() []string {
	problems := slices.Clone(f.problems)
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	problems = append(problems, f.unfinished()...)

	// No event written twice: unique ids, gap-free versions, and each
	// command's events written once, as one append.
	ids := map[uuid.UUID]eventstore.Event{}
	versions := map[string]int64{}
	type cmdRun struct {
		n    int
		last int64
	}
	runs := map[string]*cmdRun{} // stream + command id
	for _, e := range f.events {
		if prev, ok := ids[e.ID]; ok {
			add("event id %s twice: %s v%d and %s v%d", e.ID, prev.StreamID, prev.Version, e.StreamID, e.Version)
		}
		ids[e.ID] = e
		if e.Version != versions[e.StreamID]+1 {
			add("stream %s jumps from v%d to v%d", e.StreamID, versions[e.StreamID], e.Version)
		}
		versions[e.StreamID] = e.Version
		md, err := commands.DecodeMetadata(e.Metadata)
		if err != nil {
			add("event %d: %v", e.Position, err)
			continue
		}
		if md.CommandID == "" || e.ID != commands.EventID(md.CommandID, 0) && runs[e.StreamID+" "+md.CommandID] == nil {
			continue // not written by a command handler
		}
		r := runs[e.StreamID+" "+md.CommandID]
		if r == nil {
			r = &cmdRun{}
			runs[e.StreamID+" "+md.CommandID] = r
		} else if r.last != e.Version-1 || e.ID != commands.EventID(md.CommandID, r.n) {
			add("command %s wrote to %s again at v%d (%s), after v%d", md.CommandID, e.StreamID, e.Version, e.Type, r.last)
		}
		r.n++
		r.last = e.Version
	}

	// Every successful payment has exactly one order or a full refund;
	// every order has a successful payment of its total.
	for id, p := range f.payments {
		orderID := p.CheckoutID
		placed := len(f.placed[orderID])
		refunded := f.refunded[id]
		switch {
		case !f.succeeded[id]:
			if placed > 0 || refunded > 0 {
				add("payment %s never succeeded but has %d orders and %d refunded", id, placed, refunded)
			}
		case placed == 0 && refunded != p.Amount.Amount:
			add("payment %s of %d succeeded without an order, and %d of it was refunded", id, p.Amount.Amount, refunded)
		case placed == 1 && f.cancelled[orderID] && (refunded != p.Amount.Amount || f.orders[orderID].Status != order.StatusRefunded):
			add("order %s was cancelled but is %s with %d of %d refunded", orderID, f.orders[orderID].Status, refunded, p.Amount.Amount)
		case placed == 1 && !f.cancelled[orderID] && refunded != 0:
			add("order %s stands but %d of its payment %s was refunded", orderID, refunded, id)
		}
	}
	ordered := map[string]int64{}
	for id, ps := range f.placed {
		if len(ps) != 1 {
			add("order %s placed %d times", id, len(ps))
		}
		o := ps[0]
		p := f.payments[o.PaymentID]
		if !f.succeeded[o.PaymentID] || p.CheckoutID != id || p.Amount != o.Total {
			add("order %s of %v has no successful payment of it (payment %s: %+v)", id, o.Total, o.PaymentID, p)
		}
		if c := f.checkouts[id]; c.Status != checkout.StatusCompleted {
			add("order %s was placed but its checkout is %s", id, c.Status)
		}
		for _, l := range o.Lines {
			ordered[l.ProductID] += l.Quantity
		}
	}
	// No unit sold twice: what the products committed is what was ordered.
	for id := range f.products {
		if f.committed[id] != ordered[id] {
			add("product %s committed %d units, the orders hold %d", id, f.committed[id], ordered[id])
		}
	}
	for id, c := range f.checkouts {
		if c.Status == checkout.StatusCompleted && len(f.placed[id]) == 0 {
			add("checkout %s completed without an order", id)
		}
	}
	return problems
}
