package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/kinflow/kinflow/consumer/kcl"
	"github.com/kinflow/kinflow/internal/config"
)

// healthTimeout bounds one probe. The container health check runs in the image without a shell or curl, so this
// command is the probe; ECS kills a check that outlives its own timeout (5s in the stack), so give up before it.
const healthTimeout = 3 * time.Second

// errUnhealthy is what `consumer health` returns when the endpoint is unreachable or answers anything but 200.
var errUnhealthy = errors.New("unhealthy")

// runHealth is `consumer health`: GET /healthz (or /readyz with -ready) of the running consumer on this machine and
// exit 0 on 200, 1 otherwise with one line on stderr saying why. The address is the one `run` listens on
// (KINFLOW_METRICS_ADDR, read through internal/config), so a changed address is followed; -addr overrides it.
func runHealth(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	// Only the address matters here. Load fills it even when another variable is malformed: reporting those is
	// run's job, and a probe that fails for them would restart a consumer that is serving fine.
	cfg, _ := config.LoadEnv()
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", cfg.MetricsAddr, "address the consumer serves /healthz and /readyz on (env KINFLOW_METRICS_ADDR)")
	ready := fs.Bool("ready", false, "check /readyz (the KCL worker runs) instead of /healthz (the process answers)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: consumer health [flags]\n\nExits 0 when the consumer on this machine answers 200, 1 otherwise.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "consumer health: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	path := kcl.HealthPath
	if *ready {
		path = kcl.ReadyPath
	}
	if err := probe(ctx, *addr, path, healthTimeout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok %s\n", path)
	return nil
}

// probe GETs path on the local listener addr and reports anything but a 200 as errUnhealthy with the reason.
func probe(ctx context.Context, addr, path string, timeout time.Duration) error {
	target, err := dialAddr(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnhealthy, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := "http://" + target + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errUnhealthy, url, err)
	}
	// No proxy: the target is this machine, and an HTTP_PROXY in the task's environment must not reroute the probe.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnhealthy, err) // *url.Error names the method and URL
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 256))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: GET %s: %s: %q", errUnhealthy, url, res.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// dialAddr turns a listen address into one to connect to: an empty or unspecified host (":9090", "0.0.0.0:9090",
// "[::]:9090") means this machine's loopback, since the probe runs beside the consumer.
func dialAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("address %q: want host:port or :port", listen)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("address %q: want a fixed port to probe", listen)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}
