package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/testing/faultproxy"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// cluster is the real local Elasticsearch behind a fault-injecting proxy, under a fresh index prefix.
type cluster struct {
	prefix  string
	proxy   *faultproxy.Proxy
	client  *elastic.Client // direct, for checking what landed
	sink    sink.Sink       // the last handler's sink (through the proxy), for the finalizer's writes
	writes  atomic.Int32    // sink.Write calls, to time faults in the middle of a batch
	onWrite func(n int32)
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	url := testenv.URL(t, testenv.Elasticsearch)
	proxy, err := faultproxy.New(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	c := &cluster{prefix: testenv.UniqueName(t, "kfl"), proxy: proxy}
	cfg := elastic.DefaultConfig()
	cfg.Addresses = []string{url}
	if c.client, err = elastic.NewClient(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.client.Do(ctx, "DELETE", "/"+c.prefix+"-*", nil, 1<<20)
		c.client.Do(ctx, "DELETE", "/_index_template/"+c.prefix+"-*", nil, 1<<20)
	})
	return c
}

// tapSink forwards to the real sink and lets a test act just before a given write.
type tapSink struct {
	sink.Sink
	c *cluster
}

func (s tapSink) Write(ctx context.Context, docs []sink.Doc) error {
	n := s.c.writes.Add(1)
	if s.c.onWrite != nil {
		s.c.onWrite(n)
	}
	return s.Sink.Write(ctx, docs)
}

// downDuring makes the cluster answer 503 to every request from the nth sink write on, until the write after it:
// the cut, in the invocation's reserve.
func (c *cluster) downDuring(nth int32) {
	c.onWrite = func(n int32) {
		switch n {
		case nth:
			c.proxy.SetFaults(faultproxy.Faults{Request: func(int) faultproxy.Fault { return faultproxy.Fault{Status: 503} }})
		case nth + 1:
			c.proxy.SetFaults(faultproxy.Faults{})
		}
	}
}

// sequences returns the records' sequence numbers.
func sequences(records []events.KinesisEventRecord) []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = r.Kinesis.SequenceNumber
	}
	return out
}

// handler returns a Kinesis handler writing through the proxy with strict mappings, chunks of at most chunk records.
func (c *cluster) handler(t *testing.T, chunk int) *kinesisHandler {
	t.Helper()
	cfg := elastic.DefaultConfig()
	cfg.Addresses = []string{c.proxy.URL()}
	cfg.Templates.Prefix, cfg.Templates.Dynamic, cfg.Templates.Replicas = c.prefix, "strict", 0
	cfg.Sink.Prefix = c.prefix
	cfg.Sink.RetryInitial, cfg.Sink.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	cfg.Sink.RequestTimeout = 2 * time.Second
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := elastic.New(testenv.Context(t, time.Minute), cfg, sink.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	c.sink = s
	resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := pipeline.DefaultConfig()
	pcfg.Prefix = c.prefix
	pipe, err := pipeline.New(pcfg, resolver, tapSink{s, c}, pipeline.Options{Logger: quiet, Reader: c.client})
	if err != nil {
		t.Fatal(err)
	}
	chunks := chunkSize
	chunks.Records = chunk
	return &kinesisHandler{pipe: pipe, reserve: time.Second, chunks: chunks, log: quiet, now: time.Now}
}

func (c *cluster) sources(t *testing.T, pattern string) []json.RawMessage {
	t.Helper()
	return testenv.Sources(t, testenv.URL(t, testenv.Elasticsearch), c.prefix+pattern)
}

// fixtureLines returns every flow-log line the fixture's records carry.
func fixtureLines(t *testing.T, ev events.KinesisEvent) []string {
	t.Helper()
	var lines []string
	for _, r := range ev.Records {
		zr, err := gzip.NewReader(bytes.NewReader(r.Kinesis.Data))
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			LogEvents []struct{ Message string } `json:"logEvents"`
		}
		if err := json.NewDecoder(zr).Decode(&env); err != nil {
			t.Fatal(err)
		}
		for _, e := range env.LogEvents {
			lines = append(lines, e.Message)
		}
	}
	return lines
}

func invoke(t *testing.T, h *kinesisHandler, ev events.KinesisEvent, timeout time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := h.Handle(ctx, ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

func withPoison(ev events.KinesisEvent) (events.KinesisEvent, int) {
	out := events.KinesisEvent{}
	poison := 0
	for i, r := range ev.Records {
		out.Records = append(out.Records, r)
		if i%5 == 2 {
			bad := r
			bad.Kinesis.SequenceNumber = r.Kinesis.SequenceNumber + "5"
			bad.EventID = "shardId-000000000000:" + bad.Kinesis.SequenceNumber
			bad.Kinesis.Data = []byte("definitely not gzip")
			if i%10 == 7 {
				bad.Kinesis.Data = r.Kinesis.Data[:len(r.Kinesis.Data)/3] // truncated gzip
			}
			out.Records = append(out.Records, bad)
			poison++
		}
	}
	return out, poison
}

// Poison records are dead-lettered and never reported; a second delivery of the same batch changes nothing.
func TestHandlePoisonAndRedelivery(t *testing.T) {
	c := newCluster(t)
	h := c.handler(t, 100)
	fx := loadFixture(t)
	ev, poison := withPoison(fx)
	lines := fixtureLines(t, fx)

	for round := range 2 {
		if failed := invoke(t, h, ev, time.Minute); len(failed) != 0 {
			t.Fatalf("round %d: BatchItemFailures = %v, want none (poison is dead-lettered, not retried)", round, failed)
		}
	}
	if got := len(c.sources(t, "-flows-*")); got != len(lines) {
		t.Errorf("flow documents = %d, want %d", got, len(lines))
	}
	if got := len(c.sources(t, "-deadletter")); got != poison {
		t.Errorf("dead letters = %d, want %d", got, poison)
	}
}

// 429 for a third of the bulk items and a 503 for a whole request: the sink retries within the invocation, nothing
// is reported, every flow is indexed once.
func TestHandleThrottled(t *testing.T) {
	c := newCluster(t)
	h := c.handler(t, 100)
	failedOne := false
	c.proxy.SetFaults(faultproxy.Faults{
		Request: func(int) faultproxy.Fault {
			if !failedOne {
				failedOne = true
				return faultproxy.Fault{Status: 503}
			}
			return faultproxy.Fault{}
		},
		Item: func(id string, attempt int) int {
			if attempt == 1 && id[0]%3 == 0 {
				return 429
			}
			return 0
		},
	})
	fx := loadFixture(t)
	if failed := invoke(t, h, fx, time.Minute); len(failed) != 0 {
		t.Fatalf("BatchItemFailures = %v, want none", failed)
	}
	if st := c.proxy.Stats(); st.FailedItems == 0 || st.FailedRequests == 0 {
		t.Fatalf("proxy stats %+v: the faults did not happen", st)
	}
	if got, want := len(c.sources(t, "-flows-*")), len(fixtureLines(t, fx)); got != want {
		t.Errorf("flow documents = %d, want %d", got, want)
	}
}

// The cluster goes down while the second chunk is written and comes back as the invocation's reserve begins: the
// first chunk is acknowledged (its partials cut), the rest is reported from its first record; the event source
// mapping's retry of what was reported leaves every flow once and connection sets equal to the reference.
func TestHandleOutageMidBatch(t *testing.T) {
	c := newCluster(t)
	const chunk = 5
	h := c.handler(t, chunk)
	h.reserve = 2 * time.Second
	fx := loadFixture(t)
	c.downDuring(2) // the second chunk's documents
	failed := invoke(t, h, fx, 6*time.Second)
	if want := sequences(fx.Records[chunk:]); !slices.Equal(failed, want) {
		t.Fatalf("BatchItemFailures = %v,\nwant every record from the second chunk on: %v", failed, want)
	}

	// The event source mapping retries from the first reported record.
	c.onWrite = nil
	retry := events.KinesisEvent{Records: fx.Records[chunk:]}
	if failed := invoke(t, h, retry, time.Minute); len(failed) != 0 {
		t.Fatalf("retry: BatchItemFailures = %v", failed)
	}

	lines := fixtureLines(t, fx)
	if got := len(c.sources(t, "-flows-*")); got != len(lines) {
		t.Errorf("flow documents = %d, want %d", got, len(lines))
	}
	merged, _ := testenv.MergedPartials(t, testenv.URL(t, testenv.Elasticsearch), c.prefix)
	checkConnSets(t, merged, lines)
}

// A batch larger than a chunk's bytes is prepared and written chunk by chunk, so the function holds two chunks'
// documents, not the batch's (here chunks of 128 KiB, a quarter of chunkSize's, to keep the batch small). The
// cluster goes down while the third chunk is written: the first two are acknowledged, the rest is reported from the
// third chunk's first record, and the retry leaves every flow once and connection sets equal to the reference.
func TestHandleLargeBatchInChunks(t *testing.T) {
	c := newCluster(t)
	h := c.handler(t, chunkSize.Records)
	h.reserve, h.chunks.Bytes = 2*time.Second, 128<<10
	g := flowgen.New(flowgen.DefaultConfig(testenv.Now(t).Add(-time.Hour)))
	var ev events.KinesisEvent
	for i, b := range g.Batches(24, 400, 500) {
		sn := fmt.Sprintf("49%054d", i+1)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventID: "shardId-000000000000:" + sn,
			Kinesis: events.KinesisRecord{Data: g.Envelope(fixtureLogGroup, "kinflow", b), SequenceNumber: sn},
		})
	}
	var chunks []int // the first record of each chunk
	records := make([]pipeline.Record, len(ev.Records))
	for i, r := range ev.Records {
		records[i].Data = r.Kinesis.Data
	}
	for i := 0; i < len(records); i += h.chunks.Len(records[i:]) {
		chunks = append(chunks, i)
	}
	if len(chunks) < 4 {
		t.Fatalf("the batch makes %d chunks; the test needs at least 4", len(chunks))
	}

	c.downDuring(3) // the third chunk's documents
	failed := invoke(t, h, ev, 6*time.Second)
	if want := sequences(ev.Records[chunks[2]:]); !slices.Equal(failed, want) {
		t.Fatalf("BatchItemFailures = %v,\nwant every record from the third chunk's first (record %d) on: %v", failed, chunks[2], want)
	}

	c.onWrite = nil
	before := c.writes.Load()
	if failed := invoke(t, h, events.KinesisEvent{Records: ev.Records[chunks[2]:]}, time.Minute); len(failed) != 0 {
		t.Fatalf("retry: BatchItemFailures = %v", failed)
	}
	// One write per chunk of the retried records, then the cut's.
	if got, want := c.writes.Load()-before, int32(len(chunks)-2+1); got != want {
		t.Errorf("the retry wrote %d times, want %d (a write per chunk and the cut)", got, want)
	}
	lines := fixtureLines(t, ev)
	if got := testenv.Count(t, testenv.URL(t, testenv.Elasticsearch), c.prefix+"-flows-*"); got != len(lines) {
		t.Errorf("flow documents = %d, want %d", got, len(lines))
	}
	merged, _ := testenv.MergedPartials(t, testenv.URL(t, testenv.Elasticsearch), c.prefix)
	checkConnSets(t, merged, lines)
}

// checkConnSets compares the merged partial sets of each (window, ip) with a brute-force computation.
func checkConnSets(t *testing.T, merged map[string]aggregate.Final, lines []string) {
	t.Helper()
	type ref struct {
		peers      map[netip.Addr]bool
		sent, recv uint64
	}
	want := map[string]*ref{}
	get := func(w int64, ip netip.Addr) *ref {
		k := strconv.FormatInt(w, 10) + " " + ip.String()
		if want[k] == nil {
			want[k] = &ref{peers: map[netip.Addr]bool{}}
		}
		return want[k]
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if f[13] != "OK" {
			continue
		}
		start, _ := strconv.ParseInt(f[10], 10, 64)
		w := start - start%600
		src, dst := netip.MustParseAddr(f[3]), netip.MustParseAddr(f[4])
		s, d := get(w, src), get(w, dst)
		s.peers[dst], d.peers[src] = true, true
		s.sent++
		d.recv++
	}
	if len(merged) != len(want) {
		t.Errorf("(window, ip) pairs = %d, want %d", len(merged), len(want))
	}
	for k, f := range merged {
		w := want[k]
		if w == nil || f.PeersCount != uint64(len(w.peers)) || f.FlowsSent != w.sent || f.FlowsReceived != w.recv {
			t.Errorf("%s: peers %d sent %d received %d; reference %+v", k, f.PeersCount, f.FlowsSent, f.FlowsReceived, w)
		}
	}
}

// A configuration that cannot work fails every invocation with every problem named.
func TestBadConfigurationFailsEveryInvocation(t *testing.T) {
	env := map[string]string{"KINFLOW_SINK_KIND": "solr", "KINFLOW_WINDOW": "often", "KINFLOW_LAMBDA_HANDLER": "nope"}
	a := newApp(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for range 2 {
		_, err := a.handleKinesis(context.Background(), loadFixture(t))
		for _, want := range []string{"solr", "KINFLOW_WINDOW", "nope"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v does not name %q", err, want)
			}
		}
	}
}
