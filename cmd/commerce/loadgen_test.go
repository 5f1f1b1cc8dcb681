package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/openapi/openapitest"
)

// TestLoadgen drives a running embedded engine with `commerce loadgen`
// until 20 orders are placed and checks its report.
func TestLoadgen(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.AdminEmail, cfg.AdminPassword = testAdminEmail, testAdminPassword
	cfg.JWTSecret = Secret(strings.Repeat("L", 32))
	srv := MustRun(t, cfg)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"loadgen", "-url", openapitest.Proxy(t, srv.url), "-shoppers", "4", "-orders", "20", "-products", "3"},
		env(map[string]string{envAdminEmail: testAdminEmail, envAdminPassword: testAdminPassword, envJWTSecret: strings.Repeat("L", 32)}),
		strings.NewReader(""), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "orders/s (0 errors)") {
		t.Fatalf("report:\n%s\nprogress:\n%s", out, stderr.String())
	}
	for _, step := range loadgenSteps {
		if !strings.Contains(out, step) {
			t.Errorf("report lacks %s:\n%s", step, out)
		}
	}
	var n int
	if _, err := fmt.Sscanf(out, "orders %d", &n); err != nil || n < 20 {
		t.Fatalf("orders %d (%v):\n%s", n, err, out)
	}
	t.Log("\n" + out)
}
