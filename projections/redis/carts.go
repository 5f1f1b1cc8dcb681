// Package redis keeps read models in Redis, so every API process reads the
// same model and a model can be rebuilt from the log without downtime.
//
// A model lives in numbered generations: the live one answers reads while
// a rebuild replays the log into the next one, then an atomic swap makes
// the new one live and the old one is deleted. Scripts touch keys of one
// model only; on Redis Cluster give the Prefix a hash tag ("{shop}:") so
// they all land in one slot.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
)

// ErrRebuildRunning is returned by Rebuild while another rebuild of the
// same model (in any process) holds the rebuild lock.
var ErrRebuildRunning = errors.New("redis carts: a rebuild is already running")

// errStaleGeneration means a write raced with a swap: the generation it
// read is no longer live.
var errStaleGeneration = errors.New("redis carts: the live generation changed")

// DefaultRebuildBatch is how many events a rebuild reads per batch when
// RebuildOptions.Batch is not set.
const DefaultRebuildBatch = 2000

const (
	lockTTL     = 30 * time.Second
	lockRefresh = lockTTL / 3
	unlinkBatch = 500
)

// Carts is every shopper's cart in Redis, folded with the cart aggregate's
// own Evolve like projections.MemoryCarts, shared by every API process.
// Keys (P = Prefix): P+"carts:gen" holds the live generation (absent: 1),
// P+"carts:g<N>:cart:<cartID>" a cart as {"pos":..,"state":..},
// P+"carts:g<N>:checkpoint" and P+"carts:g<N>:through" the positions of
// generation N, P+"carts:next" the last generation number handed out and
// P+"carts:rebuild:lock" the rebuild lock.
type Carts struct {
	Client goredis.UniversalClient
	Prefix string
	Codec  *eventstore.Codec
}

var _ projections.CartReader = (*Carts)(nil)

func (c *Carts) genKey() string  { return c.Prefix + "carts:gen" }
func (c *Carts) nextKey() string { return c.Prefix + "carts:next" }
func (c *Carts) lockKey() string { return c.Prefix + "carts:rebuild:lock" }

// genPrefix is the common prefix of generation gen's keys.
func (c *Carts) genPrefix(gen int64) string {
	return c.Prefix + "carts:g" + strconv.FormatInt(gen, 10) + ":"
}

// genBase is what the scripts append a generation number to.
func (c *Carts) genBase() string { return c.Prefix + "carts:g" }

func (c *Carts) cartKey(gen int64, id string) string { return c.genPrefix(gen) + "cart:" + id }

// storedCart is a cart's value: pos comes first so scripts can read it
// with a pattern instead of decoding the JSON.
type storedCart struct {
	Pos   eventstore.Position `json:"pos"`
	State cart.State          `json:"state"`
}

// infoScript returns the live generation and its checkpoint and through.
var infoScript = goredis.NewScript(`
local g = redis.call('GET', KEYS[1]) or '1'
local cp = redis.call('GET', ARGV[1] .. g .. ':checkpoint') or '0'
local th = redis.call('GET', ARGV[1] .. g .. ':through') or '0'
return {g, cp, th}
`)

// cartScript reads the live generation and one cart of it atomically.
var cartScript = goredis.NewScript(`
local g = redis.call('GET', KEYS[1]) or '1'
return redis.call('GET', ARGV[1] .. g .. ARGV[2])
`)

// applyScript writes a batch: KEYS[1] the generation key, KEYS[2] the
// checkpoint, KEYS[3..] carts; ARGV[1] the expected live generation (0: do
// not check), ARGV[2] the new checkpoint, then a position and a value per
// cart. A cart is written only over an older one.
var applyScript = goredis.NewScript(`
local want = tonumber(ARGV[1])
if want > 0 then
  local live = tonumber(redis.call('GET', KEYS[1]) or '1')
  if live ~= want then
    return redis.error_reply('STALEGEN live generation is ' .. live)
  end
end
for i = 3, #KEYS do
  local pos = tonumber(ARGV[(i - 2) * 2 + 1])
  local cur = redis.call('GET', KEYS[i])
  local curpos = -1
  if cur then
    curpos = tonumber(string.match(cur, '^{"pos":(%d+)')) or -1
  end
  if curpos < pos then
    redis.call('SET', KEYS[i], ARGV[(i - 2) * 2 + 2])
  end
end
local cp = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > cp then
  redis.call('SET', KEYS[2], ARGV[2])
end
return 'OK'
`)

// advanceScript raises the through of generation ARGV[3] (0: the live
// one) to ARGV[2].
var advanceScript = goredis.NewScript(`
local g = ARGV[3]
if g == '0' then
  g = redis.call('GET', KEYS[1]) or '1'
end
local k = ARGV[1] .. g .. ':through'
local cur = tonumber(redis.call('GET', k) or '0')
if tonumber(ARGV[2]) > cur then
  redis.call('SET', k, ARGV[2])
end
return 'OK'
`)

// newGenScript hands out a generation number above the live one.
var newGenScript = goredis.NewScript(`
local live = tonumber(redis.call('GET', KEYS[1]) or '1')
local n = redis.call('INCR', KEYS[2])
if n <= live then
  n = live + 1
  redis.call('SET', KEYS[2], n)
end
return {live, n}
`)

// swapScript makes generation ARGV[2] live if it has caught up with the
// live generation ARGV[1] and the caller still holds the lock (token
// ARGV[3]). KEYS: gen, lock, old checkpoint, old through, new checkpoint,
// new through. Returns 1 when swapped, 0 when the new one is behind.
var swapScript = goredis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return redis.error_reply('LOCKLOST the rebuild lock was lost')
end
local live = tonumber(redis.call('GET', KEYS[1]) or '1')
if live ~= tonumber(ARGV[1]) then
  return redis.error_reply('GENMOVED live generation is ' .. live)
end
local oldcp = tonumber(redis.call('GET', KEYS[3]) or '0')
local newcp = tonumber(redis.call('GET', KEYS[5]) or '0')
if newcp < oldcp then
  return 0
end
local oldth = redis.call('GET', KEYS[4]) or '0'
local newth = redis.call('GET', KEYS[6]) or '0'
if tonumber(oldth) > tonumber(newth) then
  redis.call('SET', KEYS[6], oldth)
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// refreshScript extends the lock if the caller still holds it.
var refreshScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes the lock if the caller still holds it.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// liveInfo is the live generation and its positions.
type liveInfo struct {
	gen, checkpoint, through int64
}

func (c *Carts) info(ctx context.Context) (liveInfo, error) {
	res, err := infoScript.Run(ctx, c.Client, []string{c.genKey()}, c.genBase()).StringSlice()
	if err != nil {
		return liveInfo{}, fmt.Errorf("redis carts: read the live generation: %w", err)
	}
	if len(res) != 3 {
		return liveInfo{}, fmt.Errorf("redis carts: read the live generation: %d values, want 3", len(res))
	}
	var out [3]int64
	for i, s := range res {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return liveInfo{}, fmt.Errorf("redis carts: read the live generation: bad number %q: %w", s, err)
		}
		out[i] = v
	}
	return liveInfo{gen: out[0], checkpoint: out[1], through: out[2]}, nil
}

// Position implements projections.Positioned: the live generation's
// checkpoint, or its through when the runner read further with nothing for
// carts.
func (c *Carts) Position(ctx context.Context) (eventstore.Position, error) {
	in, err := c.info(ctx)
	if err != nil {
		return 0, err
	}
	return eventstore.Position(max(in.checkpoint, in.through)), nil
}

// Cart implements projections.CartReader: the cart of the live generation,
// read with the generation in one script so a swap never shows a cart of
// a generation that is being built or deleted; an absent cart is empty.
func (c *Carts) Cart(ctx context.Context, cartID string) (cart.State, error) {
	raw, err := cartScript.Run(ctx, c.Client, []string{c.genKey()}, c.genBase(), ":cart:"+cartID).Text()
	if errors.Is(err, goredis.Nil) {
		return cart.State{}, nil
	}
	if err != nil {
		return cart.State{}, fmt.Errorf("redis carts: read a cart: %w", err)
	}
	var sc storedCart
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		return cart.State{}, fmt.Errorf("redis carts: decode a cart: %w", err)
	}
	return sc.State, nil
}

// Target returns the projection target writing the live generation; it
// also has Advance(ctx, through) for the runner.
func (c *Carts) Target() projections.Target { return &Target{carts: c} }

// Target is a cart projection target: live (it follows the live
// generation across swaps) or pinned to one generation (a rebuild).
type Target struct {
	carts *Carts
	// pinned is the generation a rebuild writes; 0 for live.
	pinned int64
}

// Checkpoint implements projections.Target.
func (t *Target) Checkpoint(ctx context.Context) (eventstore.Position, error) {
	if t.pinned == 0 {
		in, err := t.carts.info(ctx)
		return eventstore.Position(in.checkpoint), err
	}
	v, err := t.carts.Client.Get(ctx, t.carts.genPrefix(t.pinned)+"checkpoint").Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redis carts: read generation %d's checkpoint: %w", t.pinned, err)
	}
	return eventstore.Position(v), nil
}

// Advance records that the runner read the log through position through
// and found nothing more for carts, so X-Min-Position waits end.
func (t *Target) Advance(ctx context.Context, through eventstore.Position) error {
	err := advanceScript.Run(ctx, t.carts.Client, []string{t.carts.genKey()}, t.carts.genBase(), int64(through), t.pinned).Err()
	if err != nil {
		return fmt.Errorf("redis carts: advance through %d: %w", through, err)
	}
	return nil
}

// Apply implements projections.Target: it folds the batch onto the carts
// it touches and writes them and the checkpoint in one script, each cart
// only over an older one, so a replayed batch changes nothing. A live
// target whose generation was swapped meanwhile re-reads it and retries
// once.
func (t *Target) Apply(ctx context.Context, evs []eventstore.Event) error {
	if t.pinned != 0 {
		return t.applyTo(ctx, t.pinned, evs)
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var in liveInfo
		if in, err = t.carts.info(ctx); err != nil {
			return err
		}
		err = t.applyTo(ctx, in.gen, evs)
		if !errors.Is(err, errStaleGeneration) {
			return err
		}
	}
	return err
}

func (t *Target) applyTo(ctx context.Context, gen int64, evs []eventstore.Event) error {
	c := t.carts
	ids := []string{}
	seen := map[string]bool{}
	for _, e := range evs {
		if !projections.CartFilter.Match(e) {
			continue
		}
		if id := projections.CartID(e); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	keys := make([]string, 0, len(ids)+1)
	keys = append(keys, c.genPrefix(gen)+"checkpoint")
	for _, id := range ids {
		keys = append(keys, c.cartKey(gen, id))
	}
	vals, err := c.Client.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("redis carts: read generation %d: %w", gen, err)
	}
	if len(vals) != len(keys) {
		return fmt.Errorf("redis carts: read generation %d: %d values for %d keys", gen, len(vals), len(keys))
	}
	var cp eventstore.Position
	if s, ok := vals[0].(string); ok {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("redis carts: generation %d's checkpoint %q: %w", gen, s, err)
		}
		cp = eventstore.Position(v)
	}
	carts := make(map[string]*storedCart, len(ids))
	for i, id := range ids {
		sc := &storedCart{}
		if s, ok := vals[i+1].(string); ok {
			if err := json.Unmarshal([]byte(s), sc); err != nil {
				return fmt.Errorf("redis carts: decode cart %q: %w", id, err)
			}
		}
		carts[id] = sc
	}
	last := cp
	touched := map[string]bool{}
	for _, e := range evs {
		if e.Position <= cp {
			continue
		}
		last = max(last, e.Position)
		if !projections.CartFilter.Match(e) {
			continue
		}
		id := projections.CartID(e)
		sc := carts[id]
		if e.Position <= sc.Pos {
			continue
		}
		payload, err := c.Codec.Decode(e)
		if err != nil {
			return fmt.Errorf("cart projection at %d: %w", e.Position, err)
		}
		sc.State = cart.Evolve(sc.State, payload)
		sc.Pos = e.Position
		touched[id] = true
	}
	if last == cp {
		return nil
	}
	want := gen
	if t.pinned != 0 {
		want = 0
	}
	skeys := []string{c.genKey(), c.genPrefix(gen) + "checkpoint"}
	args := []any{want, int64(last)}
	for _, id := range ids {
		if !touched[id] {
			continue
		}
		b, err := json.Marshal(carts[id])
		if err != nil {
			return fmt.Errorf("redis carts: encode cart %q: %w", id, err)
		}
		skeys = append(skeys, c.cartKey(gen, id))
		args = append(args, int64(carts[id].Pos), b)
	}
	if err := applyScript.Run(ctx, c.Client, skeys, args...).Err(); err != nil {
		if strings.HasPrefix(err.Error(), "STALEGEN") {
			return fmt.Errorf("%w: %v", errStaleGeneration, err) //nolint:errorlint // staleness is what callers act on; Redis's error is detail
		}
		return fmt.Errorf("redis carts: write generation %d: %w", gen, err)
	}
	return nil
}

// RebuildOptions tunes Rebuild.
type RebuildOptions struct {
	// Batch is how many events one read of the log returns (default
	// DefaultRebuildBatch, at most eventstore.MaxReadLimit).
	Batch int
}

// Rebuild replays the cart events of the log into a new generation while
// the live one keeps answering, then swaps it in once it has caught up with
// the live one, and deletes the old generation. One rebuild runs at a time
// across processes: a second gets ErrRebuildRunning. On failure the new
// generation is deleted and the live one is left as it was.
func (c *Carts) Rebuild(ctx context.Context, events eventstore.Store, opts RebuildOptions) (err error) {
	batch := opts.Batch
	if batch <= 0 {
		batch = DefaultRebuildBatch
	}
	batch = min(batch, eventstore.MaxReadLimit)
	token, err := c.lock(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.keepLock(ctx, cancel, token)
	}()
	defer func() {
		cancel(nil)
		wg.Wait()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if rerr := releaseScript.Run(rctx, c.Client, []string{c.lockKey()}, token).Err(); rerr != nil && err == nil {
			err = fmt.Errorf("redis carts: release the rebuild lock: %w", rerr)
		}
	}()
	fail := func(err error) error {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", err, cause) //nolint:errorlint // the call's error is the answer; the context's cause is detail
		}
		return err
	}

	res, err := newGenScript.Run(ctx, c.Client, []string{c.genKey(), c.nextKey()}).Int64Slice()
	if err != nil {
		return fail(fmt.Errorf("redis carts: new generation: %w", err))
	}
	if len(res) != 2 {
		return fail(fmt.Errorf("redis carts: new generation: got %d values, want 2", len(res)))
	}
	oldGen, newGen := res[0], res[1]
	defer func() {
		// Whichever generation is not live now is garbage. Ask Redis
		// which one is live: a swap whose answer was lost may have
		// happened, and the live generation must never be deleted.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer dcancel()
		live, lerr := c.info(dctx)
		if lerr != nil {
			if err == nil {
				err = fmt.Errorf("redis carts: left generations %d and %d in place: %w", oldGen, newGen, lerr)
			}
			return
		}
		dead := newGen
		if live.gen == newGen {
			dead = oldGen
		}
		if derr := c.deleteGeneration(dctx, dead); derr != nil && err == nil {
			err = derr
		}
	}()

	pinned := &Target{carts: c, pinned: newGen}
	var cp eventstore.Position
	catchUp := func() error {
		for {
			evs, err := events.ReadAll(ctx, eventstore.ReadAllOptions{After: cp, Filter: projections.CartFilter, Limit: batch})
			if err != nil {
				return fmt.Errorf("redis carts: rebuild: read the log after %d: %w", cp, err)
			}
			if len(evs) == 0 {
				return nil
			}
			if err := pinned.Apply(ctx, evs); err != nil {
				return fmt.Errorf("redis carts: rebuild generation %d: %w", newGen, err)
			}
			cp = evs[len(evs)-1].Position
		}
	}
	for {
		if err := catchUp(); err != nil {
			return fail(err)
		}
		keys := []string{
			c.genKey(), c.lockKey(),
			c.genPrefix(oldGen) + "checkpoint", c.genPrefix(oldGen) + "through",
			c.genPrefix(newGen) + "checkpoint", c.genPrefix(newGen) + "through",
		}
		ok, err := swapScript.Run(ctx, c.Client, keys, oldGen, newGen, token).Int64()
		if err != nil {
			return fail(fmt.Errorf("redis carts: swap generation %d for %d: %w", oldGen, newGen, err))
		}
		if ok == 1 {
			return nil
		}
	}
}

// lock takes the rebuild lock and returns its token.
func (c *Carts) lock(ctx context.Context) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ok, err := c.Client.SetNX(ctx, c.lockKey(), token, lockTTL).Result()
	if err != nil {
		return "", fmt.Errorf("redis carts: take the rebuild lock: %w", err)
	}
	if !ok {
		return "", ErrRebuildRunning
	}
	return token, nil
}

// keepLock refreshes the lock until ctx is done, cancelling the rebuild
// when the lock is lost.
func (c *Carts) keepLock(ctx context.Context, cancel context.CancelCauseFunc, token string) {
	tick := time.NewTicker(lockRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := refreshScript.Run(ctx, c.Client, []string{c.lockKey()}, token, lockTTL.Milliseconds()).Int64()
		if ctx.Err() != nil {
			return
		}
		if err == nil && n == 0 {
			cancel(errors.New("redis carts: the rebuild lock was lost"))
			return
		}
		// A failed refresh is retried at the next tick; the lock lasts
		// three ticks.
	}
}

// deleteGeneration unlinks every key of generation gen.
func (c *Carts) deleteGeneration(ctx context.Context, gen int64) error {
	match := globEscape(c.genPrefix(gen)) + "*"
	del := func(ctx context.Context, client goredis.UniversalClient) error {
		var cursor uint64
		for {
			keys, next, err := client.Scan(ctx, cursor, match, 1000).Result()
			if err != nil {
				return fmt.Errorf("redis carts: scan generation %d: %w", gen, err)
			}
			for len(keys) > 0 {
				n := min(len(keys), unlinkBatch)
				if err := client.Unlink(ctx, keys[:n]...).Err(); err != nil {
					return fmt.Errorf("redis carts: delete generation %d: %w", gen, err)
				}
				keys = keys[n:]
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	if cc, ok := c.Client.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return del(ctx, n) })
	}
	return del(ctx, c.Client)
}

// globEscape escapes the characters SCAN MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
