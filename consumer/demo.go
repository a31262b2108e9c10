package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinflow/kinflow/internal/feed"
	"github.com/kinflow/kinflow/internal/flowgen"
)

// demoOptions are the demo's flags; the defaults are the addresses scripts/services.sh starts.
type demoOptions struct {
	motoURL string
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
	fs.StringVar(&o.stream, "stream", "kinflow-demo", "Kinesis stream")
	fs.StringVar(&o.group, "log-group", "/kinflow/demo/vpc-flow-logs", "CloudWatch Logs group of the flow logs")
	fs.IntVar(&o.shards, "shards", 2, "shards of the stream")
	fs.IntVar(&o.batches, "batches", 200, "deliveries of ordinary traffic (50-200 flows each)")
	fs.Uint64Var(&o.seed, "seed", uint64(time.Now().Unix()), "generator seed")
	if err := fs.Parse(args); err != nil {
		return errUsage
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
	fmt.Fprintf(stdout, "put %d flow-log events (ordinary traffic, a port scan, a fan-out scanner, rejected bursts)\n", n)

	records, err := countRecords(ctx, kinesis.NewFromConfig(cfg), p.Stream)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stream %s holds %d records delivered by the subscription\n", p.Stream, records)
	fmt.Fprintln(stdout, "the consumer that indexes them is not built yet (issue 6); the stream is ready for it")
	return nil
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
	)
	return out
}

// countRecords reads every shard from the trim horizon to its current end and counts the records.
func countRecords(ctx context.Context, kin *kinesis.Client, stream string) (int, error) {
	shards, err := kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		return 0, fmt.Errorf("listing shards of %s: %w", stream, err)
	}
	total := 0
	for _, s := range shards.Shards {
		it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: s.ShardId, ShardIteratorType: "TRIM_HORIZON"})
		if err != nil {
			return total, fmt.Errorf("iterator for %s: %w", aws.ToString(s.ShardId), err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				return total, fmt.Errorf("reading %s: %w", aws.ToString(s.ShardId), err)
			}
			total += len(out.Records)
			if len(out.Records) == 0 || aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return total, nil
}
