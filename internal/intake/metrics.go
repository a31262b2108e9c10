package intake

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/prom"
)

type metrics struct {
	objects *prometheus.CounterVec
	seconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "s3_objects_total",
			Help: "S3 objects by outcome: read, or the reason they could not be (unknown_layout, bad_gzip, not_found, ...)."},
			[]string{"result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "kinflow", Name: "s3_object_seconds",
			Help: "Time to read one S3 object into the index.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
	}
	if err := prom.Register(reg, m.objects, m.seconds); err != nil {
		return nil, fmt.Errorf("intake: registering metrics: %w", err)
	}
	return m, nil
}
