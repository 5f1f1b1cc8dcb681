package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/internal/readmodeltest"
)

// TestTimelineAndProjectionsCommandsOnTheEmbeddedDefault runs the
// commands a new user types against a store with a workload in it.
func TestTimelineAndProjectionsCommandsOnTheEmbeddedDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store, err := sqlite.Open(filepath.Join(dir, sqliteFileName))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := readmodeltest.Workload{Seed: 5, Shoppers: 3, Rounds: 3}.Run(context.Background(), &commands.Runner{Store: store, Codec: commands.NewCodec()})
	if err != nil {
		t.Fatal(err)
	}
	_ = store.Close()
	if len(keys.Orders) == 0 {
		t.Fatal("the workload placed no order")
	}
	getenv := env(map[string]string{envDataDir: dir})
	cli := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, getenv, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	order := keys.Orders[0]
	code, out, errOut := cli("timeline", order)
	if code != exitOK || !strings.Contains(out, "order.placed") || !strings.Contains(out, "cart.checked_out") ||
		!strings.Contains(out, "payment.succeeded") || !strings.Contains(out, "product.stock_reserved") {
		t.Fatalf("timeline: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, args := range [][]string{{"timeline", order, "--json"}, {"timeline", "-json", order}} {
		code, out, errOut = cli(args...)
		var doc struct {
			OrderID string `json:"order_id"`
			Events  []struct {
				Position int64  `json:"position"`
				Type     string `json:"type"`
			} `json:"events"`
		}
		if code != exitOK || json.Unmarshal([]byte(out), &doc) != nil || doc.OrderID != order || len(doc.Events) < 5 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
		for i := 1; i < len(doc.Events); i++ {
			if doc.Events[i].Position <= doc.Events[i-1].Position {
				t.Fatalf("timeline not oldest first: %s", out)
			}
		}
	}
	if code, _, errOut := cli("timeline", "00000000-0000-0000-0000-000000000000"); code != exitError || !strings.Contains(errOut, "no such order") {
		t.Fatalf("unknown order: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli("timeline", "not-an-id"); code != exitError || !strings.Contains(errOut, "not an order id") {
		t.Fatalf("bad id: exit %d %s", code, errOut)
	}
	if code, _, _ := cli("timeline"); code != exitUsage {
		t.Fatalf("timeline without id: exit %d", code)
	}
	if code, out, errOut := cli("projections", "status"); code != exitOK || !strings.Contains(out, "head ") {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := cli("projections", "rebuild", "catalog"); code != exitError || !strings.Contains(errOut, "POST /api/v1/admin/projections") {
		t.Fatalf("rebuild on the embedded default: exit %d %s", code, errOut)
	}
	for _, args := range [][]string{{"projections"}, {"projections", "rebuild"}, {"projections", "frob"}} {
		if code, _, _ := cli(args...); code != exitUsage {
			t.Fatalf("%v: exit %d", args, code)
		}
	}
}

// TestProjectionsCommandsOnPostgres checks status and rebuild against read
// models in PostgreSQL and Redis that a server filled.
func TestProjectionsCommandsOnPostgres(t *testing.T) {
	t.Parallel()
	cfg, opts := productionConfig(t)
	srv := MustRun(t, cfg, opts...)
	_, shopper, _, last := shop(t, srv.url, 5)
	shopper.must(200, "GET", "/api/v1/cart", nil, nil, "X-Min-Position", last)
	shopper.must(200, "GET", "/api/v1/products", nil, nil, "X-Min-Position", last)
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	var out bytes.Buffer
	if err := projectionsCommand(ctx, cfg, []string{"status"}, log, &out, opts...); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"catalog", "carts", "orders", "correlations", "analytics"} {
		if !regexp.MustCompile(`(?m)^` + name + `\s+\d+\s+\d+\s+\d+\s+\S`).MatchString(out.String()) {
			t.Fatalf("status lacks %s:\n%s", name, out.String())
		}
	}
	generation := regexp.MustCompile(`(?m)^catalog .*\(generation (\d+)\)`)
	before := generation.FindStringSubmatch(out.String())
	if before == nil {
		t.Fatalf("status names no catalog generation:\n%s", out.String())
	}
	for _, name := range []string{"catalog", "carts"} {
		out.Reset()
		if err := projectionsCommand(ctx, cfg, []string{"rebuild", name}, log, &out, opts...); err != nil || !strings.Contains(out.String(), name+": rebuilt and swapped in") {
			t.Fatalf("rebuild %s: %v\n%s", name, err, out.String())
		}
	}
	out.Reset()
	if err := projectionsCommand(ctx, cfg, []string{"status"}, log, &out, opts...); err != nil {
		t.Fatal(err)
	}
	if after := generation.FindStringSubmatch(out.String()); after == nil || after[1] == before[1] {
		t.Fatalf("status after the rebuild shows the old generation %s:\n%s", before[1], out.String())
	}
	if err := projectionsCommand(ctx, cfg, []string{"rebuild", "nope"}, log, &out, opts...); err == nil || !strings.Contains(err.Error(), "no projection is named") {
		t.Fatalf("rebuild of an unknown projection: %v", err)
	}
	srv = MustRun(t, cfg, opts...)
	var items struct {
		Items []json.RawMessage `json:"items"`
	}
	shopper.base = srv.url
	shopper.must(200, "GET", "/api/v1/products", nil, &items)
	var c struct {
		ItemCount int `json:"item_count"`
	}
	shopper.must(200, "GET", "/api/v1/cart", nil, &c)
	if len(items.Items) != 5 || c.ItemCount != 6 {
		t.Fatalf("after the rebuilds: %d products, %d cart items", len(items.Items), c.ItemCount)
	}
}
