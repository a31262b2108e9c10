package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// objectKey is a flow-log file's key in AWS's layout.
func objectKey(n int) string {
	return fmt.Sprintf("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/23/123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261123T1200Z_%08x.log.gz", n)
}

// flowLogObject is a gzip'd flow-log file with its header (flowgen.S3File), and its line count.
func flowLogObject(t *testing.T, seed uint64) ([]byte, int) {
	cfg := flowgen.DefaultConfig(flowgen.FixedStart)
	cfg.Seed = seed
	batches := flowgen.New(cfg).Batches(5, 20, 40)
	n := 0
	for _, b := range batches {
		n += len(b.Events)
	}
	file, _, _ := flowgen.S3File(batches, 0)
	return file, n
}

// TestObjectsBatchOneBadObject: an SQS batch of S3 notifications (from moto's S3, into moto's SQS) with one object
// that cannot be read (a truncated gzip stream): only its message is reported in BatchItemFailures; the others'
// objects are in the index, the bad one is dead-lettered; the same batch again (a retry) changes nothing.
func TestObjectsBatchOneBadObject(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "kinflow-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kinflow-test")
	c := newCluster(t)
	nb := testenv.NewNotifiedBucket(t)
	lines := 0
	for i := range 3 {
		body, n := flowLogObject(t, uint64(i+1))
		nb.Put(t, objectKey(i), body)
		lines += n
	}
	bad, _ := flowLogObject(t, 9)
	nb.Put(t, objectKey(9), bad[:len(bad)/2])
	var ev events.SQSEvent
	badID := ""
	for len(ev.Records) < 4 {
		msgs := nb.Messages(t, 10, time.Minute)
		if len(msgs) == 0 {
			t.Fatalf("%d notifications, want 4", len(ev.Records))
		}
		for _, m := range msgs {
			body := aws.ToString(m.Body)
			if strings.Contains(body, "00000009.log.gz") {
				badID = aws.ToString(m.MessageId)
			}
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: body,
				EventSourceARN: nb.QueueARN, EventSource: "aws:sqs"})
		}
	}
	env := map[string]string{
		"AWS_REGION": testenv.Region, "KINFLOW_SINK_URL": testenv.URL(t, testenv.Elasticsearch),
		"KINFLOW_INDEX_PREFIX": c.prefix, "KINFLOW_LAMBDA_HANDLER": "objects", "KINFLOW_S3_ENDPOINT": testenv.URL(t, testenv.Moto),
	}
	a := newApp(envLookup(env), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for try := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		resp, err := a.handleSQS(ctx, ev)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != badID {
			t.Fatalf("try %d: failures %+v, want only the bad object's message %s", try+1, resp.BatchItemFailures, badID)
		}
	}
	esURL := testenv.URL(t, testenv.Elasticsearch)
	flows := testenv.Count(t, esURL, c.prefix+"-flows-*")
	letters := testenv.Sources(t, esURL, c.prefix+"-deadletter")
	readLetters := 0
	for _, raw := range letters {
		var m map[string]any
		json.Unmarshal(raw, &m)
		if m["stage"] == "read" && m["reason"] == "bad_gzip" && strings.HasSuffix(fmt.Sprint(m["shard_id"]), objectKey(9)) {
			readLetters++
		}
	}
	// The bad object's readable lines are indexed too: its partial read is deterministic, its message is kept.
	if flows < lines || readLetters != 1 {
		t.Errorf("%d flow documents (want at least the good objects' %d), %d dead letters of the bad object (want 1)", flows, lines, readLetters)
	}
}
