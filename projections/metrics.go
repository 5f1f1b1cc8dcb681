package projections

import "github.com/prometheus/client_golang/prometheus"

// LagCollector exports each projection's position, head and lag to
// Prometheus at scrape time, so that an alert can fire on a stuck or
// falling-behind projection.
type LagCollector struct {
	runner              *Runner
	lag, position, head *prometheus.Desc
	failed              *prometheus.Desc
}

// NewLagCollector returns the collector of r's projections.
func NewLagCollector(r *Runner) *LagCollector {
	labels := []string{"projection"}
	return &LagCollector{
		runner:   r,
		lag:      prometheus.NewDesc("commerce_projection_lag_events", "Positions between the log's head and the projection's checkpoint.", labels, nil),
		position: prometheus.NewDesc("commerce_projection_position", "Global position of the last event the projection applied.", labels, nil),
		head:     prometheus.NewDesc("commerce_projection_head", "Head of the log when the projection last looked.", labels, nil),
		failed:   prometheus.NewDesc("commerce_projection_failed", "1 while the projection is stuck on an event it cannot apply.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.position
	ch <- c.head
	ch <- c.failed
}

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.runner.Statuses() {
		failed := 0.0
		if s.State == StateFailed {
			failed = 1
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(s.Lag()), name)
		ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(s.Position), name)
		ch <- prometheus.MustNewConstMetric(c.head, prometheus.GaugeValue, float64(s.Head), name)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, failed, name)
	}
}
