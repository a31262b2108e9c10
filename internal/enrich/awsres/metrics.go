package awsres

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/prom"
)

// Refresh results, the values of the refreshes metric's result label.
const (
	resultOK     = "ok"
	resultFailed = "failed"
)

type metrics struct {
	refreshes   *prometheus.CounterVec // target, result
	lastSuccess *prometheus.GaugeVec   // target
	interfaces  prometheus.Gauge
	addresses   prometheus.Gauge
	dropped     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kinflow", Subsystem: "awsres", Name: "refreshes_total",
			Help: "Inventory refreshes by target (region, or region/role ARN) and result: ok, or failed (the target " +
				"keeps its previous interfaces).",
		}, []string{"target", "result"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "kinflow", Subsystem: "awsres", Name: "last_success_timestamp_seconds",
			Help: "Unix time of the target's last successful refresh.",
		}, []string{"target"}),
		interfaces: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kinflow", Subsystem: "awsres", Name: "interfaces",
			Help: "Network interfaces in the current snapshot.",
		}),
		addresses: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kinflow", Subsystem: "awsres", Name: "addresses",
			Help: "Distinct addresses indexed in the current snapshot.",
		}),
		dropped: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kinflow", Subsystem: "awsres", Name: "dropped_interfaces",
			Help: "Interfaces left out of the current snapshot by the max interfaces bound (a lower bound).",
		}),
	}
	if err := prom.Register(reg, m.refreshes, m.lastSuccess, m.interfaces, m.addresses, m.dropped); err != nil {
		return nil, fmt.Errorf("registering awsres metrics: %w", err)
	}
	return m, nil
}
