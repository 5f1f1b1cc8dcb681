package app

import (
	"context"
	"log/slog"
	"runtime"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/commerce-engine/commerce/httpapi"
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

	r.GET("/healthz", httpapi.Healthz)
	checks := map[string]func(context.Context) error{"eventstore": store.Ping}
	for name, check := range m.readyChecks {
		checks[name] = check
	}
	r.GET("/readyz", httpapi.Readyz(m.log, readyTimeout, checks))
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
