package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/cart"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/domain/payment"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/projections/analytics"
	pgproj "github.com/commerce-engine/commerce/projections/postgres"
	redisproj "github.com/commerce-engine/commerce/projections/redis"
	"github.com/commerce-engine/commerce/readapi/cache"
)

// rsWriters is how many goroutines write the rebuild figure's log.
const rsWriters = 16

// rsBatch is how many events one append of the rebuild figure carries at
// most.
const rsBatch = 500

// benchReadSide prints the read-side figures: rebuilding every projection
// beside the raw COPY rate, live projection lag under add-to-cart load, and
// cached catalog reads beside a bare gin handler.
func benchReadSide(ctx context.Context, pgURL, redisURL string, events int, dur time.Duration) {
	rc := openRedis(ctx, redisURL)
	if rc != nil {
		defer rc.Close()
	}
	if events > 0 {
		benchRebuild(ctx, pgURL, rc, events)
	}
	benchLag(ctx, pgURL, rc, dur)
	benchCatalogHTTP(ctx, dur)
}

// openRedis returns a client when Redis answers at url, nil otherwise, so
// the figures that need it are skipped rather than failed.
func openRedis(ctx context.Context, url string) *goredis.Client {
	if url == "" {
		return nil
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		log.Printf("redis %q: %v: skipping Redis", url, err)
		return nil
	}
	c := goredis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		log.Printf("redis does not answer: %v: skipping Redis", err)
		_ = c.Close()
		return nil
	}
	return c
}

// dropRedisPrefix deletes every key under prefix, so a figure leaves no
// Redis keys behind.
func dropRedisPrefix(rc *goredis.Client, prefix string) {
	ctx := context.Background()
	it := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for it.Next(ctx) {
		keys = append(keys, it.Val())
		if len(keys) == 500 {
			_ = rc.Unlink(ctx, keys...).Err()
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		_ = rc.Unlink(ctx, keys...).Err()
	}
	if err := it.Err(); err != nil {
		log.Printf("redis cleanup %s: %v", prefix, err)
	}
}

// freshStore migrates and opens an event store in a schema of its own and
// returns it with a cleanup that closes it and drops the schema.
func freshStore(ctx context.Context, url string, conns int32) (*postgres.Store, string, func()) {
	schema, drop := freshSchema(url)
	if _, err := postgres.Migrate(ctx, url, schema); err != nil {
		fatalf("migrate: %v", err)
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, MaxConns: conns})
	if err != nil {
		fatalf("%v", err)
	}
	return s, schema, func() { _ = s.Close(); drop() }
}

// freshSchema names a PostgreSQL schema of its own for one figure and
// returns how to drop it, which the cleanups do too.
func freshSchema(url string) (string, func()) {
	schema := "esbench_rs_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	drop := func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			log.Printf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			log.Printf("drop schema %s: %v", schema, err)
		}
	}
	cleanups = append(cleanups, drop)
	return schema, drop
}

// readModelStore opens a 32-connection pool (what internal/app gives the
// read models) and a projections/postgres Store in a namespace of its own,
// with an analyst role of its own so that the cleanup can drop both.
func readModelStore(ctx context.Context, url string, models ...pgproj.Model) (*pgproj.Store, func()) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		fatalf("%v", err)
	}
	cfg.MaxConns = 32
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fatalf("%v", err)
	}
	tag := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	st := &pgproj.Store{Pool: pool, NS: pgproj.Namespace{Prefix: "esb" + tag + "_"}}
	role := "esb" + tag + "_analyst"
	drop := func() {
		if err := st.Drop(context.Background(), role); err != nil {
			log.Printf("drop read models %s: %v", st.NS.Prefix, err)
		}
	}
	cleanups = append(cleanups, drop)
	if err := st.Setup(ctx, pgproj.SetupOptions{AnalystRole: role}, models...); err != nil {
		fatalf("read models setup: %v", err)
	}
	return st, func() { drop(); pool.Close() }
}

// encoder turns domain payloads into EventData with the codec the
// projections decode with.
type encoder struct{ codec *eventstore.Codec }

// event encodes payload with metadata meta, failing the run on an
// unregistered type: a projection could not decode it either.
func (e encoder) event(payload any, meta []byte) eventstore.EventData {
	name, version, data, err := e.codec.Encode(payload)
	if err != nil {
		fatalf("encode %T: %v", payload, err)
	}
	return eventstore.EventData{ID: uuid.New(), Type: name, SchemaVersion: version, Data: data, Metadata: meta}
}

// correlation is the metadata commands write for a checkout's events.
func correlation(id string) []byte { return []byte(`{"correlation_id":"` + id + `"}`) }

// rsProduct is a product of the generated catalog.
type rsProduct struct {
	id    string
	price money.Money
}

// writeLog writes about n realistic events: 2,000 products with stock,
// then checkouts from 16 goroutines, each on products of its own so that
// every stream's events stay in a valid order. It returns how many events
// it wrote and a sample of them for the COPY baseline.
func writeLog(ctx context.Context, s eventstore.Store, n int) (int64, []eventstore.EventData) {
	enc := encoder{commands.NewCodec()}
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	categories := []string{"kitchen", "garden", "clothes", "books", "toys", "tools", "sports", "music", "beauty", "office"}
	const nProducts = 2000
	products := make([]rsProduct, nProducts)
	for i := range products {
		products[i] = rsProduct{id: uuid.NewString(), price: money.Money{Amount: int64(199 + (i*7919)%9000), Currency: "EUR"}}
	}
	var total atomic.Int64
	began := time.Now()
	append1 := func(stream string, evs []eventstore.EventData) {
		for i := 0; i < len(evs); i += rsBatch {
			part := evs[i:min(i+rsBatch, len(evs))]
			if _, err := s.Append(ctx, stream, eventstore.Any, part...); err != nil {
				fatalf("write the log to %s: %v", stream, err)
			}
			total.Add(int64(len(part)))
		}
	}
	var wg sync.WaitGroup
	for g := range rsWriters {
		wg.Go(func() {
			for i := g; i < nProducts; i += rsWriters {
				p := products[i]
				meta := correlation(uuid.NewString())
				append1(catalog.StreamID(p.id), []eventstore.EventData{
					enc.event(catalog.ProductCreated{ProductID: p.id, SKU: fmt.Sprintf("SKU-%05d", i), Name: fmt.Sprintf("Product %d", i),
						Description: "a product of the rebuild benchmark, described in a sentence or two like real ones are",
						Category:    categories[i%len(categories)], Price: p.price, ImageURL: "https://cdn.example.com/p/" + p.id + ".jpg", At: start}, meta),
					enc.event(catalog.StockAdjusted{ProductID: p.id, Delta: 1 << 30, OnHand: 1 << 30, Reason: "delivery", At: start}, meta),
				})
			}
		})
	}
	wg.Wait()
	share := (int64(n) - total.Load()) / rsWriters
	var sampleMu sync.Mutex
	var sample []eventstore.EventData
	for g := range rsWriters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			var mine []rsProduct
			for i := g; i < nProducts; i += rsWriters {
				mine = append(mine, products[i])
			}
			buffers := map[string][]eventstore.EventData{}
			var written int64
			push := func(stream string, e eventstore.EventData) {
				buffers[stream] = append(buffers[stream], e)
				written++
			}
			flush := func(stream string) {
				if evs := buffers[stream]; len(evs) > 0 {
					if g == 0 && len(sample) < 4096 {
						sampleMu.Lock()
						sample = append(sample, evs...)
						sampleMu.Unlock()
					}
					append1(stream, evs)
				}
				delete(buffers, stream)
			}
			customer := uuid.NewString()
			perCheckout := time.Duration(90*24*time.Hour) / time.Duration(max(1, share/14))
			for k := 0; written < share && ctx.Err() == nil; k++ {
				if k%100 == 0 {
					flush(cart.StreamID(customer))
					customer = uuid.NewString()
				}
				at := start.Add(time.Hour + time.Duration(k)*perCheckout)
				checkout := uuid.NewString()
				meta := correlation(checkout)
				cartStream := cart.StreamID(customer)
				idx := rng.Perm(len(mine))[:2+rng.IntN(2)]
				sort.Slice(idx, func(a, b int) bool { return mine[idx[a]].id < mine[idx[b]].id })
				var priced []cart.PricedLine
				var lines []order.Line
				sum := money.Money{Currency: "EUR"}
				for _, j := range idx {
					p := mine[j]
					q := int64(1 + rng.IntN(3))
					push(cartStream, enc.event(cart.ItemAdded{CartID: customer, CustomerID: customer, ProductID: p.id, Quantity: q, UnitPrice: p.price, At: at}, meta))
					lt := money.Money{Amount: p.price.Amount * q, Currency: "EUR"}
					priced = append(priced, cart.PricedLine{ProductID: p.id, Quantity: q, UnitPrice: p.price, LineTotal: lt})
					lines = append(lines, order.Line{ProductID: p.id, Quantity: q, UnitPrice: p.price, LineTotal: lt})
					sum.Amount += lt.Amount
				}
				push(cartStream, enc.event(cart.CheckedOut{CartID: customer, CustomerID: customer, CheckoutID: checkout, Lines: priced, Total: sum, At: at.Add(time.Minute)}, meta))
				reservations := make([]string, len(lines))
				for i, l := range lines {
					reservations[i] = uuid.NewString()
					push(catalog.StreamID(l.ProductID), enc.event(catalog.StockReserved{ProductID: l.ProductID, ReservationID: reservations[i], CheckoutID: checkout,
						Quantity: l.Quantity, ExpiresAt: at.Add(time.Hour), At: at.Add(time.Minute)}, meta))
				}
				paymentID := uuid.NewString()
				payStream := payment.StreamID(paymentID)
				push(payStream, enc.event(payment.IntentCreated{PaymentID: paymentID, CheckoutID: checkout, CustomerID: customer, ProviderID: "pi_" + paymentID[:8], Amount: sum, At: at.Add(time.Minute)}, meta))
				push(payStream, enc.event(payment.Succeeded{PaymentID: paymentID, CheckoutID: checkout, Amount: sum, At: at.Add(2 * time.Minute)}, meta))
				for i, l := range lines {
					push(catalog.StreamID(l.ProductID), enc.event(catalog.ReservationCommitted{ProductID: l.ProductID, ReservationID: reservations[i], Quantity: l.Quantity, At: at.Add(2 * time.Minute)}, meta))
				}
				orderID := uuid.NewString()
				orderStream := order.StreamID(orderID)
				push(orderStream, enc.event(order.Placed{OrderID: orderID, CustomerID: customer, CheckoutID: checkout, PaymentID: paymentID, Lines: lines, Total: sum, At: at.Add(3 * time.Minute)}, meta))
				push(cartStream, enc.event(cart.Cleared{CartID: customer, CheckoutID: checkout, At: at.Add(3 * time.Minute)}, meta))
				later := at.Add(24 * time.Hour)
				switch rng.IntN(4) {
				case 0: // stays placed
				case 1:
					push(orderStream, enc.event(order.Cancelled{OrderID: orderID, Reason: "changed my mind", At: later}, meta))
					push(payStream, enc.event(payment.Refunded{PaymentID: paymentID, CheckoutID: checkout, Amount: sum, Reason: "cancelled", At: later}, meta))
					push(orderStream, enc.event(order.Refunded{OrderID: orderID, PaymentID: paymentID, Amount: sum, At: later}, meta))
				default:
					push(orderStream, enc.event(order.Processing{OrderID: orderID, At: later}, meta))
					push(orderStream, enc.event(order.Shipped{OrderID: orderID, Carrier: "DHL", TrackingNumber: "TRK" + orderID[:8], At: later.Add(time.Hour)}, meta))
				}
				// An order's and a payment's streams are complete: write
				// them now; carts and products fill up to a batch.
				flush(payStream)
				flush(orderStream)
				for _, l := range lines {
					if ps := catalog.StreamID(l.ProductID); len(buffers[ps]) >= rsBatch {
						flush(ps)
					}
				}
			}
			for stream := range buffers {
				flush(stream)
			}
		})
	}
	wg.Wait()
	log.Printf("wrote %d domain events in %v", total.Load(), time.Since(began).Round(time.Millisecond))
	return total.Load(), sample
}

// benchRebuild writes the log, measures COPY of as many rows into a bare
// table, then rebuilds every projection at once and compares.
func benchRebuild(ctx context.Context, url string, rc *goredis.Client, n int) {
	s, schema, done := freshStore(ctx, url, 24)
	defer done()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	// The table starts empty: without fresh statistics append_batch's
	// cached plans keep scanning it whole and the write slows to a crawl
	// as it grows. Analyze it while it fills (a harness workaround).
	actx, astop := context.WithCancel(ctx)
	analyzed := make(chan struct{})
	go func() {
		defer close(analyzed)
		for {
			select {
			case <-actx.Done():
				return
			case <-time.After(3 * time.Second):
			}
			if _, err := conn.Exec(ctx, "ANALYZE "+schema+".events"); err != nil && actx.Err() == nil {
				log.Printf("analyze: %v", err)
			}
		}
	}()
	written, sample := writeLog(ctx, s, n)
	astop()
	<-analyzed
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+schema+".events"); err != nil {
		fatalf("%v", err)
	}

	// The baseline: COPY the same number of rows shaped like the events.
	table := pgx.Identifier{schema, "copy_baseline"}
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table.Sanitize()+
		" (position bigint, stream text, version bigint, type text, data jsonb, metadata jsonb)"); err != nil {
		fatalf("copy table: %v", err)
	}
	i := int64(0)
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= written {
			return nil, nil
		}
		e := sample[i%int64(len(sample))]
		i++
		return []any{i, "stream-" + fmt.Sprint(i%50000), i / 50000, e.Type, json.RawMessage(e.Data), json.RawMessage(e.Metadata)}, nil
	})
	t0 := time.Now()
	copied, err := conn.CopyFrom(ctx, table, []string{"position", "stream", "version", "type", "data", "metadata"}, src)
	if err != nil {
		fatalf("copy: %v", err)
	}
	copyRate := float64(copied) / time.Since(t0).Seconds()
	line(fmt.Sprintf("pg_copy_%drows", copied), copyRate, "rows/s", 0)
	if _, err := conn.Exec(ctx, "DROP TABLE "+table.Sanitize()); err != nil {
		fatalf("%v", err)
	}

	codec := commands.NewCodec()
	models := []pgproj.Model{&pgproj.Catalog{Codec: codec}, &pgproj.Orders{Codec: codec}, pgproj.Correlations{}, analytics.NewPostgres(codec)}
	pg, closePG := readModelStore(ctx, url, models...)
	defer closePG()
	type job struct {
		name string
		run  func() error
	}
	var jobs []job
	// Batches of 5,000, as the engine rebuilds (internal/app rebuildBatch).
	for _, m := range models {
		jobs = append(jobs, job{m.Name(), func() error { return pg.Rebuild(ctx, s, m, pgproj.RebuildOptions{Batch: 5000}) }})
	}
	if rc != nil {
		prefix := "esbench:" + uuid.NewString()[:8] + ":"
		cleanups = append(cleanups, func() { dropRedisPrefix(rc, prefix) })
		defer dropRedisPrefix(rc, prefix)
		carts := &redisproj.Carts{Client: rc, Prefix: prefix, Codec: codec}
		jobs = append(jobs, job{"carts_redis", func() error { return carts.Rebuild(ctx, s, redisproj.RebuildOptions{Batch: 5000}) }})
	}
	took := make([]time.Duration, len(jobs))
	var wg sync.WaitGroup
	start := time.Now()
	for k, j := range jobs {
		wg.Go(func() {
			t := time.Now()
			if err := j.run(); err != nil {
				fatalf("rebuild %s: %v", j.name, err)
			}
			took[k] = time.Since(t)
		})
	}
	wg.Wait()
	wall := time.Since(start)
	line("pg_rebuild_all_projections", float64(written)/wall.Seconds(), "events/s", copyRate)
	for k, j := range jobs {
		line("pg_rebuild_"+j.name+"_ms", ms(took[k]), "ms", 0)
	}
}

// benchLag measures how long after an add-to-cart the carts projection
// (Redis) has processed it, at half the maximum add-to-cart rate, with the
// catalog (PostgreSQL) following live beside it.
func benchLag(ctx context.Context, url string, rc *goredis.Client, dur time.Duration) {
	if rc == nil {
		log.Printf("skipping the projection lag figure: it needs Redis (-redis)")
		return
	}
	s, _, done := freshStore(ctx, url, 24)
	defer done()
	codec := commands.NewCodec()
	catalogModel := &pgproj.Catalog{Codec: codec}
	pg, closePG := readModelStore(ctx, url, catalogModel)
	defer closePG()
	prefix := "esbench:" + uuid.NewString()[:8] + ":"
	cleanups = append(cleanups, func() { dropRedisPrefix(rc, prefix) })
	defer dropRedisPrefix(rc, prefix)
	carts := &redisproj.Carts{Client: rc, Prefix: prefix, Codec: codec}

	runner := &projections.Runner{Store: s, Poll: 5 * time.Millisecond}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, p := range []projections.Projection{
		{Name: "carts", Filter: projections.CartFilter, Target: carts.Target()},
		{Name: "catalog", Filter: catalogModel.Filter(), Target: pg.Target(catalogModel)},
	} {
		wg.Go(func() { _ = runner.Run(rctx, p) })
	}
	defer func() { stop(); wg.Wait() }()

	r := &commands.Runner{Store: s, Codec: codec, Cache: commands.NewStateCache(10000)}
	product := uuid.NewString()
	at := time.Now()
	for _, c := range []any{
		catalog.CreateProduct{ProductID: product, SKU: "LAG-1", Name: "Lag", Price: money.Money{Amount: 100, Currency: "EUR"}, At: at},
		catalog.AdjustStock{ProductID: product, Delta: 1 << 40, At: at},
	} {
		if _, err := commands.Handle(ctx, r, commands.Product, catalog.StreamID(product), c, commands.Metadata{CommandID: uuid.NewString()}); err != nil {
			fatalf("%v", err)
		}
	}
	add := func(ctx context.Context, shopper string) error {
		_, err := commands.AddToCart(ctx, r, cart.AddItem{CartID: shopper, CustomerID: shopper, ProductID: product, Quantity: 1, At: time.Now()},
			commands.Metadata{CommandID: uuid.NewString()})
		if err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
	maxRate := commandRate(ctx, 16, min(dur, 4*time.Second), add)
	line("projection_lag_max_addtocart_16shoppers", maxRate, "commands/s", 0)

	// Let the projections drain what the maximum rate left behind.
	head, _ := s.Head(ctx)
	for deadline := time.Now().Add(10 * time.Second); runner.Through("carts") < head && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}

	type sample struct {
		head eventstore.Position
		at   time.Time
	}
	var mu sync.Mutex
	var samples []sample
	var viaRunner, viaModel []time.Duration
	// reached resolves, in order, the samples a position has reached.
	reached := func(next *int, pos eventstore.Position, lags *[]time.Duration) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for *next < len(samples) && samples[*next].head <= pos {
			*lags = append(*lags, now.Sub(samples[*next].at))
			*next++
		}
	}
	lctx, lstop := context.WithCancel(ctx)
	var lwg sync.WaitGroup
	lwg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for lctx.Err() == nil {
			at := time.Now()
			h, err := s.Head(lctx)
			if err == nil {
				mu.Lock()
				samples = append(samples, sample{h, at})
				mu.Unlock()
			}
			select {
			case <-lctx.Done():
			case <-t.C:
			}
		}
	})
	var nextRunner, nextModel int
	lwg.Go(func() {
		for lctx.Err() == nil {
			reached(&nextRunner, runner.Through("carts"), &viaRunner)
			time.Sleep(time.Millisecond)
		}
	})
	lwg.Go(func() {
		for lctx.Err() == nil {
			if pos, err := carts.Position(lctx); err == nil {
				reached(&nextModel, pos, &viaModel)
			}
			time.Sleep(time.Millisecond)
		}
	})
	shoppers := make([]string, 16)
	half := paced(ctx, 16, dur, maxRate/2, func(ctx context.Context, worker, n int) error {
		if n%shopperCommands == 1 || shoppers[worker] == "" {
			shoppers[worker] = uuid.NewString()
		}
		return add(ctx, shoppers[worker])
	})
	// Give the last samples time to be reached, then stop.
	time.Sleep(500 * time.Millisecond)
	lstop()
	lwg.Wait()
	mu.Lock()
	defer mu.Unlock()
	line("projection_lag_addtocart_rate", half.rate, "commands/s", 0)
	for _, v := range []struct {
		name string
		lags []time.Duration
		next int
	}{{"projection_lag_carts", viaRunner, nextRunner}, {"projection_lag_carts_model", viaModel, nextModel}} {
		sort.Slice(v.lags, func(i, j int) bool { return v.lags[i] < v.lags[j] })
		if len(v.lags) == 0 {
			log.Printf("%s: no sample reached", v.name)
			continue
		}
		line(v.name+"_p50", ms(v.lags[len(v.lags)/2]), "ms", 0)
		line(v.name+"_p99", ms(v.lags[len(v.lags)*99/100]), "ms", 0)
		if left := len(samples) - v.next; left > 0 {
			log.Printf("%s: %d of %d samples not reached", v.name, left, len(samples))
		}
	}
}

// benchCatalogHTTP loads the cached product list of the read API and a bare
// gin handler answering the same bytes, alternating, over loopback.
func benchCatalogHTTP(ctx context.Context, dur time.Duration) {
	gin.SetMode(gin.ReleaseMode)
	enc := encoder{commands.NewCodec()}
	cat := projections.NewMemoryCatalog(enc.codec)
	var evs []eventstore.Event
	at := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := range 1000 {
		id := uuid.NewString()
		for v, p := range []any{
			catalog.ProductCreated{ProductID: id, SKU: fmt.Sprintf("SKU-%05d", i), Name: fmt.Sprintf("Product %d", i),
				Description: "a product of the catalog benchmark", Category: fmt.Sprintf("cat%d", i%10),
				Price: money.Money{Amount: int64(199 + (i*7919)%9000), Currency: "EUR"}, ImageURL: "https://cdn.example.com/p/" + id + ".jpg", At: at},
			catalog.StockAdjusted{ProductID: id, Delta: 100, OnHand: 100, Reason: "delivery", At: at},
		} {
			d := enc.event(p, nil)
			evs = append(evs, eventstore.Event{ID: d.ID, StreamID: catalog.StreamID(id), Version: int64(v + 1), Position: eventstore.Position(len(evs) + 1),
				Type: d.Type, SchemaVersion: d.SchemaVersion, Data: d.Data, Metadata: []byte("{}"), RecordedAt: at})
		}
	}
	if err := cat.Apply(ctx, evs); err != nil {
		fatalf("catalog: %v", err)
	}
	c := &cache.Cache{Version: cat.Position}
	cctx, cstop := context.WithCancel(ctx)
	defer cstop()
	go func() { _ = c.Run(cctx) }()
	api := &httpapi.Reads{Catalog: cat, CatalogCache: c.Middleware()}
	engine := gin.New()
	api.Mount(engine, func(c *gin.Context) { c.Next() })
	url, stop := serve(engine)
	defer stop()
	time.Sleep(50 * time.Millisecond) // the cache's first version read

	get := func(u string) ([]byte, string) {
		resp, err := http.Get(u)
		if err != nil {
			fatalf("%v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			fatalf("GET %s: %d %s", u, resp.StatusCode, b)
		}
		return b, resp.Header.Get("Content-Type")
	}
	path := ""
	for size := 1; size <= 100; size++ {
		p := fmt.Sprintf("/api/v1/products?category=cat3&page_size=%d", size)
		if b, _ := get(url + p); len(b) >= 1024 || path == "" {
			path = p
			if len(b) >= 1024 {
				break
			}
		}
	}
	body, ct := get(url + path)
	log.Printf("catalog page %s: %d bytes, %s", path, len(body), ct)
	bare := gin.New()
	bare.GET("/api/v1/products", func(c *gin.Context) { c.Data(http.StatusOK, ct, body) })
	bareURL, stopBare := serve(bare)
	defer stopBare()

	var bareRates, cachedRates []float64
	for range 2 {
		bareRates = append(bareRates, getLoad(ctx, bareURL+path, 64, dur))
		cachedRates = append(cachedRates, getLoad(ctx, url+path, 64, dur))
	}
	b, cr := median(bareRates), median(cachedRates)
	line("http_catalog_bare", b, "req/s", 0)
	line("http_catalog_cached", cr, "req/s", b)
}

// median returns the middle of xs (the mean of the two middles).
func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// getLoad sends GET url from clients keep-alive connections as fast as
// they answer for dur and returns requests/s.
func getLoad(ctx context.Context, url string, clients int, dur time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	return paced(ctx, clients, dur, 0, func(ctx context.Context, _, _ int) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}).rate
}
