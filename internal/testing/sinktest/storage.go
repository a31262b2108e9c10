package sinktest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/schema"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// StorageFlowsEnv overrides how many flows the storage benchmarks write (200,000 by default).
const StorageFlowsEnv = "KINFLOW_STORAGE_FLOWS"

// storageFlows is the benchmarks' corpus size: StorageFlowsEnv, or 200,000.
func storageFlows(tb testing.TB) int {
	tb.Helper()
	v := os.Getenv(StorageFlowsEnv)
	if v == "" {
		return 200_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1000 {
		tb.Fatalf("%s=%q: want a number of flows, at least 1000", StorageFlowsEnv, v)
	}
	return n
}

// A Stored is what a family's documents cost on disk once force-merged.
type Stored struct {
	Docs    int64
	Bytes   int64 // the primaries' store, every index of the family
	Indices int
	// Fields is the _disk_usage answer's bytes per field and structure, summed over the indices; nil when the
	// engine has no such API (OpenSearch).
	Fields map[string]FieldUsage
}

// PerDoc is the bytes on disk per document.
func (s Stored) PerDoc() float64 { return float64(s.Bytes) / float64(s.Docs) }

// FieldUsage is one field's bytes on disk, by structure, as Elasticsearch's _disk_usage reports them.
type FieldUsage struct {
	Total, InvertedIndex, Stored, DocValues, Points, Norms int64
}

// Storage measures the bytes on disk per document of each family the pipeline writes, with the templates as
// setup installs them (sink.DefaultTemplateConfig: the registry's mappings), under each codec: the flows of
// StorageCorpus, their partial and final connection sets, and the alerts of StorageAlerts. Each family is written
// through the sink into the indices of a fresh prefix, which are force-merged to one segment each and measured by
// their primaries' store (_stats/store), divided by the documents; on Elasticsearch the per-field breakdown of
// _disk_usage is logged too (go test -v). marginal-bytes leaves out what an index costs before its documents (the
// store of an index of one document, once per index), which weighs on a family of few documents. Run it with
// -benchtime 1x: one iteration is the measurement.
func Storage(b *testing.B, be Backend) {
	c := be.NewClient(b, be.URL, 4)
	flows, partials, finals := StorageCorpus(b, storageFlows(b))
	alertDocs := StorageAlerts(b, 4)
	for _, fam := range []struct {
		name, unit string
		docs       []sink.Doc
	}{{"flows", "flow", flows}, {"partials", "partial", partials}, {"finals", "final", finals}, {"alerts", "alert", alertDocs}} {
		for _, codec := range []string{sink.CodecBestCompression, sink.CodecDefault} {
			b.Run(fam.name+"/"+codec, func(b *testing.B) {
				tc := sink.DefaultTemplateConfig()
				tc.Codec = codec
				var st, one Stored
				for b.Loop() {
					st = MeasureStorage(b, be, c, fam.docs, tc, 0, nil)
					// What an index costs before its documents (segment and commit files, field infos): a family of
					// few documents (the alerts) would otherwise look dearer than its documents are.
					one = MeasureStorage(b, be, c, fam.docs[:1], tc, 0, nil)
				}
				// Each of the family's indices pays that overhead once.
				k := int64(st.Indices)
				b.ReportMetric(float64(st.Bytes-k*one.Bytes)/float64(st.Docs-k), "marginal-bytes/"+fam.unit)
				reportStored(b, fam.unit, st)
			})
		}
	}
}

// A Lever is one way of storing the flows, measured by StorageLevers: the templates as setup installs them, with
// another codec, fields indexed that the registry keeps with doc values only, or any other change.
type Lever struct {
	Name string
	// Note says what the lever is, for the log.
	Note  string
	Codec string // the TemplateConfig's codec
	// Indexed names the flow fields the registry keeps with doc values only that this lever indexes anyway, as
	// templates version 6 did.
	Indexed []string
	// Edit, when set, changes each template further before it is installed.
	Edit func(tb testing.TB, t sink.Template)
	// Engine, when set, is the only engine (a Backend's Name) the lever is measured on.
	Engine string
	// Settle is how long to wait between writing and merging: the time the engines take to let go of the
	// _recovery_source they keep beside a filtered or disabled _source (see MeasureStorage).
	Settle time.Duration
}

// StorageLevers measures the flows of StorageCorpus stored each way of levers, one sub-benchmark each, in order.
func StorageLevers(b *testing.B, be Backend, levers []Lever) {
	c := be.NewClient(b, be.URL, 4)
	flows, _, _ := StorageCorpus(b, storageFlows(b))
	for _, l := range levers {
		b.Run(l.Name, func(b *testing.B) {
			if l.Engine != "" && l.Engine != be.Name {
				b.Skipf("%s only", l.Engine)
			}
			tc := sink.DefaultTemplateConfig()
			tc.Codec = l.Codec
			var st Stored
			for b.Loop() {
				st = MeasureStorage(b, be, c, flows, tc, l.Settle, func(t sink.Template) {
					if strings.HasSuffix(t.Path, "-flows-mappings") {
						for _, name := range l.Indexed {
							delete(mappingOf(b, FlowMappings(t), name), "index")
						}
					}
					if l.Edit != nil {
						l.Edit(b, t)
					}
				})
			}
			b.Logf("%s: %s", l.Name, l.Note)
			reportStored(b, "flow", st)
		})
	}
}

// FlowMappings returns the "mappings" object of the flows' component template t.
func FlowMappings(t sink.Template) map[string]any {
	return t.Body["template"].(map[string]any)["mappings"].(map[string]any)
}

// mappingOf returns the mapping of the field at the dotted path in mappings.
func mappingOf(tb testing.TB, mappings map[string]any, path string) map[string]any {
	tb.Helper()
	o := mappings
	for _, name := range strings.Split(path, ".") {
		props, _ := o["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			tb.Fatalf("no mapping of %s", path)
		}
		o = next
	}
	return o
}

func reportStored(b *testing.B, unit string, st Stored) {
	b.ReportMetric(st.PerDoc(), "bytes/"+unit)
	b.ReportMetric(float64(st.Docs), unit+"s")
	b.ReportMetric(0, "ns/op") // the cluster's work, not this process's, is measured
	if st.Fields == nil {
		return
	}
	type row struct {
		name string
		u    FieldUsage
	}
	var rows []row
	for name, u := range st.Fields {
		rows = append(rows, row{name, u})
	}
	slices.SortFunc(rows, func(x, y row) int { return cmp.Or(cmp.Compare(y.u.Total, x.u.Total), strings.Compare(x.name, y.name)) })
	var sb strings.Builder
	per := func(v int64) string { return strconv.FormatFloat(float64(v)/float64(st.Docs), 'f', 2, 64) }
	fmt.Fprintf(&sb, "_disk_usage, bytes per %s (%d documents, %.1f bytes each on disk):\n", unit, st.Docs, st.PerDoc())
	fmt.Fprintf(&sb, "| field | total | inverted index | stored (_source) | doc values | points |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		if float64(r.u.Total)/float64(st.Docs) < 0.005 {
			continue
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s |\n", r.name, per(r.u.Total), per(r.u.InvertedIndex), per(r.u.Stored),
			per(r.u.DocValues), per(r.u.Points))
	}
	b.Log(sb.String())
}

// MeasureStorage writes docs (their indices under corpusPrefix) into the indices of a fresh prefix whose templates
// tc makes (edit, when set, changes each before it is installed; without it they are installed by
// sink.InstallTemplates, as setup does), without replicas, then refreshes and flushes them, waits settle,
// force-merges each to one segment and returns what their primaries hold. The indices and templates are deleted
// when tb ends.
//
// The flush before the merge matters where the _source is filtered or disabled: both engines then keep each
// document's whole source beside it (_recovery_source) until a merge after the last commit and the retention
// leases (synced every 30 s) have passed it; settle lets those leases move.
func MeasureStorage(tb testing.TB, be Backend, c sink.Client, docs []sink.Doc, tc sink.TemplateConfig, settle time.Duration,
	edit func(sink.Template)) Stored {
	tb.Helper()
	prefix := testenv.UniqueName(tb, "kfst")
	tc.Prefix, tc.Replicas = prefix, 0
	ctx := testenv.Context(tb, 30*time.Minute)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c.Do(ctx, "DELETE", "/"+prefix+"-*", nil, 1<<20) //nolint:errcheck // best effort
		for _, t := range slices.Backward(sink.Templates(tc)) {
			c.Do(ctx, "DELETE", t.Path, nil, 1<<20) //nolint:errcheck
		}
	})
	if edit == nil {
		if err := sink.InstallTemplates(ctx, c, tc, slog.New(slog.DiscardHandler)); err != nil {
			tb.Fatalf("installing templates: %v", err)
		}
	} else {
		for _, t := range sink.Templates(tc) {
			edit(t)
			do(tb, c, "PUT", t.Path, t.Body)
		}
	}
	sc := testSinkConfig(be, prefix)
	sc.FlushDocs = 5000
	s := newSink(tb, c, sc, nil)
	docs = moved(docs, prefix)
	for chunk := range slices.Chunk(docs, 20_000) {
		if err := s.Write(ctx, chunk); err != nil {
			tb.Fatalf("Write: %v", err)
		}
	}
	pattern := "/" + prefix + "-*"
	refresh(tb, c, prefix)
	if n := count(tb, c, prefix+"-deadletter*", nil); n != 0 {
		tb.Fatalf("%d documents dead-lettered: %s", n, getJSON(tb, c, "/"+prefix+"-deadletter/_search?size=3"))
	}
	do(tb, c, "POST", pattern+"/_flush", nil)
	time.Sleep(settle)
	do(tb, c, "POST", pattern+"/_forcemerge?max_num_segments=1", nil)
	// The merged segment replaces the others once a refresh opens it (OpenSearch keeps them until then); the flush
	// commits it, so the files of the old ones are deleted.
	refresh(tb, c, prefix)
	do(tb, c, "POST", pattern+"/_flush", nil)
	var segs []struct {
		Index  string `json:"index"`
		Prirep string `json:"prirep"`
	}
	if err := json.Unmarshal(getJSON(tb, c, "/_cat/segments/"+prefix+"-*?format=json&h=index,prirep"), &segs); err != nil {
		tb.Fatal(err)
	}
	perIndex := map[string]int{}
	for _, sg := range segs {
		perIndex[sg.Index]++
	}
	for ix, n := range perIndex {
		if n != 1 {
			tb.Fatalf("%s: %d segments after the force merge, want 1", ix, n)
		}
	}
	var stats struct {
		All struct {
			Primaries struct {
				Docs  struct{ Count int64 }
				Store struct {
					SizeInBytes int64 `json:"size_in_bytes"`
				}
			}
		} `json:"_all"`
	}
	if err := json.Unmarshal(getJSON(tb, c, pattern+"/_stats/store,docs"), &stats); err != nil {
		tb.Fatal(err)
	}
	st := Stored{Docs: stats.All.Primaries.Docs.Count, Bytes: stats.All.Primaries.Store.SizeInBytes, Indices: len(perIndex)}
	if st.Docs != int64(len(docs)) {
		tb.Fatalf("%d documents in %s-*, want %d", st.Docs, prefix, len(docs))
	}
	st.Fields = diskUsage(tb, c, pattern)
	return st
}

// diskUsage sums the per-field answer of Elasticsearch's _disk_usage over the indices of pattern; nil when the
// engine has no such API.
func diskUsage(tb testing.TB, c sink.Client, pattern string) map[string]FieldUsage {
	tb.Helper()
	status, body, err := c.Do(testenv.Context(tb, 10*time.Minute), "POST", pattern+"/_disk_usage?run_expensive_tasks=true", nil, 64<<20)
	if err != nil {
		tb.Fatal(err)
	}
	if status/100 != 2 {
		return nil // OpenSearch: no _disk_usage
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal(body, &res); err != nil {
		tb.Fatal(err)
	}
	out := map[string]FieldUsage{}
	for index, raw := range res {
		if strings.HasPrefix(index, "_") {
			continue
		}
		var ix struct {
			Fields map[string]struct {
				Total         int64 `json:"total_in_bytes"`
				InvertedIndex struct {
					Total int64 `json:"total_in_bytes"`
				} `json:"inverted_index"`
				Stored    int64 `json:"stored_fields_in_bytes"`
				DocValues int64 `json:"doc_values_in_bytes"`
				Points    int64 `json:"points_in_bytes"`
				Norms     int64 `json:"norms_in_bytes"`
			}
		}
		if err := json.Unmarshal(raw, &ix); err != nil {
			tb.Fatal(err)
		}
		for name, f := range ix.Fields {
			u := out[name]
			u.Total += f.Total
			u.InvertedIndex += f.InvertedIndex.Total
			u.Stored += f.Stored
			u.DocValues += f.DocValues
			u.Points += f.Points
			u.Norms += f.Norms
			out[name] = u
		}
	}
	return out
}

// FlowLevers are the ways of storing the flows BENCHMARKS.md compares, on the same corpus: the templates of version 6
// (before any lever), then each lever kept, one on top of the other, up to the templates as they are; then levers
// measured on top of those and not kept (their names say "not kept"), and what the _source costs.
func FlowLevers(tb testing.TB) []Lever {
	tb.Helper()
	// The flow fields the registry keeps with doc values only, in the order the levers take them.
	steps := [][]string{{"event.id"}, {"event.start", "event.end"}, {"source.port", "network.bytes", "network.packets"},
		{"related.ip"}, {"aws.kinesis.sequence_number"}}
	var all []string
	for _, s := range steps {
		all = append(all, s...)
	}
	var registry []string
	for _, r := range schema.Flows().Fields {
		if r.DocValuesOnly {
			registry = append(registry, r.Name)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(all)), slices.Sorted(slices.Values(registry))) {
		tb.Fatalf("the levers take %v with doc values only, the registry %v", all, registry)
	}
	levers := []Lever{
		{Name: "v6", Note: "templates version 6: the engine's default codec, every field indexed", Codec: sink.CodecDefault, Indexed: all},
		{Name: "codec", Note: "index.codec best_compression", Codec: sink.CodecBestCompression, Indexed: all},
	}
	for i, s := range steps {
		levers = append(levers, Lever{Name: strings.Join(s, ","), Note: "+ doc values only: " + strings.Join(s, ", "),
			Codec: sink.CodecBestCompression, Indexed: all[len(flattenUpTo(steps, i)):]})
	}
	settings := func(tb testing.TB, t sink.Template, set map[string]any) {
		if strings.HasSuffix(t.Path, "-settings") {
			maps.Copy(t.Body["template"].(map[string]any)["settings"].(map[string]any)["index"].(map[string]any), set)
		}
	}
	mappings := func(t sink.Template, edit func(m map[string]any)) {
		if strings.HasSuffix(t.Path, "-flows-mappings") {
			edit(FlowMappings(t))
		}
	}
	// Twice the retention leases' sync, so that the _recovery_source of a filtered or disabled _source is gone.
	const settle = time.Minute
	// Fields whose values doc values give back: what _source could leave out if every reader read them there.
	rebuilt := []string{"@timestamp", "event.start", "event.end", "source.ip", "source.port", "destination.ip",
		"destination.port", "network.bytes", "network.packets"}
	return append(levers,
		Lever{Name: "not-kept:sort-timestamp", Note: "not kept: index.sort.field @timestamp (desc)", Codec: sink.CodecBestCompression,
			Edit: func(tb testing.TB, t sink.Template) {
				settings(tb, t, map[string]any{"sort.field": "@timestamp", "sort.order": "desc"})
			}},
		Lever{Name: "not-kept:event.id-no-doc-values", Note: "not kept: event.id neither indexed nor with doc values (the console's flow table sorts on it)",
			Codec: sink.CodecBestCompression, Edit: func(tb testing.TB, t sink.Template) {
				mappings(t, func(m map[string]any) { mappingOf(tb, m, "event.id")["doc_values"] = false })
			}},
		Lever{Name: "not-kept:source-excludes", Note: "not kept: _source.excludes of " + strings.Join(rebuilt, ", ") + " (their doc values kept)",
			Codec: sink.CodecBestCompression, Settle: settle, Edit: func(tb testing.TB, t sink.Template) {
				mappings(t, func(m map[string]any) { m["_source"] = map[string]any{"excludes": rebuilt} })
			}},
		Lever{Name: "not-kept:synthetic-source", Note: "not kept: index.mapping.source.mode synthetic (Elasticsearch only)", Engine: "elasticsearch",
			Codec: sink.CodecBestCompression, Edit: func(tb testing.TB, t sink.Template) {
				settings(tb, t, map[string]any{"mapping.source.mode": "synthetic"})
			}},
		Lever{Name: "measure:no-source", Note: "no _source at all: what the _source costs, by difference", Codec: sink.CodecBestCompression,
			Settle: settle, Edit: func(tb testing.TB, t sink.Template) {
				mappings(t, func(m map[string]any) { m["_source"] = map[string]any{"enabled": false} })
			}},
	)
}

// flattenUpTo returns the fields of steps[0..i].
func flattenUpTo(steps [][]string, i int) []string {
	var out []string
	for _, s := range steps[:i+1] {
		out = append(out, s...)
	}
	return out
}
