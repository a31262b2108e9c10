package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/feed"
	"github.com/kinflow/kinflow/internal/flowgen"
	"github.com/kinflow/kinflow/internal/pipeline"
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

	kcfg := config.Default()
	kcfg.Sink.URLs = []string{o.sinkURL}
	kcfg.Pipeline.Prefix = o.prefix
	if err := kcfg.Validate(); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	parts, err := assemble.Build(ctx, kcfg, cfg, nil, log)
	if err != nil {
		return err
	}
	defer parts.Sink.Close(context.WithoutCancel(ctx))
	// The KCL worker (consumer run) is not built yet: read each shard from its start with a plain poller.
	total, err := drainStream(ctx, kinesis.NewFromConfig(cfg), p.Stream, parts.Pipeline)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kinflow processed %d records: %d log events, %d flow documents, %d dead letters (%s-deadletter), %d flows into connection sets\n",
		total.Records, total.Events, total.Flows, total.DeadLetters, kcfg.Pipeline.Prefix, total.Aggregated)
	return report(ctx, stdout, o.sinkURL, kcfg.Pipeline.Prefix)
}

// demoTraffic is an hour of ordinary traffic up to now, plus the patterns a security dashboard should surface.
func demoTraffic(seed uint64, batches int, now time.Time) []flowgen.Batch {
	cfg := flowgen.DefaultConfig()
	cfg.Seed = seed
	cfg.Start = now.Add(-time.Hour).Truncate(time.Second)
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

// drainStream reads every shard from the trim horizon to its current end through the pipeline, cutting the
// partial connection sets after each batch as a checkpointing runtime would.
func drainStream(ctx context.Context, kin *kinesis.Client, stream string, pipe *pipeline.Pipeline) (pipeline.Result, error) {
	var total pipeline.Result
	shards, err := kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return total, fmt.Errorf("listing shards of %s: %w", stream, err)
	}
	for _, s := range shards.Shards {
		shardID := aws.ToString(s.ShardId)
		sh, err := pipe.Shard(shardID)
		if err != nil {
			return total, err
		}
		it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: s.ShardId, ShardIteratorType: "TRIM_HORIZON"})
		if err != nil {
			return total, fmt.Errorf("iterator for %s: %w", shardID, err)
		}
		for iter := it.ShardIterator; iter != nil; {
			out, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(100)})
			if err != nil {
				return total, fmt.Errorf("reading %s: %w", shardID, err)
			}
			if len(out.Records) == 0 {
				break
			}
			batch := make([]pipeline.Record, len(out.Records))
			for i, r := range out.Records {
				batch[i] = pipeline.Record{SequenceNumber: aws.ToString(r.SequenceNumber), Data: r.Data}
			}
			res, err := sh.Process(ctx, batch)
			if err != nil {
				return total, err
			}
			if err := sh.Cut(ctx); err != nil {
				return total, err
			}
			total.Records += res.Records
			total.Events += res.Events
			total.Flows += res.Flows
			total.DeadLetters += res.DeadLetters
			total.Aggregated += res.Aggregated
			iter = out.NextShardIterator
		}
	}
	return total, nil
}

// report prints what a dashboard would show first: rejected flows, and the IPs with the most distinct peers in one
// window (from the partial connection sets; the finalizer that merges them is not built yet).
func report(ctx context.Context, w io.Writer, url, prefix string) error {
	var count struct {
		Count int `json:"count"`
	}
	if _, err := queryJSON(ctx, url+"/"+prefix+"-flows-*/_refresh", "", nil); err != nil {
		return err
	}
	queryJSON(ctx, url+"/"+prefix+"-conns-partial-*/_refresh", "", nil)
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
	if _, err := queryJSON(ctx, url+"/"+prefix+"-conns-partial-*/_search", q, &top); err != nil {
		return err
	}
	fmt.Fprintln(w, "most distinct peers in one 10-minute window (partial connection sets):")
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
