package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kinflow/kinflow/consumer/kcl"
	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
)

// runConsumer is `consumer run`: a KCL worker (polling, leases in DynamoDB) that runs every shard it holds through
// the pipeline until SIGTERM or SIGINT, then checkpoints what is durable, releases its leases and exits 0.
func runConsumer(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, log, awsCfg, err := start(ctx, "[run]", "Reads the Kinesis stream as a KCL worker.", args, stderr, config.Config.ValidateConsumer)
	if err != nil {
		return err
	}
	// The Go runtime's and the process's metrics are the command's to add: a worker inside another program (the
	// demo, a test) leaves them to that program.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := kcl.Run(ctx, cfg, awsCfg, reg, log); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "consumer stopped")
	return nil
}

// start is what every command that takes settings does first: load and validate its configuration (loadConfig),
// make its logger, and load the AWS SDK's configuration for its region.
func start(ctx context.Context, usage, summary string, args []string, stderr io.Writer,
	validate func(config.Config) error) (config.Config, *slog.Logger, aws.Config, error) {
	return startWith(ctx, usage, summary, args, stderr, validate, nil)
}

// startWith is start for a command with flags of its own besides the settings: bind adds them to the flag set.
func startWith(ctx context.Context, usage, summary string, args []string, stderr io.Writer,
	validate func(config.Config) error, bind func(*flag.FlagSet)) (config.Config, *slog.Logger, aws.Config, error) {
	cfg, err := loadConfigWith(usage, summary, args, stderr, validate, bind)
	if err != nil {
		return cfg, nil, aws.Config{}, err
	}
	log := cfg.Logger(stderr)
	log.Debug("configuration", "config", cfg)
	awsCfg, err := assemble.AWSConfig(ctx, cfg)
	return cfg, log, awsCfg, err
}

// loadConfig reads the environment, lets the command's flags override it and validates the result with validate,
// reporting every problem at once. usage names the command ("[run]", "setup").
func loadConfig(usage, summary string, args []string, stderr io.Writer, validate func(config.Config) error) (config.Config, error) {
	return loadConfigWith(usage, summary, args, stderr, validate, nil)
}

func loadConfigWith(usage, summary string, args []string, stderr io.Writer, validate func(config.Config) error,
	bind func(*flag.FlagSet)) (config.Config, error) {
	cfg, loadErr := config.LoadEnv()
	fs := flag.NewFlagSet(strings.Trim(usage, "[]"), flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.BindFlags(fs, &cfg)
	if bind != nil {
		bind(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: consumer %s [flags]\n\n%s Every flag can also be set by its environment variable.\n\n", usage, summary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, errUsage
	}
	if err := errors.Join(loadErr, validate(cfg)); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}
