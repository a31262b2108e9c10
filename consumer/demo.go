package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/testing/feed"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

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
}

func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var o demoOptions
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.motoURL, "moto", "http://127.0.0.1:5000", "moto server (CloudWatch Logs and Kinesis)")
	fs.StringVar(&o.sinkURL, "sink-url", "http://127.0.0.1:9200", "Elasticsearch to index into")
	fs.StringVar(&o.prefix, "index-prefix", "kinflow", "index name prefix")
	fs.StringVar(&o.stream, "stream", "", "Kinesis stream (default: kinflow-demo-<seed>, a new one each run)")
	fs.StringVar(&o.group, "log-group", "/kinflow/demo/vpc-flow-logs", "CloudWatch Logs group of the flow logs")
	fs.IntVar(&o.shards, "shards", 2, "shards of the stream")
	fs.IntVar(&o.batches, "batches", 200, "deliveries of ordinary traffic (50-200 flows each)")
	fs.Uint64Var(&o.seed, "seed", uint64(time.Now().Unix()), "generator seed")
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
	go func() { errc <- consume(runCtx, kcfg, cfg, reg, log) }()
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
	rep, err := finalizeOnce(ctx, kcfg, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "finalizer: watermark %s, %d windows closed, %d still open, %d final connection sets (%s-conns-*)\n",
		time.Unix(rep.Watermark, 0).UTC().Format(time.RFC3339), rep.Windows-rep.Open, rep.Open, countFinals(ctx, o.sinkURL, kcfg.Pipeline.Prefix), kcfg.Pipeline.Prefix)
	return report(ctx, stdout, o.sinkURL, kcfg.Pipeline.Prefix)
}

// demoTraffic is an hour of ordinary traffic up to now, plus the patterns a security dashboard should surface.
func demoTraffic(seed uint64, batches int, now time.Time) []flowgen.Batch {
	cfg := flowgen.DefaultConfig(now.Add(-time.Hour).Truncate(time.Second))
	cfg.Seed = seed
	g := flowgen.New(cfg)
	out := g.Batches(batches, 50, 200)
	enis := g.Interfaces()

	scanner, target := netip.MustParseAddr("198.51.100.23"), netip.MustParseAddr("10.0.0.10")
	ports := make([]int, 1024)
	for i := range ports {
		ports[i] = i + 1
	}
	out = append(out,
		g.Batch(enis[0], g.PortScan(scanner, target, ports)),
		g.Batch(enis[2], g.FanOut(netip.MustParseAddr("10.0.3.7"), 2000, 445)),
		g.Batch(enis[1], g.RejectedBurst(netip.MustParseAddr("10.0.0.22"), 22, 300)),
		// What a misconfigured custom format looks like: dead letters, and the shard moves on.
		g.Batch(enis[3], []string{
			"3 123456789012 eni-0a1b2c3d4e5f6 10.0.0.5 10.0.0.6 443 51000 6 10 840 1795440000 1795440060 ACCEPT OK vpc-1",
			"not a flow-log line at all",
		}),
	)
	return out
}

// counter sums the values of a counter family in reg.
func counter(reg *prometheus.Registry, name string) float64 {
	families, _ := reg.Gather()
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}

// countFinals counts the final connection sets in the index.
func countFinals(ctx context.Context, url, prefix string) int {
	var count struct {
		Count int `json:"count"`
	}
	queryJSON(ctx, url+"/"+prefix+"-conns-2*/_refresh", "", nil)
	queryJSON(ctx, url+"/"+prefix+"-conns-2*/_count", "", &count)
	return count.Count
}

// report prints what a dashboard would show first: rejected flows, and the IPs with the most distinct peers in one
// closed window (from the final connection sets).
func report(ctx context.Context, w io.Writer, url, prefix string) error {
	var count struct {
		Count int `json:"count"`
	}
	if _, err := queryJSON(ctx, url+"/"+prefix+"-flows-*/_refresh", "", nil); err != nil {
		return err
	}
	queryJSON(ctx, url+"/"+prefix+"-conns-2*/_refresh", "", nil)
	if _, err := queryJSON(ctx, url+"/"+prefix+"-flows-*/_count", `{"query":{"term":{"event.action":"reject"}}}`, &count); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s-flows-*: %d rejected flows (try source.ip:10.0.0.0/8 AND event.action:reject)\n", prefix, count.Count)
	var top struct {
		Aggregations struct {
			IPs struct {
				Buckets []struct {
					Key   string `json:"key"`
					Peers struct {
						Value float64 `json:"value"`
					} `json:"peers"`
					Rejected struct {
						Value float64 `json:"value"`
					} `json:"rejected"`
				} `json:"buckets"`
			} `json:"ips"`
		} `json:"aggregations"`
	}
	q := `{"size":0,"aggs":{"ips":{"terms":{"field":"ip","size":5,"order":{"peers":"desc"}},
		"aggs":{"peers":{"max":{"field":"peers_count"}},"rejected":{"sum":{"field":"flows.rejected"}}}}}}`
	if _, err := queryJSON(ctx, url+"/"+prefix+"-conns-2*/_search", q, &top); err != nil {
		return err
	}
	fmt.Fprintln(w, "most distinct peers in one closed 10-minute window (final connection sets):")
	for _, b := range top.Aggregations.IPs.Buckets {
		fmt.Fprintf(w, "  %-16s %6.0f peers  %6.0f rejected flows\n", b.Key, b.Peers.Value, b.Rejected.Value)
	}
	return nil
}

// queryJSON POSTs body and decodes the answer into out when out is not nil.
func queryJSON(ctx context.Context, url, body string, out any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying %s: %w", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return b, fmt.Errorf("querying %s: %s: %s", url, res.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return b, fmt.Errorf("answer of %s: %w", url, err)
		}
	}
	return b, nil
}
