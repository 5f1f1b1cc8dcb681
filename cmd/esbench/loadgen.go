package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// lgAdmin signs in the load generator's admin on the engines it starts.
const (
	lgAdminEmail    = "bench-admin@example.com"
	lgAdminPassword = "bench admin password 1"
)

// benchLoadgen runs `commerce loadgen` against `commerce serve` on
// PostgreSQL + Redis + RabbitMQ, first with every role in one process, then
// with the roles in separate processes (either can be left out), each time
// at the maximum rate (many shoppers) and at a lower one (a quarter of
// them), and prints orders/s and webhook-to-order-visible latency. Each run gets its own database, Redis
// database (which must be empty) and RabbitMQ vhost (made with rabbitmqctl),
// all removed afterwards.
//
// With profile set, the engine's processes at the maximum rate serve Go's
// profiler and the middle half of that run's CPU profile is written there
// (all roles in one process) or to profile.<roles>-<n> (split roles).
func benchLoadgen(ctx context.Context, pgURL, redisURL, amqpURL string, shoppers int, dur time.Duration, allInOne, withSplit bool, profile string) {
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		log.Printf("skipping the loadgen figures: rabbitmqctl is needed for a vhost of their own")
		return
	}
	dir, err := os.MkdirTemp("", "esbench-loadgen-")
	if err != nil {
		fatalf("loadgen: %v", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	bin := filepath.Join(dir, "commerce")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/commerce").CombinedOutput(); err != nil {
		fatalf("loadgen: build commerce: %v\n%s", err, out)
	}
	var modes []bool
	if allInOne {
		modes = append(modes, false)
	}
	if withSplit {
		modes = append(modes, true)
	}
	for _, split := range modes {
		name := "allinone"
		if split {
			name = "split"
		}
		for _, n := range []int{shoppers, max(1, shoppers/4)} {
			env, cleanup := lgEnvironment(ctx, pgURL, redisURL, amqpURL)
			profiled := profile != "" && n == shoppers
			stop, debug := lgServe(ctx, bin, dir, env, split, profiled)
			got := make(chan struct{})
			go func() {
				defer close(got)
				if !profiled {
					return
				}
				time.Sleep(dur / 4)
				var wg sync.WaitGroup
				for proc, addr := range debug {
					file := profile
					if split {
						file += "." + proc
					}
					wg.Go(func() { lgProfile(addr, dur/2, file) })
				}
				wg.Wait()
			}()
			out := lgRun(ctx, bin, env, n, dur)
			<-got
			stop()
			cleanup()
			orders, p99 := lgParse(out)
			fmt.Printf("loadgen_%s_%dshoppers %s orders/s webhook_to_order_p99=%s\n", name, n, orders, p99)
		}
	}
}

// lgEnvironment makes a database, an empty Redis database and a vhost for
// one run and returns the engine's environment and what removes them.
func lgEnvironment(ctx context.Context, pgURL, redisURL, amqpURL string) ([]string, func()) {
	// Redis first: a refused run must leave no database behind.
	ru, err := url.Parse(redisURL)
	if err != nil {
		fatalf("loadgen: -redis: %v", err)
	}
	ru.Path = "/14"
	opts, _ := redis.ParseURL(ru.String())
	rc := redis.NewClient(opts)
	if n, err := rc.DBSize(ctx).Result(); err != nil || n != 0 {
		_ = rc.Close()
		fatalf("loadgen: Redis database 14 of %s must be empty (%d keys, %v)", ru.Host, n, err)
	}
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	db := "esbench_lg_" + suffix
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		fatalf("loadgen: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		fatalf("loadgen: create database: %v", err)
	}
	_ = conn.Close(ctx)
	pu, _ := url.Parse(pgURL)
	pu.Path = "/" + db
	vhost := "esbench_lg_" + suffix
	cleanup := func() {
		bg := context.Background()
		_ = exec.Command("rabbitmqctl", "delete_vhost", vhost).Run()
		_ = rc.FlushDB(bg).Err()
		_ = rc.Close()
		if c, err := pgx.Connect(bg, pgURL); err == nil {
			_, _ = c.Exec(bg, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
			_ = c.Close(bg)
		}
	}
	cleanups = append(cleanups, cleanup)
	for _, args := range [][]string{{"add_vhost", vhost}, {"set_permissions", "-p", vhost, lgUser(amqpURL), ".*", ".*", ".*"}} {
		if out, err := exec.CommandContext(ctx, "rabbitmqctl", args...).CombinedOutput(); err != nil {
			fatalf("loadgen: rabbitmqctl %v: %v\n%s", args, err, out)
		}
	}
	au, _ := url.Parse(amqpURL)
	au.Path = "/" + vhost
	return []string{
		"COMMERCE_EVENTSTORE_URL=" + pu.String(), "COMMERCE_READMODEL_URL=" + pu.String(),
		"COMMERCE_REDIS_URL=" + ru.String(), "COMMERCE_AMQP_URL=" + au.String(),
		"COMMERCE_JWT_SECRET=" + strings.Repeat("e", 32), "COMMERCE_LOG_LEVEL=warn",
		"COMMERCE_ADMIN_EMAIL=" + lgAdminEmail, "COMMERCE_ADMIN_PASSWORD=" + lgAdminPassword,
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GOGC=" + os.Getenv("GOGC"),
	}, cleanup
}

func lgUser(amqpURL string) string {
	if u, err := url.Parse(amqpURL); err == nil && u.User != nil {
		return u.User.Username()
	}
	return "guest"
}

// lgServe starts the engine: one process with every role, or one per role
// (two saga workers) with the consumers before the relay. It returns what
// stops them; the api process listens on lgPort.
func lgServe(ctx context.Context, bin, dir string, env []string, split, profiled bool) (func(), map[string]string) {
	roles := [][]string{{"api,projector,saga,notifier,relay"}}
	if split {
		roles = [][]string{{"saga"}, {"saga"}, {"projector"}, {"notifier"}, {"api"}, {"relay"}}
	}
	var procs []*exec.Cmd
	debug := map[string]string{}
	for i, r := range roles {
		addr := "127.0.0.1:0"
		if strings.Contains(r[0], "api") {
			addr = lgAddr
		}
		cmd := exec.CommandContext(ctx, bin, "serve", "-roles", r[0], "-http-addr", addr, "-data-dir", filepath.Join(dir, fmt.Sprint("data", i)))
		cmd.Env = env
		if profiled {
			d := freeAddr()
			debug[fmt.Sprintf("%s-%d", strings.ReplaceAll(r[0], ",", "+"), i)] = d
			cmd.Env = append(slices.Clone(env), "COMMERCE_DEBUG_ADDR="+d)
		}
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			fatalf("loadgen: start %v: %v", r, err)
		}
		procs = append(procs, cmd)
		time.Sleep(time.Second) // consumers declare their queues before the relay publishes
	}
	stop := func() {
		for _, p := range procs {
			_ = p.Process.Signal(os.Interrupt)
		}
		for _, p := range procs {
			_ = p.Wait()
		}
	}
	cleanups = append(cleanups, stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + lgAddr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return stop, debug
			}
		}
		if time.Now().After(deadline) {
			stop()
			fatalf("loadgen: the engine is not ready on %s after 60 s", lgAddr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lgProfile writes a CPU profile of d from the engine's profiler at addr.
func lgProfile(addr string, d time.Duration, file string) {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())))
	if err != nil {
		log.Printf("loadgen profile: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		log.Printf("loadgen profile: %v", err)
		return
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		log.Printf("loadgen profile: %v", err)
		return
	}
	if err := f.Close(); err != nil { // the profile is written only once this succeeds
		log.Printf("loadgen profile: %v", err)
		return
	}
	log.Printf("loadgen profile at the maximum rate: go tool pprof -top %s", file)
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:16060"
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lgAddr is where the api process listens.
var lgAddr = func() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:18099"
	}
	defer ln.Close()
	return ln.Addr().String()
}()

func lgRun(ctx context.Context, bin string, env []string, shoppers int, dur time.Duration) string {
	cmd := exec.CommandContext(ctx, bin, "loadgen", "-url", "http://"+lgAddr, "-shoppers", fmt.Sprint(shoppers),
		"-duration", dur.String(), "-products", "50")
	cmd.Env = env
	var out, progress bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &progress
	if err := cmd.Run(); err != nil {
		fatalf("loadgen: %v\n%s\n%s", err, out.String(), progress.String())
	}
	log.Printf("loadgen, %d shoppers:\n%s", shoppers, out.String())
	return out.String()
}

var (
	lgOrders = regexp.MustCompile(`orders \d+ in [^:]+: ([0-9.]+) orders/s`)
	lgP99    = regexp.MustCompile(`webhook_to_order_visible\s+n=\d+\s+p50 \S+\s+p95 \S+\s+p99 (\S+)`)
)

func lgParse(out string) (orders, p99 string) {
	orders, p99 = "?", "?"
	if m := lgOrders.FindStringSubmatch(out); m != nil {
		orders = m[1]
	}
	if m := lgP99.FindStringSubmatch(out); m != nil {
		p99 = m[1]
	}
	return orders, p99
}
