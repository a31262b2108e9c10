package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/testing/golden"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

var update = flag.Bool("update", false, "rewrite consumer/testdata")

const motoCustomFormat = "${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} " +
	"${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} " +
	"${log-status} ${region} ${az-id} ${flow-direction} ${traffic-path}"

// writeInput builds testdata/decode-input.json, a Lambda Kinesis event, from the cwlogs fixtures: AWS's control
// message, an AWS-shaped data message, the two records moto delivered, a record with a bad line, and one that is
// not gzip at all.
func writeInput(tb testing.TB) {
	tb.Helper()
	cw := filepath.Join("..", "internal", "transport", "cwlogs", "testdata")
	gz := func(p []byte) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(p)
		zw.Close()
		return b.Bytes()
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(cw, name))
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	bad := `{"messageType":"DATA_MESSAGE","owner":"123456789010","logGroup":"/vpc/flowlogs/prod","logStream":"eni-1-all","subscriptionFilters":["kinflow"],"logEvents":[` +
		`{"id":"31953106606966983378809025079804211143289615424298221599","timestamp":1418530070000,"message":"2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT"},` +
		`{"id":"31953106606966983378809025079804211143289615424298221600","timestamp":1418530070000,"message":"2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"}]}`
	records := [][]byte{gz(read("aws-control.json")), gz(read("aws-data.json")), read("moto-default.gz"), read("moto-custom.gz"), gz([]byte(bad)), []byte("not gzip")}
	type rec struct {
		Kinesis struct {
			SequenceNumber string `json:"sequenceNumber"`
			Data           string `json:"data"`
		} `json:"kinesis"`
		EventID     string `json:"eventID"`
		EventSource string `json:"eventSource"`
	}
	var ev struct {
		Records []rec `json:"Records"`
	}
	for i, r := range records {
		var x rec
		x.Kinesis.SequenceNumber = "4959033827149060000000000000000000000000000000000000000" + string(rune('0'+i))
		x.Kinesis.Data = base64.StdEncoding.EncodeToString(r)
		x.EventID = "shardId-000000000000:" + x.Kinesis.SequenceNumber
		x.EventSource = "aws:kinesis"
		ev.Records = append(ev.Records, x)
	}
	b, _ := json.MarshalIndent(ev, "", "  ")
	if err := os.WriteFile(filepath.Join("testdata", "decode-input.json"), append(b, '\n'), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestDecodeCommand(t *testing.T) {
	if *update {
		writeInput(t)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"decode", []string{"-override", "/vpc/flowlogs/kinflow-*=" + vpcflow.DefaultFormatString + "|" + motoCustomFormat, "testdata/decode-input.json"}},
		{"decode-bulk", []string{"-bulk", "-index-prefix", "test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "decode-input.json"))
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err = dispatch(context.Background(), append([]string{"decode"}, tt.args...), bytes.NewReader(in), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), "could not be processed") {
				t.Errorf("err = %v, want the count of failures", err)
			}
			for i, line := range bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n")) {
				if !json.Valid(line) {
					t.Fatalf("stdout line %d is not JSON: %s", i+1, line)
				}
			}
			got := "== stdout ==\n" + stdout.String() + "== stderr ==\n" + stderr.String()
			golden.File(t, *update, filepath.Join("testdata", tt.name+".golden"), []byte(got))
		})
	}
}

func TestDecodeUsage(t *testing.T) {
	var out, errw bytes.Buffer
	if err := dispatch(context.Background(), []string{"decode", "-override", "nope"}, nil, &out, &errw); err != errUsage {
		t.Fatalf("err = %v, want errUsage", err)
	}
	if err := dispatch(context.Background(), []string{"decode", "-format", "${x"}, strings.NewReader(""), &out, &errw); err == nil {
		t.Fatal("an invalid format was accepted")
	}
	for _, args := range [][]string{
		{"-kind", "parquet"},
		{"-key", "s3://my-logs/AWSLogs/x.log.gz", "a.log.gz", "b.log.gz"}, // -key names one object
		{"-key", "s3://my-logs/AWSLogs/x.log.gz", "-kind", "envelope"},
		{"-key", "s3:///AWSLogs/x.log.gz"},
	} {
		errw.Reset()
		if err := dispatch(context.Background(), append([]string{"decode"}, args...), strings.NewReader(""), &out, &errw); err != errUsage {
			t.Errorf("decode %q: err = %v, want errUsage", args, err)
		}
		if errw.Len() == 0 {
			t.Errorf("decode %q: nothing on stderr says what is wrong", args)
		}
	}
}

// The S3 objects of testdata/s3, written by writeObjects: named as AWS log delivery names them, so that decode
// routes them by their names, except nlbObject, whose name says nothing.
const (
	flowObject = "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261130T0005Z_a1b2c3d4.log.gz"
	albObject  = "123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.50dc6c495c0c9188_20180702T2225Z_10.0.0.1_2et2e1mx.log.gz"
	nlbObject  = "nlb-object.gz"
	nlbKey     = "s3://my-logs/AWSLogs/671290407336/elasticloadbalancing/us-east-2/2018/12/20/" +
		"671290407336_elasticloadbalancing_us-east-2_net.my-network-loadbalancer.c6e77e28c25b2234_20181220T0300Z_4a3c1f2b.log.gz"
	elbObject = "elb-object.log"
)

// flowLines is a flow-log file as AWS writes it to S3: the header, then accepted, rejected, NODATA and IPv6
// records, and a line whose destination port is not a number.
var flowLines = []string{
	"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id flow-direction tcp-flags",
	"5 123456789012 eni-0a1b2c3d4e5f67890 10.0.1.5 10.0.2.10 49152 443 6 10 8400 1795996800 1795996860 ACCEPT OK vpc-0a1b2c3d subnet-0a1b2c3d egress 2",
	"5 123456789012 eni-0a1b2c3d4e5f67890 203.0.113.7 10.0.1.5 51515 22 6 3 180 1795996800 1795996860 REJECT OK vpc-0a1b2c3d subnet-0a1b2c3d ingress 2",
	"5 123456789012 eni-0a1b2c3d4e5f67890 10.0.1.5 10.0.2.10 49153 https 6 10 8400 1795996800 1795996860 ACCEPT OK vpc-0a1b2c3d subnet-0a1b2c3d egress 2",
	"5 123456789012 eni-0a1b2c3d4e5f67890 - - - - - - - 1795996800 1795996860 - NODATA vpc-0a1b2c3d subnet-0a1b2c3d - -",
	"5 123456789012 eni-0a1b2c3d4e5f67890 2600:1f18::1 2600:1f18::2 443 50000 6 9 1200 1795996860 1795996920 ACCEPT OK vpc-0a1b2c3d subnet-0a1b2c3d egress 19",
}

// writeObjects builds testdata/s3: the flow-log file above, gzip'd, and the AWS documentation's example lines
// of each load-balancer format (the format packages' aws-examples.txt without its comments), the ALB and NLB
// logs gzip'd as AWS delivers them, the Classic one plain.
func writeObjects(tb testing.TB) {
	tb.Helper()
	examples := func(format string) []string {
		b, err := os.ReadFile(filepath.Join("..", "internal", "format", format, "testdata", "cases", "aws-examples.txt"))
		if err != nil {
			tb.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	write := func(name string, lines []string, gz bool) {
		data := []byte(strings.Join(lines, "\n") + "\n")
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data = b.Bytes()
		}
		if err := os.WriteFile(filepath.Join("testdata", "s3", name), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join("testdata", "s3"), 0o755); err != nil {
		tb.Fatal(err)
	}
	write(flowObject, flowLines, true)
	write(albObject, examples("alb"), true)
	write(nlbObject, examples("nlb"), true)
	write(elbObject, examples("elb"), false)
}

func TestDecodeObjects(t *testing.T) {
	if *update {
		writeObjects(t)
	}
	s3 := func(name string) string { return filepath.Join("testdata", "s3", name) }
	truncated := func(tb testing.TB) []byte {
		b, err := os.ReadFile(s3(flowObject))
		if err != nil {
			tb.Fatal(err)
		}
		return b[:len(b)-12] // the gzip trailer and a little of the stream
	}
	tests := []struct {
		name    string
		args    []string
		stdin   string                  // a file to give on stdin
		input   func(testing.TB) []byte // or these bytes
		wantErr string                  // "" for success
	}{
		// A flow-log file routed by its name; the line with a bad port is reported, the others printed.
		{"flow-by-name", []string{s3(flowObject)}, "", nil, "could not be processed"},
		{"flow-by-name-bulk", []string{"-bulk", "-index-prefix", "test", s3(flowObject)}, "", nil, "could not be processed"},
		// The same file on stdin, which has no name: -kind says what it is.
		{"flow-stdin-kind", []string{"-kind", "vpcflow"}, s3(flowObject), nil, "could not be processed"},
		// A gzip stream that ends early: the lines before the break are printed, the break is an error.
		{"flow-truncated", []string{"-kind", "vpcflow"}, "", truncated, "could not be processed"},
		// A first line that names no flow-log fields: no line of the file can be read.
		{"flow-bad-header", []string{"-kind", "vpcflow"}, "", func(testing.TB) []byte {
			return []byte("2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n")
		}, "could not be processed"},
		{"alb-by-name", []string{s3(albObject)}, "", nil, ""},
		// An object under a name of no known layout: -key routes it and names its documents and ids.
		{"nlb-by-key-bulk", []string{"-bulk", "-key", nlbKey, "-identity", "0123456789abcdef0123456789abcdef", s3(nlbObject)}, "", nil, ""},
		// Without -key the same file is tried as envelopes, which it is not, and the error says which flags read it.
		{"nlb-unknown", []string{s3(nlbObject)}, "", nil, "could not be processed"},
		// -kind routes a plain Classic ELB log on stdin; -kind overrides what a file's name says.
		{"elb-stdin-kind", []string{"-kind", "elb"}, s3(elbObject), nil, ""},
		{"kind-overrides-name", []string{"-kind", "nlb", s3(albObject)}, "", nil, "could not be processed"},
		// A plain file of no known name is neither envelopes nor an object by its name.
		{"elb-unknown", []string{s3(elbObject)}, "", nil, "could not be processed"},
		// -kind envelope reads even a file named like an AWS log as envelopes.
		{"kind-envelope", []string{"-kind", "envelope", s3(albObject)}, "", nil, "could not be processed"},
		// A -key of no layout the router knows ends the command before any reading.
		{"key-unknown", []string{"-key", "s3://my-logs/copied/alb.log.gz", s3(nlbObject)}, "", nil, "no AWSLogs/ folder in the key; give -kind"},
		// A key routed to a kind kinflow does not read.
		{"key-parquet", []string{"-key", "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/30/" +
			"123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261130T0005Z_a1b2c3d4.log.parquet", s3(nlbObject)},
			"", nil, "could not be processed"},
		// Objects and envelopes in one run, each input by its own kind.
		{"mixed", []string{"-override", "/vpc/flowlogs/kinflow-*=" + vpcflow.DefaultFormatString + "|" + motoCustomFormat,
			s3(albObject), filepath.Join("testdata", "decode-input.json")}, "", nil, "could not be processed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in []byte
			switch {
			case tt.stdin != "":
				var err error
				if in, err = os.ReadFile(tt.stdin); err != nil {
					t.Fatal(err)
				}
			case tt.input != nil:
				in = tt.input(t)
			}
			var stdout, stderr bytes.Buffer
			err := dispatch(context.Background(), append([]string{"decode"}, tt.args...), bytes.NewReader(in), &stdout, &stderr)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if stdout.Len() > 0 {
				for i, line := range bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n")) {
					if !json.Valid(line) {
						t.Fatalf("stdout line %d is not JSON: %s", i+1, line)
					}
				}
			}
			got := "== stdout ==\n" + stdout.String() + "== stderr ==\n" + stderr.String()
			if err != nil {
				got += "== error ==\n" + err.Error() + "\n"
			}
			golden.File(t, *update, filepath.Join("testdata", "decode-s3-"+tt.name+".golden"), []byte(got))
		})
	}
}

// Files are routed by their paths as the S3 intake routes keys: the AWSLogs/ folders when the path has them, else
// the folders AWS would put the base name under.
func TestDecodeRouteFile(t *testing.T) {
	router, err := s3obj.NewRouter(s3obj.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	const flow = "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261130T0005Z_a1b2c3d4"
	tests := []struct {
		path    string
		want    s3obj.Kind
		wantErr string
	}{
		{"/tmp/" + flow + ".log.gz", s3obj.KindVPCFlow, ""},
		{flow + ".log", s3obj.KindVPCFlow, ""}, // gunzipped by hand
		{"copy/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/30/" + flow + ".log.gz", s3obj.KindVPCFlow, ""},
		{"AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=30/hour=00/" +
			flow + ".log.gz", s3obj.KindVPCFlow, ""},
		{flow + ".log.parquet", s3obj.KindVPCFlowParquet, ""},
		{"123456789012_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_20261130T0000Z_10.0.0.1_abc.log.gz", s3obj.KindALB, ""},
		{"conn_log_123456789012_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_20261130T0000Z_10.0.0.1_abc.log.gz", s3obj.KindALBConnection, ""},
		{"123456789012_elasticloadbalancing_us-east-2_net.my-lb.c6e77e28c25b2234_20261130T0000Z_abc.log.gz", s3obj.KindNLB, ""},
		{"123456789012_elasticloadbalancing_us-east-1_my-loadbalancer_20261130T0000Z_172.160.001.192_20sg8hgm.log", s3obj.KindELB, ""},
		{"decode-input.json", "", "is not one AWS log delivery writes"},
		{"123456789012_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_2026-11-30_10.0.0.1_abc.log.gz", "", "not YYYY"},
		{"123456789012_cloudtrail_us-east-2_x_20261130T0000Z_abc.json.gz", "", "service folder cloudtrail"},
		// The folders name another account than the file: the path's reason, then the base name routes.
		{"AWSLogs/999999999999/vpcflowlogs/us-east-1/2026/11/30/" + flow + ".log.gz", s3obj.KindVPCFlow, ""},
		{"AWSLogs/999999999999/vpcflowlogs/us-east-1/2026/11/30/" + flow + ".txt", "", "path: file name " + flow + ".txt names account 123456789012"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			rt, err := routeFile(router, tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("routeFile(%q) = %v, %v, want an error containing %q", tt.path, rt.Kind, err, tt.wantErr)
				}
				return
			}
			if err != nil || rt.Kind != tt.want {
				t.Fatalf("routeFile(%q) = %q, %v, want %q", tt.path, rt.Kind, err, tt.want)
			}
		})
	}
}
