package sink

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/prom"
)

// metrics are per index family: a daily index is labelled without its date (kinflow-flows, not
// kinflow-flows-2026.11.23), so the number of series stays fixed however long the process runs.
type metrics struct {
	written      *prometheus.CounterVec   // index
	retried      *prometheus.CounterVec   // index, reason
	deadLettered *prometheus.CounterVec   // index, reason
	bytes        *prometheus.CounterVec   // index
	requests     *prometheus.CounterVec   // outcome
	latency      *prometheus.HistogramVec // outcome
	inFlight     prometheus.Gauge
}

func newMetrics(name string, reg prometheus.Registerer) (*metrics, error) {
	labels := prometheus.Labels{"sink": name}
	m := &metrics{
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kinflow", Subsystem: "sink", Name: "docs_written_total", ConstLabels: labels,
			Help: "Documents durable in the cluster (a create answered 409 counts: it was written before).",
		}, []string{"index"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kinflow", Subsystem: "sink", Name: "docs_retried_total", ConstLabels: labels,
			Help: "Documents resent after a transient failure, by reason (item status, request status or transport).",
		}, []string{"index", "reason"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kinflow", Subsystem: "sink", Name: "docs_dead_lettered_total", ConstLabels: labels,
			Help: "Documents the cluster refused permanently, written to the dead-letter index instead, by error type.",
		}, []string{"index", "reason"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kinflow", Subsystem: "sink", Name: "bytes_total", ConstLabels: labels,
			Help: "Bytes of bulk request bodies sent (action and source lines), retries included.",
		}, []string{"index"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kinflow", Subsystem: "sink", Name: "bulk_requests_total", ConstLabels: labels,
			Help: "Bulk requests by outcome: ok, item_errors, retry (429/5xx/transport), split (413/400), rejected.",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "kinflow", Subsystem: "sink", Name: "bulk_duration_seconds", ConstLabels: labels,
			Help:    "Duration of bulk requests, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kinflow", Subsystem: "sink", Name: "bulk_in_flight", ConstLabels: labels,
			Help: "Bulk requests being sent or waiting to retry.",
		}),
	}
	if err := prom.Register(reg, m.written, m.retried, m.deadLettered, m.bytes, m.requests, m.latency, m.inFlight); err != nil {
		return nil, fmt.Errorf("registering sink metrics: %w", err)
	}
	return m, nil
}

// observeRequest counts a bulk request and its duration by outcome.
func (m *metrics) observeRequest(outcome string, took time.Duration) {
	m.requests.WithLabelValues(outcome).Inc()
	m.latency.WithLabelValues(outcome).Observe(took.Seconds())
}

// A tally accumulates a worker's counts per index family for one request or round, so that a batch costs one
// counter update per family rather than one per document.
type tally map[string]float64

// flush adds the counts to c and starts over.
func (t tally) flush(c *prometheus.CounterVec) {
	for f, n := range t {
		c.WithLabelValues(f).Add(n)
	}
	clear(t)
}
