package flowformats_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/format/vpcflow/flowformats"
	"github.com/kinflow/kinflow/internal/testing/testenv"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
)

var update = flag.Bool("update", false, "save the records moto delivers as internal/cwlogs/testdata/moto-*.gz")

// The two flow logs of the test deliver to one log group with formats of different lengths: a version 5 custom
// format and the default.
const customFormat = "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} " +
	"${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} " +
	"${log-status} ${region} ${az-id} ${flow-direction} ${traffic-path}"

var batches = map[string][]string{
	"default": {
		"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
		"2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
		"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
		"2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
		"2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
	},
	"custom": {
		"5 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK us-east-1 use1-az1 ingress -",
		"5 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv4 10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 376 7 1566848875 1566848933 REJECT 18 OK us-east-1 use1-az1 egress 8",
		"5 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789010 IPv6 2600:1f18::1 2600:1f18::2 443 50000 2600:1f18::1 2600:1f18::2 6 1200 9 1566848875 1566848933 ACCEPT 19 OK us-east-1 use1-az1 egress 1",
		"5 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 - eni-1235b8ca123456789 123456789010 - - - - - - - - - - 1566848875 1566848933 - - NODATA us-east-1 use1-az1 - -",
	},
}

// TestMotoEndToEnd is the path in production, against moto: two flow logs (created with EC2 CreateFlowLogs) write
// to a log group whose subscription delivers to Kinesis; their formats are discovered with DescribeFlowLogs; the
// records moto's subscription puts in the stream decode (cwlogs) and parse (vpcflow) with the discovered formats.
func TestMotoEndToEnd(t *testing.T) {
	endpoint := testenv.URL(t, testenv.Moto)
	ctx := testenv.Context(t, time.Minute)
	cfg := testenv.AWSConfig(endpoint)
	kin, cwl, ec := kinesis.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg), ec2.NewFromConfig(cfg)

	stream := testenv.UniqueName(t, "kinflow")
	group := "/vpc/flowlogs/" + stream
	must(t, "CreateStream", func() error {
		_, err := kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &stream, ShardCount: aws.Int32(1)})
		return err
	})
	desc, err := kin.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}
	must(t, "CreateLogGroup", func() error {
		_, err := cwl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group})
		return err
	})
	must(t, "PutSubscriptionFilter", func() error {
		_, err := cwl.PutSubscriptionFilter(ctx, &cloudwatchlogs.PutSubscriptionFilterInput{
			LogGroupName: &group, FilterName: aws.String("kinflow"), FilterPattern: aws.String(""),
			DestinationArn: desc.StreamDescription.StreamARN, RoleArn: aws.String("arn:aws:iam::123456789012:role/CWLtoKinesisRole"),
		})
		return err
	})
	for _, format := range []*string{nil, aws.String(customFormat)} {
		vpc, err := ec.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
		if err != nil {
			t.Fatalf("CreateVpc: %v", err)
		}
		out, err := ec.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{
			ResourceType: ec2types.FlowLogsResourceTypeVpc, ResourceIds: []string{*vpc.Vpc.VpcId},
			TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeCloudWatchLogs,
			LogGroupName: &group, LogFormat: format,
			DeliverLogsPermissionArn: aws.String("arn:aws:iam::123456789012:role/flowlogs"),
		})
		if err != nil || len(out.FlowLogIds) != 1 {
			t.Fatalf("CreateFlowLogs: %v %+v", err, out)
		}
	}

	// Discovery: both formats, and nothing for a group no flow log writes to.
	src := flowformats.New(ec)
	formats, err := src.LogFormats(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{vpcflow.DefaultFormatString, customFormat}; !slices.Equal(sorted(formats), sorted(want)) {
		t.Fatalf("discovered formats %q, want %q", formats, want)
	}
	if none, err := src.LogFormats(ctx, group+"-nobody"); err != nil || len(none) != 0 {
		t.Fatalf("a group without flow logs: %q %v", none, err)
	}
	res, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), src)
	if err != nil {
		t.Fatal(err)
	}
	parser, err := res.Parser(ctx, group)
	if err != nil || len(parser.Formats()) != 2 || parser.Origin() != "discovered" {
		t.Fatalf("parser: %v %v", parser, err)
	}

	names := []string{"default", "custom"}
	now := time.Now().UnixMilli()
	for _, name := range names {
		logStream := "eni-1235b8ca123456789-" + name
		must(t, "CreateLogStream", func() error {
			_, err := cwl.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &logStream})
			return err
		})
		var events []cwltypes.InputLogEvent
		for i, m := range batches[name] {
			events = append(events, cwltypes.InputLogEvent{Message: aws.String(m), Timestamp: aws.Int64(now + int64(i))})
		}
		must(t, "PutLogEvents", func() error {
			_, err := cwl.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: &group, LogStreamName: &logStream, LogEvents: events})
			return err
		})
	}

	it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: &stream, ShardId: desc.StreamDescription.Shards[0].ShardId, ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs.Records) != len(names) {
		t.Fatalf("%d records in the stream, want one per PutLogEvents (%d)", len(recs.Records), len(names))
	}
	dec, err := cwlogs.NewDecoder(cwlogs.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var env cwlogs.Envelope
	var flow vpcflow.Flow
	var enc vpcflow.Encoder
	for i, rec := range recs.Records {
		if err := dec.Decode(&env, rec.Data); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		name := names[i]
		if env.MessageType != cwlogs.DataMessage || env.LogGroup != group || env.Owner == "" ||
			!strings.HasSuffix(env.LogStream, name) || !slices.Equal(env.SubscriptionFilters, []string{"kinflow"}) {
			t.Fatalf("record %d: envelope %+v", i, env)
		}
		if len(env.LogEvents) != len(batches[name]) {
			t.Fatalf("record %d: %d events, want %d", i, len(env.LogEvents), len(batches[name]))
		}
		for j, ev := range env.LogEvents {
			// moto numbers events with a counter and sends it as a JSON number; the decoder keeps its digits.
			if ev.ID == "" || strings.Trim(ev.ID, "0123456789") != "" || ev.Message != batches[name][j] || ev.Timestamp != now+int64(j) {
				t.Errorf("record %d event %d: %+v", i, j, ev)
			}
			s := vpcflow.Source{LogGroup: env.LogGroup, LogStream: env.LogStream, EventID: ev.ID, Timestamp: ev.Timestamp}
			if err := parser.Parse(&flow, &s, ev.Message); err != nil {
				t.Fatalf("record %d event %d: %v", i, j, err)
			}
			doc := enc.AppendDocument(nil, &flow, &s)
			var m map[string]any
			if err := json.Unmarshal(doc, &m); err != nil {
				t.Fatalf("document %s: %v", doc, err)
			}
			_, hasSource := m["source"]
			if nodata := strings.Contains(ev.Message, "NODATA") || strings.Contains(ev.Message, "SKIPDATA"); hasSource == nodata {
				t.Errorf("record %d event %d: source present %v in %s", i, j, hasSource, doc)
			}
		}
		if *update {
			path := filepath.Join("..", "..", "..", "transport", "cwlogs", "testdata", "moto-"+name+".gz")
			if err := os.WriteFile(path, rec.Data, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", path, len(rec.Data))
		}
	}
}

func must(tb testing.TB, what string, f func() error) {
	tb.Helper()
	if err := f(); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
