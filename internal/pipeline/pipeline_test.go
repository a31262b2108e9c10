package pipeline_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

const logGroup = "/vpc/flow-logs/prod"

// corpus is a shard's worth of records: flowgen deliveries, poison records interleaved, and what a correct run
// must leave in the index.
type corpus struct {
	records     []pipeline.Record
	validLines  []string // every line that must become a flow document
	deadLetters map[string]int
}

func makeCorpus(tb testing.TB, deliveries int) corpus {
	tb.Helper()
	cfg := flowgen.DefaultConfig(flowgen.FixedStart)
	cfg.Seed = 42
	g := flowgen.New(cfg)
	c := corpus{deadLetters: map[string]int{}}
	seq := 0
	add := func(data []byte) {
		seq++
		c.records = append(c.records, pipeline.Record{SequenceNumber: fmt.Sprintf("4959%052d", seq), Data: data})
	}
	for i, b := range g.Batches(deliveries, 20, 60) {
		if i%7 == 3 {
			// A line with a field missing, in the middle of a good delivery: dead-lettered alone.
			bad := b.Events[len(b.Events)/2].Message
			b.Events[len(b.Events)/2].Message = bad[:strings.LastIndexByte(bad, ' ')]
			c.deadLetters["parse/field_count"]++
		}
		for _, e := range b.Events {
			if strings.Count(e.Message, " ") == 13 {
				c.validLines = append(c.validLines, e.Message)
			}
		}
		add(g.Envelope(logGroup, "kinflow", b))
		switch i % 10 {
		case 1:
			add([]byte("not a gzip payload"))
			c.deadLetters["decode/not_gzip"]++
		case 4:
			full := g.Envelope(logGroup, "kinflow", b)
			add(full[:len(full)/2])
			c.deadLetters["decode/corrupt_gzip"]++
		case 6:
			add(gzipped(tb, `{"messageType":"DATA_MESSAGE","logEvents":[{"id":`))
			c.deadLetters["decode/malformed_envelope"]++
		case 8:
			add(gzipped(tb, `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1432826855000,"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}`))
		}
	}
	return c
}

func gzipped(tb testing.TB, s string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// env is a pipeline writing into the real local Elasticsearch under a fresh index prefix, with strict mappings so
// that any field the encoder emits and the templates do not map fails the test.
type env struct {
	prefix string
	client *elastic.Client
	sink   sink.Sink
	pipe   *pipeline.Pipeline
}

func newEnv(t *testing.T) *env { return newEnvReading(t, nil) }

// newEnvWith is newEnv with options changed by edit.
func newEnvWith(t *testing.T, edit func(*pipeline.Options)) *env { return newEnvOptions(t, nil, edit) }

// newEnvReading is newEnv whose pipeline reads documents back through wrap(client) (nil: the client itself).
func newEnvReading(t *testing.T, wrap func(pipeline.Reader) pipeline.Reader) *env {
	t.Helper()
	return newEnvOptions(t, wrap, nil)
}

func newEnvOptions(t *testing.T, wrap func(pipeline.Reader) pipeline.Reader, edit func(*pipeline.Options)) *env {
	t.Helper()
	url := testenv.URL(t, testenv.Elasticsearch)
	ctx := testenv.Context(t, time.Minute)
	prefix := testenv.UniqueName(t, "kfp")
	cfg := elastic.DefaultConfig()
	cfg.Addresses = []string{url}
	cfg.Templates.Prefix, cfg.Templates.Dynamic, cfg.Templates.Replicas = prefix, "strict", 0
	cfg.Sink.Prefix = prefix
	client, err := elastic.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := elastic.New(ctx, cfg, sink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Close(ctx)
		client.Do(ctx, "DELETE", "/"+prefix+"-*", nil, 1<<20)
		client.Do(ctx, "DELETE", "/_index_template/"+prefix+"-*", nil, 1<<20)
	})
	resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := pipeline.DefaultConfig()
	pcfg.Prefix = prefix
	pcfg.RetryInitial, pcfg.RetryMax = time.Millisecond, 10*time.Millisecond
	var reader pipeline.Reader = client
	if wrap != nil {
		reader = wrap(client)
	}
	opts := pipeline.Options{Reader: reader}
	if edit != nil {
		edit(&opts)
	}
	pipe, err := pipeline.New(pcfg, resolver, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{prefix: prefix, client: client, sink: s, pipe: pipe}
}

// run feeds records to a fresh shard processor in batches, cutting after each batch as a runtime checkpoints.
func (e *env) run(t *testing.T, shardID string, records []pipeline.Record, batch int) pipeline.Result {
	t.Helper()
	ctx := testenv.Context(t, 2*time.Minute)
	sh, err := e.pipe.Shard(shardID)
	if err != nil {
		t.Fatal(err)
	}
	var total pipeline.Result
	for len(records) > 0 {
		n := min(batch, len(records))
		res, err := sh.Process(ctx, records[:n])
		if err != nil {
			t.Fatalf("Process: %v", err)
		}
		if err := sh.Cut(ctx); err != nil {
			t.Fatalf("Cut: %v", err)
		}
		total.Add(res)
		records = records[n:]
	}
	return total
}

func (e *env) search(t *testing.T, pattern string) []json.RawMessage {
	t.Helper()
	return testenv.Sources(t, testenv.URL(t, testenv.Elasticsearch), pattern)
}

// TestProcessReplayAndPoison runs a shard's records through the pipeline into Elasticsearch, then replays all of
// them (as after a crash before the checkpoint): every valid line is one document, every poison record and bad line
// one dead letter with its reason, and the partial rollups merge to the brute-force connection sets exactly.
func TestProcessReplayAndPoison(t *testing.T) {
	e := newEnv(t)
	c := makeCorpus(t, 60)

	first := e.run(t, "shardId-000000000001", c.records, 7)
	if first.Flows != len(c.validLines) {
		t.Fatalf("flows written = %d, want %d", first.Flows, len(c.validLines))
	}
	// A crash after the writes but before the checkpoint: the runtime redelivers the same records and the
	// processor cuts at the same boundaries. Nothing may be added.
	e.run(t, "shardId-000000000001", c.records, 7)

	flows := e.search(t, e.prefix+"-flows-*")
	if len(flows) != len(c.validLines) {
		t.Errorf("flow documents after a replay = %d, want %d (one per valid line)", len(flows), len(c.validLines))
	}

	letters := e.search(t, e.prefix+"-deadletter")
	got := map[string]int{}
	for _, raw := range letters {
		var dl struct{ Stage, Reason, ShardID, SequenceNumber, Original string }
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		dl.Stage, dl.Reason = fmt.Sprint(m["stage"]), fmt.Sprint(m["reason"])
		if m["shard_id"] != "shardId-000000000001" || m["sequence_number"] == nil || m["original"] == nil {
			t.Errorf("dead letter without shard, sequence number or original: %s", raw)
		}
		got[dl.Stage+"/"+dl.Reason]++
	}
	if fmt.Sprint(got) != fmt.Sprint(c.deadLetters) {
		t.Errorf("dead letters by stage/reason = %v, want %v", got, c.deadLetters)
	}

	partials := e.checkPartials(t, c.validLines)
	t.Logf("%d records: %d flows, %d dead letters %v, %d partial documents", len(c.records), len(flows), len(letters), got, partials)
}

// checkPartials asserts that the blocks of partial sets merge to the brute-force connection sets of lines, and
// returns how many blocks there are.
func (e *env) checkPartials(t *testing.T, lines []string) int {
	t.Helper()
	merged, blocks := testenv.MergedPartials(t, testenv.URL(t, testenv.Elasticsearch), e.prefix)
	want := reference(lines, 600)
	if len(merged) != len(want) {
		t.Errorf("(window, ip) pairs in partials = %d, want %d", len(merged), len(want))
	}
	for k, f := range merged {
		w, ok := want[k]
		if !ok {
			t.Errorf("%s: in partials but not in the reference", k)
			continue
		}
		peers := make([]string, len(f.Peers))
		for i, p := range f.Peers {
			peers[i] = p.String()
		}
		slices.Sort(peers)
		if !slices.Equal(peers, w.peers()) || f.FlowsSent != w.sent || f.FlowsReceived != w.received || f.BytesSent != w.bytesSent {
			t.Errorf("%s: peers %d sent %d received %d bytes %d, want peers %d sent %d received %d bytes %d",
				k, len(peers), f.FlowsSent, f.FlowsReceived, f.BytesSent, len(w.peers()), w.sent, w.received, w.bytesSent)
		}
	}
	return blocks
}

// The same payloads delivered twice, under new sequence numbers on another shard, then both shards replayed (a
// crash before their checkpoints), in an order where the copy is written first for some records and second for
// others: every flow document once, every flow counted once in the partials, and the copies' flows reported as
// duplicates.
func TestDuplicateDeliveryCountsOnce(t *testing.T) {
	e := newEnv(t)
	c := makeCorpus(t, 30)
	var copies []pipeline.Record
	copied := 0 // flows the copies carry
	for i, r := range c.records {
		if i%3 != 0 {
			continue
		}
		copies = append(copies, pipeline.Record{SequenceNumber: fmt.Sprintf("4960%052d", i), Data: r.Data})
	}
	half := len(c.records) / 2
	// The first half of the originals, then every copy (the first for records of the second half), then the rest.
	a := e.run(t, "shardId-000000000001", c.records[:half], 5)
	b := e.run(t, "shardId-000000000002", copies, 5)
	a.Add(e.run(t, "shardId-000000000001", c.records[half:], 5))
	for i := 0; i < half; i += 3 {
		copied += countFlows(t, c.records[i])
	}
	if b.Duplicates != copied {
		t.Errorf("the copies' duplicates = %d, want %d (the flows of the copies whose originals came first)", b.Duplicates, copied)
	}
	if a.Duplicates == 0 {
		t.Error("no duplicates on the originals' shard, though copies of its second half were written first")
	}
	// Replays of both shards, cut where they were cut the first time, change nothing.
	e.run(t, "shardId-000000000002", copies, 5)
	e.run(t, "shardId-000000000001", c.records[:half], 5)
	e.run(t, "shardId-000000000001", c.records[half:], 5)
	if n := len(e.search(t, e.prefix+"-flows-*")); n != len(c.validLines) {
		t.Errorf("flow documents = %d, want %d", n, len(c.validLines))
	}
	e.checkPartials(t, c.validLines)
}

// flakyReader answers the first fails requests with 503, then passes them on.
type flakyReader struct {
	pipeline.Reader
	fails, calls atomic.Int64
}

func (f *flakyReader) Do(ctx context.Context, method, path string, body []byte, maxBody int64) (int, []byte, error) {
	if f.calls.Add(1) <= f.fails.Load() {
		return 503, []byte(`{"error":"unavailable"}`), nil
	}
	return f.Reader.Do(ctx, method, path, body, maxBody)
}

// The cluster refuses the lookups of existing documents for a while (503): the shard waits them out and counts
// every flow once; it neither fails the batch for good nor guesses.
func TestOwnerLookupWaitsOutTheCluster(t *testing.T) {
	flaky := &flakyReader{}
	flaky.fails.Store(6)
	e := newEnvReading(t, func(r pipeline.Reader) pipeline.Reader { flaky.Reader = r; return flaky })
	c := makeCorpus(t, 12)
	copies := make([]pipeline.Record, len(c.records))
	for i, r := range c.records {
		copies[i] = pipeline.Record{SequenceNumber: fmt.Sprintf("4960%052d", i), Data: r.Data}
	}
	e.run(t, "shardId-000000000001", c.records, 5)
	res := e.run(t, "shardId-000000000002", copies, 5) // every flow exists: each batch looks its owners up
	if res.Duplicates == 0 {
		t.Error("the copies reported no duplicates")
	}
	if n := flaky.calls.Load(); n <= 6 {
		t.Errorf("%d lookups, want the 6 refused and then more", n)
	}
	e.checkPartials(t, c.validLines)
}

// countFlows returns how many connection flows (OK lines with both addresses) a record's envelope carries.
func countFlows(t *testing.T, r pipeline.Record) int {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(r.Data))
	if err != nil {
		return 0 // a poison record
	}
	var env struct {
		LogEvents []struct{ Message string } `json:"logEvents"`
	}
	if json.NewDecoder(zr).Decode(&env) != nil {
		return 0
	}
	n := 0
	for _, ev := range env.LogEvents {
		if f := strings.Fields(ev.Message); len(f) == 14 && f[13] == "OK" {
			n++
		}
	}
	return n
}

type refSet struct {
	set                       map[string]bool
	sent, received, bytesSent uint64
}

func (r *refSet) peers() []string {
	out := make([]string, 0, len(r.set))
	for p := range r.set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// reference computes the connection sets of v2 lines the plain way.
func reference(lines []string, window int64) map[string]*refSet {
	out := map[string]*refSet{}
	get := func(w int64, ip string) *refSet {
		k := strconv.FormatInt(w, 10) + " " + ip
		if out[k] == nil {
			out[k] = &refSet{set: map[string]bool{}}
		}
		return out[k]
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if f[13] != "OK" {
			continue
		}
		start, _ := strconv.ParseInt(f[10], 10, 64)
		bytes, _ := strconv.ParseUint(f[9], 10, 64)
		w := start - start%window
		src, dst := netip.MustParseAddr(f[3]).String(), netip.MustParseAddr(f[4]).String()
		s, d := get(w, src), get(w, dst)
		s.set[dst], d.set[src] = true, true
		s.sent++
		s.bytesSent += bytes
		d.received++
	}
	return out
}
