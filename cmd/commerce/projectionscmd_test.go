package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore/sqlite"
	"github.com/commerce-engine/commerce/projections/readmodeltest"
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
