package testenv_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// TestMotoSubscriptionDeliversToKinesis proves the path kinflow reads: log events put into a CloudWatch Logs group
// with a subscription filter arrive in the Kinesis stream as one gzip'd JSON envelope carrying exactly those events.
func TestMotoSubscriptionDeliversToKinesis(t *testing.T) {
	endpoint := testenv.URL(t, testenv.Moto)
	ctx := testenv.Context(t, time.Minute)
	cfg := testenv.AWSConfig(endpoint)
	kin := kinesis.NewFromConfig(cfg)
	cwl := cloudwatchlogs.NewFromConfig(cfg)

	stream := testenv.UniqueName(t, "kinflow")
	group := "/vpc/flowlogs/" + stream
	if _, err := kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	desc, err := kin.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: &stream})
	if err != nil {
		t.Fatalf("DescribeStream: %v", err)
	}
	streamARN := desc.StreamDescription.StreamARN

	if _, err := cwl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); err != nil {
		t.Fatalf("CreateLogGroup: %v", err)
	}
	logStream := "eni-0a1b2c3d4e5f60718-all"
	if _, err := cwl.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &logStream}); err != nil {
		t.Fatalf("CreateLogStream: %v", err)
	}
	if _, err := cwl.PutSubscriptionFilter(ctx, &cloudwatchlogs.PutSubscriptionFilterInput{
		LogGroupName:   &group,
		FilterName:     aws.String("kinflow"),
		FilterPattern:  aws.String(""),
		DestinationArn: streamARN,
		RoleArn:        aws.String("arn:aws:iam::123456789012:role/CWLtoKinesisRole"),
	}); err != nil {
		t.Fatalf("PutSubscriptionFilter: %v", err)
	}

	now := time.Now().UnixMilli()
	messages := []string{
		"2 123456789010 eni-0a1b2c3d4e5f60718 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 123456789010 eni-0a1b2c3d4e5f60718 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
		"2 123456789010 eni-0a1b2c3d4e5f60718 - - - - - - - 1431280876 1431280934 - NODATA",
	}
	events := make([]cwltypes.InputLogEvent, len(messages))
	for i, m := range messages {
		events[i] = cwltypes.InputLogEvent{Message: aws.String(m), Timestamp: aws.Int64(now + int64(i))}
	}
	if _, err := cwl.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName: &group, LogStreamName: &logStream, LogEvents: events,
	}); err != nil {
		t.Fatalf("PutLogEvents: %v", err)
	}

	shardID := desc.StreamDescription.Shards[0].ShardId
	it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: &stream, ShardId: shardID, ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	out, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatalf("GetRecords: %v", err)
	}

	var got []string
	for _, rec := range out.Records {
		if !bytes.HasPrefix(rec.Data, []byte{0x1f, 0x8b}) {
			t.Fatalf("record %s is not gzip: % x", aws.ToString(rec.SequenceNumber), rec.Data[:min(8, len(rec.Data))])
		}
		zr, err := gzip.NewReader(bytes.NewReader(rec.Data))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		var env flowgen.PlainEnvelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("envelope JSON: %v\n%s", err, raw)
		}
		if env.MessageType != "DATA_MESSAGE" || env.LogGroup != group || env.LogStream != logStream ||
			!slices.Equal(env.SubscriptionFilters, []string{"kinflow"}) {
			t.Fatalf("envelope header = %+v", env)
		}
		for i, e := range env.LogEvents {
			if len(e.ID) == 0 || e.Timestamp != now+int64(len(got)) {
				t.Errorf("event %d: id %q timestamp %d, want an id and timestamp %d", i, e.ID, e.Timestamp, now+int64(len(got)))
			}
			got = append(got, e.Message)
		}
	}
	if !slices.Equal(got, messages) {
		t.Fatalf("messages delivered through the subscription:\n got %q\nwant %q", got, messages)
	}
}

// TestDynamoEmulatorsAnswer checks that both DynamoDB implementations (moto and dynalite) create and list a table.
func TestDynamoEmulatorsAnswer(t *testing.T) {
	for _, svc := range []testenv.Service{testenv.Moto, testenv.Dynalite} {
		t.Run(svc.Name, func(t *testing.T) {
			ctx := testenv.Context(t, 30*time.Second)
			db := dynamodb.NewFromConfig(testenv.AWSConfig(testenv.URL(t, svc)))
			table := testenv.UniqueName(t, "leases")
			if _, err := db.CreateTable(ctx, createLeaseTable(table)); err != nil {
				t.Fatalf("CreateTable: %v", err)
			}
			out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
			if err != nil {
				t.Fatalf("DescribeTable: %v", err)
			}
			if got := aws.ToString(out.Table.TableName); got != table {
				t.Fatalf("table name = %q, want %q", got, table)
			}
		})
	}
}

// TestKinesaliteRoundTrip puts two records into kinesalite and reads them back in order.
func TestKinesaliteRoundTrip(t *testing.T) {
	ctx := testenv.Context(t, 30*time.Second)
	kin := kinesis.NewFromConfig(testenv.AWSConfig(testenv.URL(t, testenv.Kinesalite)))
	stream := testenv.UniqueName(t, "kinflow")
	if _, err := kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	t.Cleanup(func() { kin.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: &stream}) })
	if err := kinesis.NewStreamExistsWaiter(kin, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
	}).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &stream}, 20*time.Second); err != nil {
		t.Fatalf("waiting for stream: %v", err)
	}
	want := []string{"first", "second"}
	for _, d := range want {
		if _, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: &stream, PartitionKey: aws.String("k"), Data: []byte(d)}); err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
	}
	shards, err := kin.ListShards(ctx, &kinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: &stream, ShardId: shards.Shards[0].ShardId, ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	out, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatalf("GetRecords: %v", err)
	}
	var got []string
	for _, r := range out.Records {
		got = append(got, string(r.Data))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("records = %q, want %q", got, want)
	}
}

// TestSearchEnginesIndexAndSearch indexes one document into Elasticsearch (go-elasticsearch) and OpenSearch
// (opensearch-go) and finds it again by an ip-typed range query.
func TestSearchEnginesIndexAndSearch(t *testing.T) {
	const mapping = `{"mappings":{"properties":{"source":{"properties":{"ip":{"type":"ip"}}}}}}`
	const doc = `{"source":{"ip":"10.1.2.3"}}`
	const query = `{"query":{"term":{"source.ip":"10.0.0.0/8"}}}`

	t.Run("elasticsearch", func(t *testing.T) {
		es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{testenv.URL(t, testenv.Elasticsearch)}})
		if err != nil {
			t.Fatal(err)
		}
		index := testenv.UniqueName(t, "smoke")
		t.Cleanup(func() { es.Indices.Delete([]string{index}) })
		res, err := es.Indices.Create(index, es.Indices.Create.WithBody(strings.NewReader(mapping)))
		esOK(t, "create index", res, err)
		res, err = es.Index(index, strings.NewReader(doc), es.Index.WithDocumentID("one"), es.Index.WithRefresh("true"))
		esOK(t, "index", res, err)
		res, err = es.Search(es.Search.WithIndex(index), es.Search.WithBody(strings.NewReader(query)))
		body := esOK(t, "search", res, err)
		if total := hitsTotal(t, body); total != 1 {
			t.Fatalf("hits = %d, want 1: %s", total, body)
		}
	})

	t.Run("opensearch", func(t *testing.T) {
		ctx := testenv.Context(t, 30*time.Second)
		os, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearch.Config{Addresses: []string{testenv.URL(t, testenv.OpenSearch)}}})
		if err != nil {
			t.Fatal(err)
		}
		index := testenv.UniqueName(t, "smoke")
		t.Cleanup(func() {
			os.Indices.Delete(testenv.Context(t, 10*time.Second), opensearchapi.IndicesDeleteReq{Indices: []string{index}})
		})
		if _, err := os.Indices.Create(ctx, opensearchapi.IndicesCreateReq{Index: index, Body: strings.NewReader(mapping)}); err != nil {
			t.Fatalf("create index: %v", err)
		}
		if _, err := os.Index(ctx, opensearchapi.IndexReq{
			Index: index, DocumentID: "one", Body: strings.NewReader(doc), Params: opensearchapi.IndexParams{Refresh: "true"},
		}); err != nil {
			t.Fatalf("index: %v", err)
		}
		res, err := os.Search(ctx, &opensearchapi.SearchReq{Indices: []string{index}, Body: strings.NewReader(query)})
		if err != nil {
			t.Fatalf("search: %v", err)
		}
		if res.Hits.Total.Value != 1 || len(res.Hits.Hits) != 1 || res.Hits.Hits[0].ID != "one" {
			t.Fatalf("hits = %+v, want the one document", res.Hits)
		}
	})
}

func createLeaseTable(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            &name,
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("ShardID"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("ShardID"), KeyType: ddbtypes.KeyTypeHash}},
	}
}

// esOK fails the test unless the request succeeded with a 2xx status; it returns the body.
func esOK(tb testing.TB, what string, res *esapi.Response, err error) []byte {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s: reading body: %v", what, err)
	}
	if res.IsError() {
		tb.Fatalf("%s: %s: %s", what, res.Status(), body)
	}
	return body
}

func hitsTotal(tb testing.TB, body []byte) int {
	tb.Helper()
	var r struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		tb.Fatalf("search response: %v: %s", err, body)
	}
	return r.Hits.Total.Value
}
