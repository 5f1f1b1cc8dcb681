package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/auth/limitertest"
	"github.com/commerce-engine/commerce/internal/testsvc"
)

// redisEnv names the variable that points tests at a Redis server.
const redisEnv = "COMMERCE_TEST_REDIS_URL"

// mustRedis connects to the test Redis (skipping without one, failing under
// CI) and returns a client and a key prefix of this test's own, whose keys
// are deleted when the test ends.
func mustRedis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	url := testsvc.Require(tb, redisEnv)
	opts, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("parse %s: %v", redisEnv, err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		tb.Fatalf("ping %s: %v", redisEnv, err)
	}
	prefix := testsvc.UniqueName("test:auth:ratelimit") + ":"
	tb.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("scan test keys: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				tb.Errorf("delete test keys: %v", err)
			}
		}
	})
	return client, prefix
}

func TestRedisLimiter(t *testing.T) {
	t.Parallel()
	client, prefix := mustRedis(t)
	ctx := context.Background()
	const window = 10 * time.Second
	l := auth.NewRedisLimiter(client, prefix, 3, window)

	for i := range 3 {
		ok, retry, err := l.Allow(ctx, "user@example.com")
		if err != nil || !ok || retry != 0 {
			t.Fatalf("attempt %d: %v, %v, %v", i+1, ok, retry, err)
		}
	}
	ok, retry, err := l.Allow(ctx, "user@example.com")
	if err != nil || ok {
		t.Fatalf("attempt 4: %v, %v; want denied", ok, err)
	}
	if retry <= 0 || retry > window {
		t.Fatalf("retryAfter %v, want within (0, %v]", retry, window)
	}
	if ok, _, err := l.Allow(ctx, "other@example.com"); err != nil || !ok {
		t.Fatalf("another key: %v, %v", ok, err)
	}

	key := l.Key("user@example.com")
	if !strings.HasPrefix(key, prefix) || strings.Contains(key, "user@example.com") {
		t.Fatalf("Redis key %q: want prefix %q and no email in clear", key, prefix)
	}
	ttl, err := client.PTTL(ctx, key).Result()
	if err != nil || ttl <= 0 || ttl > window {
		t.Fatalf("PTTL = %v, %v; want the window's remainder", ttl, err)
	}
	n, err := client.Get(ctx, key).Int()
	if err != nil || n != 4 {
		t.Fatalf("counter = %d, %v; want 4", n, err)
	}
}

// TestRedisLimiterConforms runs the Limiter suite, each limiter on its own
// key prefix.
func TestRedisLimiterConforms(t *testing.T) {
	t.Parallel()
	limitertest.Run(t, func(t *testing.T, limit int, window time.Duration) auth.Limiter {
		client, prefix := mustRedis(t)
		return auth.NewRedisLimiter(client, prefix, limit, window)
	})
}

func TestRedisLimiterRepairsLostTTL(t *testing.T) {
	t.Parallel()
	client, prefix := mustRedis(t)
	ctx := context.Background()
	l := auth.NewRedisLimiter(client, prefix, 1, time.Minute)
	if err := client.Set(ctx, l.Key("k"), 5, 0).Err(); err != nil { // a counter without TTL
		t.Fatal(err)
	}
	ok, retry, err := l.Allow(ctx, "k")
	if err != nil || ok || retry <= 0 || retry > time.Minute {
		t.Fatalf("Allow = %v, %v, %v; want denied with a retry within the window", ok, retry, err)
	}
	if ttl, err := client.PTTL(ctx, l.Key("k")).Result(); err != nil || ttl <= 0 {
		t.Fatalf("PTTL = %v, %v; want a TTL restored", ttl, err)
	}
}

func TestRedisLimiterErrors(t *testing.T) {
	t.Parallel()
	client, prefix := mustRedis(t)
	l := auth.NewRedisLimiter(client, prefix, 1, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, _, err := l.Allow(ctx, "k"); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v, %v; want context.Canceled", ok, err)
	}

	// No server listens on port 1: the error is reported, the caller decides.
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer down.Close()
	if ok, _, err := auth.NewRedisLimiter(down, prefix, 1, time.Minute).Allow(context.Background(), "k"); ok || err == nil {
		t.Fatalf("unreachable Redis: %v, %v; want an error", ok, err)
	}
}
