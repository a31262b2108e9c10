package webhook

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/prom"
)

// Delivery results, the values of the deliveries metric's result label.
const (
	resultDelivered = "delivered"
	resultRejected  = "rejected"
	resultExhausted = "exhausted"
	resultCancelled = "cancelled" // the caller's context ended: to be delivered again, not dead-lettered
)

// Attempt outcomes without an answer; answers are labelled by status class (2xx, 3xx, 4xx, 5xx).
const (
	outcomeNetwork = "network"
	outcomeTimeout = "timeout"
)

type metrics struct {
	attempts   *prometheus.CounterVec   // outcome
	deliveries *prometheus.CounterVec   // result
	duration   *prometheus.HistogramVec // outcome
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kinflow", Subsystem: "webhook", Name: "attempts_total",
			Help: "POST attempts by outcome: the answer's status class (2xx, 3xx, 4xx, 5xx), network or timeout.",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kinflow", Subsystem: "webhook", Name: "deliveries_total",
			Help: "Chunks by result: delivered; rejected or exhausted (both dead-lettered by the caller); " +
				"cancelled (the caller's context ended, to be sent again).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "kinflow", Subsystem: "webhook", Name: "request_duration_seconds",
			Help:    "Duration of one POST attempt, until its answer's body is read, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"outcome"}),
	}
	if err := prom.Register(reg, m.attempts, m.deliveries, m.duration); err != nil {
		return nil, fmt.Errorf("registering webhook metrics: %w", err)
	}
	return m, nil
}
