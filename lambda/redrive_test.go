package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/redrive"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// The batch function's Handler answers what aws-lambda-go answers for a function taking the raw payload, byte for
// byte (the event is written twice: the second time rewrites nothing).
func TestBatchInvokerAnswersAsTheLibrary(t *testing.T) {
	c := newCluster(t)
	a := newApp(envLookup(map[string]string{
		"AWS_REGION":             testenv.Region,
		"KINFLOW_SINK_URL":       testenv.URL(t, testenv.Elasticsearch),
		"KINFLOW_INDEX_PREFIX":   c.prefix,
		"KINFLOW_LAMBDA_HANDLER": "batch",
		"KINFLOW_LOG_LEVEL":      "warn",
	}), testLogger())
	event, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, time.Minute)
	want, err := lambda.NewHandler(a.handleBatch).Invoke(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lambda.NewHandler(batchInvoker{a}).Invoke(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("batchInvoker answered %q, the library's reflection %q", got, want)
	}
}

// The batch function takes the Kinesis event and, invoked directly, a redrive payload: lines dead-lettered under
// a wrong KINFLOW_FLOW_FORMAT are redriven once the format is right, first as a dry run (the default), then for
// real.
func TestBatchFunctionRedrives(t *testing.T) {
	c := newCluster(t)
	env := map[string]string{
		"AWS_REGION":             testenv.Region,
		"KINFLOW_SINK_URL":       testenv.URL(t, testenv.Elasticsearch),
		"KINFLOW_INDEX_PREFIX":   c.prefix,
		"KINFLOW_LAMBDA_HANDLER": "batch",
		"KINFLOW_LOG_LEVEL":      "warn",
	}
	invoke := func(a *app, payload []byte) []byte {
		t.Helper()
		out, err := lambda.NewHandler(batchInvoker{a}).Invoke(testenv.Context(t, time.Minute), payload)
		if err != nil {
			t.Fatalf("invoke %s: %v", payload[:min(len(payload), 40)], err)
		}
		return out
	}
	event, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	// The wrong format: one field more than the fixture's lines have.
	env["KINFLOW_FLOW_FORMAT"] = vpcflow.DefaultFormatString + " ${tcp-flags}"
	invoke(newApp(envLookup(env), testLogger()), event)
	letters := testenv.Count(t, testenv.URL(t, testenv.Elasticsearch), c.prefix+"-deadletter")
	if letters == 0 {
		t.Fatal("the wrong format made no dead letters")
	}

	delete(env, "KINFLOW_FLOW_FORMAT")
	fixed := newApp(envLookup(env), testLogger())
	var dry, done redrive.Report
	if err := json.Unmarshal(invoke(fixed, []byte(`{"redrive":{"stages":["parse"]}}`)), &dry); err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || dry.Succeeded != letters {
		t.Errorf("dry run (the default): %+v, want %d letters that would succeed", dry, letters)
	}
	if err := json.Unmarshal(invoke(fixed, []byte(`{"redrive":{"stages":["parse"],"dry_run":false}}`)), &done); err != nil {
		t.Fatal(err)
	}
	if done.DryRun || done.Succeeded != letters || done.Flows != letters {
		t.Errorf("redrive: %+v, want %d letters succeeded, as many flows", done, letters)
	}
	if n := testenv.Count(t, testenv.URL(t, testenv.Elasticsearch), c.prefix+"-flows-*"); n != letters {
		t.Errorf("%d flow documents after the redrive, want %d", n, letters)
	}
}

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
