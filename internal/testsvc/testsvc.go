// Package testsvc finds the real services integration tests need through
// environment URLs, and gives each test its own isolated piece of them.
//
// On a laptop without a service the test is skipped with the reason printed;
// under CI=true a missing or unreachable service fails the test instead, so
// CI can never pass by skipping.
package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

// PostgresEnv names the variable that points tests at a PostgreSQL server.
const PostgresEnv = "COMMERCE_TEST_POSTGRES_URL"

// InCI reports whether missing services must fail rather than skip.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

// Require returns the URL in env, or skips (fails under CI) when it is unset.
func Require(tb testing.TB, env string) string {
	tb.Helper()
	url := os.Getenv(env)
	if url == "" {
		missing(tb, env+" is not set")
	}
	return url
}

func missing(tb testing.TB, reason string) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("integration test needs a service but CI=true: %s", reason)
	}
	tb.Skipf("skipping integration test: %s", reason)
}

// UniqueName returns prefix plus a random suffix, safe as a SQL identifier.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// PostgresSchema creates a fresh schema on the test PostgreSQL server, drops
// it when the test ends, and returns the server URL and the schema name.
func PostgresSchema(tb testing.TB) (url, schema string) {
	tb.Helper()
	url = Require(tb, PostgresEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		missing(tb, "cannot connect to "+PostgresEnv+": "+err.Error())
	}
	defer conn.Close(ctx)
	schema = UniqueName("t")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return url, schema
}

// AMQPEnv names the variable that points tests at a RabbitMQ broker.
const AMQPEnv = "COMMERCE_TEST_AMQP_URL"

// AMQP returns the test broker's URL after checking that it accepts a
// connection; skips (fails under CI) when it is unset or unreachable. Tests
// isolate themselves with a UniqueName prefix on what they declare.
func AMQP(tb testing.TB) string {
	tb.Helper()
	url := Require(tb, AMQPEnv)
	conn, err := amqp.DialConfig(url, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		missing(tb, "cannot connect to "+AMQPEnv+": "+err.Error())
	}
	_ = conn.Close()
	return url
}
