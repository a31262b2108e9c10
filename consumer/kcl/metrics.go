package kcl

import "github.com/prometheus/client_golang/prometheus"

// consumerMetrics are the worker's own metrics, beside the pipeline's and the sink's.
type consumerMetrics struct {
	shardsHeld       prometheus.Gauge
	millisBehind     *prometheus.GaugeVec
	lastCheckpoint   *prometheus.GaugeVec
	checkpoints      *prometheus.CounterVec
	checkpointErrors prometheus.Counter
	progressErrors   prometheus.Counter
	leasesLost       prometheus.Counter
}

func newConsumerMetrics(reg prometheus.Registerer) *consumerMetrics {
	m := &consumerMetrics{
		shardsHeld: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "kinflow", Name: "leases_held",
			Help: "Shard leases this worker holds."}),
		millisBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "kinflow", Name: "millis_behind_latest",
			Help: "How far behind the tip of its shard the last batch was (Kinesis MillisBehindLatest)."}, []string{"shard"}),
		lastCheckpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "kinflow", Name: "last_checkpoint_timestamp_seconds",
			Help: "When each shard was last checkpointed (checkpoint age = now - this)."}, []string{"shard"}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "checkpoints_total",
			Help: "Checkpoints written, by what caused them."}, []string{"cause"}),
		checkpointErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "checkpoint_errors_total",
			Help: "Checkpoints that failed (lease lost, DynamoDB error)."}),
		progressErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "progress_errors_total",
			Help: "Shard progress writes (for the finalizer's watermark) that failed."}),
		leasesLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "leases_lost_total",
			Help: "Shard leases lost while processing (taken for balance, run out, or a renewal failed)."}),
	}
	reg.MustRegister(m.shardsHeld, m.millisBehind, m.lastCheckpoint, m.checkpoints, m.checkpointErrors, m.progressErrors,
		m.leasesLost)
	return m
}
