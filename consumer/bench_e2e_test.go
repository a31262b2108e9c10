package main

import (
	"context"
	"io"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinflow/kinflow/internal/flowgen"
	"github.com/kinflow/kinflow/internal/testenv"
)

// BenchmarkEndToEnd is the load test behind `make bench-e2e`: synthetic CloudWatch Logs records are put into a
// kinesalite stream as fast as PutRecords takes them while `consumer run` (in this process) indexes them into the
// local Elasticsearch. It reports events/s from the first put to the last searchable document, the delay from put
// to searchable at the median and 99th-percentile event (read off the two cumulative curves, sampled every 100 ms),
// the CPU time of this process per event (the consumer, plus the putting client; not kinesalite or the cluster) and
// the process's peak RSS.
//
//	go test -run '^$' -bench EndToEnd -benchtime 1x ./consumer
func BenchmarkEndToEnd(b *testing.B) {
	kin, ddb, es := testenv.URL(b, testenv.Kinesalite), testenv.URL(b, testenv.Dynalite), testenv.URL(b, testenv.Elasticsearch)
	b.Setenv("AWS_ACCESS_KEY_ID", "kinflow-test")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "kinflow-test")
	client := kinesis.NewFromConfig(testenv.AWSConfig(kin))
	cfg := flowgen.DefaultConfig()
	g := flowgen.New(cfg)
	var records [][]byte
	var perRecord []int
	events := 0
	for _, batch := range g.Batches(1000, 50, 200) {
		records = append(records, g.Envelope("/vpc/flow-logs/bench", "kinflow", batch))
		perRecord = append(perRecord, len(batch.Events))
		events += len(batch.Events)
	}
	b.ReportAllocs()
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

		runCtx, stop := context.WithCancel(ctx)
		errc := make(chan error, 1)
		args := []string{"run", "-stream", name, "-application", name, "-kinesis-endpoint", kin, "-dynamodb-endpoint", ddb,
			"-sink-url", es, "-index-prefix", name, "-metrics-addr", "127.0.0.1:0", "-region", testenv.Region, "-log-level", "error"}
		go func() { errc <- dispatch(runCtx, args, nil, io.Discard, io.Discard) }()

		cpu0 := cpuTime()
		start := time.Now()
		// The put curve: when the events of each PutRecords call were accepted.
		type point struct {
			at     time.Duration
			events int
		}
		var puts []point
		put := 0
		for i := 0; i < len(records); i += 100 {
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
		// The searchable curve.
		var seen []point
		for {
			n := testenv.Count(b, es, name+"-flows-*")
			seen = append(seen, point{time.Since(start), n})
			if n >= events {
				break
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("only %d of %d events searchable after 5 minutes", n, events)
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(start)
		cpu := cpuTime() - cpu0
		stop()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		at := func(curve []point, q float64) time.Duration {
			target := int(q * float64(events))
			i := slices.IndexFunc(curve, func(p point) bool { return p.events >= target })
			return curve[max(i, 0)].at
		}
		b.ReportMetric(float64(events)/took.Seconds(), "events/s")
		b.ReportMetric(float64(at(seen, 0.5)-at(puts, 0.5))/1e6, "p50-delay-ms")
		b.ReportMetric(float64(at(seen, 0.99)-at(puts, 0.99))/1e6, "p99-delay-ms")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(events), "events")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns the process's peak resident set size in bytes (Linux reports kilobytes).
func peakRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}
