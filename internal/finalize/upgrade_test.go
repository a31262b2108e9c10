package finalize_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// An upgrade from per-IP partials to blocks, mid-window, on both engines: the day's partial index exists with the
// mapping of the version before (no block fields, strict), holding per-IP partials of shard A's first cut and of
// shard C's; setup adds the block fields to it; then shard A's next cut, shard B, and a replay of shard C's cut over
// the same records are written as blocks. The finals count every flow once: the per-IP partials that were not
// rewritten, and not those that were.
func TestUpgradeFromPerIPPartials(t *testing.T) {
	for _, cluster := range []testenv.Service{testenv.Elasticsearch, testenv.OpenSearch} {
		t.Run(cluster.Name, func(t *testing.T) { testUpgrade(t, newEnvOn(t, cluster)) })
	}
}

func testUpgrade(t *testing.T, e *env) {
	ctx := testenv.Context(t, 2*time.Minute)
	ix := sink.Indices{Prefix: e.prefix}
	cfg := sink.DefaultTemplateConfig()
	cfg.Prefix, cfg.Dynamic, cfg.Replicas = e.prefix, "strict", 0
	sc, ok := e.client.(sink.Client)
	if !ok {
		t.Fatalf("%T is no sink.Client", e.client)
	}

	// Flows of the corpus's first two windows, between a few hosts, on three shards.
	rng := rand.New(rand.NewPCG(5, 5))
	start := flowStart.Unix()
	flows := make([]aggregate.Flow, 400)
	for i := range flows {
		s := start + int64(rng.IntN(2*width))
		flows[i] = aggregate.Flow{Start: s, End: s + 30, Src: host(rng.IntN(40)), Dst: host(rng.IntN(40)),
			DstPort: uint16(443 + rng.IntN(3)), Protocol: 6, Bytes: uint64(100 + rng.IntN(900)), Packets: 2, Rejected: rng.IntN(5) == 0}
	}
	a1, a2, b, c := flows[:100], flows[100:200], flows[200:300], flows[300:]
	cut := func(shard, first, last string, fs []aggregate.Flow) []aggregate.Partial {
		acc, err := aggregate.NewAccumulator(aggregate.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if _, err := acc.Add(f); err != nil {
				t.Fatal(err)
			}
		}
		return acc.Cut(shard, first, last)
	}

	// The version before: the partial index made from the template of that version (connection sets, partial.*),
	// holding per-IP partials.
	index := ix.ConnsPartial(flowStart)
	for _, tpl := range sink.Templates(cfg) {
		if bytes.HasSuffix([]byte(tpl.Path), []byte("-conns-partial")) {
			doJSON(t, e, "DELETE", tpl.Path, nil)
		}
	}
	var mappings map[string]any
	for _, tpl := range sink.Templates(cfg) {
		if bytes.HasSuffix([]byte(tpl.Path), []byte("-conns-mappings")) {
			mappings = tpl.Body["template"].(map[string]any)["mappings"].(map[string]any)
		}
	}
	props := mappings["properties"].(map[string]any)
	props["partial"] = map[string]any{"properties": map[string]any{"shard_id": map[string]any{"type": "keyword"},
		"first_sequence": map[string]any{"type": "keyword"}, "last_sequence": map[string]any{"type": "keyword"}}}
	doJSON(t, e, "PUT", "/"+index, map[string]any{"mappings": mappings})
	var docs []sink.Doc
	for _, p := range append(cut("shardId-A", "1", "5", a1), cut("shardId-C", "1", "9", c)...) {
		docs = append(docs, sink.Doc{Index: ix.ConnsPartial(time.Unix(p.WindowStart, 0)), Op: sink.OpIndex,
			ID: docid.Partial(p.WindowStart, p.IP, p.ShardID, p.FirstSequence), Source: perIPPartial(t, p)})
	}

	// The upgrade: setup again, then blocks.
	if err := sink.InstallTemplates(ctx, sc, cfg, nil); err != nil {
		t.Fatal(err)
	}
	for _, bl := range slices.Concat(aggregate.Blocks(cut("shardId-A", "6", "8", a2), 500),
		aggregate.Blocks(cut("shardId-B", "1", "4", b), 500), aggregate.Blocks(cut("shardId-C", "1", "9", c), 500)) {
		docs = append(docs, sink.Doc{Index: ix.ConnsPartial(time.Unix(bl.WindowStart, 0)), Op: sink.OpIndex, ID: bl.ID(),
			Source: bl.AppendJSON(nil)})
	}
	if err := e.sink.Write(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if n := testenv.Count(t, e.esURL, e.prefix+"-deadletter*"); n != 0 {
		t.Fatalf("%d documents refused", n)
	}
	for _, shard := range []string{"shardId-A", "shardId-B", "shardId-C"} {
		p := state.Progress{ShardID: shard, Watermark: start + 3000, CaughtUp: true, LastDataAt: flowStart, UpdatedAt: finalizerAt}
		if err := e.store.PutProgress(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := e.finalizer(finalizerAt, nil, nil).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Finalized != 2 || rep.Superseded == 0 {
		t.Errorf("report %+v: want 2 windows finalized, shard C's per-IP partials superseded", rep)
	}

	// The reference: every flow once, read by one shard.
	want, err := aggregate.FinalizeBlocks(aggregate.Blocks(cut("reference", "1", "1", flows), aggregate.BlockBytes), 10_000, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := e.finals()
	if len(got) != len(want) {
		t.Errorf("%d finals, want %d", len(got), len(want))
	}
	for _, w := range want {
		g, ok := got[key(w.WindowStart, w.IP.String())]
		if !ok || g.FlowsSent != w.FlowsSent || g.FlowsReceived != w.FlowsReceived || g.BytesSent != w.BytesSent ||
			g.FlowsRejected != w.FlowsRejected || !slices.Equal(g.Peers, w.Peers) || !slices.Equal(g.DstPorts, w.DstPorts) {
			t.Errorf("%v in window %d: got %+v, want %+v", w.IP, w.WindowStart, g.ConnSet, w.ConnSet)
		}
	}
}

func host(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}) }

// perIPPartial is a per-IP partial's document as versions before blocks wrote it: a final's fields, with partial.*
// in place of revision.
func perIPPartial(tb testing.TB, p aggregate.Partial) []byte {
	f := aggregate.Final{Revision: 1, ConnSet: p.ConnSet}
	src, err := f.AppendJSON(nil)
	if err != nil {
		tb.Fatal(err)
	}
	part, _ := json.Marshal(map[string]string{"shard_id": p.ShardID, "first_sequence": p.FirstSequence, "last_sequence": p.LastSequence})
	out, found := bytes.CutSuffix(src, []byte(`,"revision":1}`))
	if !found {
		tb.Fatalf("a final's document ends otherwise: %s", src)
	}
	return append(append(append(out, `,"partial":`...), part...), '}')
}

// doJSON sends one request to the cluster and fails the test on any error answer.
func doJSON(tb testing.TB, e *env, method, path string, body any) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	if err := sink.DoJSON(testenv.Context(tb, time.Minute), e.client, method, path, raw, 1<<20, nil); err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
}
