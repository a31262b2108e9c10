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

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
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
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				os.WriteFile(path, []byte(got), 0o644)
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
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
}
