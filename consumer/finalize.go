package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/state"
)

// runFinalize is `consumer finalize`: one finalizer pass under the lock, for operators (close what is due now)
// and tests. It prints the pass's report as JSON. When another finalizer holds the lock it fails and says so.
func runFinalize(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("finalize", "Runs one finalizer pass: closed windows become final connection sets.", args,
		stderr, config.Config.Validate)
	if err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	log.Debug("configuration", "config", cfg)
	awsCfg, err := assemble.AWSConfig(ctx, cfg)
	if err != nil {
		return err
	}
	rep, err := finalizeOnce(ctx, cfg, awsCfg, log)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(rep)
}

// finalizeOnce runs one finalizer pass of cfg under the finalizer lock.
func finalizeOnce(ctx context.Context, cfg config.Config, awsCfg aws.Config, log *slog.Logger) (finalize.Report, error) {
	parts, err := assemble.Build(ctx, cfg, awsCfg, nil, log)
	if err != nil {
		return finalize.Report{}, err
	}
	defer parts.Sink.Close(context.WithoutCancel(ctx))
	store, err := stateStore(ctx, cfg, awsCfg)
	if err != nil {
		return finalize.Report{}, err
	}
	fin, err := assemble.Finalizer(ctx, parts, store, nil, log)
	if err != nil {
		return finalize.Report{}, err
	}
	host, _ := os.Hostname()
	rep, err := fin.RunOnceLocked(ctx, store, fmt.Sprintf("%s-%d-finalize", host, os.Getpid()))
	if errors.Is(err, state.ErrNotHeld) {
		return rep, fmt.Errorf("another finalizer holds the lock: %w", err)
	}
	return rep, err
}
