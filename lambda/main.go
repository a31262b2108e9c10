// Command lambda is kinflow's serverless mode: one AWS Lambda binary (provided.al2023, built with -tags
// lambda.norpc) that runs one of three handlers, chosen by KINFLOW_LAMBDA_HANDLER:
//
//   - batch: behind a Kinesis event source mapping with ReportBatchItemFailures, it runs the same pipeline as the
//     consumer. After a shard's records are durable and acknowledged it records the shard's event-time progress in
//     the state table (KINFLOW_STATE_TABLE, when set), from which the finalizer computes the watermark. Invoked
//     directly with {"redrive": {...}}, it redrives dead letters instead and returns the report (redrive.go).
//   - finalizer: on a schedule (EventBridge, any payload), it takes the finalizer lock in the state table and runs
//     one pass: closed windows become final connection sets, written to the index and posted to the webhook. When
//     another finalizer holds the lock it does nothing; a pass the deadline cuts short is continued by the next run.
//   - objects: behind an SQS event source mapping with ReportBatchItemFailures, it reads the S3 objects the
//     messages' notifications announce (internal/intake): a message is reported failed unless every document of its
//     objects is durable, so one unreadable object fails its message alone (objects.go).
//
// Configuration comes from the environment (see README.md) and is validated once, at cold start. A bad
// configuration fails every invocation with the list of problems: the batch is retried, never half-processed.
// A KINFLOW_ variable the functions do not read (a misspelling, a setting of the consumer's) is one of those
// problems: it would otherwise be silently ignored. The function logs JSON lines on stderr at KINFLOW_LOG_LEVEL.
// The sink (and the state store, and the finalizer) are built on the first invocation and reused; a build that
// fails (the cluster is down) is tried again on the next invocation.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/settings"
)

func main() {
	app := coldStart(os.LookupEnv, os.Environ(), os.Stderr)
	switch app.cfg.LambdaHandler {
	case config.LambdaBatch:
		lambda.Start(batchInvoker{app}) // Kinesis events, and redrive payloads of direct invocations
	case config.LambdaFinalizer:
		lambda.Start(app.handleSchedule)
	case config.LambdaObjects:
		lambda.Start(app.handleSQS)
	default:
		lambda.Start(func(context.Context) error { return app.configErr })
	}
}

// app is the function's state for the life of its container.
type app struct {
	cfg       config.Config
	configErr error
	log       *slog.Logger

	mu        sync.Mutex
	kinesis   *kinesisHandler   // built on first use
	finalizer *finalizerHandler // built on first use
	objects   *objectsHandler   // built on first use
}

// coldStart is the container's start: the Lambda functions' settings from lookup, checked with the rest of
// environ, the logger the configuration asks for (JSON lines on w, which the runtime sends to CloudWatch Logs),
// then the app.
func coldStart(lookup func(string) (string, bool), environ []string, w io.Writer) *app {
	cfg, err := config.LoadFor(settings.Lambda, lookup, environ)
	return appFor(cfg, err, cfg.Logger(w))
}

// newApp loads and validates the configuration; the handlers log to log.
func newApp(lookup func(string) (string, bool), log *slog.Logger) *app {
	cfg, err := config.LoadFor(settings.Lambda, lookup, nil)
	return appFor(cfg, err, log)
}

// appFor validates a loaded configuration (err: what loading it found wrong); the handlers log to log.
func appFor(cfg config.Config, err error, log *slog.Logger) *app {
	a := &app{log: log}
	log.Debug("configuration", "config", cfg)
	if err = errors.Join(err, cfg.ValidateLambda()); err != nil {
		a.configErr = &ConfigError{Err: err}
		log.Error("invalid configuration; every invocation will fail until it is fixed", "error", err)
	}
	a.cfg = cfg
	return a
}

func (a *app) handleKinesis(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	h, err := a.kinesisHandler(ctx)
	if err != nil {
		return events.KinesisEventResponse{}, setupFailed("batch", err)
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
	parts, progress, err := a.pipeline(ctx)
	if err != nil {
		return nil, err
	}
	a.kinesis = &kinesisHandler{pipe: parts.Pipeline, reserve: a.cfg.LambdaDeadlineCut, chunks: chunkSize, log: a.log,
		emf: os.Stdout, now: time.Now, progress: progress}
	return a.kinesis, nil
}

// handleSQS is the objects function's handler: SQS messages of S3 notifications.
func (a *app) handleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	h, err := a.objectsHandler(ctx)
	if err != nil {
		return events.SQSEventResponse{}, setupFailed("objects", err)
	}
	return h.Handle(ctx, ev)
}

// objectsConcurrency is how many messages (objects) one invocation reads at once: a batch is at most 10 messages,
// and reading is mostly waiting on S3 and the cluster.
const objectsConcurrency = 4

// objectsHandler builds the S3 intake once per container.
func (a *app) objectsHandler(ctx context.Context) (*objectsHandler, error) {
	if a.configErr != nil {
		return nil, a.configErr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.objects != nil {
		return a.objects, nil
	}
	parts, progress, err := a.pipeline(ctx)
	if err != nil {
		return nil, err
	}
	in, err := assemble.Intake(parts, objectsConcurrency, nil, a.log)
	if err != nil {
		parts.Sink.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	a.objects = &objectsHandler{intake: in, concurrency: objectsConcurrency, reserve: a.cfg.LambdaDeadlineCut, log: a.log,
		now: time.Now, progress: progress}
	return a.objects, nil
}

// pipeline builds the sink and the pipeline, and the store of progress when a state table is configured: progress
// is recorded only where a finalizer reads it, and a deployment without a state table has none.
func (a *app) pipeline(ctx context.Context) (*assemble.Parts, ProgressStore, error) {
	awsCfg, err := assemble.AWSConfig(ctx, a.cfg)
	if err != nil {
		return nil, nil, err
	}
	var progress ProgressStore
	if a.cfg.StateTable != "" {
		store, err := assemble.State(a.cfg, awsCfg)
		if err != nil {
			return nil, nil, err
		}
		progress = store
	}
	parts, err := assemble.Build(ctx, a.cfg, awsCfg, nil, a.log)
	if err != nil {
		return nil, nil, err
	}
	return parts, progress, nil
}

// handleSchedule is the finalizer function's handler. The payload (an EventBridge scheduled event, or anything an
// operator invokes it with) carries nothing it needs.
func (a *app) handleSchedule(ctx context.Context, _ json.RawMessage) error {
	h, err := a.finalizerHandler(ctx)
	if err != nil {
		return setupFailed("finalizer", err)
	}
	return h.Handle(ctx, lockOwner(ctx))
}

// finalizerHandler builds the finalizer once per container: the sink and its cluster client, the state store
// and the webhook client.
func (a *app) finalizerHandler(ctx context.Context) (*finalizerHandler, error) {
	if a.configErr != nil {
		return nil, a.configErr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.finalizer != nil {
		return a.finalizer, nil
	}
	awsCfg, err := assemble.AWSConfig(ctx, a.cfg)
	if err != nil {
		return nil, err
	}
	store, err := assemble.State(a.cfg, awsCfg)
	if err != nil {
		return nil, err
	}
	parts, err := assemble.Build(ctx, a.cfg.WithoutEnrichment(), awsCfg, nil, a.log)
	if err != nil {
		return nil, err
	}
	fin, err := assemble.Finalizer(ctx, parts, store, nil, a.log)
	if err != nil {
		// The next invocation builds everything again; this sink's connections must not linger meanwhile.
		parts.Sink.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	a.finalizer = &finalizerHandler{fin: fin, locks: store,
		reserve: a.cfg.LambdaDeadlineCut, log: a.log, emf: os.Stdout, now: time.Now}
	return a.finalizer, nil
}

// lockOwner names this invocation as the lock's owner: the function and the request id, so a lock left behind
// is traced to its invocation's logs. Outside the Lambda runtime (no request id) the log stream names the
// container, and failing that a fixed name serves.
func lockOwner(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lambdacontext.FunctionName + "/" + lc.AwsRequestID
	}
	if lambdacontext.LogStreamName != "" {
		return lambdacontext.LogStreamName
	}
	return "kinflow-lambda-finalizer"
}
