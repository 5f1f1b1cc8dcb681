package main

import (
	"context"
	"errors"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commerce-engine/commerce/auth"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/readapi"
)

// readSide runs the projections this process serves reads from.
type readSide struct {
	runner *projections.Runner
	api    *readapi.API
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startReadSide starts the in-memory catalog model, rebuilt from the log at
// start and then following it live. It runs until stop, not until the
// serve context ends, so that reads in flight during a graceful stop are
// still answered.
func (m *Main) startReadSide(store eventstore.Store) *readSide {
	ctx, cancel := context.WithCancel(context.Background())
	rs := &readSide{runner: &projections.Runner{Store: store}, cancel: cancel}
	codec := commands.NewCodec()
	catalog := projections.NewMemoryCatalog(codec)
	carts := projections.NewMemoryCarts(codec)
	orders := projections.NewMemoryOrders(codec)
	correlations := projections.NewMemoryCorrelations()
	rs.api = &readapi.API{Catalog: catalog, Carts: carts, Orders: orders, Correlations: correlations, Projections: rs.runner, Store: store, Codec: codec}
	for _, p := range []projections.Projection{
		{Name: "catalog", Filter: projections.CatalogFilter, Target: catalog},
		{Name: "carts", Filter: projections.CartFilter, Target: carts},
		{Name: "orders", Filter: projections.OrderFilter, Target: orders},
		{Name: "correlations", Target: correlations},
	} {
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			if err := rs.runner.Run(ctx, p); err != nil && !errors.Is(err, context.Canceled) {
				m.log.Error("projection stopped", "projection", p.Name, "error", err)
			}
		}()
	}
	return rs
}

// mount registers the read routes; authn guards the caller's own ones.
func (rs *readSide) mount(authn gin.HandlerFunc) func(gin.IRouter) {
	return func(r gin.IRouter) {
		rs.api.Mount(r, authn)
		rs.api.MountAdmin(r, authn, auth.RequireRole(auth.Admin))
	}
}

// stop ends the projections and waits for them.
func (rs *readSide) stop() {
	rs.cancel()
	rs.wg.Wait()
}

// lagCollector exports each projection's position, head and lag to
// /metrics at scrape time.
type lagCollector struct {
	runner              *projections.Runner
	lag, position, head *prometheus.Desc
	failed              *prometheus.Desc
}

func newLagCollector(r *projections.Runner) *lagCollector {
	labels := []string{"projection"}
	return &lagCollector{
		runner:   r,
		lag:      prometheus.NewDesc("commerce_projection_lag_events", "Positions between the log's head and the projection's checkpoint.", labels, nil),
		position: prometheus.NewDesc("commerce_projection_position", "Global position of the last event the projection applied.", labels, nil),
		head:     prometheus.NewDesc("commerce_projection_head", "Head of the log when the projection last looked.", labels, nil),
		failed:   prometheus.NewDesc("commerce_projection_failed", "1 while the projection is stuck on an event it cannot apply.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.position
	ch <- c.head
	ch <- c.failed
}

// Collect implements prometheus.Collector.
func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.runner.Statuses() {
		failed := 0.0
		if s.State == projections.StateFailed {
			failed = 1
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(s.Lag()), name)
		ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(s.Position), name)
		ch <- prometheus.MustNewConstMetric(c.head, prometheus.GaugeValue, float64(s.Head), name)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, failed, name)
	}
}
