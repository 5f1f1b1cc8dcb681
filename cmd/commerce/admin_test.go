package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/customer"
)

func TestAdminCreate(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		if k == envDataDir {
			return dir
		}
		return ""
	}
	var out, errs strings.Builder
	if code := run(context.Background(), []string{"admin", "create", "boss@example.com"}, env, strings.NewReader("a long Passw0rd here\n"), &out, &errs); code != 0 {
		t.Fatalf("admin create: %d %s %s", code, out.String(), errs.String())
	}
	if code := run(context.Background(), []string{"admin", "create"}, env, strings.NewReader(""), &out, &errs); code != exitUsage {
		t.Fatalf("admin create without an email: %d", code)
	}
	// The admin can log in as admin on the same data dir.
	cfg := testConfig(t)
	cfg.DataDir = dir
	e, err := NewMain(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := e.Accounts().Login(context.Background(), "boss@example.com", "a long Passw0rd here", "127.0.0.1", true, commands.Metadata{CommandID: uuid.NewString()})
	if err != nil || s.Role != customer.RoleAdmin {
		t.Fatalf("admin login after admin create: %+v %v", s, err)
	}
}
