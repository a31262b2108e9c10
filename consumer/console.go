package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/console"
)

// runConsole is `consumer console`: the security console, a read-only web UI over the indices and the state table.
// It takes the same settings as `consumer run` (the cluster, its credentials, the prefix, the state table) and its
// own address and token; it refuses to start on an address that is not loopback without a token.
func runConsole(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, log, awsCfg, err := start(ctx, "console", "Serves the security console: overview, flows, connection sets, IPs, pipeline health.",
		args, stderr, config.Config.ValidateConsole)
	if err != nil {
		return err
	}
	srv, err := console.Open(ctx, cfg, awsCfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Console.Addr)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	fmt.Fprintf(stdout, "kinflow console on %s reading %s (%s-*)\n", consoleURL(ln.Addr(), cfg.Console.Token != ""), cfg.Sink.Kind, cfg.Pipeline.Prefix)
	return srv.Serve(ctx, ln)
}

// consoleURL is the address to open; with a token, the user appends ?token=... once (never printed).
func consoleURL(a net.Addr, token bool) string {
	u := "http://" + a.String() + "/"
	if token {
		u += " (open it with ?token=<KINFLOW_CONSOLE_TOKEN> once)"
	}
	return u
}
