package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/tracing"
)

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = 2 * time.Second

// router builds the HTTP handler: middleware first, then the operational
// endpoints, then the routes mounted with WithRoutes.
func (m *Main) router(store pingStore, mounts ...func(gin.IRouter)) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(m.version, m.commit),
	)
	reg.MustRegister(m.collectors...)
	r, err := httpedge.New(httpedge.Config{
		Log:          m.log,
		Metrics:      httpedge.NewMetrics(reg),
		QuietRoutes:  opsRoutes,
		StreamRoutes: []string{liveRoute},
		CORS:         httpedge.CORSConfig{AllowedOrigins: m.cfg.CORSOrigins},
		Trace:        tracing.HTTP(),
	})
	if err != nil {
		return nil, err
	}

	r.GET("/healthz", func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	checks := map[string]func(context.Context) error{"eventstore": store.Ping}
	for name, check := range m.readyChecks {
		checks[name] = check
	}
	r.GET("/readyz", readyz(m.log, readyTimeout, checks))
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:          reg,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		EnableOpenMetrics: false,
	})))

	for _, fn := range mounts {
		fn(r)
	}
	for _, fn := range m.routes {
		fn(r)
	}
	return r, nil
}

// buildInfo exports the running build as labels of a constant gauge.
func buildInfo(version, commit string) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "commerce_build_info",
		Help: "Always 1; labels tell the running build.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(version, commit, runtime.Version()).Set(1)
	return g
}

// opsRoutes are polled by probes and scrapers; their access log lines are
// debug-level so they do not drown the rest.
var opsRoutes = []string{"/healthz", "/readyz", "/metrics"}

// CheckResult is one dependency's entry in the /readyz answer, as its
// probes and the end-to-end tests read it.
type CheckResult struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// readyz answers 200 when every check passes within timeout, 503
// otherwise, with each dependency's status. Causes are logged, and only
// classified ("timeout", "unreachable") in the answer, which is public.
func readyz(log *slog.Logger, timeout time.Duration, checks map[string]func(context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
		defer cancel()
		var (
			mu      sync.Mutex
			wg      sync.WaitGroup
			results = make(map[string]CheckResult, len(checks))
			ready   = true
		)
		for name, check := range checks {
			wg.Go(func() {
				err := check(ctx)
				res := CheckResult{Status: "up"}
				if err != nil {
					res = CheckResult{Status: "down", Error: "unreachable"}
					if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
						res.Error = "timeout"
					}
					log.WarnContext(ctx, "readiness check failed", "dependency", name, "error", err,
						"request_id", httpedge.RequestID(ctx))
				}
				mu.Lock()
				results[name] = res
				ready = ready && err == nil
				mu.Unlock()
			})
		}
		wg.Wait()
		c.Header("Cache-Control", "no-store")
		if !ready {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not_ready", "checks": results})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": results})
	}
}
