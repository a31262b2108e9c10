package finalize_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
	"github.com/kinflow/kinflow/internal/webhook"
)

const (
	logGroup = "/vpc/flow-logs/prod"
	width    = 600 // seconds: the default window
)

// flowStart is the corpus start: two days before the test runs, on the hour; the data spans an hour, six windows.
// The finalizer's clock is injected and every time the tests store is given, so the rules only compare times of
// the corpus; it is relative to the wall clock all the same, so that nothing is ever older than a TTL or a
// retention somewhere.
var flowStart = time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)

// finalizerAt is the finalizers' clock in most tests: an hour after flowStart, the end of the corpus.
var finalizerAt = flowStart.Add(time.Hour)

// env is a real Elasticsearch (strict templates, a fresh prefix), a real DynamoDB emulator table, a pipeline with
// three shards, and a recording webhook receiver.
type env struct {
	t        *testing.T
	esURL    string
	prefix   string
	client   finalize.Searcher
	sink     sink.Sink
	pipe     *pipeline.Pipeline
	store    *state.Store
	shards   []*pipeline.Shard
	seq      []int
	lines    []string // every valid line fed, for the reference
	receiver *receiver
	gen      *flowgen.Generator
	editCfg  func(*finalize.Config) // applied to every finalizer's config, when set
	leases   finalize.Leases        // the consumer's lease table, when set
}

func newEnv(t *testing.T) *env { return newEnvOn(t, testenv.Elasticsearch) }

// newEnvOn is newEnv on the given cluster: Elasticsearch or OpenSearch.
func newEnvOn(t *testing.T, cluster testenv.Service) *env {
	t.Helper()
	esURL := testenv.URL(t, cluster)
	ddbURL := testenv.URL(t, testenv.Dynalite)
	ctx := testenv.Context(t, time.Minute)
	e := &env{t: t, esURL: esURL, prefix: testenv.UniqueName(t, "kff")}
	testenv.DropPrefix(t, esURL, e.prefix)

	var err error
	if cluster == testenv.OpenSearch {
		cfg := opensearch.DefaultConfig()
		cfg.Addresses = []string{esURL}
		cfg.Templates.Prefix, cfg.Templates.Dynamic, cfg.Templates.Replicas = e.prefix, "strict", 0
		cfg.Sink.Prefix = e.prefix
		if e.client, err = opensearch.NewClient(cfg); err != nil {
			t.Fatal(err)
		}
		e.sink, err = opensearch.New(ctx, cfg, sink.Options{})
	} else {
		cfg := elastic.DefaultConfig()
		cfg.Addresses = []string{esURL}
		cfg.Templates.Prefix, cfg.Templates.Dynamic, cfg.Templates.Replicas = e.prefix, "strict", 0
		cfg.Sink.Prefix = e.prefix
		cfg.SetupOnStart = true
		if e.client, err = elastic.NewClient(cfg); err != nil {
			t.Fatal(err)
		}
		e.sink, err = elastic.New(ctx, cfg, sink.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sink.Close(context.Background()) })
	resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := pipeline.DefaultConfig()
	pcfg.Prefix = e.prefix
	if e.pipe, err = pipeline.New(pcfg, resolver, e.sink, pipeline.Options{Reader: e.client}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		sh, err := e.pipe.Shard(fmt.Sprintf("shardId-%012d", i))
		if err != nil {
			t.Fatal(err)
		}
		e.shards = append(e.shards, sh)
		e.seq = append(e.seq, 0)
	}
	e.store, err = state.New(dynamodb.NewFromConfig(testenv.AWSConfig(ddbURL)), testenv.UniqueName(t, "kff"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	e.receiver = newReceiver(t)
	gcfg := flowgen.DefaultConfig(flowStart)
	gcfg.Seed = 7
	e.gen = flowgen.New(gcfg)
	return e
}

// feed processes batches on the shards, dealt at random and out of event-time order, cutting now and then, and
// finally cuts every shard and records its progress as the runtimes do after a checkpoint.
func (e *env) feed(batches []flowgen.Batch, rng *rand.Rand) {
	e.t.Helper()
	ctx := testenv.Context(e.t, 2*time.Minute)
	for _, b := range batches {
		for _, ev := range b.Events {
			if f := strings.Fields(ev.Message); len(f) == 14 && f[13] == "OK" {
				e.lines = append(e.lines, ev.Message)
			}
		}
		i := rng.IntN(len(e.shards))
		e.seq[i]++
		rec := pipeline.Record{SequenceNumber: fmt.Sprintf("4959%052d", e.seq[i]), Data: e.gen.Envelope(logGroup, "kinflow", b)}
		if _, err := e.shards[i].Process(ctx, []pipeline.Record{rec}); err != nil {
			e.t.Fatal(err)
		}
		if rng.IntN(4) == 0 {
			if err := e.shards[i].Cut(ctx); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	for i, sh := range e.shards {
		if err := sh.Cut(ctx); err != nil {
			e.t.Fatal(err)
		}
		// Caught up and idle at the finalizers' clock (flowStart+1h, see finalizerAt): no shard holds the watermark
		// back, so it is that clock, and windows ending 15 minutes before it close.
		p := state.Progress{ShardID: fmt.Sprintf("shardId-%012d", i), Watermark: sh.Watermark(), CaughtUp: true,
			LastDataAt: flowStart, UpdatedAt: finalizerAt}
		if err := e.store.PutProgress(ctx, p); err != nil {
			e.t.Fatal(err)
		}
	}
}

// finalizer returns a fresh finalizer (a new process, as after a crash) whose clock reads now.
func (e *env) finalizer(now time.Time, wh *webhook.Client, hook func(finalize.Step, int64, int) error) *finalize.Finalizer {
	e.t.Helper()
	return e.finalizerWith(now, finalize.Parts{Webhook: wh}, hook)
}

// finalizerWith is finalizer with more parts: the env's search, sink, state and leases, and extra's webhooks.
func (e *env) finalizerWith(now time.Time, extra finalize.Parts, hook func(finalize.Step, int64, int) error) *finalize.Finalizer {
	e.t.Helper()
	cfg := finalize.DefaultConfig()
	cfg.Prefix, cfg.PageSize = e.prefix, 37 // small pages: many search_after round trips, IPs split across pages
	if e.editCfg != nil {
		e.editCfg(&cfg)
	}
	f, err := finalize.New(cfg, finalize.Parts{Search: e.client, Sink: e.sink, State: e.store, Webhook: extra.Webhook,
		Alerts: extra.Alerts, Leases: e.leases},
		finalize.WithHook(finalize.Options{Now: func() time.Time { return now }}, hook))
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

func (e *env) webhook(format webhook.Format, mutate func(*webhook.Config)) *webhook.Client {
	e.t.Helper()
	cfg := webhook.DefaultConfig()
	cfg.URL = e.receiver.srv.URL + "/connection_sets/{bucket_time}"
	cfg.Format, cfg.Secret, cfg.ChunkIPs = format, []byte("s3cret"), 40
	cfg.RetryInitial, cfg.RetryMax = time.Millisecond, 10*time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := webhook.New(cfg, webhook.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// finals reads the final documents back: (window start, ip) -> final.
func (e *env) finals() map[string]aggregate.Final {
	e.t.Helper()
	out := map[string]aggregate.Final{}
	for _, src := range testenv.Sources(e.t, e.esURL, e.prefix+"-conns-2*") {
		f, err := aggregate.DecodeFinal(src)
		if err != nil {
			e.t.Fatalf("final: %v: %s", err, src)
		}
		k := key(f.WindowStart, f.IP.String())
		if _, dup := out[k]; dup {
			e.t.Errorf("two finals for %s", k)
		}
		out[k] = f
	}
	return out
}

func key(start int64, ip string) string { return strconv.FormatInt(start, 10) + " " + ip }

// refSet is a connection set computed the plain way.
type refSet struct {
	peers                     map[string]bool
	sent, received, bytesSent uint64
}

// reference computes the connection sets of lines with maps and strings.Fields.
func reference(lines []string) map[string]*refSet {
	out := map[string]*refSet{}
	get := func(w int64, ip string) *refSet {
		k := key(w, ip)
		if out[k] == nil {
			out[k] = &refSet{peers: map[string]bool{}}
		}
		return out[k]
	}
	for _, l := range lines {
		f := strings.Fields(l)
		start, _ := strconv.ParseInt(f[10], 10, 64)
		bytes, _ := strconv.ParseUint(f[9], 10, 64)
		w := start - start%width
		src, dst := netip.MustParseAddr(f[3]).Unmap().String(), netip.MustParseAddr(f[4]).Unmap().String()
		s, d := get(w, src), get(w, dst)
		s.peers[dst], d.peers[src] = true, true
		s.sent++
		s.bytesSent += bytes
		d.received++
	}
	return out
}

// checkFinals compares the finals of the windows starting before closedBefore with the reference, and checks that
// no later window was finalized.
func (e *env) checkFinals(got map[string]aggregate.Final, closedBefore int64, revisions map[int64]int64) {
	e.t.Helper()
	want := reference(e.lines)
	n := 0
	for k, w := range want {
		start, _ := strconv.ParseInt(k[:strings.IndexByte(k, ' ')], 10, 64)
		f, ok := got[k]
		if start >= closedBefore {
			if ok {
				e.t.Errorf("%s: finalized, but its window is open", k)
			}
			continue
		}
		n++
		if !ok {
			e.t.Errorf("%s: no final", k)
			continue
		}
		peers := make([]string, len(f.Peers))
		for i, p := range f.Peers {
			peers[i] = p.String()
		}
		wantPeers := make([]string, 0, len(w.peers))
		for p := range w.peers {
			wantPeers = append(wantPeers, p)
		}
		slices.Sort(peers)
		slices.Sort(wantPeers)
		if !slices.Equal(peers, wantPeers) || f.FlowsSent != w.sent || f.FlowsReceived != w.received || f.BytesSent != w.bytesSent {
			e.t.Errorf("%s: peers %d sent %d received %d bytes %d; want peers %d sent %d received %d bytes %d",
				k, len(peers), f.FlowsSent, f.FlowsReceived, f.BytesSent, len(wantPeers), w.sent, w.received, w.bytesSent)
		}
		if rev := revisions[start]; f.Revision != rev {
			e.t.Errorf("%s: revision %d, want %d", k, f.Revision, rev)
		}
	}
	if len(got) != n {
		e.t.Errorf("%d finals, want %d", len(got), n)
	}
}

// post is one request the receiver got.
type post struct {
	path, key, chunk, revision, signature string
	body                                  []byte
}

// receiver records every POST; answer decides the status of each (nil: 200).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	posts  []post
	answer func(n int, p post) int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		p := post{path: req.URL.Path, key: req.Header.Get("Idempotency-Key"), chunk: req.Header.Get("X-Kinflow-Chunk"),
			revision: req.Header.Get("X-Kinflow-Revision"), signature: req.Header.Get("X-Kinflow-Signature"), body: body}
		r.mu.Lock()
		r.posts = append(r.posts, p)
		n, answer := len(r.posts), r.answer
		r.mu.Unlock()
		status := http.StatusOK
		if answer != nil {
			status = answer(n, p)
		}
		if status < 0 { // hang until the client gives up
			<-req.Context().Done()
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []post {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posts)
}

// delivered folds the accepted compat posts the way an idempotent receiver would (first body per key wins) and
// returns (window start, ip) -> distinct peers, and the keys per window and revision.
func delivered(t *testing.T, posts []post) (map[string]uint64, map[string][]string) {
	t.Helper()
	sets := map[string]uint64{}
	keys := map[string][]string{}
	bodies := map[string][]byte{}
	for _, p := range posts {
		if prev, ok := bodies[p.key]; ok {
			if string(prev) != string(p.body) {
				t.Errorf("key %s delivered with two different bodies", p.key)
			}
			continue
		}
		bodies[p.key] = p.body
		start := strings.TrimPrefix(p.path, "/connection_sets/")
		keys[start+" r"+p.revision] = append(keys[start+" r"+p.revision], p.key)
		var m map[string]uint64
		if err := json.Unmarshal(p.body, &m); err != nil {
			t.Fatalf("compat body %s: %v", p.body, err)
		}
		for ip, n := range m {
			sets[start+" "+ip] = n
		}
	}
	return sets, keys
}

func TestFinalizeAgainstReference(t *testing.T) {
	for _, cluster := range []testenv.Service{testenv.Elasticsearch, testenv.OpenSearch} {
		t.Run(cluster.Name, func(t *testing.T) { testAgainstReference(t, newEnvOn(t, cluster)) })
	}
}

// testAgainstReference: three shards fed out of order, a pass, the finals against the brute-force sets and the
// webhook's posts; an idle pass; late flows for a finalized window and its correction as revision 2.
func testAgainstReference(t *testing.T, e *env) {
	rng := rand.New(rand.NewPCG(1, 2))
	batches := e.gen.Batches(150, 20, 60)
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	e.feed(batches, rng)
	ctx := testenv.Context(t, 2*time.Minute)

	// Every shard is caught up and quiet at the finalizer's clock, the end of the corpus's hour: none holds the
	// watermark back, so it is the clock, and windows ending 15 minutes (the lateness) before it are closed: the
	// first four of six.
	now := finalizerAt
	wh := e.webhook(webhook.FormatCompat, nil)
	rep, err := e.finalizer(now, wh, nil).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closedBefore := flowStart.Unix() + 4*width
	t.Logf("pass 1: %+v", rep)
	if rep.Windows != 6 || rep.Open != 2 || rep.Finalized != 4 || rep.Corrected != 0 || rep.DeadLettered != 0 {
		t.Errorf("report %+v: want 6 windows, 2 open, 4 finalized", rep)
	}
	revs := map[int64]int64{}
	for w := flowStart.Unix(); w < closedBefore; w += width {
		revs[w] = 1
	}
	got := e.finals()
	e.checkFinals(got, closedBefore, revs)
	if rep.Finals != len(got) {
		t.Errorf("report says %d finals, the index holds %d", rep.Finals, len(got))
	}

	// The webhook got every final of every closed window, once per key, chunks of 40 IPs, signed.
	sets, keys := delivered(t, e.receiver.all())
	for k, f := range got {
		if sets[k] != f.PeersCount {
			t.Errorf("%s: webhook says %d peers, the final %d", k, sets[k], f.PeersCount)
		}
	}
	if len(sets) != len(got) {
		t.Errorf("webhook delivered %d connection sets, want %d", len(sets), len(got))
	}
	if len(e.receiver.all()) != rep.Chunks || len(keys) != 4 {
		t.Errorf("%d posts, %d chunks reported, %d (window, revision) pairs; want one post per chunk, 4 pairs", len(e.receiver.all()), rep.Chunks, len(keys))
	}
	for _, p := range e.receiver.all() {
		if !strings.HasPrefix(p.signature, "sha256=") || len(p.signature) != 71 {
			t.Errorf("post %s: signature %q", p.key, p.signature)
		}
	}

	// A second pass with nothing new does nothing.
	before := len(e.receiver.all())
	if rep, err := e.finalizer(now, wh, nil).RunOnce(ctx); err != nil || rep.Finalized+rep.Corrected != 0 {
		t.Errorf("idle pass: %+v, %v", rep, err)
	}
	if n := len(e.receiver.all()); n != before {
		t.Errorf("idle pass posted %d times", n-before)
	}

	// Late flows for the first window arrive on one shard: the window is corrected as revision 2; the others stay.
	late := e.gen.Batch(e.gen.Interfaces()[0], []string{
		fmt.Sprintf("2 123456789012 eni-late 10.9.9.9 10.0.0.7 443 50000 6 3 300 %d %d ACCEPT OK", flowStart.Unix()+30, flowStart.Unix()+60),
		fmt.Sprintf("2 123456789012 eni-late 10.9.9.8 10.9.9.9 22 50001 6 1 60 %d %d REJECT OK", flowStart.Unix()+90, flowStart.Unix()+95),
	})
	e.feed([]flowgen.Batch{late}, rng)
	rep, err = e.finalizer(now, wh, nil).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pass 2: %+v", rep)
	if rep.Corrected != 1 || rep.Finalized != 0 {
		t.Errorf("report %+v: want 1 corrected", rep)
	}
	revs[flowStart.Unix()] = 2
	e.checkFinals(e.finals(), closedBefore, revs)
	_, keys = delivered(t, e.receiver.all())
	first := strconv.FormatInt(flowStart.Unix(), 10)
	if len(keys[first+" r2"]) == 0 || len(keys) != 5 {
		t.Errorf("keys by window and revision: %v; want revision 2 of %s besides the four first revisions", keys, first)
	}
}

// TestFinalizerCrashes stops the finalizer between writing a chunk's finals and posting it, and between posting
// the last chunk and recording the window done; a new finalizer redoes the window with the same ids and keys.
func TestFinalizerCrashes(t *testing.T) {
	for _, at := range []finalize.Step{finalize.StepClaimed, finalize.StepFinalsWritten, finalize.StepDelivered} {
		t.Run(string(at), func(t *testing.T) {
			e := newEnv(t)
			rng := rand.New(rand.NewPCG(3, 4))
			e.feed(e.gen.Batches(60, 20, 60), rng)
			ctx := testenv.Context(t, 2*time.Minute)
			now := finalizerAt
			wh := e.webhook(webhook.FormatCompat, nil)
			errCrash := errors.New("crash")
			crashes := 0
			hook := func(s finalize.Step, start int64, chunk int) error {
				// Crash once, in the second window, at its second chunk where there is one.
				if s == at && start == flowStart.Unix()+width && (chunk == 1 || s != finalize.StepFinalsWritten) && crashes == 0 {
					crashes++
					return errCrash
				}
				return nil
			}
			if _, err := e.finalizer(now, wh, hook).RunOnce(ctx); !errors.Is(err, errCrash) {
				t.Fatalf("first pass: %v, want the crash", err)
			}
			rep, err := e.finalizer(now, wh, nil).RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			closedBefore := flowStart.Unix() + 4*width
			revs := map[int64]int64{}
			for w := flowStart.Unix(); w < closedBefore; w += width {
				revs[w] = 1
			}
			got := e.finals()
			e.checkFinals(got, closedBefore, revs)
			// Every window under exactly one revision; a key posted twice carried the same body (delivered checks).
			sets, keys := delivered(t, e.receiver.all())
			if len(keys) != 4 {
				t.Errorf("(window, revision) pairs delivered: %v; want the four windows, revision 1 each", keys)
			}
			for k, f := range got {
				if sets[k] != f.PeersCount {
					t.Errorf("%s: webhook says %d peers, the final %d", k, sets[k], f.PeersCount)
				}
			}
			t.Logf("after the crash at %s: %+v, %d posts", at, rep, len(e.receiver.all()))
		})
	}
}

// TestWebhookFailuresEndInDeadLetters: a receiver that refuses every chunk, and one that hangs past the timeout.
// Each chunk ends as a dead letter with its body and key, the windows are done, and nothing is retried forever.
func TestWebhookFailuresEndInDeadLetters(t *testing.T) {
	tests := []struct {
		name   string
		status int
		reason string
	}{
		{"400 forever", http.StatusBadRequest, "webhook_rejected_400"},
		{"hangs past the timeout", -1, "webhook_exhausted_timeout"},
		{"500 then 200", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.feed(e.gen.Batches(30, 20, 40), rand.New(rand.NewPCG(5, 6)))
			e.receiver.answer = func(n int, p post) int {
				if tt.status == 0 {
					if n%2 == 1 {
						return http.StatusInternalServerError
					}
					return http.StatusOK
				}
				return tt.status
			}
			wh := e.webhook(webhook.FormatRich, func(c *webhook.Config) {
				c.Timeout, c.MaxAttempts, c.ChunkIPs = 200*time.Millisecond, 2, 1000
			})
			ctx := testenv.Context(t, 2*time.Minute)
			rep, err := e.finalizer(finalizerAt, wh, nil).RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			letters := testenv.Sources(t, e.esURL, e.prefix+"-deadletter")
			if tt.status == 0 {
				if rep.DeadLettered != 0 || len(letters) != 0 || rep.Chunks != 4 {
					t.Errorf("report %+v, %d dead letters; want 4 chunks delivered on the second attempt", rep, len(letters))
				}
				return
			}
			if rep.Finalized != 4 || rep.DeadLettered != 4 || rep.Chunks != 0 || len(letters) != 4 {
				t.Fatalf("report %+v, %d dead letters; want 4 windows finalized, each chunk dead-lettered", rep, len(letters))
			}
			for _, raw := range letters {
				var dl struct {
					Stage, Reason, Original string
					ShardID                 string `json:"shard_id"`
					SequenceNumber          string `json:"sequence_number"`
				}
				if err := json.Unmarshal(raw, &dl); err != nil {
					t.Fatal(err)
				}
				if dl.Stage != "webhook" || dl.Reason != tt.reason || dl.ShardID != "webhook" ||
					!strings.HasPrefix(dl.SequenceNumber, "kinflow-") || !strings.Contains(dl.Original, `"connection_sets":[`) {
					t.Errorf("dead letter %s: want stage webhook, reason %s, the key and the rich body", raw, tt.reason)
				}
			}
			// Done means done: the next pass neither posts nor dead-letters again.
			posts := len(e.receiver.all())
			if rep, err := e.finalizer(finalizerAt, wh, nil).RunOnce(ctx); err != nil || rep.Finalized+rep.DeadLettered != 0 {
				t.Errorf("second pass: %+v, %v", rep, err)
			}
			if n := len(e.receiver.all()); n != posts {
				t.Errorf("second pass posted %d more times", n-posts)
			}
		})
	}
}

// TestChunksCutByBytes: with room for 5000 IPs a chunk but only 64 KiB, windows go out in several chunks, each
// within the budget, and together they carry every final.
func TestChunksCutByBytes(t *testing.T) {
	e := newEnv(t)
	e.feed(e.gen.Batches(60, 20, 60), rand.New(rand.NewPCG(7, 8)))
	e.editCfg = func(c *finalize.Config) { c.ChunkBytes = 64 << 10 }
	wh := e.webhook(webhook.FormatRich, func(c *webhook.Config) { c.ChunkIPs = 5000 })
	rep, err := e.finalizer(finalizerAt, wh, nil).RunOnce(testenv.Context(t, 2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := e.finals()
	posts := e.receiver.all()
	perWindow := map[string]int{}
	sets := 0
	for _, p := range posts {
		if len(p.body) > 64<<10 {
			t.Errorf("chunk %s: %d bytes, over the 64 KiB budget", p.key, len(p.body))
		}
		var body struct {
			ConnectionSets []json.RawMessage `json:"connection_sets"`
		}
		if err := json.Unmarshal(p.body, &body); err != nil {
			t.Fatal(err)
		}
		sets += len(body.ConnectionSets)
		perWindow[p.path]++
	}
	t.Logf("%+v; chunks per window %v", rep, perWindow)
	if sets != len(got) || rep.Chunks != len(posts) {
		t.Errorf("%d sets in %d posts (%d reported), want the %d finals", sets, len(posts), rep.Chunks, len(got))
	}
	for w, n := range perWindow {
		if n < 2 {
			t.Errorf("window %s went out in %d chunk; the byte budget did not cut it", w, n)
		}
	}
}

// fixedLeases is a lease table that says what the test sets.
type fixedLeases struct{ leases []state.Lease }

func (f *fixedLeases) Leases(context.Context) ([]state.Lease, error) { return f.leases, nil }

// Consumer mode: a child shard the lease table lists holds the watermark back until it reports, however long its
// parent takes (it is waiting, not stuck), and after its parent ended for as long as it needs to start; nothing is
// closed before it reported, and nothing is forced.
func TestChildShardHoldsTheWatermark(t *testing.T) {
	e := newEnvOn(t, testenv.Elasticsearch)
	e.feed(e.gen.Batches(30, 20, 60), rand.New(rand.NewPCG(3, 4)))
	ctx := testenv.Context(t, 2*time.Minute)
	const child = "shardId-000000000009"
	lease := func(i int, at time.Time) state.Lease {
		return state.Lease{ShardID: fmt.Sprintf("shardId-%012d", i), Owner: "w1", Timeout: at.Add(10 * time.Second)}
	}
	leasesAt := func(at time.Time, parentEnded bool) []state.Lease {
		ls := []state.Lease{lease(0, at), lease(1, at), lease(2, at), {ShardID: child, Parents: []string{"shardId-000000000000"}}}
		ls[0].Ended = parentEnded
		return ls
	}
	// The three shards report every pass as live workers do: caught up, quiet since the corpus.
	report := func(at time.Time) {
		for i, sh := range e.shards {
			if err := e.store.PutProgress(ctx, state.Progress{ShardID: fmt.Sprintf("shardId-%012d", i), Watermark: sh.Watermark(),
				CaughtUp: true, LastDataAt: flowStart, UpdatedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
	}
	wh := e.webhook(webhook.FormatCompat, nil)
	pass := func(at time.Time, parentEnded bool) finalize.Report {
		t.Helper()
		report(at)
		e.leases = &fixedLeases{leasesAt(at, parentEnded)}
		rep, err := e.finalizer(at, wh, nil).RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	steps := []struct {
		name        string
		at          time.Time
		parentEnded bool
		finalized   int
	}{
		{"the child is first seen: registered, it holds", finalizerAt, false, 0},
		{"two hours later its parent is still read: waiting, not stuck", finalizerAt.Add(2 * time.Hour), false, 0},
		{"the parent ended a minute ago, the child has not started yet", finalizerAt.Add(2*time.Hour + time.Minute), true, 0},
	}
	for _, st := range steps {
		if rep := pass(st.at, st.parentEnded); rep.Finalized != st.finalized || rep.Forced != 0 || rep.Watermark != 0 {
			t.Fatalf("%s: report %+v; want nothing finalized or forced, watermark 0", st.name, rep)
		}
	}
	// The child reports (it read its share, caught up and quiet): every window closes, none forced.
	at := finalizerAt.Add(2*time.Hour + 2*time.Minute)
	if err := e.store.PutProgress(ctx, state.Progress{ShardID: child, CaughtUp: true, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	ls := leasesAt(at, true)
	ls[3].Owner, ls[3].Timeout = "w2", at.Add(10*time.Second)
	report(at)
	e.leases = &fixedLeases{ls}
	rep, err := e.finalizer(at, wh, nil).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Finalized != rep.Windows || rep.Windows == 0 || rep.Forced != 0 {
		t.Fatalf("after the child reported: %+v; want every window finalized, none forced", rep)
	}
}

// Without any shard progress (Lambda mode whose progress writes all fail) only the safety net closes windows:
// MaxDelay after they would have closed, each counted as forced.
func TestNoProgressOnlyTheSafetyNetCloses(t *testing.T) {
	e := newEnvOn(t, testenv.Elasticsearch)
	e.feed(e.gen.Batches(30, 20, 60), rand.New(rand.NewPCG(5, 6)))
	ctx := testenv.Context(t, 2*time.Minute)
	empty, err := state.New(dynamodb.NewFromConfig(testenv.AWSConfig(testenv.URL(t, testenv.Dynalite))), testenv.UniqueName(t, "kff"))
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	e.store = empty
	wh := e.webhook(webhook.FormatCompat, nil)
	if rep, err := e.finalizer(finalizerAt, wh, nil).RunOnce(ctx); err != nil || rep.Finalized != 0 {
		t.Fatalf("at the end of the hour: %+v, %v; want nothing finalized", rep, err)
	}
	// An hour later: the four windows that would have closed by then (ending 15 minutes before the hour) close.
	rep, err := e.finalizer(finalizerAt.Add(time.Hour), wh, nil).RunOnce(ctx)
	if err != nil || rep.Finalized != 4 || rep.Forced != 4 {
		t.Fatalf("an hour later: %+v, %v; want 4 finalized, all forced", rep, err)
	}
}
