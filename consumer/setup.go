package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
)

// runSetup installs the index templates (flows, partial and final connection sets, dead letters) into the
// configured cluster. It is idempotent; `run` does the same at start-up unless KINFLOW_SINK_SETUP=false.
func runSetup(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("setup", "Installs kinflow's index templates.", args, stderr, config.Config.Validate)
	if err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	log.Debug("configuration", "config", cfg)
	awsCfg, err := assemble.AWSConfig(ctx, cfg)
	if err != nil {
		return err
	}
	if err := assemble.LoadSecret(ctx, &cfg, awsCfg); err != nil {
		return err
	}
	ca, err := assemble.CA(cfg)
	if err != nil {
		return err
	}
	switch cfg.Sink.Kind {
	case config.SinkOpenSearch:
		err = opensearch.Setup(ctx, cfg.OpenSearch(assemble.SigningConfig(cfg, awsCfg), ca), log)
	default:
		err = elastic.Setup(ctx, cfg.Elastic(ca), log)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "index templates for prefix %q installed in %s\n", cfg.Pipeline.Prefix, cfg.Sink.Kind)
	return nil
}
