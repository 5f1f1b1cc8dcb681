// Package cache is the response cache the read API puts in front of the
// catalog endpoints. Keys embed the catalog model's position, so every
// catalog event invalidates them; hits are served from an in-process table
// without encoding anything, and misses are shared between API processes
// through Redis.
package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpedge"
)

// Defaults of the Cache's tunables.
const (
	DefaultPoll         = 20 * time.Millisecond
	DefaultLocalEntries = 4096
	DefaultTTL          = 10 * time.Minute
)

const (
	// HeaderCache says where an answer came from: hit-local, hit-redis or
	// miss.
	HeaderCache  = "X-Cache"
	redisTimeout = 50 * time.Millisecond
	redisBackoff = time.Second
	// maxBody keeps one huge answer from filling the cache.
	maxBody = 1 << 20
)

// Cache caches the catalog's 200 answers by model version, path and query.
// Set the fields, start Run, and mount Middleware in front of the catalog
// handlers; do not change the fields after that.
type Cache struct {
	// Redis shares answers between API processes; nil caches in-process
	// only.
	Redis goredis.UniversalClient
	// Prefix starts every Redis key.
	Prefix string
	// Version is the catalog model's position: it changes with every
	// catalog event, so keys embedding it go stale with the model.
	Version func(ctx context.Context) (eventstore.Position, error)
	// Poll is how often Run reads Version (default DefaultPoll).
	Poll time.Duration
	// LocalEntries bounds the in-process table (default
	// DefaultLocalEntries).
	LocalEntries int
	// TTL is the lifetime of an answer in Redis (default DefaultTTL).
	TTL time.Duration
	// Registerer gets the cache's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock that times the pause after a Redis error (time.Now
	// when nil); tests move it instead of sleeping through the pause.
	Now func() time.Time

	initOnce sync.Once
	// version is the last version Run read; haveVersion is false until
	// the first successful read, and nothing is cached before it.
	version     atomic.Int64
	haveVersion atomic.Bool
	local       atomic.Pointer[table]
	// redisDownUntil (unix ns) skips Redis after an error.
	redisDownUntil atomic.Int64
	keyBufs        sync.Pool

	hitLocal, hitRedis, miss, bypass prometheus.Counter
	redisErrors, versionErrors       prometheus.Counter
}

func (c *Cache) init() {
	c.initOnce.Do(func() {
		c.local.Store(newTable(c.localEntries()))
		c.keyBufs.New = func() any { b := make([]byte, 0, 128); return &b }
		requests := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commerce_catalog_cache_requests_total",
			Help: "Catalog reads by how the response cache answered them.",
		}, []string{"result"})
		redisErrors := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commerce_catalog_cache_redis_errors_total",
			Help: "Failed Redis reads and writes of the catalog response cache.",
		})
		versionErrors := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commerce_catalog_cache_version_errors_total",
			Help: "Failed polls of the catalog model's version by the response cache.",
		})
		if c.Registerer != nil {
			requests = register(c.Registerer, requests)
			redisErrors = register(c.Registerer, redisErrors)
			versionErrors = register(c.Registerer, versionErrors)
		}
		c.hitLocal = requests.WithLabelValues("hit_local")
		c.hitRedis = requests.WithLabelValues("hit_redis")
		c.miss = requests.WithLabelValues("miss")
		c.bypass = requests.WithLabelValues("bypass")
		c.redisErrors, c.versionErrors = redisErrors, versionErrors
	})
}

// register registers col, or returns the collector already registered
// under its name (a second Cache on one registry shares the metrics).
func register[T prometheus.Collector](r prometheus.Registerer, col T) T {
	if err := r.Register(col); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		// Registration is best effort: the cache works unmeasured.
	}
	return col
}

func (c *Cache) localEntries() int {
	if c.LocalEntries > 0 {
		return c.LocalEntries
	}
	return DefaultLocalEntries
}

// Run reads Version every Poll until ctx is done, then returns ctx.Err().
// A failed read keeps the last version and is counted. A new version
// drops the in-process table: its answers can never be served again.
func (c *Cache) Run(ctx context.Context) error {
	if c.Version == nil {
		return errors.New("catalog cache: Version is not set")
	}
	c.init()
	poll := c.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		c.refresh(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (c *Cache) refresh(ctx context.Context) {
	v, err := c.Version(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.versionErrors.Inc()
		}
		return
	}
	if c.haveVersion.Load() && c.version.Load() == int64(v) {
		return
	}
	// The fresh table goes in first: a request that still computes its key
	// with the old version then only leaves an entry no key matches,
	// while one that sees the new version never writes to the old table.
	c.local.Store(newTable(c.localEntries()))
	c.version.Store(int64(v))
	c.haveVersion.Store(true)
}

// Middleware answers GET requests from the cache, or runs the handler and
// caches its 200 answer. Requests with X-Min-Position, and every request
// before Run has read a version, go straight to the handler.
func (c *Cache) Middleware() gin.HandlerFunc {
	c.init()
	return c.serve
}

func (c *Cache) serve(ctx *gin.Context) {
	req := ctx.Request
	if req.Method != http.MethodGet || !c.haveVersion.Load() || req.Header.Get(httpedge.HeaderMinPosition) != "" {
		c.bypass.Inc()
		ctx.Next()
		return
	}
	bp := c.keyBufs.Get().(*[]byte)
	defer c.keyBufs.Put(bp)
	key, ok := c.appendKey((*bp)[:0], req.URL)
	*bp = key
	if !ok {
		c.bypass.Inc()
		ctx.Next()
		return
	}
	tbl := c.local.Load()
	if e := tbl.get(key); e != nil {
		c.hitLocal.Inc()
		e.write(ctx, hitLocalValue)
		return
	}
	skey := string(key)
	if e := c.redisGet(req.Context(), skey); e != nil {
		c.hitRedis.Inc()
		tbl.put(e)
		e.write(ctx, hitRedisValue)
		return
	}
	c.miss.Inc()
	w := &capture{ResponseWriter: ctx.Writer, status: http.StatusOK}
	ctx.Writer = w
	// A panicking handler leaves the real writer to the recovery
	// middleware.
	defer func() { ctx.Writer = w.ResponseWriter }()
	ctx.Next()
	ctx.Writer = w.ResponseWriter
	h := ctx.Writer.Header()
	h[HeaderCache] = missValue
	if w.status == http.StatusOK && !w.tooBig {
		e := newEntry(skey, h.Get("Content-Type"), bytes.Clone(w.buf.Bytes()))
		tbl.put(e)
		// Shared with the other api processes once the client has its
		// answer (flushed first): the Redis round trip does not delay it.
		defer func() {
			ctx.Writer.Flush()
			c.redisSet(req.Context(), e)
		}()
		h["Etag"] = e.etag
		if matches(req.Header.Get("If-None-Match"), e.etag[0]) {
			ctx.Writer.WriteHeader(http.StatusNotModified)
			ctx.Writer.WriteHeaderNow()
			return
		}
	}
	h.Set("Content-Length", strconv.Itoa(w.buf.Len()))
	ctx.Writer.WriteHeader(w.status)
	ctx.Writer.WriteHeaderNow()
	_, _ = ctx.Writer.Write(w.buf.Bytes())
}

var (
	hitLocalValue = []string{"hit-local"}
	hitRedisValue = []string{"hit-redis"}
	missValue     = []string{"miss"}
)

// appendKey appends version, path and canonical query to b; false when
// the query does not parse (the request is not cached).
func (c *Cache) appendKey(b []byte, u *url.URL) ([]byte, bool) {
	b = strconv.AppendInt(b, c.version.Load(), 10)
	b = append(b, ' ')
	b = append(b, u.EscapedPath()...)
	if u.RawQuery == "" {
		return b, true
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return b, false
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	sep := byte('?')
	for _, k := range names {
		for _, v := range q[k] { // repeated values keep their order
			b = append(b, sep)
			sep = '&'
			b = append(b, url.QueryEscape(k)...)
			b = append(b, '=')
			b = append(b, url.QueryEscape(v)...)
		}
	}
	return b, true
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// redisGet reads key from Redis; nil on a miss, an error, or while Redis
// is skipped after an error.
func (c *Cache) redisGet(ctx context.Context, key string) *entry {
	if c.Redis == nil || c.now().UnixNano() < c.redisDownUntil.Load() {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	raw, err := c.Redis.Get(rctx, c.Prefix+key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	if err != nil {
		c.redisFailed(ctx)
		return nil
	}
	e, err := decodeEntry(key, raw)
	if err != nil {
		c.redisErrors.Inc() // a value this code did not write: a miss
		return nil
	}
	return e
}

// redisSet stores e in Redis; failures are counted and skip Redis a while.
func (c *Cache) redisSet(ctx context.Context, e *entry) {
	if c.Redis == nil || c.now().UnixNano() < c.redisDownUntil.Load() {
		return
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisTimeout)
	defer cancel()
	if err := c.Redis.Set(rctx, c.Prefix+e.key, e.encode(), ttl).Err(); err != nil {
		c.redisFailed(ctx)
	}
}

// redisFailed counts a Redis error and skips Redis for redisBackoff,
// unless the client gave up on the request (not Redis's fault).
func (c *Cache) redisFailed(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	c.redisErrors.Inc()
	c.redisDownUntil.Store(c.now().Add(redisBackoff).UnixNano())
}

// entry is one cached answer, its headers ready to assign.
type entry struct {
	key         string
	contentType []string
	etag        []string
	body        []byte
	// ref is set by hits and cleared by the eviction hand.
	ref atomic.Bool
}

func newEntry(key, contentType string, body []byte) *entry {
	sum := sha256.Sum256(body)
	return &entry{key: key, contentType: []string{contentType}, etag: []string{`"` + hex.EncodeToString(sum[:16]) + `"`}, body: body}
}

// encode lays out an entry for Redis: content type length, content type,
// body.
func (e *entry) encode() []byte {
	b := binary.AppendUvarint(make([]byte, 0, len(e.body)+len(e.contentType[0])+4), uint64(len(e.contentType[0])))
	b = append(b, e.contentType[0]...)
	return append(b, e.body...)
}

func decodeEntry(key string, raw []byte) (*entry, error) {
	n, k := binary.Uvarint(raw)
	if k <= 0 || n > uint64(len(raw)-k) {
		return nil, fmt.Errorf("catalog cache: bad value for %q", key)
	}
	ct := string(raw[k : k+int(n)])
	return newEntry(key, ct, raw[k+int(n):]), nil
}

// write answers the request with e.
func (e *entry) write(ctx *gin.Context, source []string) {
	h := ctx.Writer.Header()
	h["Etag"] = e.etag
	h[HeaderCache] = source
	if inm := ctx.Request.Header["If-None-Match"]; len(inm) > 0 && matches(inm[0], e.etag[0]) {
		ctx.Writer.WriteHeader(http.StatusNotModified)
		ctx.Writer.WriteHeaderNow()
		ctx.Abort()
		return
	}
	h["Content-Type"] = e.contentType
	ctx.Writer.WriteHeader(http.StatusOK)
	_, _ = ctx.Writer.Write(e.body)
	ctx.Abort()
}

// matches reports whether an If-None-Match header names etag.
func matches(header, etag string) bool {
	if header == "" {
		return false
	}
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == "*" || part == etag {
			return true
		}
	}
	return false
}

// table is the bounded in-process cache: a map read under a read lock
// and CLOCK eviction (an LRU approximation: an entry hit since the hand
// last passed gets a second chance), so hits never take the write lock.
type table struct {
	mu   sync.RWMutex
	m    map[string]*entry
	ring []*entry
	hand int
	max  int
}

func newTable(n int) *table {
	return &table{m: make(map[string]*entry, n), ring: make([]*entry, 0, n), max: n}
}

func (t *table) get(key []byte) *entry {
	t.mu.RLock()
	e := t.m[string(key)]
	t.mu.RUnlock()
	if e != nil && !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

func (t *table) put(e *entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.m[e.key]; ok {
		for i, r := range t.ring {
			if r == old {
				t.ring[i] = e
				break
			}
		}
		t.m[e.key] = e
		return
	}
	if len(t.ring) < t.max {
		t.ring = append(t.ring, e)
		t.m[e.key] = e
		return
	}
	for {
		victim := t.ring[t.hand]
		if victim.ref.Swap(false) {
			t.hand = (t.hand + 1) % len(t.ring)
			continue
		}
		delete(t.m, victim.key)
		t.ring[t.hand] = e
		t.m[e.key] = e
		t.hand = (t.hand + 1) % len(t.ring)
		return
	}
}

// capture buffers a handler's answer so the cache can store it and add
// its ETag before anything is sent.
type capture struct {
	gin.ResponseWriter
	buf     bytes.Buffer
	status  int
	written bool
	tooBig  bool
}

// WriteHeader records the status; it is sent after the handler returns.
func (w *capture) WriteHeader(code int) {
	if code > 0 && !w.written {
		w.status = code
	}
}

// WriteHeaderNow marks the header as written.
func (w *capture) WriteHeaderNow() { w.written = true }

// Write buffers the body.
func (w *capture) Write(b []byte) (int, error) {
	w.written = true
	if w.buf.Len()+len(b) > maxBody {
		w.tooBig = true
	}
	return w.buf.Write(b)
}

// WriteString buffers the body.
func (w *capture) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Status returns the recorded status.
func (w *capture) Status() int { return w.status }

// Size returns the bytes buffered so far, or -1 before any is written.
func (w *capture) Size() int {
	if !w.written {
		return -1
	}
	return w.buf.Len()
}

// Written reports whether the handler wrote its header or body.
func (w *capture) Written() bool { return w.written }

// Flush does nothing: the answer is sent whole once the handler returns.
func (w *capture) Flush() {}
