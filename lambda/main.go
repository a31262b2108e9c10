// Command lambda is kinflow's serverless mode: an AWS Lambda function (provided.al2023, built with -tags
// lambda.norpc) behind a Kinesis event source mapping with ReportBatchItemFailures. It runs the same pipeline as
// the consumer.
//
// Configuration comes from the environment (see README.md) and is validated once, at cold start. A bad
// configuration fails every invocation with the list of problems: the batch is retried, never half-processed.
// The sink is connected on the first invocation and reused; a connection that fails (the cluster is down) is tried
// again on the next invocation.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	app := newApp(os.LookupEnv, log)
	switch app.cfg.LambdaHandler {
	case config.LambdaBatch:
		lambda.Start(app.handleKinesis)
	default:
		lambda.Start(func(context.Context) error { return app.configErr })
	}
}

// app is the function's state for the life of its container.
type app struct {
	cfg       config.Config
	configErr error
	log       *slog.Logger

	mu      sync.Mutex
	kinesis *kinesisHandler // built on first use
}

func newApp(lookup func(string) (string, bool), log *slog.Logger) *app {
	a := &app{log: log}
	cfg, err := config.Load(lookup)
	if err = errors.Join(err, cfg.Validate()); err != nil {
		a.configErr = fmt.Errorf("invalid configuration: %w", err)
		log.Error("invalid configuration; every invocation will fail until it is fixed", "error", err)
	}
	a.cfg = cfg
	return a
}

func (a *app) handleKinesis(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	h, err := a.kinesisHandler(ctx)
	if err != nil {
		return events.KinesisEventResponse{}, err
	}
	return h.Handle(ctx, ev)
}

// kinesisHandler connects the sink once per container. Lambda runs one invocation at a time per container; the
// lock only guards against a runtime that does not.
func (a *app) kinesisHandler(ctx context.Context) (*kinesisHandler, error) {
	if a.configErr != nil {
		return nil, a.configErr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kinesis != nil {
		return a.kinesis, nil
	}
	awsCfg, err := assemble.AWSConfig(ctx, a.cfg)
	if err != nil {
		return nil, err
	}
	parts, err := assemble.Build(ctx, a.cfg, awsCfg, nil, a.log)
	if err != nil {
		return nil, err
	}
	a.kinesis = &kinesisHandler{pipe: parts.Pipeline, reserve: a.cfg.LambdaDeadlineCut, log: a.log, emf: os.Stdout, now: time.Now}
	return a.kinesis, nil
}
