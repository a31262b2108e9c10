package kcl_test

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/consumer/kcl"
)

// The worker's endpoints: the process answers at once, the worker only once it runs (Run marks it ready after the
// KCL worker started, and not ready again when shutting down).
func ExampleServe() {
	srv, err := kcl.Serve("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	get := func(path string) {
		res, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			fmt.Println(path, err)
			return
		}
		res.Body.Close()
		fmt.Println(path, res.Status)
	}
	get(kcl.HealthPath)
	get(kcl.ReadyPath)
	srv.SetReady(true)
	get(kcl.ReadyPath)
	get("/metrics")
	// Output:
	// /healthz 200 OK
	// /readyz 503 Service Unavailable
	// /readyz 200 OK
	// /metrics 200 OK
}
