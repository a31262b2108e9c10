package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/kinflow/kinflow/consumer/kcl"
	"github.com/kinflow/kinflow/internal/config"
)

// runFinalize is `consumer finalize`: one finalizer pass under the lock, for operators (close what is due now)
// and tests. It prints the pass's report as JSON. When another finalizer holds the lock it fails and says so.
func runFinalize(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, log, awsCfg, err := start(ctx, "finalize", "Runs one finalizer pass: closed windows become final connection sets.", args,
		stderr, config.Config.Validate)
	if err != nil {
		return err
	}
	rep, err := kcl.FinalizeOnce(ctx, cfg, awsCfg, log)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(rep)
}
