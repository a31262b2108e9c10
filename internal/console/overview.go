package console

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The overview: each panel is its own search, so the panels run side by side and each reports its cost (took_ms,
// the cluster's own time) and its own error.

// topFields are the overview's top-N lists; breakdownFields the "by" panels, shown only where the format carries the
// field (an empty list otherwise).
var (
	topFields       = []string{"source.ip", "destination.ip", "destination.port", "network.transport"}
	breakdownFields = []string{"cloud.account.id", "cloud.region", "aws.vpcflow.vpc_id", "aws.vpcflow.subnet_id",
		"aws.vpcflow.interface_id", "network.direction", "aws.vpcflow.traffic_path"}
)

// TopN is how many rows a top list has.
const TopN = 10

// PairsN is how many source->destination pairs the pairs panel ranks (Athena's classic query).
const PairsN = 50

// shardSize asks each index for this many candidate terms before the top N are merged: across daily indices a
// term's count is then exact unless a day holds more distinct values than this.
const shardSize = 10000

// pairPage is the composite page size. Each page scans every flow of the range again (the flow indices are not
// sorted by address), so the cost is pages x flows: pages as large as the clusters' search.max_buckets allows
// (65,535 by default on both engines). maxPairPages bounds the paging: past 10 pages (500,000 pairs) the ranking is
// over the pairs seen, and the answer says so (complete: false).
const (
	pairPage     = 50000
	maxPairPages = 10
)

// A Panel is one panel's answer.
type Panel struct {
	Data   any    `json:"data,omitempty"`
	TookMS int64  `json:"took_ms"` // the console's wall time for the panel's searches
	Error  string `json:"error,omitempty"`
}

type panelFunc func(ctx context.Context, sc scope) (any, error)

// overviewPanels are the overview's panels by name.
func (s *Server) overviewPanels() map[string]panelFunc {
	return map[string]panelFunc{
		"totals":     s.totals,
		"timeline":   s.timeline,
		"top":        s.top,
		"breakdowns": s.breakdowns,
		"pairs":      s.pairs,
	}
}

func (s *Server) handleOverview(ctx context.Context, r *http.Request) (any, error) {
	sc, err := s.scopeOf(r, s.fields.flows)
	if err != nil {
		return nil, err
	}
	all := s.overviewPanels()
	chosen := all
	if v := r.URL.Query().Get("panels"); v != "" {
		// The page asks for the slow pairs apart, so the rest draws without waiting for them.
		chosen = map[string]panelFunc{}
		for _, name := range strings.Split(v, ",") {
			f, ok := all[name]
			if !ok {
				return nil, badRequest("panels: no panel %q (totals, timeline, top, breakdowns, pairs)", name)
			}
			chosen[name] = f
		}
	}
	panels, err := s.runPanels(ctx, sc, chosen)
	return map[string]any{"from": sc.From, "to": sc.To, "query": sc.Query, "panels": panels}, err
}

// runPanels runs the panels side by side. The answer has every panel, each with its data or its error; the first
// error is also returned, so the API answers with its status and the page shows it.
func (s *Server) runPanels(ctx context.Context, sc scope, panels map[string]panelFunc) (map[string]*Panel, error) {
	out := make(map[string]*Panel, len(panels))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var first error
	for name, f := range panels {
		p := &Panel{}
		out[name] = p
		wg.Go(func() {
			start := time.Now()
			data, err := f(ctx, sc)
			p.TookMS = time.Since(start).Milliseconds()
			if err != nil {
				p.Error = asAPIError(err).Msg
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
				return
			}
			p.Data = data
		})
	}
	wg.Wait()
	if first != nil {
		return out, &panelsError{err: asAPIError(first), panels: out}
	}
	return out, nil
}

// panelsError is a failed panel's error carrying the other panels, so the page can show what did answer.
type panelsError struct {
	err    *apiError
	panels map[string]*Panel
}

func (e *panelsError) Error() string { return e.err.Msg }
func (e *panelsError) Unwrap() error { return e.err }

func sum(field string) map[string]any { return map[string]any{"sum": map[string]any{"field": field}} }
func term(field string, v any) any    { return map[string]any{"term": map[string]any{field: v}} }
func filterAgg(q any) map[string]any  { return map[string]any{"filter": q} }

// value reads a metric aggregation's value (null, for a sum over no documents on some versions, reads as 0).
func value(raw json.RawMessage) float64 {
	var v struct{ Value float64 }
	_ = json.Unmarshal(raw, &v)
	return v.Value
}

// Totals are the overview's numbers.
type Totals struct {
	Flows         int64   `json:"flows"`
	Bytes         int64   `json:"bytes"`
	Packets       int64   `json:"packets"`
	Accepted      int64   `json:"accepted"`
	Rejected      int64   `json:"rejected"`
	RejectedShare float64 `json:"rejected_share"` // rejected / (accepted + rejected); 0 without either
	RejectedBytes int64   `json:"rejected_bytes"`
}

func (s *Server) totals(ctx context.Context, sc scope) (any, error) {
	var res struct {
		Hits struct {
			Total struct{ Value int64 }
		}
		Aggregations struct {
			Bytes, Packets json.RawMessage
			Accepted       struct {
				DocCount int64 `json:"doc_count"`
			}
			Rejected struct {
				DocCount int64 `json:"doc_count"`
				Bytes    json.RawMessage
			}
		}
	}
	err := s.search(ctx, flowsFamily, sc, map[string]any{"size": 0, "track_total_hits": true, "aggs": map[string]any{
		"bytes": sum("network.bytes"), "packets": sum("network.packets"),
		"accepted": filterAgg(term("event.action", "accept")),
		"rejected": map[string]any{"filter": term("event.action", "reject"), "aggs": map[string]any{"bytes": sum("network.bytes")}},
	}}, &res)
	if err != nil {
		return nil, err
	}
	a := res.Aggregations
	t := Totals{Flows: res.Hits.Total.Value, Bytes: int64(value(a.Bytes)), Packets: int64(value(a.Packets)),
		Accepted: a.Accepted.DocCount, Rejected: a.Rejected.DocCount, RejectedBytes: int64(value(a.Rejected.Bytes))}
	if n := t.Accepted + t.Rejected; n > 0 {
		t.RejectedShare = float64(t.Rejected) / float64(n)
	}
	return t, nil
}

// A Point is one bucket of a time series.
type Point struct {
	T             time.Time `json:"t"`
	Accepted      int64     `json:"accepted"`
	Rejected      int64     `json:"rejected"`
	BytesAccepted int64     `json:"bytes_accepted"`
	BytesRejected int64     `json:"bytes_rejected"`
}

// interval picks a histogram step giving about 60 buckets, from a list of round steps.
func interval(d time.Duration) time.Duration {
	for _, step := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
		if d/step <= 90 {
			return step
		}
	}
	return 24 * time.Hour
}

// histogram is a date histogram of the scope with accepted and rejected flows and bytes per bucket.
func histogram(sc scope) (map[string]any, time.Duration) {
	return dateHistogram(sc, map[string]any{"action": map[string]any{"terms": map[string]any{"field": "event.action", "size": 3},
		"aggs": map[string]any{"bytes": sum("network.bytes")}}})
}

// dateHistogram is a date histogram of the scope, an empty bucket where nothing happened, with aggs per bucket,
// and its step.
func dateHistogram(sc scope, aggs map[string]any) (map[string]any, time.Duration) {
	step := interval(sc.To.Sub(sc.From))
	return map[string]any{"date_histogram": map[string]any{
		"field": "@timestamp", "fixed_interval": formatStep(step), "min_doc_count": 0,
		"extended_bounds": map[string]any{"min": sc.From.UnixMilli(), "max": sc.To.Add(-time.Millisecond).UnixMilli()},
	}, "aggs": aggs}, step
}

func formatStep(d time.Duration) string { return itoa(int64(d/time.Second)) + "s" }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

type histBuckets struct {
	Buckets []struct {
		Key    int64
		Action struct {
			Buckets []struct {
				Key      string
				DocCount int64 `json:"doc_count"`
				Bytes    json.RawMessage
			}
		}
	}
}

func (h histBuckets) points() []Point {
	out := make([]Point, 0, len(h.Buckets))
	for _, b := range h.Buckets {
		p := Point{T: time.UnixMilli(b.Key).UTC()}
		for _, a := range b.Action.Buckets {
			switch a.Key {
			case "accept":
				p.Accepted, p.BytesAccepted = a.DocCount, int64(value(a.Bytes))
			case "reject":
				p.Rejected, p.BytesRejected = a.DocCount, int64(value(a.Bytes))
			}
		}
		out = append(out, p)
	}
	return out
}

func (s *Server) timeline(ctx context.Context, sc scope) (any, error) {
	h, step := histogram(sc)
	var res struct{ Aggregations struct{ Over histBuckets } }
	if err := s.search(ctx, flowsFamily, sc, map[string]any{"size": 0, "aggs": map[string]any{"over": h}}, &res); err != nil {
		return nil, err
	}
	return map[string]any{"step_seconds": int64(step / time.Second), "points": res.Aggregations.Over.points()}, nil
}

// A Row is one entry of a top list.
type Row struct {
	Key      string `json:"key"`
	Flows    int64  `json:"flows"`
	Bytes    int64  `json:"bytes"`
	Rejected int64  `json:"rejected"`
	// Name and Country label an IP row when its flows are enriched (enrichment.go): the instance's Name tag, the
	// country's ISO code.
	Name    string `json:"name,omitempty"`
	Country string `json:"country,omitempty"`
}

// termsBy is a terms aggregation of field ranked by flows or by bytes, ties by key, with bytes and rejected flows.
func termsBy(field string, size int, byBytes bool) map[string]any {
	by := "_count"
	if byBytes {
		by = "bytes"
	}
	return map[string]any{"terms": rankedTerms(field, size, by),
		"aggs": map[string]any{"bytes": sum("network.bytes"), "rejected": filterAgg(term("event.action", "reject"))}}
}

// rankedTerms is the body of a terms aggregation of the size highest values of field by the metric by (_count:
// documents), ties by key, each shard asked for enough that the top is right.
func rankedTerms(field string, size int, by string) map[string]any {
	return map[string]any{"field": field, "size": size, "shard_size": max(size, shardSize),
		"order": []any{map[string]any{by: "desc"}, map[string]any{"_key": "asc"}}}
}

type termBuckets struct {
	Buckets []struct {
		Key      any
		KeyStr   string `json:"key_as_string"`
		DocCount int64  `json:"doc_count"`
		Bytes    json.RawMessage
		Rejected struct {
			DocCount int64 `json:"doc_count"`
		}
		Name, Country labelBuckets // IP lists only (labelled)
	}
}

// bucketKey is a terms bucket's key as text: key_as_string when the engine gives one (an ip), else the key.
func bucketKey(key any, keyStr string) string {
	if keyStr != "" {
		return keyStr
	}
	switch v := key.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatInt(int64(v), 10)
	}
	return ""
}

func (t termBuckets) rows() []Row {
	out := make([]Row, 0, len(t.Buckets))
	for _, b := range t.Buckets {
		out = append(out, Row{Key: bucketKey(b.Key, b.KeyStr), Flows: b.DocCount, Bytes: int64(value(b.Bytes)), Rejected: b.Rejected.DocCount,
			Name: b.Name.first(), Country: b.Country.first()})
	}
	return out
}

// Top is a field's top list by flows and by bytes.
type Top struct {
	ByFlows []Row `json:"by_flows"`
	ByBytes []Row `json:"by_bytes"`
}

func (s *Server) top(ctx context.Context, sc scope) (any, error) {
	aggs := map[string]any{}
	for i, f := range topFields {
		byFlows, byBytes := termsBy(f, TopN, false), termsBy(f, TopN, true)
		if end := endOf(f); end != "" {
			byFlows, byBytes = labelled(byFlows, end), labelled(byBytes, end)
		}
		aggs["f"+itoa(int64(i))], aggs["b"+itoa(int64(i))] = byFlows, byBytes
	}
	var res struct{ Aggregations map[string]termBuckets }
	if err := s.search(ctx, flowsFamily, sc, map[string]any{"size": 0, "aggs": aggs}, &res); err != nil {
		return nil, err
	}
	out := map[string]Top{}
	for i, f := range topFields {
		out[f] = Top{ByFlows: res.Aggregations["f"+itoa(int64(i))].rows(), ByBytes: res.Aggregations["b"+itoa(int64(i))].rows()}
	}
	return out, nil
}

func (s *Server) breakdowns(ctx context.Context, sc scope) (any, error) {
	aggs := map[string]any{}
	for i, f := range breakdownFields {
		aggs["f"+itoa(int64(i))] = termsBy(f, TopN, false)
	}
	var res struct{ Aggregations map[string]termBuckets }
	if err := s.search(ctx, flowsFamily, sc, map[string]any{"size": 0, "aggs": aggs}, &res); err != nil {
		return nil, err
	}
	out := map[string][]Row{}
	for i, f := range breakdownFields {
		out[f] = res.Aggregations["f"+itoa(int64(i))].rows()
	}
	return out, nil
}

// A Pair is one source->destination pair with its traffic.
type Pair struct {
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	Bytes int64  `json:"bytes"`
	Flows int64  `json:"flows"`
}

// pairs ranks source->destination pairs by bytes. A composite aggregation visits every pair exactly, page by page,
// on both engines; multi_terms would rank in the cluster but needs the analytics module that Elasticsearch's
// integ-test distribution (and a basic licence before 7.12) lacks, and its top N is approximate across indices.
func (s *Server) pairs(ctx context.Context, sc scope) (any, error) {
	var all []Pair
	var after json.RawMessage
	complete := false
	for page := 0; page < maxPairPages; page++ {
		comp := map[string]any{"size": pairPage, "sources": []any{
			map[string]any{"src": map[string]any{"terms": map[string]any{"field": "source.ip"}}},
			map[string]any{"dst": map[string]any{"terms": map[string]any{"field": "destination.ip"}}},
		}}
		if after != nil {
			comp["after"] = after
		}
		var res struct {
			Aggregations struct {
				Pairs struct {
					AfterKey json.RawMessage `json:"after_key"`
					Buckets  []struct {
						Key      struct{ Src, Dst string }
						DocCount int64 `json:"doc_count"`
						Bytes    json.RawMessage
					}
				}
			}
		}
		err := s.search(ctx, flowsFamily, sc, map[string]any{"size": 0, "track_total_hits": false, "aggs": map[string]any{
			"pairs": map[string]any{"composite": comp, "aggs": map[string]any{"bytes": sum("network.bytes")}}}}, &res)
		if err != nil {
			return nil, err
		}
		for _, b := range res.Aggregations.Pairs.Buckets {
			all = append(all, Pair{Src: b.Key.Src, Dst: b.Key.Dst, Bytes: int64(value(b.Bytes)), Flows: b.DocCount})
		}
		if len(res.Aggregations.Pairs.Buckets) < pairPage || len(res.Aggregations.Pairs.AfterKey) == 0 {
			complete = true
			break
		}
		after = res.Aggregations.Pairs.AfterKey
	}
	slices.SortFunc(all, ComparePairs)
	return map[string]any{"pairs": all[:min(PairsN, len(all))], "distinct": len(all), "complete": complete}, nil
}

// ComparePairs orders pairs by bytes, most first, then by source and destination address.
func ComparePairs(a, b Pair) int {
	return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), compareAddr(a.Src, b.Src), compareAddr(a.Dst, b.Dst))
}

func compareAddr(a, b string) int {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return cmp.Compare(a, b)
	}
	return x.Compare(y)
}
