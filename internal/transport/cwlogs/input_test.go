package cwlogs

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSplitInput(t *testing.T) {
	envJSON := read(t, "aws-data.json")
	z := gz(t, envJSON)
	b64 := base64.StdEncoding.EncodeToString(z)
	lambda := fmt.Sprintf(`{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"k","sequenceNumber":"4959","data":%q,"approximateArrivalTimestamp":1.5},"eventSource":"aws:kinesis","eventID":"shardId-000000000003:4959"},{"kinesis":{"sequenceNumber":"4960","data":%q},"eventID":"shardId-000000000003:4960"}]}`, b64, b64)
	tests := []struct {
		name       string
		in         string
		n          int
		compressed bool
		seq, shard string
	}{
		{"raw gzip", string(z), 1, true, "", ""},
		{"base64", b64 + "\n", 1, true, "", ""},
		{"base64 lines", b64 + "\n" + strings.TrimRight(base64.RawURLEncoding.EncodeToString(z), "=") + "\n", 2, true, "", ""},
		{"lambda kinesis event", lambda, 2, true, "4959", "shardId-000000000003"},
		{"get-records output", fmt.Sprintf(`{"Records":[{"SequenceNumber":"77","Data":%q,"PartitionKey":"k"}],"NextShardIterator":"x"}`, b64), 1, true, "77", ""},
		{"lambda awslogs event", fmt.Sprintf(`{"awslogs":{"data":%q}}`, b64), 1, true, "", ""},
		{"plain envelope", string(envJSON), 1, false, "", ""},
		{"envelopes as NDJSON", string(envJSON) + "\n" + string(envJSON), 2, false, "", ""},
		{"array of base64", fmt.Sprintf(`[%q, %q]`, b64, b64), 2, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := SplitInput([]byte(tt.in), 1<<24)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != tt.n {
				t.Fatalf("%d payloads, want %d", len(ps), tt.n)
			}
			d := newDecoder(t, DefaultConfig())
			for i, p := range ps {
				if p.Compressed != tt.compressed || p.ShardID != tt.shard || i == 0 && p.SequenceNumber != tt.seq {
					t.Errorf("payload %s: compressed %v seq %q shard %q", p.Origin, p.Compressed, p.SequenceNumber, p.ShardID)
				}
				var env Envelope
				if err := d.DecodePayload(&env, p); err != nil || len(env.LogEvents) != 3 {
					t.Errorf("payload %s: %d events, %v", p.Origin, len(env.LogEvents), err)
				}
			}
		})
	}
}

func TestSplitInputErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":           " \n",
		"not base64":      "hello, world!",
		"unknown object":  `{"foo":1}`,
		"bad JSON":        `{"Records":[`,
		"data not base64": `{"Records":[{"kinesis":{"data":"!!"}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := SplitInput([]byte(in), 1<<20)
			var e *Error
			if !errors.As(err, &e) || !e.Permanent() {
				t.Fatalf("err = %v, want a permanent *Error", err)
			}
		})
	}
	// A record that is not gzip is handed on, so Decode says what is wrong with it and the others still decode.
	ps, err := SplitInput([]byte(base64.StdEncoding.EncodeToString([]byte("plain text"))), 1<<20)
	if err != nil || len(ps) != 1 {
		t.Fatalf("base64 of text: %v %v", ps, err)
	}
	var env Envelope
	if err := newDecoder(t, DefaultConfig()).DecodePayload(&env, ps[0]); !errors.Is(err, ErrNotGzip) || !strings.Contains(err.Error(), "plain text") {
		t.Fatalf("base64 of text: %v", err)
	}
	if _, err := SplitInput(make([]byte, 100), 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized input: %v", err)
	}
}
