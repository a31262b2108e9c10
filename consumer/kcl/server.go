package kcl

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The paths of the health endpoints: the container health check (`consumer health`) probes them, so it takes them
// from here rather than repeating them.
const (
	HealthPath = "/healthz" // 200 while the process answers
	ReadyPath  = "/readyz"  // 200 while the KCL worker runs, 503 before it started and once it shuts down
)

// Server serves the worker's /metrics and its health endpoints. Run starts one; it is exported so that the probe's
// tests can run against the endpoint the worker really serves.
type Server struct {
	srv   *http.Server
	ready atomic.Bool
}

// Serve listens on addr (port 0 picks a free one, see Addr) and serves /metrics from reg, HealthPath and ReadyPath,
// not ready until SetReady(true).
func Serve(addr string, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	s := &Server{}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc(HealthPath, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc(ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	s.srv = &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "error", err)
		}
	}()
	return s, nil
}

// Addr is the address the server listens on, with the port it was given when addr asked for any.
func (s *Server) Addr() string { return s.srv.Addr }

// SetReady says whether ReadyPath answers 200.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Close stops serving at once.
func (s *Server) Close() error { return s.srv.Close() }
