package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/testing/testenv"
	"github.com/kinflow/kinflow/internal/webhook"
)

// hook is one POST the webhook receiver got.
type hook struct {
	path, revision string
	body           []byte
}

// receiver is a webhook endpoint that accepts and records every POST.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts []hook
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.posts = append(r.posts, hook{path: req.URL.Path, revision: req.Header.Get("X-Kinflow-Revision"), body: body})
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posts)
}

// finalizerHandler returns a handler whose finalizer and own clock read now, searching search (the cluster when
// empty), writing finals through the cluster's sink and posting to rcv. Its logs and EMF lines go to the buffers.
func (c *cluster) finalizerHandler(t *testing.T, store *state.Store, rcv *receiver, now time.Time, search string) (h *finalizerHandler, logs, emf *bytes.Buffer) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	wcfg := webhook.DefaultConfig()
	wcfg.URL = rcv.srv.URL + "/connection_sets/{bucket_time}"
	wcfg.Secret = []byte("s3cret")
	wh, err := webhook.New(wcfg, webhook.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var searcher finalize.Searcher = c.client
	if search != "" {
		ecfg := elastic.DefaultConfig()
		ecfg.Addresses = []string{search}
		ecfg.Sink.RetryInitial, ecfg.Sink.RetryMax = time.Millisecond, 10*time.Millisecond
		if searcher, err = elastic.NewClient(ecfg); err != nil {
			t.Fatal(err)
		}
	}
	fcfg := finalize.DefaultConfig()
	fcfg.Prefix = c.prefix
	clock := func() time.Time { return now }
	fin, err := finalize.New(fcfg, finalize.Parts{Search: searcher, Sink: c.sink, State: store, Webhook: wh},
		finalize.Options{Logger: quiet, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	logs, emf = &bytes.Buffer{}, &bytes.Buffer{}
	h = &finalizerHandler{fin: fin, locks: store, reserve: time.Second,
		log: slog.New(slog.NewJSONHandler(logs, nil)), emf: emf, now: clock}
	return h, logs, emf
}

// finalsByKey reads the final documents: "<window start> <ip>" -> final.
func (c *cluster) finalsByKey(t *testing.T) map[string]aggregate.Final {
	t.Helper()
	out := map[string]aggregate.Final{}
	for _, src := range c.sources(t, "-conns-2*") { // conns-YYYY..., not conns-partial-...
		f, err := aggregate.DecodeFinal(src)
		if err != nil {
			t.Fatalf("final %s: %v", src, err)
		}
		out[strconv.FormatInt(f.WindowStart, 10)+" "+f.IP.String()] = f
	}
	return out
}

// expectedFinals merges the partials in the index the plain way: aggregate.FinalizeBlocks over all of them.
func (c *cluster) expectedFinals(t *testing.T) map[string]aggregate.Final {
	t.Helper()
	finals, _ := testenv.MergedPartials(t, testenv.URL(t, testenv.Elasticsearch), c.prefix)
	return finals
}

func handleErr(t *testing.T, h *finalizerHandler, ctx context.Context, owner string) error {
	t.Helper()
	return h.Handle(lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: owner}), owner)
}

// The finalizer function over what the batch function wrote: it does nothing while another finalizer holds the
// lock or when no time is left before the deadline; then one invocation finalizes every window (finals equal to
// the merged partials, one webhook POST per window, revision 1), and the next finds nothing to do. A pass that
// cannot reach the cluster fails the invocation and still releases the lock.
func TestFinalizerHandler(t *testing.T) {
	c := newCluster(t)
	h := c.handler(t, 100)
	store := newStore(t)
	h.progress = store
	fx := loadFixture(t)
	if failed := invoke(t, h, fx, time.Minute); len(failed) != 0 {
		t.Fatalf("BatchItemFailures = %v", failed)
	}
	// Two hours after the batch (the progress it recorded carries the wall clock): in Lambda mode a shard that has
	// recorded no progress for 20 minutes (StaleAfter) no longer holds the watermark back, so none does, the
	// watermark is the clock, and every window of the fixture closes, by event time, none forced.
	now := time.Now().Add(2 * time.Hour)
	rcv := newReceiver(t)
	fh, logs, emf := c.finalizerHandler(t, store, rcv, now, "")
	ctx := testenv.Context(t, 2*time.Minute)

	// Another finalizer holds the lock.
	if held, _, err := store.Acquire(ctx, finalize.LockName, "someone-else", time.Minute, time.Now()); err != nil || !held {
		t.Fatalf("Acquire by another owner: held %v, %v", held, err)
	}
	if err := handleErr(t, fh, ctx, "req-held"); err != nil {
		t.Fatalf("lock held elsewhere: Handle = %v, want nil", err)
	}
	if !strings.Contains(logs.String(), "finalizer already running") || emf.Len() != 0 {
		t.Errorf("lock held elsewhere: logs %q, EMF %q; want the 'already running' line and no metrics", logs, emf)
	}
	if err := store.Release(ctx, finalize.LockName, "someone-else"); err != nil {
		t.Fatal(err)
	}
	checkNothingFinalized(t, c, rcv, "lock held elsewhere")

	// No time left: the invocation's deadline less the reserve has passed before the pass starts.
	fh.reserve = time.Minute
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := handleErr(t, fh, dctx, "req-deadline")
	cancel()
	fh.reserve = time.Second
	if err != nil {
		t.Fatalf("deadline: Handle = %v, want nil (the next run continues)", err)
	}
	if !strings.Contains(logs.String(), "cut short by the invocation deadline") {
		t.Errorf("deadline: logs %q lack the cut-short line", logs)
	}
	checkNothingFinalized(t, c, rcv, "deadline")
	checkLockFree(t, store, "after the deadline")

	// The pass.
	logs.Reset()
	emf.Reset()
	if err := handleErr(t, fh, ctx, "req-1"); err != nil {
		t.Fatalf("Handle = %v", err)
	}
	want := c.expectedFinals(t)
	got := c.finalsByKey(t)
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("finals = %d, want %d (one per window and IP of the partials)", len(got), len(want))
	}
	windows := map[int64]map[string]uint64{} // window start -> ip -> peers, from the expected finals
	for k, w := range want {
		f, ok := got[k]
		if !ok {
			t.Errorf("%s: no final", k)
			continue
		}
		if f.Revision != 1 || f.PeersCount != w.PeersCount || f.FlowsSent != w.FlowsSent || f.FlowsReceived != w.FlowsReceived {
			t.Errorf("%s: revision %d peers %d sent %d received %d; want revision 1 peers %d sent %d received %d",
				k, f.Revision, f.PeersCount, f.FlowsSent, f.FlowsReceived, w.PeersCount, w.FlowsSent, w.FlowsReceived)
		}
		if windows[w.WindowStart] == nil {
			windows[w.WindowStart] = map[string]uint64{}
		}
		windows[w.WindowStart][w.IP.String()] = w.PeersCount
	}
	posts := rcv.all()
	t.Logf("%d finals over %d windows, %d webhook POSTs", len(got), len(windows), len(posts))
	if len(posts) != len(windows) {
		t.Errorf("webhook POSTs = %d, want one per window: %d", len(posts), len(windows))
	}
	for _, p := range posts {
		start, err := strconv.ParseInt(strings.TrimPrefix(p.path, "/connection_sets/"), 10, 64)
		if err != nil || windows[start] == nil || p.revision != "1" {
			t.Errorf("POST %s revision %q: want a window of the partials, revision 1", p.path, p.revision)
			continue
		}
		var body map[string]uint64
		if err := json.Unmarshal(p.body, &body); err != nil {
			t.Fatalf("body %s: %v", p.body, err)
		}
		if !maps.Equal(body, windows[start]) {
			t.Errorf("POST %s: body %v, want %v", p.path, body, windows[start])
		}
	}
	metrics := emfLines(t, emf)
	wantMetrics := map[string]float64{"FinalizedWindows": float64(len(windows)), "CorrectedWindows": 0,
		"Finals": float64(len(want)), "WebhookChunks": float64(len(windows)), "WebhookDeadLetters": 0,
		"WatermarkLag": 0} // no shard holds the watermark back: it is the clock
	checkMetrics(t, metrics, wantMetrics)
	if !strings.Contains(logs.String(), `"msg":"finalizer pass"`) || !strings.Contains(logs.String(), `"finalized":`+strconv.Itoa(len(windows))) {
		t.Errorf("logs %q lack the report line", logs)
	}
	checkLockFree(t, store, "after the pass")

	// The next run: everything is done.
	emf.Reset()
	if err := handleErr(t, fh, ctx, "req-2"); err != nil {
		t.Fatalf("second Handle = %v", err)
	}
	if n := len(rcv.all()); n != len(posts) {
		t.Errorf("second run: webhook POSTs %d, want still %d", n, len(posts))
	}
	if n := len(c.finalsByKey(t)); n != len(want) {
		t.Errorf("second run: finals %d, want still %d", n, len(want))
	}
	wantMetrics["FinalizedWindows"], wantMetrics["Finals"], wantMetrics["WebhookChunks"] = 0, 0, 0
	checkMetrics(t, emfLines(t, emf), wantMetrics)

	// The cluster cannot be searched: the invocation fails (the next schedule retries), the lock is released.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer broken.Close()
	bh, _, _ := c.finalizerHandler(t, store, rcv, now, broken.URL)
	if err := handleErr(t, bh, ctx, "req-broken"); err == nil || !strings.Contains(err.Error(), "finalizer pass") {
		t.Errorf("cluster refusing searches: Handle = %v, want the pass's error", err)
	}
	checkLockFree(t, store, "after a failed pass")
}

// checkNothingFinalized: no finals in the index, no webhook POST.
func checkNothingFinalized(t *testing.T, c *cluster, rcv *receiver, when string) {
	t.Helper()
	if n, p := len(c.finalsByKey(t)), len(rcv.all()); n != 0 || p != 0 {
		t.Errorf("%s: %d finals and %d webhook POSTs, want none", when, n, p)
	}
}

// checkLockFree: the handler released the finalizer lock, so another owner gets it at once.
func checkLockFree(t *testing.T, store *state.Store, when string) {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	held, _, err := store.Acquire(ctx, finalize.LockName, "probe", time.Minute, time.Now())
	if err != nil || !held {
		t.Fatalf("%s: the lock is not free (held %v, %v)", when, held, err)
	}
	if err := store.Release(ctx, finalize.LockName, "probe"); err != nil {
		t.Fatal(err)
	}
}

// checkMetrics wants exactly one EMF line holding want's values.
func checkMetrics(t *testing.T, lines []map[string]any, want map[string]float64) {
	t.Helper()
	if len(lines) != 1 {
		t.Fatalf("EMF lines = %v, want one", lines)
	}
	for name, v := range want {
		if lines[0][name] != v {
			t.Errorf("EMF %s = %v, want %v", name, lines[0][name], v)
		}
	}
}

// The lock's owner names the function and the invocation.
func TestLockOwner(t *testing.T) {
	fallback := "kinflow-lambda-finalizer"
	if lambdacontext.LogStreamName != "" { // AWS_LAMBDA_LOG_STREAM_NAME is set
		fallback = lambdacontext.LogStreamName
	}
	withRequest := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd"})
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"invocation", withRequest, lambdacontext.FunctionName + "/8476a536-e9f4-11e8-9739-2dfe598c3fcd"},
		{"no invocation", context.Background(), fallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lockOwner(tt.ctx); got != tt.want {
				t.Errorf("lockOwner = %q, want %q", got, tt.want)
			}
		})
	}
}
