package redrive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/redrive"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

const (
	plainGroup  = "/vpc/flow-logs/prod"  // the default format: never dead-lettered
	flagsGroup  = "/vpc/flow-logs/flags" // a custom format with tcp-flags, whose override was forgotten
	flagsFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} " +
		"${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags}"
	garbagePerDelivery = 7 // every 7th flags delivery carries one line that no format fixes
)

// flowStart is a fixed instant: the corpus spans a day (144 windows) from it, and every clock the test hands out
// (the finalizer's, the shards' progress) follows from it, so the test means the same on any day.
var flowStart = flowgen.FixedStart

// corpusSpan is the event time the lines cover: the "a day of lines dead-lettered".
const corpusSpan = 24 * time.Hour

// finalizerAt is after the corpus and its allowed lateness: every window is closed.
var finalizerAt = flowStart.Add(corpusSpan + time.Hour)

// env is a real cluster (strict templates, a fresh prefix), a DynamoDB emulator table, two live shards fed by the
// pipeline under the configuration that forgot the override, and the corpus they were fed.
type env struct {
	t       *testing.T
	url     string
	prefix  string
	client  sink.Client
	bulk    sink.Config
	sink    sink.Sink
	store   *state.Store
	lines   []string // every line that must become an aggregated flow, in the default format's 14 fields
	events  int      // every event that must become a flow document
	flags   int      // flags lines (each a parse dead letter until redriven)
	garbage int      // lines no configuration parses
}

func newEnv(t *testing.T, cluster testenv.Service) *env {
	t.Helper()
	url := testenv.URL(t, cluster)
	ddb := testenv.URL(t, testenv.Dynalite)
	ctx := testenv.Context(t, time.Minute)
	e := &env{t: t, url: url, prefix: testenv.UniqueName(t, "kfr")}
	testenv.DropPrefix(t, url, e.prefix)
	var err error
	if cluster == testenv.OpenSearch {
		cfg := opensearch.DefaultConfig()
		cfg.Addresses = []string{url}
		cfg.Templates.Prefix, cfg.Templates.Dynamic, cfg.Templates.Replicas = e.prefix, "strict", 0
		cfg.Sink.Prefix, cfg.SetupOnStart = e.prefix, true
		if e.client, err = opensearch.NewClient(cfg); err != nil {
			t.Fatal(err)
		}
		e.bulk = cfg.Sink
		e.sink, err = opensearch.New(ctx, cfg, sink.Options{})
	} else {
		cfg := elastic.DefaultConfig()
		cfg.Addresses = []string{url}
		cfg.Templates.Prefix, cfg.Templates.Dynamic, cfg.Templates.Replicas = e.prefix, "strict", 0
		cfg.Sink.Prefix, cfg.SetupOnStart = e.prefix, true
		if e.client, err = elastic.NewClient(cfg); err != nil {
			t.Fatal(err)
		}
		e.bulk = cfg.Sink
		e.sink, err = elastic.New(ctx, cfg, sink.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sink.Close(context.Background()) })
	e.store, err = state.New(dynamodb.NewFromConfig(testenv.AWSConfig(ddb)), testenv.UniqueName(t, "kfr"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// pipelineConfig is the pipeline's configuration on e's prefix.
func (e *env) pipelineConfig() pipeline.Config {
	c := pipeline.DefaultConfig()
	c.Prefix = e.prefix
	c.RetryInitial, c.RetryMax = time.Millisecond, 20*time.Millisecond
	return c
}

// resolver is the format configuration: fixed has the override for the flags group, as the team meant it.
func resolver(t *testing.T, fixed bool) *vpcflow.Resolver {
	t.Helper()
	c := vpcflow.DefaultConfig()
	if fixed {
		c.Overrides = []vpcflow.Override{{Match: flagsGroup, Format: flagsFormat}}
	}
	r, err := vpcflow.NewResolver(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// feed runs a day of deliveries through two live shards under the configuration without the override: the
// plain group's lines become flows, the flags group's lines parse dead letters. It records the shards' progress as
// the runtimes do, caught up and idle, so that every window is closed at finalizerAt.
func (e *env) feed() {
	e.t.Helper()
	ctx := testenv.Context(e.t, 2*time.Minute)
	p, err := pipeline.New(e.pipelineConfig(), resolver(e.t, false), e.sink, pipeline.Options{Reader: e.client})
	if err != nil {
		e.t.Fatal(err)
	}
	gcfg := flowgen.DefaultConfig(flowStart)
	gcfg.Seed, gcfg.Span = 20, corpusSpan
	g := flowgen.New(gcfg)
	rng := rand.New(rand.NewPCG(20, 20))
	var shards []*pipeline.Shard
	for i := range 2 {
		sh, err := p.Shard(fmt.Sprintf("shardId-%012d", i))
		if err != nil {
			e.t.Fatal(err)
		}
		shards = append(shards, sh)
	}
	seq := []int{0, 0}
	flagsDeliveries := 0
	for _, b := range g.Timeline(80, 8, 24, 5*time.Minute) {
		group := plainGroup
		if rng.IntN(2) == 0 {
			group = flagsGroup
			flagsDeliveries++
			for i := range b.Events {
				b.Events[i].Message += " " + strconv.Itoa(rng.IntN(64)) // tcp-flags
			}
			if flagsDeliveries%garbagePerDelivery == 0 {
				// 15 fields, so the forgotten override makes it field_count, and the fixed one invalid_value.
				b.Events[0].Message = "2 123456789012 eni-0 not-an-address 10.0.0.1 1 2 6 1 40 1 2 ACCEPT OK 2"
				e.garbage++
			}
		}
		for _, ev := range b.Events {
			f := strings.Fields(ev.Message)
			if f[3] == "not-an-address" {
				continue
			}
			e.events++
			if group == flagsGroup {
				e.flags++
			}
			if f[13] == "OK" {
				e.lines = append(e.lines, strings.Join(f[:14], " "))
			}
		}
		i := rng.IntN(2)
		seq[i]++
		rec := pipeline.Record{SequenceNumber: fmt.Sprintf("4959%052d", seq[i]), Data: g.Envelope(group, "kinflow", b)}
		if _, err := shards[i].Process(ctx, []pipeline.Record{rec}); err != nil {
			e.t.Fatal(err)
		}
		if rng.IntN(3) == 0 {
			if err := shards[i].Cut(ctx); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	for i, sh := range shards {
		if err := sh.Cut(ctx); err != nil {
			e.t.Fatal(err)
		}
		pr := state.Progress{ShardID: fmt.Sprintf("shardId-%012d", i), Watermark: sh.Watermark(), CaughtUp: true,
			LastDataAt: flowStart, UpdatedAt: finalizerAt}
		if err := e.store.PutProgress(ctx, pr); err != nil {
			e.t.Fatal(err)
		}
	}
}

// redriver is a Redriver of the fixed configuration (or the broken one) on e's cluster, through wrap(client).
func (e *env) redriver(fixed bool, cfg redrive.Config, wrap func(sink.Client) sink.Client) *redrive.Redriver {
	e.t.Helper()
	c := e.client
	if wrap != nil {
		c = wrap(c)
	}
	r, err := redrive.New(cfg, redrive.Parts{Client: c, Bulk: e.bulk, Pipeline: e.pipelineConfig(), Resolver: resolver(e.t, fixed)},
		redrive.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func (e *env) finalize() finalize.Report {
	e.t.Helper()
	cfg := finalize.DefaultConfig()
	cfg.Prefix = e.prefix
	f, err := finalize.New(cfg, finalize.Parts{Search: e.client, Sink: e.sink, State: e.store},
		finalize.Options{Now: func() time.Time { return finalizerAt }})
	if err != nil {
		e.t.Fatal(err)
	}
	rep, err := f.RunOnce(testenv.Context(e.t, 2*time.Minute))
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

func (e *env) count(pattern string) int { return testenv.Count(e.t, e.url, e.prefix+pattern) }

// set is what a final connection set says, as the brute force computes it too.
type set struct {
	peers                                  int
	flowsSent, flowsRecv, bytesSent, bytes int64
}

type winIP struct {
	window int64
	ip     string
}

// finals reads the final connection sets and their revisions.
func (e *env) finals() (map[winIP]set, map[int64]int64) {
	e.t.Helper()
	sets, revs := map[winIP]set{}, map[int64]int64{}
	for _, raw := range testenv.Sources(e.t, e.url, e.prefix+"-conns-2*") {
		var d struct {
			Window struct {
				Start time.Time `json:"start"`
			} `json:"window"`
			IP         string `json:"ip"`
			PeersCount int    `json:"peers_count"`
			Flows      struct{ Sent, Received int64 }
			Bytes      struct{ Sent, Received int64 }
			Revision   int64 `json:"revision"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			e.t.Fatal(err)
		}
		w := d.Window.Start.Unix()
		sets[winIP{w, d.IP}] = set{d.PeersCount, d.Flows.Sent, d.Flows.Received, d.Bytes.Sent, d.Bytes.Received}
		revs[w] = max(revs[w], d.Revision)
	}
	return sets, revs
}

// bruteForce computes every window's connection sets from the lines directly.
func bruteForce(lines []string) map[winIP]set {
	peers := map[winIP]map[string]bool{}
	out := map[winIP]set{}
	add := func(k winIP, peer string, sent bool, bytes int64) {
		if peers[k] == nil {
			peers[k] = map[string]bool{}
		}
		peers[k][peer] = true
		s := out[k]
		if sent {
			s.flowsSent++
			s.bytesSent += bytes
		} else {
			s.flowsRecv++
			s.bytes += bytes
		}
		out[k] = s
	}
	for _, l := range lines {
		f := strings.Fields(l)
		start, _ := strconv.ParseInt(f[10], 10, 64)
		bytes, _ := strconv.ParseInt(f[9], 10, 64)
		src, dst := netip.MustParseAddr(f[3]).Unmap().String(), netip.MustParseAddr(f[4]).Unmap().String()
		w := start - start%600
		add(winIP{w, src}, dst, true, bytes)
		add(winIP{w, dst}, src, false, bytes)
	}
	for k, p := range peers {
		s := out[k]
		s.peers = len(p)
		out[k] = s
	}
	return out
}

// flagsWindows are the windows with flows of the flags group: those a redrive corrects.
func flagsWindows(t *testing.T, e *env) map[int64]bool {
	t.Helper()
	out := map[int64]bool{}
	for _, raw := range testenv.Sources(t, e.url, e.prefix+"-flows-*") {
		var d struct {
			Cloudwatch struct {
				LogGroup string `json:"log_group"`
			} `json:"-"`
			Timestamp time.Time `json:"@timestamp"`
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), flagsGroup) && !strings.Contains(string(raw), `"NODATA"`) && !strings.Contains(string(raw), `"SKIPDATA"`) {
			w := d.Timestamp.Unix()
			out[w-w%600] = true
		}
	}
	return out
}

// letters returns the dead letters by id.
func (e *env) letters() map[string]redrive.Letter {
	e.t.Helper()
	out := map[string]redrive.Letter{}
	r, err := redrive.NewStore(e.client, e.prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	testenv.Count(e.t, e.url, e.prefix+"-deadletter") // refreshes
	var after []any
	for {
		ls, next, err := r.List(testenv.Context(e.t, time.Minute), redrive.Selection{IncludeRedriven: true}, after, 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, l := range ls {
			out[l.ID] = l
		}
		if next == nil {
			return out
		}
		after = next
	}
}

// partials returns the partial connection sets' sources by id.
func (e *env) partials() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			}
		}
	}
	testenv.Count(e.t, e.url, e.prefix+"-conns-partial-*")
	body := `{"size":10000,"sort":["_doc"]}`
	if err := sink.DoJSON(testenv.Context(e.t, time.Minute), e.client, "POST", "/"+e.prefix+"-conns-partial-*/_search", []byte(body), 1<<30, &res); err != nil {
		e.t.Fatal(err)
	}
	for _, h := range res.Hits.Hits {
		out[h.ID] = string(h.Source)
	}
	return out
}

func TestRedriveFixedOverride(t *testing.T) {
	for _, cluster := range []testenv.Service{testenv.Elasticsearch, testenv.OpenSearch} {
		t.Run(cluster.Name, func(t *testing.T) { testRedriveFixedOverride(t, cluster) })
	}
}

func testRedriveFixedOverride(t *testing.T, cluster testenv.Service) {
	e := newEnv(t, cluster)
	e.feed()
	ctx := testenv.Context(t, 5*time.Minute)
	letters := e.flags + e.garbage
	plainFlows := e.events - e.flags
	if n := e.count("-deadletter"); n != letters {
		t.Fatalf("%d dead letters after the feed, want %d (flags lines %d, garbage %d)", n, letters, e.flags, e.garbage)
	}
	if n := e.count("-flows-*"); n != plainFlows {
		t.Fatalf("%d flow documents after the feed, want %d", n, plainFlows)
	}
	before := e.finalize()
	_, revsBefore := e.finals()
	t.Logf("fed: %d events, %d flags lines dead-lettered, %d garbage; first pass finalized %d windows", e.events, e.flags, e.garbage, before.Finalized)

	r := e.redriver(true, redrive.DefaultConfig(), nil)
	groups, total, err := r.Store().Count(ctx, redrive.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if total != int64(letters) || len(groups) == 0 || groups[0].Stage != "parse" || groups[0].Reason != "field_count" || groups[0].LogGroup != flagsGroup {
		t.Errorf("count: total %d, groups %+v; want %d parse/field_count letters of %s", total, groups, letters, flagsGroup)
	}

	// The dry run: every flags line would succeed, the garbage would fail with its new reason; nothing written.
	partialsBefore := e.partials()
	dry, err := r.Redrive(ctx, redrive.Selection{Stages: []string{"parse"}, Reasons: []string{"field_count"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Succeeded != e.flags || dry.Failed != e.garbage || dry.Flows != e.flags {
		t.Errorf("dry run: %d would succeed, %d fail, %d flows; want %d, %d, %d", dry.Succeeded, dry.Failed, dry.Flows, e.flags, e.garbage, e.flags)
	}
	if !slices.ContainsFunc(dry.Groups, func(o redrive.Outcome) bool {
		return o.Result == redrive.ResultFailed && o.NewReason == "invalid_value" && o.Count == e.garbage
	}) {
		t.Errorf("dry run groups %+v: want %d failed with invalid_value", dry.Groups, e.garbage)
	}
	if n := e.count("-flows-*"); n != plainFlows {
		t.Errorf("dry run wrote flows: %d documents, want %d", n, plainFlows)
	}
	if got := e.partials(); !maps.Equal(got, partialsBefore) {
		t.Errorf("dry run changed the partials: %d, want %d", len(got), len(partialsBefore))
	}
	for id, l := range e.letters() {
		if l.Redrive != nil {
			t.Fatalf("dry run marked letter %s: %+v", id, l.Redrive)
		}
	}

	// For real.
	rep, err := r.Redrive(ctx, redrive.Selection{}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("redrive: %d letters of %d records: %d succeeded, %d failed, %d flows", rep.Letters, rep.Records, rep.Succeeded, rep.Failed, rep.Flows)
	if rep.Succeeded != e.flags || rep.Failed != e.garbage || rep.Flows != e.flags {
		t.Errorf("redrive: %d succeeded, %d failed, %d flows; want %d, %d, %d", rep.Succeeded, rep.Failed, rep.Flows, e.flags, e.garbage, e.flags)
	}
	if n := e.count("-flows-*"); n != e.events {
		t.Errorf("%d flow documents after the redrive, want %d", n, e.events)
	}
	if n := e.count("-deadletter"); n != letters {
		t.Errorf("%d dead letters after the redrive, want %d: a letter that fails again keeps its place", n, letters)
	}
	failed := 0
	for id, l := range e.letters() {
		switch {
		case l.Redrive == nil:
			t.Errorf("letter %s not marked", id)
		case l.Redrive.Status == redrive.StatusFailed:
			failed++
			if l.Reason != "invalid_value" || l.Redrive.PreviousReason != "field_count" || l.Stage != "parse" || l.Redrive.At == "" {
				t.Errorf("failed letter %s: reason %s, previous %s", id, l.Reason, l.Redrive.PreviousReason)
			}
		case l.Redrive.Status != redrive.StatusSucceeded || l.Redrive.Flows != 1:
			t.Errorf("letter %s: %+v", id, l.Redrive)
		}
		if l.Stage == "parse" && l.EventTimestamp == "" {
			t.Errorf("letter %s has no event_timestamp", id)
		}
	}
	if failed != e.garbage {
		t.Errorf("%d letters failed again, want %d", failed, e.garbage)
	}

	// The finalizer corrects each window the flags lines touched: one new revision, the sets of all the lines.
	affected := flagsWindows(t, e)
	pass := e.finalize()
	sets, revs := e.finals()
	if want := bruteForce(e.lines); !maps.Equal(sets, want) {
		n := 0
		for k, w := range want {
			if g := sets[k]; g != w && n < 5 {
				t.Errorf("window %d ip %s: got %+v, want %+v", k.window, k.ip, g, w)
				n++
			}
		}
		t.Errorf("final sets: %d, brute force %d", len(sets), len(want))
	}
	for w, rev := range revs {
		want := revsBefore[w]
		if affected[w] {
			want++
		}
		if rev != want {
			t.Errorf("window %d: revision %d, want %d (before %d, affected %v)", w, rev, want, revsBefore[w], affected[w])
		}
	}
	if pass.Corrected+pass.Finalized != len(affected) {
		t.Errorf("second pass: %d corrected + %d finalized, want %d affected windows", pass.Corrected, pass.Finalized, len(affected))
	}
	t.Logf("%d windows, %d affected: %d corrected, %d finalized for the first time; %d final sets", len(revs), len(affected),
		pass.Corrected, pass.Finalized, len(sets))

	// A second redrive, of everything, is a no-op: no new document, the same partials, no new revision.
	partials := e.partials()
	again, err := r.Redrive(ctx, redrive.Selection{IncludeRedriven: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if again.Succeeded != e.flags || again.Failed != e.garbage {
		t.Errorf("second redrive: %d succeeded, %d failed", again.Succeeded, again.Failed)
	}
	if n := e.count("-flows-*"); n != e.events {
		t.Errorf("%d flow documents after the second redrive, want %d", n, e.events)
	}
	if got := e.partials(); !maps.Equal(got, partials) {
		t.Errorf("second redrive changed the partials (%d, had %d)", len(got), len(partials))
	}
	if p := e.finalize(); p.Corrected != 0 || p.Finalized != 0 {
		t.Errorf("after the second redrive the finalizer made %d corrections and %d new windows, want none", p.Corrected, p.Finalized)
	}
	// Without IncludeRedriven only the letters still failing are picked (their records are redriven whole).
	rest, err := r.Redrive(ctx, redrive.Selection{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if rest.Selected != e.garbage {
		t.Errorf("a selection that leaves succeeded letters out picked %d, want %d", rest.Selected, e.garbage)
	}
}

// killClient fails every bulk request from the n-th on, and cancels the redrive's context: a process killed
// while its writes are in flight.
type killClient struct {
	sink.Client
	n      int64
	calls  atomic.Int64
	cancel context.CancelFunc
}

func (k *killClient) Bulk(ctx context.Context, body []byte, maxBody int64) (int, []byte, error) {
	if k.calls.Add(1) >= k.n {
		k.cancel()
		return 0, nil, errors.New("killed")
	}
	return k.Client.Bulk(ctx, body, maxBody)
}

// TestRedriveKilledHalfway: a redrive killed while writing, then run again, ends where an uninterrupted one does:
// the same flow documents, partials, marks and final sets.
func TestRedriveKilledHalfway(t *testing.T) {
	whole, killed := newEnv(t, testenv.Elasticsearch), newEnv(t, testenv.Elasticsearch)
	whole.feed()
	killed.feed()
	ctx := testenv.Context(t, 5*time.Minute)
	cfg := redrive.DefaultConfig()
	cfg.PageSize = 40

	if _, err := whole.redriver(true, cfg, nil).Redrive(ctx, redrive.Selection{}, false); err != nil {
		t.Fatal(err)
	}
	kctx, cancel := context.WithCancel(ctx)
	kc := &killClient{n: 25, cancel: cancel}
	rep, err := killed.redriver(true, cfg, func(c sink.Client) sink.Client { kc.Client = c; return kc }).Redrive(kctx, redrive.Selection{}, false)
	if err == nil {
		t.Fatalf("the killed redrive ended without an error: %+v", rep)
	}
	t.Logf("killed after %d bulk requests: %d letters marked before (%v)", kc.calls.Load(), rep.Letters, err)
	if rep.Letters == 0 || rep.Letters >= killed.flags {
		t.Errorf("killed at %d of %d letters: not halfway", rep.Letters, killed.flags)
	}
	again, err := killed.redriver(true, cfg, nil).Redrive(ctx, redrive.Selection{}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run again: %d letters, %d succeeded, %d failed", again.Letters, again.Succeeded, again.Failed)

	if a, b := whole.count("-flows-*"), killed.count("-flows-*"); a != b || a != whole.events {
		t.Errorf("flow documents: uninterrupted %d, killed and rerun %d, want %d", a, b, whole.events)
	}
	if a, b := whole.partials(), killed.partials(); !maps.Equal(a, b) {
		t.Errorf("partials: uninterrupted %d, killed and rerun %d, or their contents differ", len(a), len(b))
	}
	marks := func(e *env) map[string]string {
		out := map[string]string{}
		for id, l := range e.letters() {
			if l.Redrive == nil {
				out[id] = "unmarked"
				continue
			}
			out[id] = l.Redrive.Status + "/" + l.Reason + "/" + strconv.Itoa(l.Redrive.Flows)
		}
		return out
	}
	if a, b := marks(whole), marks(killed); !maps.Equal(a, b) {
		t.Errorf("marks differ: uninterrupted %d letters, killed and rerun %d", len(a), len(b))
	}
	whole.finalize()
	killed.finalize()
	a, _ := whole.finals()
	b, _ := killed.finals()
	if !maps.Equal(a, b) || !maps.Equal(a, bruteForce(whole.lines)) {
		t.Errorf("final sets differ: uninterrupted %d, killed and rerun %d", len(a), len(b))
	}
}
