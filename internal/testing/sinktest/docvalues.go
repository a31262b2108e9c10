package sinktest

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/schema"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// testDocValuesOnly: every flow field the registry keeps with doc values only (no inverted index or points, for
// less disk) is searched with the same results as a brute force over the documents written, in each kind of clause
// the console's query bar builds for its type: exists, a term on one document's value, a range from it (numbers and
// dates), a CIDR (addresses), a wildcard (keywords); and a terms aggregation reads it.
func testDocValuesOnly(t *testing.T, b Backend) {
	c := b.NewClient(t, b.URL, 4)
	prefix := Setup(t, c)
	flows, _, _ := StorageCorpus(t, 3000)
	flows = moved(flows, prefix)
	s := newSink(t, c, testSinkConfig(b, prefix), nil)
	if err := s.Write(testenv.Context(t, 2*time.Minute), flows); err != nil {
		t.Fatalf("Write: %v", err)
	}
	refresh(t, c, prefix)
	pattern := prefix + "-flows-*"
	sources := make([]map[string]any, len(flows))
	for i, f := range flows {
		dec := json.NewDecoder(bytes.NewReader(f.Source))
		dec.UseNumber()
		if err := dec.Decode(&sources[i]); err != nil {
			t.Fatal(err)
		}
	}
	tested := 0
	for _, r := range schema.Flows().Fields {
		if !r.DocValuesOnly {
			continue
		}
		tested++
		t.Run(r.Name, func(t *testing.T) {
			values := make([][]string, len(sources)) // each document's values, as JSON text
			var sample string
			with := 0
			for i, src := range sources {
				values[i] = valuesAt(src, r.Name)
				if len(values[i]) > 0 {
					with++
					if with == len(sources)/4 { // a document away from the first ones
						sample = values[i][0]
					}
				}
			}
			if with < len(sources)/2 {
				t.Fatalf("only %d of %d documents have %s: the corpus proves little", with, len(sources), r.Name)
			}
			matching := func(match func(v string) bool) int {
				n := 0
				for _, vs := range values {
					for _, v := range vs {
						if match(v) {
							n++
							break
						}
					}
				}
				return n
			}
			check := func(what string, query any, want int) {
				t.Helper()
				if got := count(t, c, pattern, query); got != want {
					t.Errorf("%s: %d documents, want %d", what, got, want)
				}
			}
			check("exists", map[string]any{"exists": map[string]any{"field": r.Name}}, with)
			switch r.Type {
			case schema.Long:
				n := num(t, sample)
				check("term "+sample, term(r.Name, n), matching(func(v string) bool { return num(t, v) == n }))
				check("range from "+sample, rangeGTE(r.Name, n), matching(func(v string) bool { return num(t, v) >= n }))
			case schema.Date:
				at := date(t, sample)
				check("term "+sample, term(r.Name, sample), matching(func(v string) bool { return date(t, v).Equal(at) }))
				check("range from "+sample, rangeGTE(r.Name, sample), matching(func(v string) bool { return !date(t, v).Before(at) }))
			case schema.IP:
				a := netip.MustParseAddr(sample)
				check("term "+sample, term(r.Name, sample), matching(func(v string) bool { return netip.MustParseAddr(v) == a }))
				p, _ := a.Prefix(min(a.BitLen(), 24))
				check("cidr "+p.String(), term(r.Name, p.String()), matching(func(v string) bool { return p.Contains(netip.MustParseAddr(v)) }))
			case schema.Keyword:
				check("term "+sample, term(r.Name, sample), matching(func(v string) bool { return v == sample }))
				head := sample[:len(sample)*2/3]
				check("wildcard "+head+"*", map[string]any{"wildcard": map[string]any{r.Name: map[string]any{"value": head + "*"}}},
					matching(func(v string) bool { return strings.HasPrefix(v, head) }))
			default:
				t.Fatalf("type %s: no check", r.Type)
			}
			// Aggregations read doc values, which the field keeps: the number of documents of its top term.
			var res struct {
				Aggregations struct {
					K struct {
						Buckets []struct {
							DocCount int `json:"doc_count"`
						}
					}
				}
			}
			postJSON(t, c, "/"+pattern+"/_search", map[string]any{"size": 0, "aggs": map[string]any{
				"k": map[string]any{"terms": map[string]any{"field": r.Name, "size": 1}}}}, &res)
			if len(res.Aggregations.K.Buckets) != 1 || res.Aggregations.K.Buckets[0].DocCount < 1 {
				t.Errorf("terms aggregation: %+v", res.Aggregations.K.Buckets)
			}
		})
	}
	if tested == 0 {
		t.Fatal("the registry keeps no flow field with doc values only: nothing tested")
	}
}

// valuesAt returns the values of the field at the dotted path of a decoded document, as JSON text (numbers as
// written, strings without quotes): none when it is absent.
func valuesAt(doc map[string]any, path string) []string {
	var v any = doc
	for _, name := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[name]
	}
	var out []string
	add := func(x any) {
		switch x := x.(type) {
		case json.Number:
			out = append(out, x.String())
		case string:
			out = append(out, x)
		}
	}
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			add(x)
		}
	} else if v != nil {
		add(v)
	}
	return out
}

func term(field string, v any) map[string]any {
	return map[string]any{"term": map[string]any{field: v}}
}

func rangeGTE(field string, v any) map[string]any {
	return map[string]any{"range": map[string]any{field: map[string]any{"gte": v}}}
}

func num(tb testing.TB, s string) int64 {
	tb.Helper()
	var n json.Number = json.Number(s)
	v, err := n.Int64()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func date(tb testing.TB, s string) time.Time {
	tb.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return at
}
