// Package console owns kinflow's security console: a read-only web UI (`consumer console`) over the flow, connection
// set, alert, load-balancer and dead-letter indices and the state table. The browser talks only to the console's own
// JSON API (one file per page: overview.go, flows.go, conns.go, alerts.go, lb.go, ip.go, health.go; what the flows'
// enrichment says an address is, for the IP page and the IP lists, in enrichment.go); the console talks to the cluster with
// the sink's client, through a guard that lets only searches out (readonly.go), so the cluster's credentials and its
// write paths never reach the browser. The pages are static files embedded in the binary (assets/), with no build step.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/state"
)

//go:embed assets
var assets embed.FS

// Config configures a Server.
type Config struct {
	// Prefix is the index prefix (KINFLOW_INDEX_PREFIX).
	Prefix string
	// Engine names the cluster's kind for the page (elasticsearch, opensearch); it changes no query.
	Engine string
	// Token, when set, is required of every request (see auth.go). Serve refuses a non-loopback listener without one.
	Token string
	// Timeout bounds each API request, cluster queries included.
	Timeout time.Duration
	// Window is the connection-set window width, for the health page's open windows.
	Window time.Duration
}

// DefaultConfig returns the defaults: the default prefix, a 15 s deadline per request, 10-minute windows.
func DefaultConfig() Config {
	return Config{Prefix: sink.DefaultPrefix, Engine: "elasticsearch", Timeout: 15 * time.Second, Window: 10 * time.Minute}
}

var prefixPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,99}$`)

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if !prefixPattern.MatchString(c.Prefix) {
		errs = append(errs, fmt.Errorf("console: prefix %q: want lowercase letters, digits, - and _", c.Prefix))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("console: timeout %v: want a positive duration", c.Timeout))
	}
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("console: window %v: want a positive duration", c.Window))
	}
	return errors.Join(errs...)
}

// StateReader is what the console reads of internal/state: shard progress and window records. *state.Store is one.
type StateReader interface {
	Progress(ctx context.Context) ([]state.Progress, error)
	Windows(ctx context.Context, from, to int64) ([]state.Window, error)
}

var _ StateReader = (*state.Store)(nil)

// A Page is one entry of the navigation. A page adds a row here and a renderer of the same id in assets/app.js;
// the nav is drawn from this list, so the two cannot drift silently (the page shows "no renderer" for a row
// without one).
type Page struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Pages is the navigation, in order. The IP page is reached by clicking an IP, not from the nav.
func Pages() []Page {
	return []Page{
		{"overview", "Overview"},
		{"flows", "Flows"},
		{"conns", "Connection sets"},
		{"alerts", "Alerts"},
		{"lb", "Load balancers"},
		{"health", "Pipeline health"},
	}
}

// Server serves the console. It is safe for concurrent use.
type Server struct {
	cfg     Config
	cluster sink.Doer // always the read-only guard
	state   StateReader
	log     *slog.Logger
	now     func() time.Time
	fields  fieldMaps
}

// New returns a console over cluster (the sink's client; wrapped so that only reads pass) and st (nil: no state
// table configured, the health page says so).
func New(cfg Config, cluster sink.Doer, st StateReader, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cluster == nil {
		return nil, errors.New("console: a cluster client is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, cluster: ReadOnly(cluster), state: st, log: log, now: time.Now, fields: newFieldMaps()}, nil
}

// Handler returns the console's routes: the pages, their assets and the JSON API, behind the token when one is set.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	mux.Handle("/", files)
	s.api(mux, "GET /api/meta", s.handleMeta)
	s.api(mux, "GET /api/overview", s.handleOverview)
	s.api(mux, "GET /api/flows", s.handleFlows)
	s.api(mux, "GET /api/flow", s.handleFlow)
	s.api(mux, "GET /api/conns", s.handleConns)
	s.api(mux, "GET /api/ip", s.handleIP)
	s.api(mux, "GET /api/alerts", s.handleAlerts)
	s.api(mux, "GET /api/alert", s.handleAlert)
	s.api(mux, "GET /api/lb", s.handleLB)
	s.api(mux, "GET /api/health", s.handleHealth)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Msg: "no such API: " + r.Method + " " + r.URL.Path})
	})
	return s.guard(securityHeaders(mux))
}

// Serve serves the console on ln until ctx ends, then shuts down gracefully. A listener that is not loopback needs
// a token: the console shows every flow of the cluster to whoever reaches it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.Token == "" && !loopbackAddr(ln.Addr()) {
		return fmt.Errorf("console: listening on %s needs a token (KINFLOW_CONSOLE_TOKEN): it is not a loopback address", ln.Addr())
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, WriteTimeout: s.cfg.Timeout + 10*time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func loopbackAddr(a net.Addr) bool {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.IsLoopback()
	}
	return false
}

// api registers an API handler: it gets a context with the request deadline, and its error becomes a JSON answer.
func (s *Server) api(mux *http.ServeMux, pattern string, h func(ctx context.Context, r *http.Request) (any, error)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
		defer cancel()
		start := time.Now()
		v, err := h(ctx, r)
		if err != nil {
			ae := asAPIError(err)
			if ae.Status >= 500 {
				s.log.Warn("console request failed", "path", r.URL.Path, "status", ae.Status, "error", ae.Msg)
			}
			if pe := (*panelsError)(nil); errors.As(err, &pe) {
				// The panels that answered go with the error: the page shows both.
				writeJSON(w, ae.Status, map[string]any{"status": ae.Status, "error": ae.Msg, "data": v})
				return
			}
			writeError(w, ae)
			return
		}
		w.Header().Set("Server-Timing", fmt.Sprintf("total;dur=%d", time.Since(start).Milliseconds()))
		writeJSON(w, http.StatusOK, v)
	})
}

func (s *Server) handleMeta(context.Context, *http.Request) (any, error) {
	return map[string]any{
		"prefix": s.cfg.Prefix, "engine": s.cfg.Engine, "pages": Pages(), "state": s.state != nil,
		"window_seconds": int64(s.cfg.Window / time.Second), "fields": names(s.fields.flows), "alert_fields": names(s.fields.alerts),
		"lb_fields": names(s.fields.lb),
	}, nil
}

// apiError is an API answer other than 200: its status and a message for the page.
type apiError struct {
	Status int    `json:"status"`
	Msg    string `json:"error"`
	// Offset is where in the query a syntax error is, for the query bar.
	Offset *int `json:"offset,omitempty"`
}

func (e *apiError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &apiError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// asAPIError classifies an error: a bad request stays one; a deadline is 504; anything else came from the cluster
// (unreachable, or an error answer) and is 502, so the page says the cluster, not the console, failed.
func asAPIError(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Msg: "the cluster did not answer in time: " + err.Error()}
	default:
		return &apiError{Status: http.StatusBadGateway, Msg: "cluster: " + err.Error()}
	}
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

// securityHeaders keeps the pages to their own origin: no inline script, no framing, no referrer leaking queries.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}
