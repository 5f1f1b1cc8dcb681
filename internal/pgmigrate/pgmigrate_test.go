package pgmigrate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-engine/commerce/internal/pgmigrate"
	"github.com/commerce-engine/commerce/internal/testsvc"
)

func files(m map[string]string) fstest.MapFS {
	fs := fstest.MapFS{}
	for name, sql := range m {
		fs["m/"+name] = &fstest.MapFile{Data: []byte(sql)}
	}
	return fs
}

func TestLoadRejectsBadNames(t *testing.T) {
	for name, fs := range map[string]fstest.MapFS{
		"no number":        files(map[string]string{"create.sql": ""}),
		"upper case":       files(map[string]string{"0001_Create.sql": ""}),
		"repeated version": files(map[string]string{"0001_a.sql": "", "0001_b.sql": ""}),
	} {
		if _, err := pgmigrate.Load(fs, "m"); err == nil {
			t.Errorf("%s: Load accepted it", name)
		}
	}
	ms, err := pgmigrate.Load(files(map[string]string{"0002_b.sql": "B", "0001_a.sql": "A", "0010_c.sql": "C"}), "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0].Version != 1 || ms[1].Version != 2 || ms[2].Version != 10 {
		t.Fatalf("not sorted by version: %+v", ms)
	}
}

func TestApplyOnceConcurrentlyAndRefuseEdits(t *testing.T) {
	url, schema := testsvc.PostgresSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ms, err := pgmigrate.Load(files(map[string]string{
		"0001_things.sql": "CREATE TABLE things (id int PRIMARY KEY);",
		"0002_more.sql":   "ALTER TABLE things ADD COLUMN name text; INSERT INTO things VALUES (1, 'one');",
	}), "m")
	if err != nil {
		t.Fatal(err)
	}
	// Several processes starting at once: every migration runs exactly once.
	var wg sync.WaitGroup
	applied := make([][]int, 4)
	for i := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close(ctx)
			applied[i], err = pgmigrate.Apply(ctx, conn, schema, ms)
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, a := range applied {
		total += len(a)
	}
	if total != 2 {
		t.Fatalf("migrations applied %d times in all, want 2: %v", total, applied)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if pending, err := pgmigrate.Pending(ctx, conn, schema, ms); err != nil || len(pending) != 0 {
		t.Fatalf("pending after apply: %v, %v", pending, err)
	}
	// An applied migration edited afterwards is refused.
	edited, _ := pgmigrate.Load(files(map[string]string{
		"0001_things.sql": "CREATE TABLE things (id bigint PRIMARY KEY);",
	}), "m")
	if _, err := pgmigrate.Apply(ctx, conn, schema, edited); !errors.Is(err, pgmigrate.ErrChecksum) {
		t.Fatalf("edited migration: got %v, want ErrChecksum", err)
	}
	// A failing migration leaves nothing behind.
	failing, _ := pgmigrate.Load(files(map[string]string{
		"0001_things.sql": "CREATE TABLE things (id int PRIMARY KEY);",
		"0002_more.sql":   "ALTER TABLE things ADD COLUMN name text; INSERT INTO things VALUES (1, 'one');",
		"0003_bad.sql":    "CREATE TABLE half (id int); SELECT no_such_function();",
	}), "m")
	if _, err := pgmigrate.Apply(ctx, conn, schema, failing); err == nil {
		t.Fatal("a failing migration was reported applied")
	}
	var half bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", schema+".half").Scan(&half); err != nil || half {
		t.Fatalf("failed migration left its table behind (%v, %v)", half, err)
	}
	if pending, _ := pgmigrate.Pending(ctx, conn, schema, failing); len(pending) != 1 || pending[0].Version != 3 {
		t.Fatalf("pending = %v, want only 0003", pending)
	}
}
