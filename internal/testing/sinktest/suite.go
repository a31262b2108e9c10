package sinktest

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/faultproxy"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// A Backend is one kind of cluster the suite runs against.
type Backend struct {
	Name string
	URL  string
	// NewClient returns a client for the cluster at url.
	NewClient func(tb testing.TB, url string, maxInFlight int) sink.Client
	// DeadLetterReasons are the error types the cluster gives a document that breaks its mapping.
	DeadLetterReasons []string
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	t.Run("TemplatesInstallTwiceAndMapIP", func(t *testing.T) { testTemplatesAndQuery(t, b) })
	t.Run("FieldTypesAgree", func(t *testing.T) { testFieldTypes(t, b) })
	t.Run("DocValuesOnlyFieldsSearch", func(t *testing.T) { testDocValuesOnly(t, b) })
	t.Run("TopPairsByBytes", func(t *testing.T) { testTopPairs(t, b) })
	t.Run("SameBatchTwice", func(t *testing.T) { testIdempotent(t, b) })
	t.Run("OnlyFailedItemsResent", func(t *testing.T) { testOnlyFailedResent(t, b) })
	t.Run("Faults", func(t *testing.T) { testFaults(t, b) })
}

// Setup installs strict templates (no replicas) under a fresh prefix and deletes its indices and templates when tb
// ends; it returns the prefix.
func Setup(tb testing.TB, c sink.Client) string {
	tb.Helper()
	prefix := testenv.UniqueName(tb, "kf")
	tc := sink.DefaultTemplateConfig()
	tc.Prefix = prefix
	tc.Dynamic = "strict" // any drift between the corpus encoder and the mappings fails loudly
	tc.Replicas = 0
	ctx := testenv.Context(tb, time.Minute)
	if err := sink.InstallTemplates(ctx, c, tc, slog.New(slog.DiscardHandler)); err != nil {
		tb.Fatalf("installing templates: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.Do(ctx, "DELETE", "/"+prefix+"-*", nil, 1<<20) //nolint:errcheck // best effort
		for _, t := range slices.Backward(sink.Templates(tc)) {
			c.Do(ctx, "DELETE", t.Path, nil, 1<<20) //nolint:errcheck
		}
	})
	return prefix
}

func testSinkConfig(b Backend, prefix string) sink.Config {
	sc := sink.DefaultConfig()
	sc.Name = b.Name
	sc.Prefix = prefix
	sc.FlushDocs = 500
	sc.RetryInitial = 20 * time.Millisecond
	sc.RetryMax = time.Second
	sc.RequestTimeout = 20 * time.Second
	return sc
}

func newSink(tb testing.TB, c sink.Client, sc sink.Config, reg prometheus.Registerer) *sink.BulkSink {
	tb.Helper()
	s, err := sink.New(c, sc, sink.Options{Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close(context.Background()) }) //nolint:errcheck
	return s
}

func testTemplatesAndQuery(t *testing.T, b Backend) {
	c := b.NewClient(t, b.URL, 4)
	prefix := Setup(t, c)
	// The second installation is what every start-up does.
	tc := sink.DefaultTemplateConfig()
	tc.Prefix, tc.Dynamic, tc.Replicas = prefix, "strict", 0
	if err := sink.InstallTemplates(testenv.Context(t, time.Minute), c, tc, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("installing templates a second time: %v", err)
	}
	flows := Corpus(prefix, 3000, 0, 7)
	s := newSink(t, c, testSinkConfig(b, prefix), nil)
	ctx := testenv.Context(t, 2*time.Minute)
	if err := s.Write(ctx, Docs(flows)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	refresh(t, c, prefix)

	mapping := getJSON(t, c, "/"+prefix+"-flows-*/_mapping/field/source.ip,destination.ip,related.ip,event.action,network.bytes,@timestamp")
	for _, want := range []string{`"source.ip":{"full_name":"source.ip","mapping":{"ip":{"type":"ip"}}}`, `"event.action":{"full_name":"event.action","mapping":{"action":{"type":"keyword"}}}`} {
		if !contains(mapping, want) {
			t.Errorf("field mapping lacks %s:\n%s", want, mapping)
		}
	}

	// Kibana's source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:* in query_string syntax.
	const q = `source.ip:"10.0.0.0/8" AND event.action:reject AND destination.ip:*`
	got := searchIDs(t, c, prefix+"-flows-*", map[string]any{"query_string": map[string]any{"query": q}})
	ten := netip.MustParsePrefix("10.0.0.0/8")
	var want []string
	for _, f := range flows {
		if f.Reject && f.Src.IsValid() && ten.Contains(f.Src) && f.Dst.IsValid() {
			want = append(want, f.EventID)
		}
	}
	slices.Sort(want)
	if len(want) < 100 {
		t.Fatalf("corpus has only %d matching flows; the test proves little", len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("query %q: got %d flows, want %d", q, len(got), len(want))
	}
	t.Logf("query matched exactly the %d expected flows of %d", len(want), len(flows))
}

// A Pair is one row of the classic Athena query: top source/destination pairs by total bytes.
type Pair struct {
	Src, Dst netip.Addr
	Bytes    int64
}

func comparePairs(a, b Pair) int {
	return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), a.Src.Compare(b.Src), a.Dst.Compare(b.Dst))
}

// TopPairs computes the top n pairs in Go.
func TopPairs(flows []Flow, n int) []Pair {
	sums := map[[2]netip.Addr]int64{}
	for _, f := range flows {
		if f.Valid && f.Src.IsValid() {
			sums[[2]netip.Addr{f.Src, f.Dst}] += f.Bytes
		}
	}
	pairs := make([]Pair, 0, len(sums))
	for k, v := range sums {
		pairs = append(pairs, Pair{k[0], k[1], v})
	}
	slices.SortFunc(pairs, comparePairs)
	return pairs[:min(n, len(pairs))]
}

func testTopPairs(t *testing.T, b Backend) {
	c := b.NewClient(t, b.URL, 4)
	prefix := Setup(t, c)
	flows := Corpus(prefix, 6000, 0, 11)
	s := newSink(t, c, testSinkConfig(b, prefix), nil)
	if err := s.Write(testenv.Context(t, 2*time.Minute), Docs(flows)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	refresh(t, c, prefix)
	want := TopPairs(flows, 50)
	got := aggTopPairs(t, c, prefix+"-flows-*", 50)
	if !slices.Equal(got, want) {
		t.Fatalf("top pairs by bytes:\n got %v\nwant %v", got, want)
	}
	t.Logf("top-50 pairs agree; first %v, 50th %v", want[0], want[49])
}

// aggTopPairs sums network.bytes per (source.ip, destination.ip) with a composite aggregation (exact: it visits
// every pair, page by page) and ranks the sums. multi_terms would rank in the cluster but needs x-pack analytics,
// which the integ-test distribution of Elasticsearch lacks; the composite works on both engines.
func aggTopPairs(tb testing.TB, c sink.Client, pattern string, n int) []Pair {
	tb.Helper()
	var pairs []Pair
	var after any
	for {
		comp := map[string]any{
			"size": 1000,
			"sources": []any{
				map[string]any{"src": map[string]any{"terms": map[string]any{"field": "source.ip"}}},
				map[string]any{"dst": map[string]any{"terms": map[string]any{"field": "destination.ip"}}},
			},
		}
		if after != nil {
			comp["after"] = after
		}
		body := map[string]any{"size": 0, "aggs": map[string]any{"pairs": map[string]any{
			"composite": comp, "aggs": map[string]any{"bytes": map[string]any{"sum": map[string]any{"field": "network.bytes"}}},
		}}}
		var res struct {
			Aggregations struct {
				Pairs struct {
					AfterKey any `json:"after_key"`
					Buckets  []struct {
						Key   struct{ Src, Dst string }
						Bytes struct{ Value float64 }
					}
				}
			}
		}
		postJSON(tb, c, "/"+pattern+"/_search", body, &res)
		for _, bk := range res.Aggregations.Pairs.Buckets {
			pairs = append(pairs, Pair{netip.MustParseAddr(bk.Key.Src), netip.MustParseAddr(bk.Key.Dst), int64(bk.Bytes.Value)})
		}
		if len(res.Aggregations.Pairs.Buckets) == 0 || res.Aggregations.Pairs.AfterKey == nil {
			break
		}
		after = res.Aggregations.Pairs.AfterKey
	}
	slices.SortFunc(pairs, comparePairs)
	return pairs[:min(n, len(pairs))]
}

func testIdempotent(t *testing.T, b Backend) {
	c := b.NewClient(t, b.URL, 4)
	prefix := Setup(t, c)
	flows := Corpus(prefix, 2000, 10, 13)
	docs := append(Docs(flows), Rollups(prefix, 300)...)
	s := newSink(t, c, testSinkConfig(b, prefix), nil)
	ctx := testenv.Context(t, 2*time.Minute)
	var counts [2][3]int
	for round := range 2 {
		if err := s.Write(ctx, docs); err != nil {
			t.Fatalf("Write round %d: %v", round+1, err)
		}
		refresh(t, c, prefix)
		counts[round] = [3]int{count(t, c, prefix+"-flows-*", nil), count(t, c, prefix+"-conns-*", nil), count(t, c, prefix+"-deadletter", nil)}
	}
	want := [3]int{2000, 300, 10}
	if counts[0] != want || counts[1] != want {
		t.Fatalf("doc counts (flows, conns, dead letters) after round 1 %v, round 2 %v; want %v both times", counts[0], counts[1], want)
	}
}

// testOnlyFailedResent injects per-item 429s and 503s and whole-request 429s (no resets, no outage, so every
// forwarded request is answered) and checks from the proxy's log that every item reached the cluster exactly once:
// the items that succeeded were never resent with the failed ones.
func testOnlyFailedResent(t *testing.T, b Backend) {
	direct := b.NewClient(t, b.URL, 4)
	prefix := Setup(t, direct)
	p := newProxy(t, b.URL)
	p.SetFaults(faultproxy.Faults{
		Request: func(n int) faultproxy.Fault {
			if n%7 == 0 {
				return faultproxy.Fault{Status: 429}
			}
			return faultproxy.Fault{}
		},
		Item: func(id string, attempt int) int {
			switch h := hash(id); {
			case h%10 == 0 && attempt <= 2:
				return 429
			case h%13 == 0 && attempt == 1:
				return 503
			}
			return 0
		},
	})
	flows := Corpus(prefix, 3000, 20, 17)
	reg := prometheus.NewRegistry()
	s := newSink(t, b.NewClient(t, p.URL(), 4), testSinkConfig(b, prefix), reg)
	if err := s.Write(testenv.Context(t, 2*time.Minute), Docs(flows)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	fwd := p.Forwarded()
	var twice []string
	for _, f := range flows {
		if fwd[f.Doc.ID] != 1 {
			twice = append(twice, fmt.Sprintf("%s:%d", f.Doc.ID, fwd[f.Doc.ID]))
		}
	}
	if len(twice) > 0 {
		t.Fatalf("%d items were not forwarded exactly once: %v", len(twice), twice[:min(10, len(twice))])
	}
	st := p.Stats()
	retried := sumMetric(t, reg, "kinflow_sink_docs_retried_total")
	t.Logf("proxy: %+v; sink retried %v item sends", st, retried)
	if st.FailedItems == 0 || st.FailedRequests == 0 || retried == 0 {
		t.Fatalf("no faults were injected: %+v", st)
	}
	refresh(t, direct, prefix)
	checkResult(t, direct, b, prefix, flows)
}

// testFaults writes the corpus from four concurrent writers (as four shards would) through the proxy while it
// answers 429 and 503 for whole requests and for items, resets connections, and goes dark for OutageFor in the
// middle of the run. The cluster must end with exactly the valid flows, once each, and every invalid one must be
// dead-lettered with its reason; no Write may return while the proxy is dark (backpressure, not dropping).
func testFaults(t *testing.T, b Backend) {
	if testing.Short() {
		t.Skip("the fault test takes over 30 s")
	}
	direct := b.NewClient(t, b.URL, 4)
	prefix := Setup(t, direct)
	p := newProxy(t, b.URL)
	p.SetFaults(faultproxy.Faults{
		Request: func(n int) faultproxy.Fault {
			switch {
			case n%17 == 0:
				return faultproxy.Fault{Status: 429}
			case n%23 == 0:
				return faultproxy.Fault{Status: 503}
			case n%29 == 0:
				return faultproxy.Fault{Reset: true}
			}
			return faultproxy.Fault{}
		},
		Item: func(id string, attempt int) int {
			switch h := hash(id); {
			case h%20 == 0 && attempt <= 2:
				return 429
			case h%31 == 0 && attempt == 1:
				return 503
			}
			return 0
		},
	})
	const valid, invalid, writers, per = 8000, 40, 4, 100
	flows := Corpus(prefix, valid, invalid, 19)
	// Interleave the invalid flows with the valid ones.
	slices.SortStableFunc(flows, func(a, b Flow) int { return cmp.Compare(hash(a.Doc.ID)%97, hash(b.Doc.ID)%97) })
	sc := testSinkConfig(b, prefix)
	sc.FlushDocs = 250
	reg := prometheus.NewRegistry()
	s := newSink(t, b.NewClient(t, p.URL(), sc.MaxInFlight), sc, reg)

	ctx := testenv.Context(t, 5*time.Minute)
	var written atomic.Int64
	var mu sync.Mutex
	var returns []time.Time
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w * per; i < len(flows); i += writers * per {
				if err := s.Write(ctx, Docs(flows[i:min(i+per, len(flows))])); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				returns = append(returns, time.Now())
				mu.Unlock()
				written.Add(int64(min(per, len(flows)-i)))
				time.Sleep(5 * time.Millisecond) // a shard's next GetRecords
			}
		})
	}
	// Go dark once a third is written, while writers are busy.
	for written.Load() < int64(len(flows)/3) {
		time.Sleep(10 * time.Millisecond)
	}
	downAt, atDown := time.Now(), written.Load()
	up := p.Down(OutageFor)
	if err := <-up; err != nil {
		t.Fatal(err)
	}
	upAt, atUp := time.Now(), written.Load()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Write: %v", err)
	}
	// Writes whose documents were all acknowledged just before the outage may return a moment into it.
	const grace = 2 * time.Second
	during := 0
	for _, r := range returns {
		if r.After(downAt.Add(grace)) && r.Before(upAt) {
			during++
		}
	}
	if during > 0 {
		t.Errorf("%d writes returned while the cluster was unreachable", during)
	}
	if atUp == int64(len(flows)) {
		t.Errorf("every write was done before the cluster came back: the outage was not mid-run")
	}
	st := p.Stats()
	t.Logf("outage %v (docs acknowledged when it began %d, when it ended %d, of %d); proxy %+v; sink: written %v, retried %v, dead-lettered %v",
		upAt.Sub(downAt).Round(time.Second), atDown, atUp, len(flows), st,
		sumMetric(t, reg, "kinflow_sink_docs_written_total"), sumMetric(t, reg, "kinflow_sink_docs_retried_total"),
		sumMetric(t, reg, "kinflow_sink_docs_dead_lettered_total"))
	if st.FailedItems == 0 || st.FailedRequests == 0 || st.Resets == 0 {
		t.Errorf("not every fault was injected: %+v", st)
	}
	refresh(t, direct, prefix)
	checkResult(t, direct, b, prefix, flows)
}

// OutageFor is how long the fault test keeps the cluster unreachable.
var OutageFor = 30 * time.Second

// checkResult asserts the flow indices hold exactly the valid flows once each and the dead-letter index holds every
// invalid one with its reason and original line.
func checkResult(tb testing.TB, c sink.Client, b Backend, prefix string, flows []Flow) {
	tb.Helper()
	wantValid := map[string]bool{}
	invalid := map[string]Flow{}
	for _, f := range flows {
		if f.Valid {
			wantValid[f.EventID] = true
		} else {
			invalid[f.Doc.ID] = f
		}
	}
	if n := count(tb, c, prefix+"-flows-*", nil); n != len(wantValid) {
		tb.Errorf("flow docs = %d, want %d", n, len(wantValid))
	}
	// Duplicates by a unique field: no event.id may appear twice across the daily indices.
	var dups struct {
		Aggregations struct {
			Dups struct {
				Buckets []struct {
					Key      string
					DocCount int `json:"doc_count"`
				}
			}
		}
	}
	postJSON(tb, c, "/"+prefix+"-flows-*/_search", map[string]any{"size": 0, "aggs": map[string]any{
		"dups": map[string]any{"terms": map[string]any{"field": "event.id", "min_doc_count": 2, "size": 10}},
	}}, &dups)
	if len(dups.Aggregations.Dups.Buckets) > 0 {
		tb.Errorf("duplicate flows: %+v", dups.Aggregations.Dups.Buckets)
	}
	got := allKeys(tb, c, prefix+"-flows-*", "event.id")
	if len(got) != len(wantValid) {
		tb.Errorf("distinct event ids = %d, want %d", len(got), len(wantValid))
	}
	for _, id := range got {
		if !wantValid[id] {
			tb.Errorf("unexpected flow %s", id)
			break
		}
	}

	var dl struct {
		Hits struct {
			Hits []struct {
				Source struct {
					Stage, Reason, Error, Original string
					TargetID                       string `json:"target_id"`
					TargetIndex                    string `json:"target_index"`
					ShardID                        string `json:"shard_id"`
					SequenceNumber                 string `json:"sequence_number"`
					EventID                        string `json:"event_id"`
					OriginalEncoding               string `json:"original_encoding"`
				} `json:"_source"`
			}
		}
	}
	postJSON(tb, c, "/"+prefix+"-deadletter/_search", map[string]any{"size": 1000, "query": map[string]any{"match_all": map[string]any{}}}, &dl)
	if len(dl.Hits.Hits) != len(invalid) {
		tb.Errorf("dead letters = %d, want %d", len(dl.Hits.Hits), len(invalid))
	}
	reasons := map[string]int{}
	for _, h := range dl.Hits.Hits {
		d := h.Source
		f, ok := invalid[d.TargetID]
		switch {
		case !ok:
			tb.Errorf("dead letter for unexpected doc %s", d.TargetID)
		case d.Stage != "index" || !slices.Contains(b.DeadLetterReasons, d.Reason) || d.Error == "":
			tb.Errorf("dead letter %s: stage %q reason %q error %q", d.TargetID, d.Stage, d.Reason, d.Error)
		case d.Original != string(f.Doc.Origin.Raw) || d.OriginalEncoding != "utf8":
			tb.Errorf("dead letter %s: original %q (%s), want %q", d.TargetID, d.Original, d.OriginalEncoding, f.Doc.Origin.Raw)
		case d.ShardID != f.Doc.Origin.ShardID || d.SequenceNumber != f.Doc.Origin.SequenceNumber || d.EventID != f.EventID || d.TargetIndex != f.Doc.Index:
			tb.Errorf("dead letter %s: origin %+v, want %+v", d.TargetID, d, f.Doc.Origin)
		}
		reasons[d.Reason]++
	}
	tb.Logf("flows: %d valid, indexed once each; dead letters: %d, reasons %v", len(wantValid), len(dl.Hits.Hits), reasons)
}

func newProxy(tb testing.TB, target string) *faultproxy.Proxy {
	tb.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func contains(b []byte, sub string) bool { return strings.Contains(string(b), sub) }

// sumMetric adds up every series of a metric family in reg.
func sumMetric(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total
}
