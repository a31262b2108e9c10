package kcl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/state"
)

// FinalizeOnce runs one finalizer pass of cfg under the finalizer lock, on the state table the worker of cfg uses
// (which is why it lives here: without KINFLOW_STATE_TABLE that table is named after the lease table).
func FinalizeOnce(ctx context.Context, cfg config.Config, awsCfg aws.Config, log *slog.Logger) (finalize.Report, error) {
	parts, err := assemble.Build(ctx, cfg.WithoutEnrichment(), awsCfg, nil, log)
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
