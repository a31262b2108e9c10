package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinflow/kinflow/internal/testing/feed"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/moto-kinesis-event.json from moto's subscription delivery")

const fixture = "testdata/moto-kinesis-event.json"

// fixtureLogGroup is the log group of the fixture's flow logs.
const fixtureLogGroup = "/kinflow/test/vpc-flow-logs"

// TestFixtureFromMoto makes the Kinesis event fixture the handler tests use from moto's real subscription delivery:
// flowgen lines put into a CloudWatch Logs group, delivered into a Kinesis stream, read back, and wrapped as the
// event a Kinesis event source mapping sends. Without -update it checks moto still delivers the same records.
func TestFixtureFromMoto(t *testing.T) {
	url := testenv.URL(t, testenv.Moto)
	ctx := testenv.Context(t, time.Minute)
	cfg := testenv.AWSConfig(url)
	clients := feed.NewClients(cfg)
	p := &feed.Pipeline{Stream: testenv.UniqueName(t, "lambda"), Shards: 1, LogGroup: fixtureLogGroup + "-" + fmt.Sprint(time.Now().UnixNano()), Filter: "kinflow"}
	if err := clients.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	// moto, like CloudWatch Logs, drops events older than 14 days: the flows are from two hours ago.
	gcfg := flowgen.DefaultConfig(time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour))
	gcfg.Seed = 99
	batches := flowgen.New(gcfg).Batches(24, 10, 40)
	if _, err := clients.Put(ctx, p.LogGroup, batches); err != nil {
		t.Fatal(err)
	}
	kin := kinesis.NewFromConfig(cfg)
	shards, err := kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &p.Stream})
	if err != nil {
		t.Fatal(err)
	}
	shardID := aws.ToString(shards.Shards[0].ShardId)
	it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: &p.Stream, ShardId: &shardID, ShardIteratorType: "TRIM_HORIZON"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != len(batches) {
		t.Fatalf("moto delivered %d records for %d PutLogEvents calls", len(out.Records), len(batches))
	}
	var ev events.KinesisEvent
	for _, r := range out.Records {
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			AwsRegion:         testenv.Region,
			EventID:           shardID + ":" + aws.ToString(r.SequenceNumber),
			EventName:         "aws:kinesis:record",
			EventSource:       "aws:kinesis",
			EventSourceArn:    p.StreamARN,
			EventVersion:      "1.0",
			InvokeIdentityArn: "arn:aws:iam::123456789012:role/kinflow-lambda",
			Kinesis: events.KinesisRecord{
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: aws.ToTime(r.ApproximateArrivalTimestamp)},
				Data:                        r.Data,
				EncryptionType:              string(r.EncryptionType),
				PartitionKey:                aws.ToString(r.PartitionKey),
				SequenceNumber:              aws.ToString(r.SequenceNumber),
				KinesisSchemaVersion:        "1.0",
			},
		})
	}
	if *update {
		b, err := json.MarshalIndent(ev, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(fixture), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixture, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	saved := loadFixture(t)
	if len(saved.Records) != len(ev.Records) {
		t.Fatalf("fixture has %d records, moto delivers %d: run go test ./lambda -run Fixture -update", len(saved.Records), len(ev.Records))
	}
}

func loadFixture(tb testing.TB) events.KinesisEvent {
	tb.Helper()
	b, err := os.ReadFile(fixture)
	if err != nil {
		tb.Fatal(err)
	}
	var ev events.KinesisEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		tb.Fatal(err)
	}
	return ev
}
