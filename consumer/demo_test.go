package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// The demo stages its input in moto, runs the KCL consumer (leases in moto's DynamoDB) into Elasticsearch and reports: every event it put is a
// document or one of the two dead letters it planted, and the fan-out scanner tops the peer counts.
func TestDemo(t *testing.T) {
	moto, es := testenv.URL(t, testenv.Moto), testenv.URL(t, testenv.Elasticsearch)
	prefix := testenv.UniqueName(t, "kfdemo")
	testenv.DropPrefix(t, es, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errs strings.Builder
	err := dispatch(ctx, []string{"demo", "-moto", moto, "-sink-url", es, "-index-prefix", prefix, "-batches", "20",
		"-stream", prefix, "-log-group", "/kinflow/test/" + prefix}, nil, &out, &errs)
	if err != nil {
		t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errs.String())
	}
	m := regexp.MustCompile(`(?s)put (\d+) flow-log events.*?processed \d+ records: (\d+) log events, (\d+) flow documents, (\d+) dead letters`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("demo output:\n%s", out.String())
	}
	put, events, docs, dead := m[1], m[2], m[3], m[4]
	if put != events || dead != "2" {
		t.Errorf("put %s events, processed %s, %s documents, %s dead letters: want all processed and 2 dead letters", put, events, docs, dead)
	}
	if f := regexp.MustCompile(`finalizer: watermark \S+, (\d+) windows closed, \d+ still open, (\d+) final`).FindStringSubmatch(out.String()); f == nil || f[1] == "0" || f[2] == "0" {
		t.Errorf("no window was finalized:\n%s", out.String())
	}
	if !regexp.MustCompile(`\(final connection sets\):\n\s+10\.0\.3\.7 `).MatchString(out.String()) {
		t.Errorf("the fan-out scanner 10.0.3.7 is not first:\n%s", out.String())
	}
}
