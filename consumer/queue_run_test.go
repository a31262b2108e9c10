package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// TestRunReadsQueueOnly runs `consumer run` with a queue of S3 notifications and no stream: flow-log files put in
// moto's S3 are indexed once each line, and the queue's progress alone moves the watermark, so the running worker's
// finalizer closes the files' windows; the finals equal the merged partials.
func TestRunReadsQueueOnly(t *testing.T) {
	ddb, es, moto := testenv.URL(t, testenv.Dynalite), testenv.URL(t, testenv.Elasticsearch), testenv.URL(t, testenv.Moto)
	t.Setenv("AWS_ACCESS_KEY_ID", "kinflow-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kinflow-test")
	ctx := testenv.Context(t, 3*time.Minute)
	name := testenv.UniqueName(t, "kfsqs")
	testenv.DropPrefix(t, es, name)
	nb := testenv.NewNotifiedBucket(t)

	// Three days old, as a backlog of files would be; two files of half an hour each.
	cfg := flowgen.DefaultConfig(testenv.Now(t).UTC().Add(-72 * time.Hour).Truncate(time.Hour))
	cfg.Seed = 8
	g := flowgen.New(cfg)
	valid := 0
	for f := range 2 {
		batches := g.Batches(15, 20, 40)
		for _, b := range batches {
			valid += len(b.Events)
		}
		file, _, _ := flowgen.S3File(batches, 0)
		nb.Put(t, fmt.Sprintf("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/23/123456789012_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60718_20261123T1200Z_%08x.log.gz", f), file)
	}

	args := []string{"run", "-sqs-queue-url", nb.QueueURL, "-sqs-endpoint", moto, "-s3-endpoint", moto,
		"-sqs-visibility-timeout", "30s", "-application-name", name, "-dynamodb-endpoint", ddb, "-sink-url", es,
		"-index-prefix", name, "-aws-region", testenv.Region, "-log-level", "warn", "-metrics-addr", "127.0.0.1:0",
		"-finalizer-interval", "1s", "-idle-after", "2s"}
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	var out, errs strings.Builder
	go func() { errc <- dispatch(runCtx, args, nil, &out, &errs) }()
	for deadline := time.Now().Add(90 * time.Second); (testenv.Count(t, es, name+"-flows-*") < valid ||
		testenv.Count(t, es, name+"-conns-2*") < len(mergedPartials(t, es, name))) && time.Now().Before(deadline); {
		time.Sleep(time.Second)
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatalf("consumer run: %v\n%s", err, errs.String())
	}
	if got := testenv.Count(t, es, name+"-flows-*"); got != valid {
		t.Fatalf("flow documents = %d, want %d", got, valid)
	}
	want, finals := map[string]uint64{}, map[string]uint64{}
	for k, set := range mergedPartials(t, es, name) {
		want[k] = set.PeersCount
	}
	for k, set := range finalSets(t, es, name) {
		finals[k] = set.PeersCount
	}
	if len(want) == 0 || fmt.Sprint(finals) != fmt.Sprint(want) {
		t.Errorf("finals (%d) differ from the merged partials (%d)", len(finals), len(want))
	}
	if msgs := nb.Messages(t, 10, time.Second); len(msgs) != 0 {
		t.Errorf("%d messages left in the queue, want every one deleted", len(msgs))
	}
}
