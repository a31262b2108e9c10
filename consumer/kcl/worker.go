// Package kcl runs kinflow's pipeline as a KCL worker (vmware-go-kcl-v2, polling, leases in DynamoDB): it composes
// the pipeline, the lease table, the shard processors and the finalizer for one configuration, serves /metrics,
// /healthz and /readyz beside them, and shuts down by checkpointing what is durable and releasing its leases. It
// owns the adaptation of the KCL library to the pipeline and nothing else; `consumer run` and the local demo start it.
package kcl

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"

	"github.com/kinflow/kinflow/consumer/queue"
	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/state"
)

// checkpointInterval bounds how long a shard with data goes without a checkpoint (and a partial cut).
const checkpointInterval = 10 * time.Second

// Run runs the KCL worker of cfg until ctx ends, then shuts it down within cfg.ShutdownTimeout: the shards stop
// taking records, checkpoint what is durable and release their leases. Metrics go to reg, which /metrics serves on
// cfg.MetricsAddr. cfg is expected to have passed ValidateConsumer.
func Run(ctx context.Context, cfg config.Config, awsCfg aws.Config, reg *prometheus.Registry, log *slog.Logger) error {
	// work outlives ctx by the shutdown timeout: the final cuts and checkpoints need a live context.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	parts, err := assemble.Build(work, cfg, awsCfg, reg, log)
	if err != nil {
		return err
	}
	defer parts.Sink.Close(work)
	metrics := newConsumerMetrics(reg)

	workerID := cfg.WorkerID
	if workerID == "" {
		host, _ := os.Hostname()
		workerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	table := cfg.LeaseTableName()

	store, err := stateStore(work, cfg, awsCfg)
	if err != nil {
		return err
	}
	ddb := assemble.DynamoDB(cfg, awsCfg) // the lease table's: the parent gate, the checkpointer, the finalizer's wait
	factory := &processorFactory{ctx: work, pipe: parts.Pipeline, interval: checkpointInterval, metrics: metrics,
		log: log, now: time.Now, state: store, parents: &parentGate{
			kinesis:    assemble.Kinesis(cfg, awsCfg),
			stream:     cfg.StreamName,
			ddb:        ddb,
			leaseTable: table, poll: parentPoll, log: log,
		}}
	var fin *finalize.Finalizer
	if cfg.RunFinalizer {
		if fin, err = assemble.Finalizer(work, parts, store, reg, log.With("component", "finalizer")); err != nil {
			return err
		}
	}
	srv, err := Serve(cfg.MetricsAddr, reg, log)
	if err != nil {
		return err
	}
	defer srv.Close()

	var queueDone chan struct{}
	if cfg.Objects.QueueURL != "" {
		poller, err := newPoller(cfg, awsCfg, parts, store, reg, log)
		if err != nil {
			return err
		}
		queueDone = make(chan struct{})
		// The poller stops taking messages with ctx; the messages in hand finish on work, within the shutdown
		// timeout (then work ends, and a message still being read comes back later).
		go func() { defer close(queueDone); poller.Run(ctx, work) }()
	}
	var w stoppable
	if cfg.StreamName != "" {
		kc := kclConfig(cfg, awsCfg, workerID, log)
		leases := func() *leaseTable {
			return &leaseTable{Checkpointer: chk.NewDynamoCheckpoint(kc), ctx: work, ddb: ddb,
				table: table, worker: workerID, leases: factory, claimTTL: 2 * failoverTime}
		}
		if w, err = startWorker(ctx, factory, leases, kc, log); err != nil {
			return err
		}
	}
	var finalizerDone chan struct{}
	if fin != nil {
		finalizerDone = make(chan struct{})
		// The finalizer stops with ctx (SIGTERM), releasing its lock, while the shards flush and checkpoint.
		go func() {
			defer close(finalizerDone)
			if w != nil {
				awaitLeaseTable(ctx, ddb, table, log)
			}
			fin.Run(ctx, store, workerID)
		}()
	}
	srv.SetReady(true)
	log.Info("consumer running", "stream", cfg.StreamName, "queue", cfg.Objects.QueueURL, "application", cfg.ApplicationName,
		"lease_table", table, "worker", workerID, "sink", cfg.Sink.Kind, "metrics", srv.Addr())
	<-ctx.Done()

	srv.SetReady(false)
	log.Info("shutting down: checkpointing and releasing leases", "timeout", cfg.ShutdownTimeout)
	done := make(chan struct{})
	go func() {
		if w != nil {
			w.Shutdown()
		}
		if queueDone != nil {
			<-queueDone
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(cfg.ShutdownTimeout):
		// Writes still waiting on the cluster give up; their records are not checkpointed and will be redone.
		cancelWork()
		<-done
	}
	if finalizerDone != nil {
		<-finalizerDone
	}
	return nil
}

// stoppable is the KCL worker, as Run stops it.
type stoppable interface{ Shutdown() }

// newPoller builds the reader of the queue of S3 notifications: the intake over the worker's pipeline, its progress
// recorded as the queue's row in the state table.
func newPoller(cfg config.Config, awsCfg aws.Config, parts *assemble.Parts, store *state.Store, reg prometheus.Registerer, log *slog.Logger) (*queue.Poller, error) {
	in, err := assemble.Intake(parts, cfg.Objects.Concurrency, reg, log.With("component", "intake"))
	if err != nil {
		return nil, err
	}
	qc := queue.DefaultConfig()
	qc.QueueURL, qc.Concurrency, qc.Visibility = cfg.Objects.QueueURL, cfg.Objects.Concurrency, cfg.Objects.Visibility
	id := assemble.QueueProgressID(cfg.Objects.QueueURL)
	qlog := log.With("component", "queue")
	return queue.New(assemble.SQS(cfg, awsCfg), qc, in, queue.Options{Logger: qlog, Registerer: reg,
		OnProgress: func(ctx context.Context, p queue.Progress) {
			assemble.RecordQueueProgress(ctx, store, id, p.Watermark, p.CaughtUp, p.LastData, qlog)
		}})
}

// stateStore opens the state table: KINFLOW_STATE_TABLE, or <lease table>-state, which it creates when missing (a
// table of its own: the KCL library scans the lease table's first page only, so other items there could hide
// leases).
func stateStore(ctx context.Context, cfg config.Config, awsCfg aws.Config) (*state.Store, error) {
	if cfg.StateTable == "" {
		cfg.StateTable = cfg.LeaseTableName() + "-state"
	}
	store, err := assemble.State(cfg, awsCfg)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureTable(ctx); err != nil {
		return nil, err
	}
	return store, nil
}

// awaitLeaseTable waits, for up to a minute, until the lease table is active. The finalizer's passes read it, and
// on a stream's first start the worker has only asked for it: DynamoDB answers ResourceNotFound while a table is
// being created, which a pass would report as an error. After a minute the finalizer starts anyway, and its passes
// say what is wrong.
func awaitLeaseTable(ctx context.Context, ddb *dynamodb.Client, table string, log *slog.Logger) {
	err := dynamodb.NewTableExistsWaiter(ddb, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, 5*time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, time.Minute)
	if err != nil && ctx.Err() == nil {
		log.Warn("the lease table is not active after a minute; the finalizer starts anyway", "table", table, "error", err)
	}
}

// startWorker starts a KCL worker on the lease table leases makes, trying again for a while when it fails: workers
// that start together race to create the lease table, and the library gives up on the loser
// (ResourceInUseException) although the table is about to exist.
// startPolicy bounds the worker's start: its lease table may be still being created by another worker, or DynamoDB
// may throttle; six attempts over about half a minute, then the command fails and the orchestrator restarts it.
var startPolicy = retry.Policy{Initial: time.Second, Max: 32 * time.Second, MaxAttempts: 6}

func startWorker(ctx context.Context, f *processorFactory, leases func() *leaseTable, kc *kclcfg.KinesisClientLibConfiguration,
	log *slog.Logger) (*worker.Worker, error) {
	var w *worker.Worker
	err := retry.Do(ctx, startPolicy, func(context.Context) error {
		w = worker.NewWorker(f, kc).WithCheckpointer(leases())
		return w.Start()
	}, retry.OnRetry(func(err error, attempt int, wait time.Duration) {
		log.Warn("starting the KCL worker failed; trying again", "attempt", attempt, "error", err, "wait", wait)
	}))
	if err != nil {
		return nil, fmt.Errorf("starting the KCL worker: %w", err)
	}
	return w, nil
}
