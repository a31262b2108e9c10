package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/consumer/kcl"
)

// healthServer answers /healthz 200 "ok" and /readyz 503 "not ready", like a consumer whose worker has not started.
func healthServer(tb testing.TB) (addr string) {
	tb.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHealth(t *testing.T) {
	up := healthServer(t)
	down := closedAddr(t)
	_, port, _ := net.SplitHostPort(up)
	tests := []struct {
		name    string
		args    []string
		wantOut string // stdout on success
		wantErr string // the error main prints after "consumer: " (exit 1); "" for exit 0
	}{
		{"healthz 200", []string{"-addr", up}, "ok /healthz\n", ""},
		{"listen form :port is loopback", []string{"-addr", ":" + port}, "ok /healthz\n", ""},
		{"listen form 0.0.0.0 is loopback", []string{"-addr", "0.0.0.0:" + port}, "ok /healthz\n", ""},
		{"readyz 503", []string{"-ready", "-addr", up}, "",
			`unhealthy: GET http://` + up + `/readyz: 503 Service Unavailable: "not ready"`},
		{"connection refused", []string{"-addr", down}, "",
			`unhealthy: Get "http://` + down + `/healthz": dial tcp ` + down + `: connect: connection refused`},
		{"bad address", []string{"-addr", "localhost"}, "", `unhealthy: address "localhost": want host:port or :port`},
		{"no fixed port", []string{"-addr", "127.0.0.1:0"}, "", `unhealthy: address "127.0.0.1:0": want a fixed port to probe`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errs strings.Builder
			err := runHealth(t.Context(), tt.args, nil, &out, &errs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("health %v: %v, want success", tt.args, err)
				}
			} else {
				if !errors.Is(err, errUnhealthy) {
					t.Fatalf("health %v: error %v, want errUnhealthy", tt.args, err)
				}
				if err.Error() != tt.wantErr {
					t.Errorf("health %v:\n got %s\nwant %s", tt.args, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("reason spans lines: %q", err)
				}
			}
			if out.String() != tt.wantOut || errs.String() != "" {
				t.Errorf("stdout %q, stderr %q; want %q and nothing", out.String(), errs.String(), tt.wantOut)
			}
		})
	}
}

// A probe that hangs is cut at its deadline instead of outliving the container health check's timeout.
func TestHealthTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	err := probe(t.Context(), strings.TrimPrefix(srv.URL, "http://"), "/healthz", 50*time.Millisecond)
	if !errors.Is(err, errUnhealthy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("probe of a hanging server: %v, want errUnhealthy wrapping context.DeadlineExceeded", err)
	}
}

// Usage errors exit 2, like every other command's.
func TestHealthUsage(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"extra"}} {
		var errs strings.Builder
		if err := runHealth(t.Context(), args, nil, io.Discard, &errs); !errors.Is(err, errUsage) {
			t.Errorf("health %v: %v, want errUsage", args, err)
		}
		if errs.Len() == 0 {
			t.Errorf("health %v: nothing on stderr", args)
		}
	}
}

// Through dispatch, against the endpoint `run` really serves, with the address taken from KINFLOW_METRICS_ADDR in
// its listen form: /healthz answers at once, /readyz only once the worker is marked ready.
func TestHealthDispatchEnv(t *testing.T) {
	srv, err := kcl.Serve("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Addr())
	t.Setenv("KINFLOW_METRICS_ADDR", ":"+port)

	health := func(args ...string) (string, error) {
		var out strings.Builder
		err := dispatch(t.Context(), append([]string{"health"}, args...), nil, &out, io.Discard)
		return out.String(), err
	}
	if out, err := health(); err != nil || out != "ok /healthz\n" {
		t.Errorf("health: %q, %v; want ok /healthz", out, err)
	}
	want := `unhealthy: GET http://127.0.0.1:` + port + `/readyz: 503 Service Unavailable: "not ready"`
	if _, err := health("-ready"); err == nil || err.Error() != want {
		t.Errorf("health -ready before the worker runs: %v, want %s", err, want)
	}
	srv.SetReady(true)
	if out, err := health("-ready"); err != nil || out != "ok /readyz\n" {
		t.Errorf("health -ready once ready: %q, %v; want ok /readyz", out, err)
	}
	// -addr wins over the environment.
	down := closedAddr(t)
	if _, err := health("-addr", down); !errors.Is(err, errUnhealthy) || !strings.Contains(err.Error(), down) {
		t.Errorf("health -addr %s: %v, want it unhealthy at that address", down, err)
	}
}

// The exit codes the container health check sees: the real binary, run as ECS runs it, exits 0 on 200 and 1 with
// exactly one line on stderr otherwise.
func TestHealthExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the consumer binary")
	}
	bin := filepath.Join(t.TempDir(), "kinflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	up, down := healthServer(t), closedAddr(t)
	tests := []struct {
		name     string
		env      string // KINFLOW_METRICS_ADDR
		args     []string
		wantCode int
		wantErr  string // stderr
	}{
		{"healthy by env", up, nil, 0, ""},
		{"not ready", up, []string{"-ready"}, 1,
			`consumer: unhealthy: GET http://` + up + `/readyz: 503 Service Unavailable: "not ready"` + "\n"},
		{"nothing listening", down, nil, 1,
			`consumer: unhealthy: Get "http://` + down + `/healthz": dial tcp ` + down + ": connect: connection refused\n"},
		{"flag overrides env", down, []string{"-addr", up}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin, append([]string{"health"}, tt.args...)...)
			cmd.Env = append(os.Environ(), "KINFLOW_METRICS_ADDR="+tt.env)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || stderr.String() != tt.wantErr {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
