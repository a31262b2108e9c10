package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/sinktest"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// The load test's length: 5,000 records (about 625,000 events, some 25 s on this machine). Documents become
// searchable at the index's refresh, about once a second under load, so a run of a few seconds measures mostly
// where its last refresh fell (1,000 records: 4 or 5 refreshes for the consumer against 3 for the bare loader).
var (
	e2eRecords = flag.Int("e2e-records", 5000, "CloudWatch Logs records BenchmarkEndToEnd puts after its warm-up (about 125 events each)")
	e2eCurves  = flag.Bool("e2e-curves", false, "BenchmarkEndToEnd logs its searchable curves (ms:events)")
)

// BenchmarkEndToEnd is the load test behind `make bench-e2e`: synthetic CloudWatch Logs records are put into a
// kinesalite stream as fast as PutRecords takes them while `consumer run`, in a process of its own, indexes them
// into the local Elasticsearch. It reports events/s from the first put to the last searchable document, the delay
// from put to searchable at the median and 99th-percentile event (read off the two cumulative curves, sampled every
// 100 ms without refreshing: documents become searchable at the index's own refresh, as for a dashboard), the
// consumer process's CPU time per event and peak RSS (its own: the test's corpus lives in this process), the
// cluster's CPU time per event, and the documents of partial connection sets written per flow. In the same
// iteration the bare bulk loader (internal/testing/sinktest.BareLoad: the same flow documents, pre-encoded, 1000 a
// request, 4 at a time) indexes the same events into a fresh index, timed and polled the same way, so e2e/bare says
// what Kinesis, the KCL, decoding, aggregation and checkpointing cost against the cluster's own speed, and the two
// cluster CPU figures say whether the consumer's writes cost the cluster more than the bare loader's.
//
// Two traffic shapes: "load", flowgen's defaults (200 hosts, 500 outside peers: a few thousand IPs a window, many
// flows each), and "many-ips", a production-like VPC (20,000 hosts on 200 interfaces, 500,000 outside peers: most
// IPs seen in one or two flows a window).
//
//	go test -run '^$' -bench EndToEnd -benchtime 1x ./consumer [-e2e-records N] [-e2e-curves]
func BenchmarkEndToEnd(b *testing.B) {
	kin, ddb, es := testenv.URL(b, testenv.Kinesalite), testenv.URL(b, testenv.Dynalite), testenv.URL(b, testenv.Elasticsearch)
	client := kinesis.NewFromConfig(testenv.AWSConfig(kin))
	bin := filepath.Join(b.TempDir(), "consumer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	start := testenv.Now(b).UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	manyIPs := flowgen.DefaultConfig(start)
	manyIPs.Interfaces, manyIPs.Hosts, manyIPs.External = 200, 20_000, 500_000
	for _, shape := range []struct {
		name string
		cfg  flowgen.Config
	}{{"load", flowgen.DefaultConfig(start)}, {"many-ips", manyIPs}} {
		b.Run("shape="+shape.name, func(b *testing.B) { endToEnd(b, client, bin, kin, ddb, es, shape.cfg) })
	}
}

func endToEnd(b *testing.B, client *kinesis.Client, bin, kin, ddb, es string, cfg flowgen.Config) {
	g := flowgen.New(cfg)
	var records [][]byte
	var perRecord []int
	events := 0
	const warm = 16 // records put before the timed load
	for _, batch := range g.Batches(*e2eRecords+warm, 50, 200) {
		records = append(records, g.Envelope("/vpc/flow-logs/bench", "kinflow", batch))
		perRecord = append(perRecord, len(batch.Events))
		events += len(batch.Events)
	}
	bodies := sinktest.BulkBodies(flowDocs(b, records), 1000)
	hc := sinktest.BareClient(b, 4)
	for b.Loop() {
		ctx := testenv.Context(b, 10*time.Minute)
		name := testenv.UniqueName(b, "kfbench")
		testenv.DropPrefix(b, es, name)
		if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(2)}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { deleteStream(client, name) })
		if err := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).
			Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &name}, 30*time.Second); err != nil {
			b.Fatal(err)
		}

		cmd := exec.CommandContext(ctx, bin, "run", "-stream-name", name, "-application-name", name, "-kinesis-endpoint", kin,
			"-dynamodb-endpoint", ddb, "-sink-url", es, "-index-prefix", name, "-metrics-addr", "127.0.0.1:0",
			"-aws-region", testenv.Region, "-log-level", "error")
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=kinflow-test", "AWS_SECRET_ACCESS_KEY=kinflow-test")
		cmd.Stderr = os.Stderr
		cmd.Env = append(cmd.Env, os.Getenv("KF_CHILD_ENV"))
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		rss := watchRSS(cmd.Process.Pid)

		// Warm-up, not timed: the worker creates its tables, takes both leases and indexes a few records. The load
		// test measures a running consumer, not its start.
		warmEvents := 0
		entries := make([]kintypes.PutRecordsRequestEntry, 0, warm)
		for j := range warm {
			entries = append(entries, kintypes.PutRecordsRequestEntry{Data: records[j], PartitionKey: aws.String(strconv.Itoa(j))})
			warmEvents += perRecord[j]
		}
		if _, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &name, Records: entries}); err != nil {
			b.Fatal(err)
		}
		for testenv.Count(b, es, name+"-flows-*") < warmEvents {
			time.Sleep(100 * time.Millisecond)
		}
		timed := events - warmEvents

		cpu := clusterCPU(b, es)
		start := time.Now()
		// The put curve: when the events of each PutRecords call were accepted.
		var puts []point
		put := 0
		for i := warm; i < len(records); i += 100 {
			entries := make([]kintypes.PutRecordsRequestEntry, 0, 100)
			n := 0
			for j := i; j < min(i+100, len(records)); j++ {
				entries = append(entries, kintypes.PutRecordsRequestEntry{Data: records[j], PartitionKey: aws.String(strconv.Itoa(j))})
				n += perRecord[j]
			}
			out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: &name, Records: entries})
			if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
				b.Fatalf("PutRecords: %v (%d failed)", err, aws.ToInt32(out.FailedRecordCount))
			}
			put += n
			puts = append(puts, point{time.Since(start), put})
		}
		seen := searchableCurve(b, es, name+"-flows-*", warmEvents, timed, start)
		took := seen[len(seen)-1].at
		logCurve(b, "searchable", seen)
		cpu = clusterCPU(b, es) - cpu
		// SIGTERM: the consumer cuts, checkpoints and exits; its rusage is then complete.
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			b.Fatalf("consumer: %v", err)
		}
		at := func(curve []point, q float64) time.Duration {
			target := int(q * float64(timed))
			i := slices.IndexFunc(curve, func(p point) bool { return p.events >= target })
			return curve[max(i, 0)].at
		}
		b.ReportMetric(float64(timed)/took.Seconds(), "events/s")
		b.ReportMetric(float64(timed)/puts[len(puts)-1].at.Seconds(), "put-events/s")
		b.ReportMetric(float64(at(seen, 0.5)-at(puts, 0.5))/1e6, "p50-delay-ms")
		b.ReportMetric(float64(at(seen, 0.99)-at(puts, 0.99))/1e6, "p99-delay-ms")
		b.ReportMetric(float64((cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()).Nanoseconds())/float64(events), "consumer-cpu-ns/event")
		b.ReportMetric(float64(rss())/(1<<20), "consumer-peak-RSS-MiB")
		b.ReportMetric(float64(testenv.Count(b, es, name+"-conns-partial-*"))/float64(events), "partials/flow")
		b.ReportMetric(float64(timed), "events")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(timed), "cluster-cpu-ns/event")

		// The bare loader, timed the same way: from its first request to its last document searchable, under the
		// same poll. (Not polled, its index would be "search idle": Elasticsearch skips the refreshes of an index
		// nobody searches, a discount no dashboard-fed index gets.)
		cpu = clusterCPU(b, es)
		bareStart := time.Now()
		loaded := make(chan struct{})
		go func() {
			defer close(loaded)
			sinktest.BareLoad(b, hc, es, name+"-flows-bare", bodies, 4)
		}()
		// Should the poll fail, the loader ends before DropPrefix's cleanup (registered earlier, so run later):
		// a request still in flight would otherwise create the index again after its deletion.
		b.Cleanup(func() { <-loaded })
		bareSeen := searchableCurve(b, es, name+"-flows-bare", 0, events, bareStart)
		<-loaded
		bare := bareSeen[len(bareSeen)-1].at
		logCurve(b, "bare searchable", bareSeen)
		cpu = clusterCPU(b, es) - cpu
		if n := testenv.Count(b, es, name+"-flows-bare"); n != events {
			b.Fatalf("bare loader: %d documents, want %d", n, events)
		}
		b.ReportMetric(float64(events)/bare.Seconds(), "bare-events/s")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "bare-cluster-cpu-ns/event")
		b.ReportMetric((float64(timed)/took.Seconds())/(float64(events)/bare.Seconds()), "e2e/bare")

		readStart := time.Now()
		if n := readAll(b, ctx, client, name); n != len(records) {
			b.Fatalf("bare reader: %d records, want %d", n, len(records))
		}
		b.ReportMetric(float64(events)/time.Since(readStart).Seconds(), "read-events/s")
	}
}

// A point of a curve: when it reached events.
type point struct {
	at     time.Duration
	events int
}

// searchableCurve polls, every 100 ms from start, how many documents of the indices matching pattern a search sees
// (less offset, documents there before), until want: the searchable curve. The count does not refresh the indices
// (testenv.Searchable): they become searchable at their own refresh, as they do for a dashboard.
func searchableCurve(b *testing.B, es, pattern string, offset, want int, start time.Time) []point {
	var seen []point
	for {
		n := testenv.Searchable(b, es, pattern) - offset
		seen = append(seen, point{time.Since(start), n})
		if n >= want {
			return seen
		}
		if b.Failed() {
			b.FailNow()
		}
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("only %d of %d events of %s searchable after 5 minutes", n, want, pattern)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logCurve logs curve, a point in three, with -e2e-curves.
func logCurve(b *testing.B, name string, curve []point) {
	if !*e2eCurves {
		return
	}
	var sb strings.Builder
	for i := 0; i < len(curve); i += 3 {
		fmt.Fprintf(&sb, " %d:%d", curve[i].at.Milliseconds(), curve[i].events)
	}
	b.Logf("%s:%s", name, sb.String())
}

// clusterCPU is the CPU time the Elasticsearch node at es has used since it started: the cluster's cost of a load
// is the difference around it (the node is alone on the machine's cluster, and nothing else loads it meanwhile).
func clusterCPU(b *testing.B, es string) time.Duration {
	var stats struct {
		Nodes map[string]struct {
			Process struct {
				CPU struct {
					TotalInMillis int64 `json:"total_in_millis"`
				}
			}
		}
	}
	testenv.Get(b, es+"/_nodes/_local/stats/process?filter_path=nodes.*.process.cpu.total_in_millis", &stats)
	for _, n := range stats.Nodes {
		return time.Duration(n.Process.CPU.TotalInMillis) * time.Millisecond
	}
	b.Fatal("no node in the cluster's stats")
	return 0
}

// readAll is the bare reader: GetRecords from TRIM_HORIZON on every shard at once, 10,000 records a call, until
// each shard's reader is at its tip. It returns the records read: what the emulator serves without a KCL or a
// pipeline behind it.
func readAll(tb testing.TB, ctx context.Context, client *kinesis.Client, stream string) int {
	shards, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		tb.Fatal(err)
	}
	counts := make([]int, len(shards.Shards))
	var wg sync.WaitGroup
	for i, sh := range shards.Shards {
		wg.Go(func() {
			it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &stream, ShardId: sh.ShardId,
				ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon})
			if err != nil {
				tb.Error(err)
				return
			}
			iter := it.ShardIterator
			for iter != nil {
				out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
				if err != nil {
					tb.Error(err)
					return
				}
				counts[i] += len(out.Records)
				if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
					return
				}
				iter = out.NextShardIterator
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	return total
}

// flowDocs runs records through the pipeline into memory: the flow documents the consumer writes, for the bare
// loader.
func flowDocs(tb testing.TB, records [][]byte) []sink.Doc {
	resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	var c collector
	p, err := pipeline.New(pipeline.DefaultConfig(), resolver, &c, pipeline.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	shard, err := p.Shard("shardId-000000000000")
	if err != nil {
		tb.Fatal(err)
	}
	for i, r := range records {
		if _, err := shard.Process(context.Background(), []pipeline.Record{{SequenceNumber: strconv.Itoa(i + 1), Data: r}}); err != nil {
			tb.Fatal(err)
		}
	}
	return c.docs
}

// collector is a sink that keeps what it is given.
type collector struct{ docs []sink.Doc }

func (c *collector) Write(_ context.Context, docs []sink.Doc) error {
	for _, d := range docs {
		d.Source, d.Origin = bytes.Clone(d.Source), sink.Origin{}
		c.docs = append(c.docs, d)
	}
	return nil
}

func (c *collector) Close(context.Context) error { return nil }
