package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisLimiterPrefix is the key prefix of RedisLimiter when none is given.
const DefaultRedisLimiterPrefix = "commerce:ratelimit:login:"

// RedisLimiter is a fixed-window Limiter shared by every instance through
// Redis: one counter per key, created by the first attempt with a TTL of one
// window, incremented and expired atomically by a Lua script.
type RedisLimiter struct {
	client redis.Scripter
	prefix string
	limit  int64
	window time.Duration
}

// redisWindowScript increments KEYS[1] and gives a new counter a TTL of
// ARGV[1] ms (also repairing a counter that lost its TTL); it returns the
// count and the remaining TTL in ms.
var redisWindowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// NewRedisLimiter returns a RedisLimiter allowing limit attempts per key per
// window, its counters under prefix (DefaultRedisLimiterPrefix when empty).
// It panics when client is nil, limit < 1 or window < 1 ms, a wiring bug.
func NewRedisLimiter(client redis.Scripter, prefix string, limit int, window time.Duration) *RedisLimiter {
	if client == nil || limit < 1 || window < time.Millisecond {
		panic("auth: NewRedisLimiter needs a client, limit >= 1 and window >= 1ms")
	}
	if prefix == "" {
		prefix = DefaultRedisLimiterPrefix
	}
	return &RedisLimiter{client: client, prefix: prefix, limit: int64(limit), window: window}
}

// Key returns the Redis key counting attempts for key: the prefix and the
// hex SHA-256 of key, so emails and addresses are not stored in clear and
// keys have a bounded length.
func (l *RedisLimiter) Key(key string) string {
	sum := sha256.Sum256([]byte(key))
	return l.prefix + hex.EncodeToString(sum[:])
}

// Allow counts one attempt for key and reports whether it is within the
// limit, and if not how long until the window ends; it returns an error
// (wrapping go-redis's or ctx's) when Redis cannot be reached or answers
// something unexpected, and the caller decides whether to fail open.
func (l *RedisLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := redisWindowScript.Run(ctx, l.client, []string{l.Key(key)}, l.window.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("auth: rate limit: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("auth: rate limit: unexpected script result of %d values", len(res))
	}
	count, ttl := res[0], time.Duration(res[1])*time.Millisecond
	if count > l.limit {
		return false, max(ttl, time.Millisecond), nil
	}
	return true, 0, nil
}
