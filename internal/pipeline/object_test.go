package pipeline_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// flowLogFile is a flow-log file as AWS delivers one to S3 (flowgen.S3File), every tenth line of a delivery made
// bad; it returns the file, its valid lines and the number of bad ones.
func flowLogFile(t *testing.T, deliveries int) ([]byte, []string, int) {
	t.Helper()
	cfg := flowgen.DefaultConfig(flowgen.FixedStart)
	cfg.Seed = 11
	return flowgen.S3File(flowgen.New(cfg).Batches(deliveries, 20, 60), 10)
}

// TestObjectReadTwice reads a flow-log file from S3 into the index, then reads it again (a redelivered
// notification): one document per valid line, a dead letter per bad line naming the object and the line, and
// partial connection sets equal to the brute force, counted once.
func TestObjectReadTwice(t *testing.T) {
	e := newEnv(t)
	file, valid, bad := flowLogFile(t, 40)
	ctx := testenv.Context(t, 2*time.Minute)
	objects, err := e.pipe.Objects(s3obj.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ref := s3obj.ObjectRef{Bucket: "flow-logs", Key: "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/30/x.log.gz", ETag: "abc"}
	route := s3obj.Route{Kind: s3obj.KindVPCFlow}
	var first s3obj.ObjectRef = ref
	for i := range 2 {
		res, err := objects.Read(ctx, first, route, bytes.NewReader(file))
		if err != nil {
			t.Fatalf("read %d: %v", i+1, err)
		}
		if res.Documents != len(valid) || res.DeadLetters != bad || res.Lines != len(valid)+bad+1 {
			t.Fatalf("read %d: %+v, want %d documents, %d dead letters, %d lines", i+1, res, len(valid), bad, len(valid)+bad+1)
		}
	}
	if n := len(e.search(t, e.prefix+"-flows-*")); n != len(valid) {
		t.Errorf("%d flow documents, want %d", n, len(valid))
	}
	letters := e.search(t, e.prefix+"-deadletter")
	if len(letters) != bad {
		t.Errorf("%d dead letters, want %d", len(letters), bad)
	}
	for _, raw := range letters[:1] {
		var m map[string]any
		json.Unmarshal(raw, &m)
		if m["shard_id"] != "s3://flow-logs/"+ref.Key || !strings.HasPrefix(fmt.Sprint(m["sequence_number"]), "abc:") || m["reason"] != "field_count" {
			t.Errorf("dead letter %s: want the object, its ETag and line, reason field_count", raw)
		}
	}
	var doc map[string]any
	json.Unmarshal(e.search(t, e.prefix+"-flows-*")[0], &doc)
	if log, _ := doc["log"].(map[string]any); log == nil || !strings.HasPrefix(fmt.Sprint(log["file"]), "map[path:s3://flow-logs/") {
		t.Errorf("a flow document without log.file.path: %v", doc["log"])
	}
	e.checkPartials(t, valid)
}

// TestObjectFailures: an object that cannot be read to its end is an error that says whether to retry, and one
// that will fail again is dead-lettered once.
func TestObjectFailures(t *testing.T) {
	e := newEnv(t)
	ctx := testenv.Context(t, time.Minute)
	objects, err := e.pipe.Objects(s3obj.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	file, _, _ := flowLogFile(t, 5)
	for _, tc := range []struct {
		name      string
		kind      s3obj.Kind
		body      []byte
		reason    string
		permanent bool
	}{
		{"truncated gzip", s3obj.KindVPCFlow, file[:len(file)/2], "bad_gzip", true},
		{"no header", s3obj.KindVPCFlow, gzipped(t, "2 123 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1700000000 1700000060 ACCEPT OK\n"), "bad_header", true},
		{"not parquet", s3obj.KindVPCFlowParquet, []byte("PAR1 is not enough"), "bad_parquet", true},
		{"connection log", s3obj.KindALBConnection, []byte("x"), "unsupported_kind", true},
		{"broken connection", s3obj.KindVPCFlow, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r = bytes.NewReader(tc.body)
			var src interface{ Read([]byte) (int, error) } = r
			if tc.body == nil {
				src = failingReader{}
			}
			ref := s3obj.ObjectRef{Bucket: "b", Key: tc.name, ETag: "e"}
			_, err := objects.Read(ctx, ref, s3obj.Route{Kind: tc.kind}, src)
			if err == nil || retry.IsPermanent(err) != tc.permanent {
				t.Fatalf("%v: want an error, permanent %v", err, tc.permanent)
			}
			found := false
			for _, raw := range e.search(t, e.prefix+"-deadletter") {
				var m map[string]any
				json.Unmarshal(raw, &m)
				if m["shard_id"] == "s3://b/"+tc.name && m["stage"] == "read" {
					found = true
					if m["reason"] != tc.reason {
						t.Errorf("reason %v, want %s", m["reason"], tc.reason)
					}
				}
			}
			if found != tc.permanent {
				t.Errorf("dead-lettered %v, want %v", found, tc.permanent)
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// TestLoadBalancerObjects reads the example entries of AWS's documentation for each load balancer, as objects, into
// the load-balancer index (strict mappings: a field the templates lack fails the write).
func TestLoadBalancerObjects(t *testing.T) {
	e := newEnv(t)
	ctx := testenv.Context(t, time.Minute)
	objects, err := e.pipe.Objects(s3obj.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, kind := range []s3obj.Kind{s3obj.KindALB, s3obj.KindNLB, s3obj.KindELB} {
		raw, err := os.ReadFile(filepath.Join("..", "format", string(kind), "testdata", "cases", "aws-examples.txt"))
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(raw), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		body := []byte(strings.Join(lines, "\n") + "\n")
		if kind != s3obj.KindELB { // classic load balancers write plain text, the others gzip
			body = gzipped(t, string(body))
		}
		res, err := objects.Read(ctx, s3obj.ObjectRef{Bucket: "lb-logs", Key: string(kind) + ".log", VersionID: "v1"}, s3obj.Route{Kind: kind}, bytes.NewReader(body))
		if err != nil || res.Documents != len(lines) || res.DeadLetters != 0 {
			t.Errorf("%s: %+v, %v; want %d documents", kind, res, err, len(lines))
		}
		want += len(lines)
	}
	if got := len(e.search(t, e.prefix+"-lb-*")); got != want {
		t.Errorf("%d load-balancer documents, want %d", got, want)
	}
}

// parquetRow is a flow-log Parquet row of the default format, typed as AWS writes it.
type parquetRow struct {
	Version     int32  `parquet:"version"`
	AccountID   string `parquet:"account_id"`
	InterfaceID string `parquet:"interface_id"`
	Srcaddr     string `parquet:"srcaddr"`
	Dstaddr     string `parquet:"dstaddr"`
	Srcport     int32  `parquet:"srcport"`
	Dstport     int32  `parquet:"dstport"`
	Protocol    int32  `parquet:"protocol"`
	Packets     int64  `parquet:"packets"`
	Bytes       int64  `parquet:"bytes"`
	Start       int64  `parquet:"start"`
	End         int64  `parquet:"end"`
	Action      string `parquet:"action"`
	LogStatus   string `parquet:"log_status"`
}

// TestParquetObject reads a Parquet flow-log file (the rows of flowgen's lines): one document per row, and partial
// connection sets equal to the brute force of the same lines, read twice.
func TestParquetObject(t *testing.T) {
	e := newEnv(t)
	ctx := testenv.Context(t, 2*time.Minute)
	cfg := flowgen.DefaultConfig(flowgen.FixedStart)
	cfg.Seed = 13
	var rows []parquetRow
	var lines []string
	for _, b := range flowgen.New(cfg).Batches(20, 20, 60) {
		for _, ev := range b.Events {
			f := strings.Fields(ev.Message)
			if len(f) != 14 || f[13] != "OK" {
				continue
			}
			n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
			rows = append(rows, parquetRow{int32(n(0)), f[1], f[2], f[3], f[4], int32(n(5)), int32(n(6)), int32(n(7)), n(8), n(9), n(10), n(11), f[12], f[13]})
			lines = append(lines, ev.Message)
		}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRow](&buf)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	objects, err := e.pipe.Objects(s3obj.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ref := s3obj.ObjectRef{Bucket: "flow-logs", Key: "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/30/x.parquet", VersionID: "v1"}
	for range 2 {
		res, err := objects.Read(ctx, ref, s3obj.Route{Kind: s3obj.KindVPCFlowParquet}, bytes.NewReader(buf.Bytes()))
		if err != nil || res.Documents != len(rows) || res.DeadLetters != 0 {
			t.Fatalf("%+v, %v; want %d documents", res, err, len(rows))
		}
	}
	if n := len(e.search(t, e.prefix+"-flows-*")); n != len(rows) {
		t.Errorf("%d flow documents, want %d", n, len(rows))
	}
	e.checkPartials(t, lines)
}
