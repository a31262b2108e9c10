package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"
	kcllog "github.com/vmware/vmware-go-kcl-v2/logger"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/state"
)

// checkpointInterval bounds how long a shard with data goes without a checkpoint (and a partial cut).
const checkpointInterval = 10 * time.Second

// runConsumer is `consumer run`: a KCL worker (polling, leases in DynamoDB) that runs every shard it holds through
// the pipeline until SIGTERM or SIGINT, then checkpoints what is durable, releases its leases and exits 0.
func runConsumer(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadConfig("[run]", "Reads the Kinesis stream as a KCL worker.", args, stderr, config.Config.ValidateConsumer)
	if err != nil {
		return err
	}
	log := cfg.Logger(stderr)
	log.Debug("configuration", "config", cfg)
	awsCfg, err := assemble.AWSConfig(ctx, cfg)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := consume(ctx, cfg, awsCfg, reg, log); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "consumer stopped")
	return nil
}

// consume runs the KCL worker of cfg until ctx ends, then shuts it down within cfg.ShutdownTimeout. Metrics go to
// reg, which /metrics serves.
func consume(ctx context.Context, cfg config.Config, awsCfg aws.Config, reg *prometheus.Registry, log *slog.Logger) error {
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
	position := kclcfg.TRIM_HORIZON
	if cfg.InitialPosition == config.Latest {
		position = kclcfg.LATEST
	}
	kc := kclcfg.NewKinesisClientLibConfigWithCredential(cfg.ApplicationName, cfg.StreamName, cfg.Region, workerID, awsCfg.Credentials).
		WithTableName(table).
		WithInitialPositionInStream(position).
		WithCallProcessRecordsEvenForEmptyRecordList(true). // so an idle shard still reaches its checkpoint
		WithLogger(kclLogger{log.With("component", "kcl")})
	if cfg.KinesisEndpoint != "" {
		kc = kc.WithKinesisEndpoint(cfg.KinesisEndpoint)
	}
	if cfg.DynamoDBEndpoint != "" {
		kc = kc.WithDynamoDBEndpoint(cfg.DynamoDBEndpoint)
	}
	tuneKCL(kc)

	store, err := stateStore(work, cfg, awsCfg)
	if err != nil {
		return err
	}
	factory := &processorFactory{ctx: work, pipe: parts.Pipeline, interval: checkpointInterval, metrics: metrics,
		log: log, now: time.Now, state: store, parents: &parentGate{
			kinesis:    assemble.Kinesis(cfg, awsCfg),
			stream:     cfg.StreamName,
			ddb:        assemble.DynamoDB(cfg, awsCfg),
			leaseTable: table, poll: parentPoll, log: log,
		}}
	var finalizerDone chan struct{}
	if cfg.RunFinalizer {
		fin, err := assemble.Finalizer(work, parts, store, reg, log.With("component", "finalizer"))
		if err != nil {
			return err
		}
		finalizerDone = make(chan struct{})
		// The finalizer stops with ctx (SIGTERM), releasing its lock, while the shards flush and checkpoint.
		go func() { defer close(finalizerDone); fin.Run(ctx, store, workerID) }()
	}
	var ready atomic.Bool
	srv, err := serveHTTP(cfg.MetricsAddr, reg, &ready, log)
	if err != nil {
		return err
	}
	defer srv.Close()

	leases := func() *leaseTable {
		return &leaseTable{Checkpointer: chk.NewDynamoCheckpoint(kc), ctx: work, ddb: assemble.DynamoDB(cfg, awsCfg),
			table: table, worker: workerID, leases: factory, claimTTL: 2 * failoverTime}
	}
	w, err := startWorker(ctx, factory, leases, kc, log)
	if err != nil {
		return err
	}
	ready.Store(true)
	log.Info("consumer running", "stream", cfg.StreamName, "application", cfg.ApplicationName, "lease_table", table,
		"worker", workerID, "sink", cfg.Sink.Kind, "metrics", srv.Addr)
	<-ctx.Done()

	ready.Store(false)
	log.Info("shutting down: checkpointing and releasing leases", "timeout", cfg.ShutdownTimeout)
	done := make(chan struct{})
	go func() { w.Shutdown(); close(done) }()
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

// startWorker starts a KCL worker on the lease table leases makes, trying again for a while when it fails: workers
// that start together race to create the lease table, and the library gives up on the loser
// (ResourceInUseException) although the table is about to exist.
func startWorker(ctx context.Context, f *processorFactory, leases func() *leaseTable, kc *kclcfg.KinesisClientLibConfiguration,
	log *slog.Logger) (*worker.Worker, error) {
	var err error
	for attempt, wait := 1, time.Second; attempt <= 6; attempt, wait = attempt+1, 2*wait {
		w := worker.NewWorker(f, kc).WithCheckpointer(leases())
		if err = w.Start(); err == nil {
			return w, nil
		}
		log.Warn("starting the KCL worker failed; trying again", "attempt", attempt, "error", err, "wait", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait/2 + rand.N(wait/2)):
		}
	}
	return nil, fmt.Errorf("starting the KCL worker: %w", err)
}

// loadConfig reads the environment, lets the command's flags override it and validates the result with validate,
// reporting every problem at once. usage names the command ("[run]", "setup").
func loadConfig(usage, summary string, args []string, stderr io.Writer, validate func(config.Config) error) (config.Config, error) {
	cfg, loadErr := config.LoadEnv()
	fs := flag.NewFlagSet(strings.Trim(usage, "[]"), flag.ContinueOnError)
	fs.SetOutput(stderr)
	config.BindFlags(fs, &cfg)
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

// The KCL timings. A lease lasts failoverTime unless its owner renews it, which the polling consumer does every
// leaseRenewal. A worker looks for a lease to take every shardSync (±50% jitter, the library's) and takes one at a
// time, so the shards of a dead worker are taken failoverTime after its last renewal plus about one shardSync per
// shard it held, and read at once. Each look costs a ListShards and up to two consistent reads of each lease held by
// another worker.
const (
	failoverTime     = 10 * time.Second
	leaseRenewal     = 2500 * time.Millisecond
	shardSync        = time.Second
	idleBetweenReads = time.Second // a caught-up shard's poll interval
	parentPoll       = time.Second // a child shard's look at whether its parents ended
)

// tuneKCL sets the KCL timings kinflow wants regardless of the library's defaults.
func tuneKCL(kc *kclcfg.KinesisClientLibConfiguration) {
	kc.WithIdleTimeBetweenReadsInMillis(int(idleBetweenReads.Milliseconds())).
		WithShardSyncIntervalMillis(int(shardSync.Milliseconds())).
		WithFailoverTimeMillis(int(failoverTime.Milliseconds())).
		WithLeaseRefreshWaitTime(int(leaseRenewal.Milliseconds())).
		// Without stealing, the first worker to start keeps every lease and a second one idles.
		WithLeaseStealing(true)
	// A claim (a lease steal in progress) holds only while the lease it claims would: when the claimant dies before
	// taking the shard, the others may take it as soon as the lease ran out, not 2 minutes later (the default). The
	// owner gives a claimed lease up at its next renewal, and the claimant takes it within one shard sync.
	kc.LeaseStealingClaimTimeoutMillis = 0
	// A child shard polls its parent's lease until the parent ended (10 s by default).
	kc.ParentShardPollIntervalMillis = int(parentPoll.Milliseconds())
}

// serveHTTP serves /metrics, /healthz (the process is alive) and /readyz (the worker runs) on addr.
func serveHTTP(addr string, reg *prometheus.Registry, ready *atomic.Bool, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics endpoint: %w", err)
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", "error", err)
		}
	}()
	return srv, nil
}

// consumerMetrics are the worker's own metrics, beside the pipeline's and the sink's.
type consumerMetrics struct {
	shardsHeld       prometheus.Gauge
	millisBehind     *prometheus.GaugeVec
	lastCheckpoint   *prometheus.GaugeVec
	checkpoints      *prometheus.CounterVec
	checkpointErrors prometheus.Counter
	progressErrors   prometheus.Counter
	leasesLost       prometheus.Counter
}

func newConsumerMetrics(reg prometheus.Registerer) *consumerMetrics {
	m := &consumerMetrics{
		shardsHeld: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "kinflow", Name: "leases_held",
			Help: "Shard leases this worker holds."}),
		millisBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "kinflow", Name: "millis_behind_latest",
			Help: "How far behind the tip of its shard the last batch was (Kinesis MillisBehindLatest)."}, []string{"shard"}),
		lastCheckpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "kinflow", Name: "last_checkpoint_timestamp_seconds",
			Help: "When each shard was last checkpointed (checkpoint age = now - this)."}, []string{"shard"}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kinflow", Name: "checkpoints_total",
			Help: "Checkpoints written, by what caused them."}, []string{"cause"}),
		checkpointErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "checkpoint_errors_total",
			Help: "Checkpoints that failed (lease lost, DynamoDB error)."}),
		progressErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "progress_errors_total",
			Help: "Shard progress writes (for the finalizer's watermark) that failed."}),
		leasesLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "kinflow", Name: "leases_lost_total",
			Help: "Shard leases lost while processing (taken for balance, run out, or a renewal failed)."}),
	}
	reg.MustRegister(m.shardsHeld, m.millisBehind, m.lastCheckpoint, m.checkpoints, m.checkpointErrors, m.progressErrors,
		m.leasesLost)
	return m
}

// kclLogger routes the KCL library's logging to slog.
type kclLogger struct{ l *slog.Logger }

func (k kclLogger) Debugf(f string, a ...any) { k.l.Debug(fmt.Sprintf(f, a...)) }
func (k kclLogger) Infof(f string, a ...any)  { k.l.Debug(fmt.Sprintf(f, a...)) } // the library is chatty
func (k kclLogger) Warnf(f string, a ...any)  { k.l.Warn(fmt.Sprintf(f, a...)) }
func (k kclLogger) Errorf(f string, a ...any) { k.l.Error(fmt.Sprintf(f, a...)) }

// Fatalf and Panicf keep the library's expectation that they do not return.
func (k kclLogger) Fatalf(f string, a ...any) { k.l.Error(fmt.Sprintf(f, a...)); os.Exit(1) }
func (k kclLogger) Panicf(f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	k.l.Error(msg)
	panic(msg)
}

func (k kclLogger) WithFields(fields kcllog.Fields) kcllog.Logger {
	args := make([]any, 0, 2*len(fields))
	for key, v := range fields {
		args = append(args, key, v)
	}
	return kclLogger{k.l.With(args...)}
}
