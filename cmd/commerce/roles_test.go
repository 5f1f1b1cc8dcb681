package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/commerce-engine/commerce/internal/app"
	"github.com/commerce-engine/commerce/internal/testsvc"
)

// TestRolesInSeparateProcesses runs the engine as two api processes, two
// saga workers and one projector, notifier and relay, sharing PostgreSQL,
// Redis and RabbitMQ, and checks out through both api processes: every
// order completes, exactly once, and is confirmed by email exactly once.
func TestRolesInSeparateProcesses(t *testing.T) {
	t.Parallel()
	base, opts := productionConfig(t)
	amqpURL := testsvc.AMQP(t)
	prefix := testsvc.UniqueName("roles") + "."
	base.AMQPURL = amqpURL
	base.JWTSecret = Secret(strings.Repeat("r", 32))
	opts = append(opts, app.WithAMQPPrefix(prefix))
	var mains []*Main
	start := func(roles ...Role) *running {
		t.Helper()
		cfg := base
		cfg.Roles = roles
		cfg.DataDir = t.TempDir()
		r := MustRun(t, cfg, opts...)
		mains = append(mains, r.Main)
		return r
	}
	t.Cleanup(func() { deleteShared(t, amqpURL, mains) })
	// Consumers first: on a fresh broker a message published before any
	// queue is bound to its exchange reaches nobody.
	start(RoleSaga)
	start(RoleSaga)
	start(RoleProjector)
	start(RoleNotifier)
	apis := []*running{start(RoleAPI), start(RoleAPI)}
	start(RoleRelay)

	admin, _, ids, _ := shop(t, apis[0].url, 3)
	const shoppers = 6
	type buyer struct {
		c     client
		email string
		id    string
	}
	buyers := make([]buyer, shoppers)
	for i := range buyers {
		api := apis[i%2]
		email := fmt.Sprintf("buyer%d@example.com", i)
		var s struct {
			AccessToken string `json:"access_token"`
			UserID      string `json:"user_id"`
		}
		c := client{t: t, base: api.url}
		c.must(201, "POST", "/api/v1/auth/register", map[string]string{"email": email, "password": "a long enough passw0rd", "name": "Buyer"}, &s)
		c.token = s.AccessToken
		verify(t, api, c, s.UserID)
		buyers[i] = buyer{c: c, email: email, id: s.UserID}
	}
	var (
		mu     sync.Mutex
		orders []string
		wg     sync.WaitGroup
	)
	for i, b := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each request through either api process.
			b.c.base = apis[i%2].url
			b.c.must(200, "POST", "/api/v1/cart/items", map[string]any{"product_id": ids[i%len(ids)], "quantity": 1}, nil)
			b.c.base = apis[(i+1)%2].url
			var in intentAnswer
			b.c.must(http.StatusCreated, "POST", "/api/v1/payments/intents", map[string]any{}, &in)
			b.c.base = apis[i%2].url
			b.c.must(http.StatusAccepted, "POST", "/api/v1/payments/"+in.PaymentID+"/simulate", map[string]string{"outcome": "succeeded"}, nil)
			mu.Lock()
			orders = append(orders, in.CheckoutID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, id := range orders {
		eventually(t, "order "+id+" placed", func() bool { return orderStatus(t, admin, id) == "placed" })
		eventually(t, "checkout "+id+" completed", func() bool {
			return slices.Contains(streamTypes(t, admin, "checkout-"+id), "checkout.completed")
		})
		if n := count(streamTypes(t, admin, "order-"+id), "order.placed"); n != 1 {
			t.Errorf("order %s placed %d times", id, n)
		}
		if n := count(streamTypes(t, admin, "checkout-"+id), "checkout.completed"); n != 1 {
			t.Errorf("checkout %s completed %d times", id, n)
		}
	}
	for _, b := range buyers {
		eventually(t, "the confirmation to "+b.email, func() bool { return sentTemplates(t, admin, b.email)["order_confirmation"] >= 1 })
		if n := sentTemplates(t, admin, b.email)["order_confirmation"]; n != 1 {
			t.Errorf("%s got %d order confirmations", b.email, n)
		}
	}
	// The api processes project nothing; the projector does.
	var ps struct {
		Items []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"items"`
	}
	api0 := admin
	api0.must(200, "GET", "/api/v1/admin/projections", nil, &ps)
	for _, p := range ps.Items {
		if !strings.HasPrefix(p.Status, "standby") {
			t.Errorf("projection %s is %s in an api-only process, want standby", p.Name, p.Status)
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// deleteShared stops every process, then deletes once each exchange and
// queue any of them declared.
func deleteShared(t *testing.T, amqpURL string, mains []*Main) {
	var exchanges, queues []string
	for _, m := range mains {
		_ = m.Close()
		x, q := m.Declared()
		exchanges, queues = append(exchanges, x...), append(queues, q...)
	}
	slices.Sort(exchanges)
	slices.Sort(queues)
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Errorf("clean up RabbitMQ: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Errorf("clean up RabbitMQ: %v", err)
		return
	}
	for _, q := range slices.Compact(queues) {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Errorf("delete queue %s: %v", q, err)
			return
		}
	}
	for _, x := range slices.Compact(exchanges) {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Errorf("delete exchange %s: %v", x, err)
			return
		}
	}
}
