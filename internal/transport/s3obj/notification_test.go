package s3obj

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixtures returns the message fixtures (testdata/*.json but the golden files).
func fixtures(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.json") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		tb.Fatal("no fixtures in testdata/")
	}
	return out
}

// TestParseMessageGolden decodes every fixture and compares the result with its golden file (-update rewrites them).
func TestParseMessageGolden(t *testing.T) {
	for _, path := range fixtures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			n, err := ParseMessage(body)
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			got, err := json.MarshalIndent(n, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.File(t, *update, strings.TrimSuffix(path, ".json")+".golden.json", append(got, '\n'))
		})
	}
}

// TestParseMessageMatchesLambdaEvents round-trips the fixtures through aws-lambda-go's event types, which AWS
// maintains for the same messages: bucket, decoded key, size, ETag, version and sequencer must agree.
func TestParseMessageMatchesLambdaEvents(t *testing.T) {
	for _, path := range fixtures(t) {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		n, err := ParseMessage(body)
		if err != nil {
			t.Fatal(err)
		}
		var want []ObjectRef
		switch n.Shape {
		case ShapeS3Event:
			want = lambdaS3Objects(t, body)
		case ShapeSNS:
			var sns events.SNSEntity
			if err := json.Unmarshal(body, &sns); err != nil {
				t.Fatal(err)
			}
			if n.Inner == ShapeS3Event {
				want = lambdaS3Objects(t, []byte(sns.Message))
			}
		case ShapeEventBridge:
			var ev events.CloudWatchEvent
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.DetailType == "Object Created" {
				var d struct {
					Bucket struct{ Name string } `json:"bucket"`
					Object struct {
						Key       string `json:"key"`
						Size      int64  `json:"size"`
						ETag      string `json:"etag"`
						VersionID string `json:"version-id"`
						Sequencer string `json:"sequencer"`
					} `json:"object"`
				}
				if err := json.Unmarshal(ev.Detail, &d); err != nil {
					t.Fatal(err)
				}
				want = []ObjectRef{{Bucket: d.Bucket.Name, Key: d.Object.Key, Size: d.Object.Size, ETag: d.Object.ETag,
					VersionID: d.Object.VersionID, Sequencer: d.Object.Sequencer}}
			}
		}
		var got []ObjectRef
		for _, ev := range n.Objects {
			got = append(got, ev.Object)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: objects differ from aws-lambda-go's reading (-lambda +ours):\n%s", path, d)
		}
	}
}

func lambdaS3Objects(tb testing.TB, body []byte) []ObjectRef {
	tb.Helper()
	var ev events.S3Event
	if err := json.Unmarshal(body, &ev); err != nil {
		tb.Fatal(err)
	}
	var out []ObjectRef
	for _, r := range ev.Records {
		if strings.HasPrefix(r.EventName, "ObjectCreated:") {
			o := r.S3.Object
			out = append(out, ObjectRef{Bucket: r.S3.Bucket.Name, Key: o.URLDecodedKey, Size: o.Size, ETag: o.ETag,
				VersionID: o.VersionID, Sequencer: o.Sequencer})
		}
	}
	return out
}

func TestParseMessageShapes(t *testing.T) {
	for _, tc := range []struct {
		file             string
		shape, inner     Shape
		objects, skipped int
		test             bool
		key, identity    string
		skippedName      string
	}{
		{file: "s3-put-flowlog.json", shape: ShapeS3Event, objects: 1,
			key:      "prod network/AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/123456789012_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f67890_20240501T1005Z_fe123456.log.gz",
			identity: "0d8a3c5e2b7f4a1e9c6d5b4a3f2e1d0c"},
		{file: "s3-multipart-hive-versioned.json", shape: ShapeS3Event, objects: 1,
			key:      "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2024/month=05/day=01/hour=10/123456789012_vpcflowlogs_eu-west-1_fl-0fedcba9876543210_20240501T1055Z_a1b2c3d4.log.parquet",
			identity: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"},
		{file: "s3-removed.json", shape: ShapeS3Event, skipped: 1, skippedName: "ObjectRemoved:Delete"},
		{file: "s3-test-event.json", shape: ShapeS3TestEvent, test: true},
		{file: "sns-s3-put.json", shape: ShapeSNS, inner: ShapeS3Event, objects: 1,
			identity: "0d8a3c5e2b7f4a1e9c6d5b4a3f2e1d0c"},
		{file: "sns-s3-test-event.json", shape: ShapeSNS, inner: ShapeS3TestEvent, test: true},
		{file: "sns-subscription-confirmation.json", shape: ShapeSNS, skipped: 1, skippedName: "SubscriptionConfirmation"},
		{file: "eventbridge-object-created.json", shape: ShapeEventBridge, objects: 1,
			key:      "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2024/05/01/123456789012_elasticloadbalancing_us-east-1_net.my-nlb.0123456789abcdef_20240501T1005Z_2soosksgsvsp.log.gz",
			identity: "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"},
		{file: "eventbridge-object-deleted.json", shape: ShapeEventBridge, skipped: 1, skippedName: "Object Deleted"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			n, err := ParseMessage(body)
			if err != nil {
				t.Fatal(err)
			}
			if n.Shape != tc.shape || n.Inner != tc.inner || len(n.Objects) != tc.objects || len(n.Skipped) != tc.skipped || n.IsTest() != tc.test {
				t.Fatalf("got shape %v/%v, %d objects, %d skipped, test %v", n.Shape, n.Inner, len(n.Objects), len(n.Skipped), n.IsTest())
			}
			if tc.key != "" && n.Objects[0].Object.Key != tc.key {
				t.Errorf("key %q, want %q", n.Objects[0].Object.Key, tc.key)
			}
			if tc.identity != "" && n.Objects[0].Object.Identity() != tc.identity {
				t.Errorf("identity %q, want %q", n.Objects[0].Object.Identity(), tc.identity)
			}
			if tc.skippedName != "" && (n.Skipped[0].Name != tc.skippedName || n.Skipped[0].Reason == "") {
				t.Errorf("skipped %+v, want name %q and a reason", n.Skipped[0], tc.skippedName)
			}
		})
	}
}

func TestParseMessageErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		body   string
		reason Reason
		is     error
	}{
		"empty":                 {"", ReasonNotJSON, ErrNotJSON},
		"text":                  {"hello", ReasonNotJSON, ErrNotJSON},
		"array":                 {"[1,2]", ReasonNotJSON, ErrNotJSON},
		"truncated":             {`{"Records":[`, ReasonNotJSON, ErrNotJSON},
		"other json":            {`{"messageType":"DATA_MESSAGE"}`, ReasonUnknownShape, ErrUnknownShape},
		"records not array":     {`{"Records":{}}`, ReasonUnknownShape, ErrUnknownShape},
		"records empty":         {`{"Records":[]}`, ReasonUnknownShape, ErrUnknownShape},
		"records null":          {`{"Records":null}`, ReasonUnknownShape, ErrUnknownShape},
		"kinesis records":       {`{"Records":[{"eventSource":"aws:kinesis","kinesis":{"data":"eA=="}}]}`, ReasonUnknownShape, ErrUnknownShape},
		"bad escape":            {`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a%zzb"}}}]}`, ReasonBadKeyEncoding, ErrBadKeyEncoding},
		"no key":                {`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]}`, ReasonMissingField, ErrMissingField},
		"sns message not json":  {`{"Type":"Notification","Message":"hello"}`, ReasonNotJSON, ErrNotJSON},
		"sns in sns":            {`{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{}\"}"}`, ReasonUnknownShape, ErrUnknownShape},
		"eventbridge no detail": {`{"source":"aws.s3","detail-type":"Object Created"}`, ReasonMissingField, ErrMissingField},
		"eventbridge no key":    {`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"}}}`, ReasonMissingField, ErrMissingField},
		"eventbridge ec2":       {`{"source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","detail":{}}`, ReasonUnknownShape, ErrUnknownShape},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseMessage([]byte(tc.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Reason != tc.reason || !errors.Is(err, tc.is) || !e.Permanent() || !retry.IsPermanent(err) {
				t.Errorf("got %v (reason %s), want reason %s, permanent", err, e.Reason, tc.reason)
			}
		})
	}
}

// FuzzParseMessage checks that no body panics, that failures are permanent *Errors, and that every object has a
// bucket and key.
func FuzzParseMessage(f *testing.F) {
	for _, path := range fixtures(f) {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"a+b%2Fc%"}}}]}`))
	f.Add([]byte(`{"Type":"Notification","Message":"{\"Records\":[]}"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := ParseMessage(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !e.Permanent() {
				t.Fatalf("error %v is not a permanent *Error", err)
			}
			return
		}
		for _, ev := range n.Objects {
			if ev.Object.Bucket == "" || ev.Object.Key == "" {
				t.Fatalf("object without bucket or key: %+v", ev)
			}
		}
	})
}
