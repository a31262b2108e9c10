package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/redrive"
)

// redriveRequest is the payload of a direct invocation of the batch function that redrives dead letters:
//
//	{"redrive": {"stages": ["parse"], "reasons": ["field_count"], "log_groups": ["/vpc/flows"],
//	             "from": "2026-11-23T00:00:00Z", "to": "2026-11-24T00:00:00Z", "ids": [...], "limit": 10000,
//	             "include_redriven": false, "dry_run": false}}
//
// dry_run defaults to true, as the command's -dry-run does: nothing is written until the payload says false.
type redriveRequest struct {
	Redrive *struct {
		redrive.Selection
		DryRun *bool `json:"dry_run"`
	} `json:"redrive"`
}

// batchInvoker hands the batch function's payload to handleBatch as the runtime received it. It implements
// aws-lambda-go's Handler: given a function taking json.RawMessage instead, the library would first run the whole
// payload (up to 6 MB) through a JSON decoder just to copy it, 7% of the function's CPU before handleBatch decodes
// it (BENCHMARKS.md, "Lambda cost"). The answer is encoded as the library encodes a function's.
type batchInvoker struct{ *app }

func (b batchInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := b.handleBatch(ctx, payload)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("batch: encoding the answer: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// handleBatch is the batch function's handler: a Kinesis event from the event source mapping, or a redrive
// payload from a direct invocation (`aws lambda invoke`). One handler taking the raw payload is what the runtime's
// JSON decoding allows for two shapes; a Kinesis event never has a top-level "redrive" key.
func (a *app) handleBatch(ctx context.Context, payload json.RawMessage) (any, error) {
	if bytes.Contains(payload, []byte(`"redrive"`)) {
		var req redriveRequest
		if err := json.Unmarshal(payload, &req); err == nil && req.Redrive != nil {
			dry := req.Redrive.DryRun == nil || *req.Redrive.DryRun
			return a.handleRedrive(ctx, req.Redrive.Selection, dry)
		}
	}
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("batch: the payload is neither a Kinesis event nor a redrive request: %w", err)
	}
	return a.handleKinesis(ctx, ev)
}

// handleRedrive runs a redrive with the function's configuration (its overrides, limits and cluster) until the
// invocation's deadline less the reserve, and returns the report. A redrive the deadline cuts short returns its
// error with what it did in the log; invoke it again to go on (succeeded letters are left out).
func (a *app) handleRedrive(ctx context.Context, sel redrive.Selection, dryRun bool) (redrive.Report, error) {
	if a.configErr != nil {
		return redrive.Report{}, a.configErr
	}
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-a.cfg.LambdaDeadlineCut))
		defer cancel()
	}
	awsCfg, err := assemble.AWSConfig(ctx, a.cfg)
	if err != nil {
		return redrive.Report{}, setupFailed("redrive", err)
	}
	r, err := assemble.Redriver(ctx, a.cfg, awsCfg, nil, a.log)
	if err != nil {
		return redrive.Report{}, setupFailed("redrive", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		r.Close(cctx)
	}()
	rep, err := r.Redrive(ctx, sel, dryRun)
	a.log.Info("redrive", "dry_run", rep.DryRun, "selected", rep.Selected, "records", rep.Records, "letters", rep.Letters,
		"succeeded", rep.Succeeded, "failed", rep.Failed, "skipped", rep.Skipped, "flows", rep.Flows, "error", err)
	return rep, err
}
