package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/retry"
)

// reportedErrorType invokes handler the way the runtime does and returns the errorType it would report, as
// aws-lambda-go computes it (lambda.Function.Invoke fills the response's error with the same code the Runtime API
// client uses), or "" when the invocation succeeded.
func reportedErrorType(t *testing.T, handler any, payload string) (string, string) {
	t.Helper()
	var resp messages.InvokeResponse
	deadline := time.Now().Add(time.Minute)
	req := &messages.InvokeRequest{Payload: []byte(payload), RequestId: "req-errors",
		Deadline: messages.InvokeRequest_Timestamp{Seconds: deadline.Unix(), Nanos: int64(deadline.Nanosecond())}}
	if err := lambda.NewFunction(lambda.NewHandler(handler)).Invoke(req, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Error == nil {
		return "", ""
	}
	return resp.Error.Type, resp.Error.Message
}

// failingPass is a finalizer whose every pass fails with err.
type failingPass struct{ err error }

func (f failingPass) RunOnceLocked(context.Context, finalize.Locker, string) (finalize.Report, error) {
	return finalize.Report{}, f.err
}

// The errorType CloudWatch shows says why an invocation failed: a configuration to fix, a container that could not
// be set up (the cluster down at cold start), or a finalizer pass that failed.
func TestErrorTypeSaysWhy(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bad := newApp(envLookup(map[string]string{"KINFLOW_SINK_KIND": "solr", "KINFLOW_LAMBDA_HANDLER": "batch"}), quiet)
	// A valid configuration whose cluster nobody answers: building the sink fails.
	down := newApp(envLookup(map[string]string{"KINFLOW_SINK_URL": "http://127.0.0.1:1", "KINFLOW_LAMBDA_HANDLER": "batch",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "kinflow-test", "AWS_SECRET_ACCESS_KEY": "kinflow-test"}), quiet)
	if down.configErr != nil {
		t.Fatalf("the unreachable cluster's configuration is invalid: %v", down.configErr)
	}
	searchRefused := errors.New("finalize: searching partials: status 400")
	pass := &finalizerHandler{fin: failingPass{searchRefused}, reserve: time.Second, log: quiet, emf: io.Discard, now: time.Now}

	tests := []struct {
		name      string
		handler   any
		payload   string
		wantType  string
		permanent bool
	}{
		{"bad configuration, batch", bad.handleKinesis, `{"Records":[]}`, "ConfigError", true},
		{"bad configuration, finalizer", bad.handleSchedule, `{}`, "ConfigError", true},
		{"cluster down at cold start", down.handleKinesis, `{"Records":[]}`, "SetupError", false},
		{"failed pass", func(ctx context.Context, _ json.RawMessage) error { return pass.Handle(ctx, "owner") }, `{}`,
			"PassError", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, msg := reportedErrorType(t, tt.handler, tt.payload)
			if typ != tt.wantType {
				t.Errorf("errorType %q (%s), want %q", typ, msg, tt.wantType)
			}
		})
	}

	// The types keep what they wrap, and its classification.
	ctx := context.Background()
	_, err := bad.handleKinesis(ctx, loadFixture(t))
	if ce := (*ConfigError)(nil); !errors.As(err, &ce) || !retry.IsPermanent(err) {
		t.Errorf("bad configuration: %v, want a permanent *ConfigError", err)
	}
	err = pass.Handle(ctx, "owner")
	if pe := (*PassError)(nil); !errors.As(err, &pe) || !errors.Is(err, searchRefused) || retry.IsPermanent(err) ||
		err.Error() != "finalizer pass: "+searchRefused.Error() {
		t.Errorf("failed pass: %v, want a retryable *PassError wrapping the pass's error", err)
	}
}
