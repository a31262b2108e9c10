package finalize

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/prom"
)

// metrics are the finalizer's; the webhook client counts its own attempts and deliveries.
type metrics struct {
	watermark    prometheus.Gauge
	windows      *prometheus.CounterVec
	forced       prometheus.Counter
	finals       prometheus.Counter
	deadLettered *prometheus.CounterVec
	lockHeld     prometheus.Gauge
	passSeconds  prometheus.Histogram
	alerts       *prometheus.CounterVec
	// detectionErrors counts windows finalized without their alerts (errDetectionInput).
	detectionErrors prometheus.Counter
	// candidatesDropped counts the sets a window had beyond what the rules keep (maxCandidates).
	candidatesDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		watermark: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "kinflow", Name: "finalizer_watermark_seconds",
			Help: "Event-time watermark over all shards (Unix seconds)."}),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "finalizer_windows_total",
			Help: "Windows finalized (first revision), corrected (later revisions), or left to another finalizer (conflict)."},
			[]string{"result"}),
		forced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "finalizer_forced_windows_total",
			Help: "Windows closed by the wall-clock safety net because the watermark was held back."}),
		finals: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "finals_written_total",
			Help: "Final connection-set documents written."}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "webhook_dead_letters_total",
			Help: "Webhook chunks dead-lettered after their last attempt, by reason."}, []string{"reason"}),
		lockHeld: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "kinflow", Name: "finalizer_lock_held",
			Help: "1 while this process holds the finalizer lock."}),
		passSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "kinflow", Name: "finalizer_pass_seconds",
			Help: "Duration of finalizer passes.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "alerts_total",
			Help: "Signals written by rule and by what they did to their alert: raised, continued or withdrawn (a redo counts again)."},
			[]string{"rule", "change"}),
		detectionErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "detection_errors_total",
			Help: "Windows finalized without their alerts because the rules met a document they cannot use (the log says which)."}),
		candidatesDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "detection_candidates_dropped_total",
			Help: "Connection sets a rule could have fired on, beyond the 100,000 a window keeps in memory: not judged."}),
	}
	if err := prom.Register(reg, m.watermark, m.windows, m.forced, m.finals, m.deadLettered, m.lockHeld, m.passSeconds,
		m.alerts, m.detectionErrors, m.candidatesDropped); err != nil {
		return nil, fmt.Errorf("finalize: registering metrics: %w", err)
	}
	return m, nil
}
