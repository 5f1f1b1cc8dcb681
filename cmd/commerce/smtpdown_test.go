package main

import (
	"net"
	"testing"
	"time"
)

// TestSMTPDown points the notifier at a mail server that refuses every
// connection: the verification email is retried and recorded as failed,
// and the shop goes on (registration, catalog, cart) undisturbed.
func TestSMTPDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there any more: connections are refused
	cfg := testConfig(t)
	cfg.AdminEmail, cfg.AdminPassword = testAdminEmail, testAdminPassword
	cfg.SMTPURL, cfg.MailFrom = "smtp://"+addr, "shop@example.com"
	srv := MustRun(t, cfg)
	admin, shopper, ids, last := shop(t, srv.url, 3)
	shopper.must(200, "GET", "/api/v1/cart", nil, nil, "X-Min-Position", last)
	shopper.must(200, "GET", "/api/v1/products/"+ids[0], nil, nil)
	var list struct {
		Items []struct {
			Template string `json:"template"`
			Status   string `json:"status"`
			Attempts int    `json:"attempts"`
		} `json:"items"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		admin.must(200, "GET", "/api/v1/admin/notifications?to=ann%40example.com", nil, &list)
		if len(list.Items) == 1 && list.Items[0].Status == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notifications after 20 s: %+v", list.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := list.Items[0]; n.Template != "verify_email" || n.Attempts < 2 {
		t.Fatalf("notification %+v, want verify_email failed after its retries", n)
	}
	// Still serving writes and reads.
	shopper.must(200, "POST", "/api/v1/cart/items", map[string]any{"product_id": ids[1], "quantity": 1}, nil)
}
