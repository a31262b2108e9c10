package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/sink"
)

// runSetup installs the index templates (flows, partial and final connection sets, dead letters) into the
// configured cluster. It is idempotent; `run` does the same at start-up unless KINFLOW_SINK_SETUP=false.
func runSetup(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, log, awsCfg, err := start(ctx, "setup", "Installs kinflow's index templates.", args, stderr, config.Config.Validate)
	if err != nil {
		return err
	}
	if err := assemble.LoadSecret(ctx, &cfg, awsCfg); err != nil {
		return err
	}
	cluster, err := assemble.ClusterOf(cfg, awsCfg)
	if err != nil {
		return err
	}
	if err := sink.InstallTemplates(ctx, cluster.Client, cluster.Templates, log); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "index templates for prefix %q installed in %s\n", cfg.Pipeline.Prefix, cfg.Sink.Kind)
	return nil
}
