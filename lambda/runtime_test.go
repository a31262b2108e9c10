package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// runtimeAPI is a small implementation of the Lambda Runtime API (the part a provided.al2023 bootstrap uses): it
// hands out queued events on /next, and records responses and errors. There is no real one to run here.
type runtimeAPI struct {
	mu      sync.Mutex
	queue   [][]byte
	results chan runtimeResult
}

type runtimeResult struct {
	requestID string
	kind      string // "response", "error" or "init-error"
	body      []byte
}

func (api *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const base = "/2018-06-01/runtime/"
	path := strings.TrimPrefix(r.URL.Path, base)
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		api.mu.Lock()
		if len(api.queue) == 0 {
			api.mu.Unlock()
			<-r.Context().Done() // a real runtime freezes the container here
			return
		}
		ev := api.queue[0]
		api.queue = api.queue[1:]
		n := len(api.queue)
		api.mu.Unlock()
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-"+strconv.Itoa(n))
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:kinflow-batch")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793")
		w.Write(ev)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		parts := strings.Split(strings.TrimPrefix(path, "invocation/"), "/")
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		api.results <- runtimeResult{requestID: parts[0], kind: parts[len(parts)-1], body: body}
	case r.Method == http.MethodPost && path == "init/error":
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		api.results <- runtimeResult{kind: "init-error", body: body}
	default:
		http.NotFound(w, r)
	}
}

// TestBootstrapAgainstRuntimeAPI builds the function as it ships (-tags lambda.norpc), runs the binary against the
// local Runtime API with the moto-delivered event, and checks the answer and the documents in Elasticsearch.
func TestBootstrapAgainstRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap binary")
	}
	c := newCluster(t)
	bin := buildBootstrap(t)

	event, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	api := &runtimeAPI{queue: [][]byte{event}, results: make(chan runtimeResult, 4)}
	srv := httptest.NewServer(api)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(srv.URL, "http://"),
		"AWS_LAMBDA_FUNCTION_NAME=kinflow-batch",
		"AWS_REGION=" + testenv.Region,
		"AWS_ACCESS_KEY_ID=kinflow-test", "AWS_SECRET_ACCESS_KEY=kinflow-test",
		"KINFLOW_SINK_URL=" + testenv.URL(t, testenv.Elasticsearch),
		"KINFLOW_INDEX_PREFIX=" + c.prefix,
		"KINFLOW_LAMBDA_HANDLER=batch",
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	var res runtimeResult
	select {
	case res = <-api.results:
	case <-ctx.Done():
		t.Fatalf("no answer from the bootstrap\nstderr:\n%s", stderr.String())
	}
	if res.kind != "response" || res.requestID != "req-0" {
		t.Fatalf("runtime API got %s for %q: %s\nstderr:\n%s", res.kind, res.requestID, res.body, stderr.String())
	}
	var resp events.KinesisEventResponse
	if err := json.Unmarshal(res.body, &resp); err != nil {
		t.Fatalf("response %s: %v", res.body, err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("BatchItemFailures = %v", resp.BatchItemFailures)
	}
	ev := loadFixture(t)
	if got, want := len(c.sources(t, "-flows-*")), len(fixtureLines(t, ev)); got != want {
		t.Errorf("flow documents = %d, want %d", got, want)
	}
	// The output is copied from the process's pipes by goroutines that Wait joins: only then is it all there.
	cmd.Process.Kill()
	cmd.Wait()
	// One embedded-metric-format line per invocation, on stdout, counting the batch.
	var emf map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &emf); err != nil {
		t.Fatalf("stdout is not one EMF line: %q", stdout.String())
	}
	if emf["_aws"] == nil || emf["Records"] != float64(len(ev.Records)) {
		t.Errorf("EMF line = %v, want _aws metadata and Records=%d", emf, len(ev.Records))
	}
}

// buildBootstrap builds the function as it ships.
func buildBootstrap(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	// Same settings as the test binary otherwise, so the build cache serves everything but the lambda.norpc parts.
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// scheduledEvent is what an EventBridge schedule sends the finalizer function.
const scheduledEvent = `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event",
"source":"aws.events","account":"123456789012","time":"2026-11-23T17:40:00Z","region":"us-east-1",
"resources":["arn:aws:events:us-east-1:123456789012:rule/kinflow-finalizer"],"detail":{}}`

// The same binary with KINFLOW_LAMBDA_HANDLER=finalizer answers a scheduled event with success after a pass (here
// over an empty index: nothing to finalize), writes its report and metrics, and leaves the lock free.
func TestBootstrapFinalizerAgainstRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap binary")
	}
	c := newCluster(t)
	store := newStore(t)
	bin := buildBootstrap(t)
	api := &runtimeAPI{queue: [][]byte{[]byte(scheduledEvent)}, results: make(chan runtimeResult, 4)}
	srv := httptest.NewServer(api)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(srv.URL, "http://"),
		"AWS_LAMBDA_FUNCTION_NAME=kinflow-finalizer",
		"AWS_REGION=" + testenv.Region,
		"AWS_ACCESS_KEY_ID=kinflow-test", "AWS_SECRET_ACCESS_KEY=kinflow-test",
		"KINFLOW_SINK_URL=" + testenv.URL(t, testenv.Elasticsearch),
		"KINFLOW_INDEX_PREFIX=" + c.prefix,
		"KINFLOW_LAMBDA_HANDLER=finalizer",
		"KINFLOW_STATE_TABLE=" + store.Table(),
		"KINFLOW_DYNAMODB_ENDPOINT=" + testenv.URL(t, testenv.Dynalite),
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	var res runtimeResult
	select {
	case res = <-api.results:
	case <-ctx.Done():
		t.Fatalf("no answer from the bootstrap\nstderr:\n%s", stderr.String())
	}
	if res.kind != "response" || res.requestID != "req-0" || string(res.body) != "null" {
		t.Fatalf("runtime API got %s for %q: %s\nstderr:\n%s", res.kind, res.requestID, res.body, stderr.String())
	}
	// The output is copied from the process's pipes by goroutines that Wait joins: only then is it all there.
	cmd.Process.Kill()
	cmd.Wait()
	if !strings.Contains(stderr.String(), `"msg":"finalizer pass"`) {
		t.Errorf("stderr lacks the pass's report:\n%s", stderr.String())
	}
	var emf map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &emf); err != nil {
		t.Fatalf("stdout is not one EMF line: %q", stdout.String())
	}
	if emf["_aws"] == nil || emf["FinalizedWindows"] != 0.0 || emf["Finals"] != 0.0 {
		t.Errorf("EMF line = %v, want _aws metadata, FinalizedWindows 0 and Finals 0", emf)
	}
	checkLockFree(t, store, "after the invocation")
}
