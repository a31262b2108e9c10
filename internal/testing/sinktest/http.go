package sinktest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

func do(tb testing.TB, c sink.Client, method, path string, body any) []byte {
	tb.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			tb.Fatal(err)
		}
	}
	status, resp, err := c.Do(testenv.Context(tb, time.Minute), method, path, raw, 64<<20)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	if status/100 != 2 {
		tb.Fatalf("%s %s: status %d: %s", method, path, status, resp)
	}
	return resp
}

func getJSON(tb testing.TB, c sink.Client, path string) []byte {
	tb.Helper()
	return do(tb, c, "GET", path, nil)
}

func postJSON(tb testing.TB, c sink.Client, path string, body, out any) {
	tb.Helper()
	resp := do(tb, c, "POST", path, body)
	if err := json.Unmarshal(resp, out); err != nil {
		tb.Fatalf("POST %s: %v: %s", path, err, resp)
	}
}

func refresh(tb testing.TB, c sink.Client, prefix string) {
	tb.Helper()
	do(tb, c, "POST", "/"+prefix+"-*/_refresh?allow_no_indices=true&expand_wildcards=all", nil)
}

func count(tb testing.TB, c sink.Client, pattern string, query any) int {
	tb.Helper()
	var body any
	if query != nil {
		body = map[string]any{"query": query}
	}
	var res struct{ Count int }
	postJSON(tb, c, "/"+pattern+"/_count?allow_no_indices=true", body, &res)
	return res.Count
}

// searchIDs returns the sorted event.id of every flow matching query.
func searchIDs(tb testing.TB, c sink.Client, pattern string, query any) []string {
	tb.Helper()
	var res struct {
		Hits struct {
			Hits []struct {
				Source struct {
					Event struct{ ID string }
				} `json:"_source"`
			}
		}
	}
	postJSON(tb, c, "/"+pattern+"/_search", map[string]any{"size": 10000, "query": query, "_source": []string{"event.id"}}, &res)
	ids := make([]string, 0, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		ids = append(ids, h.Source.Event.ID)
	}
	slices.Sort(ids)
	return ids
}

// allKeys returns every distinct value of a keyword field, with a composite aggregation.
func allKeys(tb testing.TB, c sink.Client, pattern, field string) []string {
	tb.Helper()
	var out []string
	var after any
	for {
		comp := map[string]any{"size": 5000, "sources": []any{map[string]any{"k": map[string]any{"terms": map[string]any{"field": field}}}}}
		if after != nil {
			comp["after"] = after
		}
		var res struct {
			Aggregations struct {
				K struct {
					AfterKey any `json:"after_key"`
					Buckets  []struct {
						Key struct{ K string }
					}
				}
			}
		}
		postJSON(tb, c, "/"+pattern+"/_search", map[string]any{"size": 0, "aggs": map[string]any{"k": map[string]any{"composite": comp}}}, &res)
		for _, b := range res.Aggregations.K.Buckets {
			out = append(out, b.Key.K)
		}
		if len(res.Aggregations.K.Buckets) == 0 || res.Aggregations.K.AfterKey == nil {
			return out
		}
		after = res.Aggregations.K.AfterKey
	}
}
