// Package prom holds what kinflow's packages share in exposing their Prometheus metrics.
package prom

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers every collector with reg and returns the failures, all of them (a name registered twice, by
// two components sharing a registry, is a bug to see whole). A nil reg registers nothing: the component's metrics
// are kept but not exposed, as tests and the tools that need none want.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
