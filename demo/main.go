// Command demo is the local demo behind `make demo`: it creates a CloudWatch Logs group subscribed to a Kinesis
// stream in moto, puts an hour of synthetic flow logs (with a port scan, a fan-out scanner, rejected bursts and two
// bad lines) into the group, runs kinflow's KCL worker (consumer/kcl, as `consumer run` does, leases in moto's
// DynamoDB) into Elasticsearch until every event is processed, runs one finalizer pass, prints what a dashboard would
// show first, and serves the security console (`consumer console`) on the result until interrupted.
//
//	go run ./demo [-moto URL] [-sink-url URL] [-index-prefix P] [-stream-name S] [-log-group G] [-shards N] [-batches N] [-seed N] [-console-addr A]
//
// It is a command of its own, not one of the consumer's, because it links the emulator staging and the traffic
// generator (internal/testing), which stay out of the production image.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/consumer/kcl"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/console"
	"github.com/kinflow/kinflow/internal/testing/feed"
)

// errUsage marks a command line that could not be understood; main exits 2 for it, as the consumer does.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// warnUnknown logs a warning to stderr for each KINFLOW_ variable of the environment that is no setting, at the
// level KINFLOW_LOG_LEVEL sets: a misspelt KINFLOW_LOG_LEVEL, the one setting the demo reads, is then not silently
// ignored.
func warnUnknown(stderr io.Writer) {
	cfg, _ := config.LoadEnv()
	config.WarnUnknown(cfg.Logger(stderr), os.Environ())
}

// demoOptions are the demo's flags; the defaults are the addresses scripts/services.sh starts.
type demoOptions struct {
	motoURL string
	sinkURL string
	prefix  string
	stream  string
	group   string
	shards  int
	batches int
	seed    uint64
	console string // the console's address; empty: end after the report
}

// run is the demo: stage the emulator's log group, subscription and stream, put the traffic, run the KCL worker on
// it until every event is processed, finalize what closed and report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// As each of the consumer's commands that take settings does, before anything else can fail.
	warnUnknown(stderr)
	var o demoOptions
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.motoURL, "moto", "http://127.0.0.1:5000", "moto server (CloudWatch Logs and Kinesis)")
	fs.StringVar(&o.sinkURL, "sink-url", "http://127.0.0.1:9200", "Elasticsearch to index into")
	fs.StringVar(&o.prefix, "index-prefix", "kinflow", "index name prefix")
	fs.StringVar(&o.stream, "stream-name", "", "Kinesis stream (default: kinflow-demo-<seed>, a new one each run)")
	fs.StringVar(&o.group, "log-group", "/kinflow/demo/vpc-flow-logs", "CloudWatch Logs group of the flow logs")
	fs.IntVar(&o.shards, "shards", 2, "shards of the stream")
	fs.IntVar(&o.batches, "batches", 200, "deliveries of ordinary traffic (50-200 flows each)")
	fs.Uint64Var(&o.seed, "seed", uint64(time.Now().Unix()), "generator seed")
	fs.StringVar(&o.console, "console-addr", "127.0.0.1:8080", "serve the security console on this loopback address until interrupted; empty: end after the report")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if o.stream == "" {
		o.stream = fmt.Sprintf("kinflow-demo-%d", o.seed)
	}

	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("kinflow-demo", "kinflow-demo", ""),
		BaseEndpoint: aws.String(o.motoURL),
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	}
	clients := feed.NewClients(cfg)
	p := &feed.Pipeline{Stream: o.stream, Shards: int32(o.shards), LogGroup: o.group, Filter: "kinflow-demo"}
	if err := clients.Create(ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "log group %s -> subscription %s -> stream %s (%d shards)\n", p.LogGroup, p.Filter, p.Stream, p.Shards)

	batches := demoTraffic(o.seed, o.batches, time.Now())
	n, err := clients.Put(ctx, p.LogGroup, batches)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "put %d flow-log events (ordinary traffic, a port scan, a fan-out scanner, rejected bursts, 2 bad lines)\n", n)

	// The consumer, as `consumer run` runs it: a KCL worker with its leases in moto's DynamoDB. The demo's story is
	// on stdout; the worker's log on stderr shows what went wrong (warn) unless KINFLOW_LOG_LEVEL asks for more or
	// less. That is the only setting the demo takes from the environment: the rest are its flags.
	kcfg := config.Default()
	kcfg.LogLevel = "warn"
	kcfg, err = config.LoadOver(kcfg, config.Only(os.LookupEnv, "KINFLOW_LOG_LEVEL"))
	if err != nil {
		return err
	}
	kcfg.Sink.URLs = []string{o.sinkURL}
	kcfg.Pipeline.Prefix = o.prefix
	kcfg.StreamName, kcfg.ApplicationName = p.Stream, p.Stream
	kcfg.KinesisEndpoint, kcfg.DynamoDBEndpoint = o.motoURL, o.motoURL
	kcfg.MetricsAddr = "127.0.0.1:0"
	if err := kcfg.ValidateConsumer(); err != nil {
		return err
	}
	log := kcfg.Logger(stderr)
	log.Debug("configuration", "config", kcfg)
	reg := prometheus.NewRegistry()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- kcl.Run(runCtx, kcfg, cfg, reg, log) }()
	fmt.Fprintf(stdout, "consumer running (KCL worker, leases in DynamoDB table %s)...\n", kcfg.ApplicationName)
	deadline := time.After(3 * time.Minute)
wait:
	for counter(reg, "kinflow_log_events_total") < float64(n) {
		select {
		case err := <-errc:
			return fmt.Errorf("consumer stopped early: %w", err)
		case <-deadline:
			fmt.Fprintln(stdout, "not every event was processed within 3 minutes; reporting what is there")
			break wait
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	stop()
	if err := <-errc; err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kinflow processed %.0f records: %.0f log events, %.0f flow documents, %.0f dead letters (%s-deadletter), %.0f flows into connection sets\n",
		counter(reg, "kinflow_records_total"), counter(reg, "kinflow_log_events_total"), counter(reg, "kinflow_flows_total"),
		counter(reg, "kinflow_bad_input_total"), kcfg.Pipeline.Prefix, counter(reg, "kinflow_flows_aggregated_total"))
	// The running worker's finalizer closes windows every 30 s; one more pass after the shutdown cuts closes every
	// window the watermark (the newest flow, now) has passed by 15 minutes.
	rep, err := kcl.FinalizeOnce(ctx, kcfg, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "finalizer: watermark %s, %d windows closed, %d still open, %d final connection sets (%s-conns-*)\n",
		time.Unix(rep.Watermark, 0).UTC().Format(time.RFC3339), rep.Windows-rep.Open, rep.Open, countFinals(ctx, o.sinkURL, kcfg.Pipeline.Prefix), kcfg.Pipeline.Prefix)
	fmt.Fprintf(stdout, "detections: %d alerts (%s-alerts-*; the console's Alerts page)\n", countAlerts(ctx, o.sinkURL, kcfg.Pipeline.Prefix), kcfg.Pipeline.Prefix)
	if err := report(ctx, stdout, o.sinkURL, kcfg.Pipeline.Prefix); err != nil || o.console == "" {
		return err
	}
	return serveConsole(ctx, o.console, kcfg, cfg, log, stdout)
}

// serveConsole ends the demo as a user would go on: the security console (`consumer console`) on the demo's
// cluster, prefix and state table, until ctx ends (Ctrl-C).
func serveConsole(ctx context.Context, addr string, kcfg config.Config, awsCfg aws.Config, log *slog.Logger, stdout io.Writer) error {
	kcfg.Console.Addr = addr
	if err := kcfg.ValidateConsole(); err != nil {
		return err
	}
	srv, err := console.Open(ctx, kcfg, awsCfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("console: %w (choose another address with -console-addr)", err)
	}
	fmt.Fprintf(stdout, "security console: http://%s/#/overview?range=1h  (Ctrl-C to stop)\n", ln.Addr())
	return srv.Serve(ctx, ln)
}
