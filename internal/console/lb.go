package console

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/kinflow/kinflow/internal/format/alb"
	"github.com/kinflow/kinflow/internal/format/elb"
	"github.com/kinflow/kinflow/internal/format/nlb"
)

// The load-balancers page: the access logs of Application, Network and Classic Load Balancers (<prefix>-lb-*, the
// fields of schema.LoadBalancers), one document per request (an NLB's: per TLS connection). Its panels are the
// requests of the range by status class and over time, the top lists a person looks at for probing and breakage
// (404s and 5xx by path, clients, paths, user agents, TLS versions) and the target's processing time. The query bar
// is parsed against the load balancers' fields; a load balancer (aws.elb.name) and a kind (alb, nlb, elb) narrow
// every panel.

// LBNamesN is how many load balancers the filter lists, the busiest first; the chosen one is listed whatever its
// rank.
const LBNamesN = 100

// lbDatasets are the dataset filter's values and the event.dataset each stands for, in the filter's order.
var lbDatasets = []struct{ name, dataset string }{{"alb", alb.Dataset}, {"nlb", nlb.Dataset}, {"elb", elb.Dataset}}

// statusClasses are the classes of http.response.status_code (the load balancer's answer to the client) the page
// counts; a document in none of them (an NLB's connection, a Classic Load Balancer's TCP or SSL listener, a 1xx
// such as a WebSocket's 101) counts as other.
var statusClasses = []struct {
	key      string
	from, to int
}{{"2xx", 200, 300}, {"3xx", 300, 400}, {"4xx", 400, 500}, {"5xx", 500, 600}}

// lbLatencyField is the target's processing time (ALB: target_processing_time; ELB: backend_processing_time), in
// nanoseconds: the time from the load balancer sending the request to the target to the target starting to answer,
// the part of the latency the application owns. A request the target never answered (AWS's -1) has none and is
// counted apart (aws.elb.target_unanswered); an NLB's connection has none either.
const lbLatencyField = "aws.elb.target_processing_time_ns"

// lbPercentiles are the percentiles of lbLatencyField the page shows. They are the cluster's percentiles
// aggregation, a t-digest: exact for small sets, approximate for large ones, the extreme percentiles more accurate
// than the median (see the engines' documentation of the percentiles aggregation).
var lbPercentiles = []float64{50, 90, 99}

// lbFilters are the page's own filters: a load balancer (aws.elb.name) and a dataset (alb, nlb, elb), "" for all.
type lbFilters struct{ name, dataset string }

func lbFiltersOf(r *http.Request) (lbFilters, error) {
	f := lbFilters{name: r.URL.Query().Get("lb"), dataset: r.URL.Query().Get("dataset")}
	if len(f.name) > 1024 || !utf8.ValidString(f.name) {
		return f, badRequest("lb: want a load balancer's name (aws.elb.name) of at most 1024 bytes of UTF-8")
	}
	if f.dataset != "" && !slices.ContainsFunc(lbDatasets, func(d struct{ name, dataset string }) bool { return d.name == f.dataset }) {
		return f, badRequest("dataset %q: want alb, nlb or elb, or none for all", f.dataset)
	}
	return f, nil
}

func (f lbFilters) nameClause() any {
	if f.name == "" {
		return nil
	}
	return term("aws.elb.name", f.name)
}

func (f lbFilters) datasetClause() any {
	if f.dataset == "" {
		return nil
	}
	return term("event.dataset", "aws."+f.dataset)
}

// both is the panels' filter: the load balancer and the dataset.
func (f lbFilters) both() any { return allOf(f.nameClause(), f.datasetClause()) }

func (s *Server) handleLB(ctx context.Context, r *http.Request) (any, error) {
	// A query another page reads but this one cannot (a flow's event.action, an alert's rule.name) is not applied.
	sc, applied, err := s.pageScope(r, s.fields.lb, s.fields.flows, s.fields.alerts)
	if err != nil {
		return nil, err
	}
	f, err := lbFiltersOf(r)
	if err != nil {
		return nil, err
	}
	panels, err := s.runPanels(ctx, sc, map[string]panelFunc{
		"counts":   func(ctx context.Context, sc scope) (any, error) { return s.lbCounts(ctx, sc, f) },
		"timeline": func(ctx context.Context, sc scope) (any, error) { return s.lbTimeline(ctx, sc, f) },
		"top":      func(ctx context.Context, sc scope) (any, error) { return s.lbTop(ctx, sc, f) },
		"latency":  func(ctx context.Context, sc scope) (any, error) { return s.lbLatency(ctx, sc, f) },
	})
	return map[string]any{"from": sc.From, "to": sc.To, "query": sc.Query, "query_applied": applied,
		"lb": f.name, "dataset": f.dataset, "panels": panels}, err
}

// statusRanges is a range aggregation of http.response.status_code into statusClasses.
func statusRanges() map[string]any {
	ranges := make([]any, 0, len(statusClasses))
	for _, c := range statusClasses {
		ranges = append(ranges, map[string]any{"key": c.key, "from": c.from, "to": c.to})
	}
	return map[string]any{"range": map[string]any{"field": "http.response.status_code", "ranges": ranges}}
}

type rangeBuckets struct {
	Buckets []struct {
		Key      string
		DocCount int64 `json:"doc_count"`
	}
}

// Classes are requests by status class; Other is those in none (see statusClasses).
type Classes struct {
	S2xx  int64 `json:"2xx"`
	S3xx  int64 `json:"3xx"`
	S4xx  int64 `json:"4xx"`
	S5xx  int64 `json:"5xx"`
	Other int64 `json:"other"`
}

// classes reads a statusRanges answer over total documents.
func (b rangeBuckets) classes(total int64) Classes {
	var c Classes
	for _, x := range b.Buckets {
		switch x.Key {
		case "2xx":
			c.S2xx = x.DocCount
		case "3xx":
			c.S3xx = x.DocCount
		case "4xx":
			c.S4xx = x.DocCount
		case "5xx":
			c.S5xx = x.DocCount
		}
	}
	c.Other = total - c.S2xx - c.S3xx - c.S4xx - c.S5xx
	return c
}

// LBCounts are the page's numbers: the requests of the range (Total, whatever the filters), those under the
// filters (Matching) by status class, and the counts of the filters' values. Each filter's counts are under the
// other filter, so a count is what the page would show with that value chosen.
type LBCounts struct {
	Total     int64   `json:"total"`
	Matching  int64   `json:"matching"`
	ByClass   Classes `json:"by_class"`
	ByDataset []Count `json:"by_dataset"`
	ByLB      []Count `json:"by_lb"`
}

func (s *Server) lbCounts(ctx context.Context, sc scope, f lbFilters) (any, error) {
	facet := func(field string, size int, filter any) map[string]any {
		return map[string]any{"filter": filter, "aggs": map[string]any{"k": map[string]any{"terms": rankedTerms(field, size, "_count")}}}
	}
	var res struct {
		Hits struct {
			Total struct{ Value int64 }
		}
		Aggregations struct {
			Matching struct {
				DocCount int64        `json:"doc_count"`
				Classes  rangeBuckets `json:"classes"`
			}
			Datasets, Names struct {
				K termBuckets `json:"k"`
			}
		}
	}
	err := s.search(ctx, lbFamily, sc, map[string]any{"size": 0, "track_total_hits": true, "aggs": map[string]any{
		"matching": map[string]any{"filter": f.both(), "aggs": map[string]any{"classes": statusRanges()}},
		"datasets": facet("event.dataset", len(lbDatasets)+10, allOf(f.nameClause())),
		"names":    facet("aws.elb.name", LBNamesN, allOf(f.datasetClause())),
	}}, &res)
	if err != nil {
		return nil, err
	}
	a := res.Aggregations
	out := LBCounts{Total: res.Hits.Total.Value, Matching: a.Matching.DocCount, ByClass: a.Matching.Classes.classes(a.Matching.DocCount),
		ByDataset: []Count{}, ByLB: []Count{}}
	byDataset := map[string]int64{}
	for _, r := range a.Datasets.K.rows() {
		byDataset[r.Key] = r.Flows
	}
	for _, d := range lbDatasets {
		out.ByDataset = append(out.ByDataset, Count{Key: d.name, Name: d.dataset, Count: byDataset[d.dataset]})
	}
	for _, r := range a.Names.K.rows() {
		out.ByLB = append(out.ByLB, Count{Key: r.Key, Count: r.Flows})
	}
	if f.name != "" && !slices.ContainsFunc(out.ByLB, func(c Count) bool { return c.Key == f.name }) {
		out.ByLB = append(out.ByLB, Count{Key: f.name}) // chosen, and none in the range or past the first LBNamesN
	}
	return out, nil
}

// An LBPoint is one bucket of the requests over time, by status class.
type LBPoint struct {
	T time.Time `json:"t"`
	Classes
}

func (s *Server) lbTimeline(ctx context.Context, sc scope, f lbFilters) (any, error) {
	over, step := dateHistogram(sc, map[string]any{"classes": statusRanges()})
	var res struct {
		Aggregations struct {
			Over struct {
				Buckets []struct {
					Key      int64
					DocCount int64        `json:"doc_count"`
					Classes  rangeBuckets `json:"classes"`
				}
			}
		}
	}
	err := s.search(ctx, lbFamily, sc, map[string]any{"size": 0, "query": f.both(), "aggs": map[string]any{"over": over}}, &res)
	if err != nil {
		return nil, err
	}
	points := make([]LBPoint, 0, len(res.Aggregations.Over.Buckets))
	for _, b := range res.Aggregations.Over.Buckets {
		points = append(points, LBPoint{T: time.UnixMilli(b.Key).UTC(), Classes: b.Classes.classes(b.DocCount)})
	}
	return map[string]any{"step_seconds": int64(step / time.Second), "points": points}, nil
}

// An LBRow is one entry of a top list: its requests, and those answered with an error (status 400 and above).
type LBRow struct {
	Key      string `json:"key"`
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"`
}

// lbTops are the page's top lists by name: the field ranked and the requests it ranks among (nil: all).
var lbTops = []struct {
	name, field string
	among       any
}{
	{"clients", "source.ip", nil},
	{"paths", "url.path", nil},
	{"not_found", "url.path", term("http.response.status_code", 404)},
	{"server_errors", "url.path", map[string]any{"range": map[string]any{"http.response.status_code": map[string]any{"gte": 500, "lt": 600}}}},
	{"user_agents", "user_agent.original", nil},
}

var errorStatus = map[string]any{"range": map[string]any{"http.response.status_code": map[string]any{"gte": 400}}}

// lbTerms ranks field by requests, ties by key, with the requests answered with an error.
func lbTerms(field string, size int) map[string]any {
	return map[string]any{"terms": rankedTerms(field, size, "_count"), "aggs": map[string]any{"errors": filterAgg(errorStatus)}}
}

type lbTermBuckets struct {
	Buckets []struct {
		Key      any
		KeyStr   string `json:"key_as_string"`
		DocCount int64  `json:"doc_count"`
		Errors   struct {
			DocCount int64 `json:"doc_count"`
		}
		Versions *lbTermBuckets `json:"versions"`
	}
}

func (t lbTermBuckets) rows() []LBRow {
	out := make([]LBRow, 0, len(t.Buckets))
	for _, b := range t.Buckets {
		out = append(out, LBRow{Key: bucketKey(b.Key, b.KeyStr), Requests: b.DocCount, Errors: b.Errors.DocCount})
	}
	return out
}

// lbTop is the top lists, and the TLS versions: the protocol and its version ("tls 1.2"), every one the range
// holds, the most used first. Only TLS and HTTPS listeners negotiate TLS; the others' requests are in no row.
func (s *Server) lbTop(ctx context.Context, sc scope, f lbFilters) (any, error) {
	aggs := map[string]any{}
	for _, t := range lbTops {
		a := lbTerms(t.field, TopN)
		if t.among != nil {
			a = map[string]any{"filter": t.among, "aggs": map[string]any{"k": a}}
		}
		aggs[t.name] = a
	}
	tls := lbTerms("tls.version_protocol", 10)
	tls["aggs"].(map[string]any)["versions"] = lbTerms("tls.version", 50)
	aggs["tls"] = tls
	var res struct{ Aggregations map[string]json.RawMessage }
	if err := s.search(ctx, lbFamily, sc, map[string]any{"size": 0, "query": f.both(), "aggs": aggs}, &res); err != nil {
		return nil, err
	}
	out := map[string][]LBRow{}
	for _, t := range lbTops {
		var b lbTermBuckets
		if t.among != nil {
			var wrap struct{ K lbTermBuckets }
			if err := json.Unmarshal(res.Aggregations[t.name], &wrap); err != nil {
				return nil, err
			}
			b = wrap.K
		} else if err := json.Unmarshal(res.Aggregations[t.name], &b); err != nil {
			return nil, err
		}
		out[t.name] = b.rows()
	}
	var tb lbTermBuckets
	if err := json.Unmarshal(res.Aggregations["tls"], &tb); err != nil {
		return nil, err
	}
	versions := []LBRow{}
	for _, p := range tb.Buckets {
		if p.Versions == nil {
			continue
		}
		for _, v := range p.Versions.rows() {
			v.Key = bucketKey(p.Key, p.KeyStr) + " " + v.Key
			versions = append(versions, v)
		}
	}
	slices.SortFunc(versions, compareLBRows)
	out["tls_versions"] = versions
	return out, nil
}

// compareLBRows orders rows as the cluster ranks them: by requests, most first, then by key.
func compareLBRows(a, b LBRow) int {
	return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Key, b.Key))
}

// A Percentile is one percentile of the target's processing time; NS is nil when no request had one.
type Percentile struct {
	P  float64  `json:"p"`
	NS *float64 `json:"ns"`
}

// LBLatency is the target's processing time (lbLatencyField) of the requests under the filters.
type LBLatency struct {
	Field       string       `json:"field"`
	Measured    int64        `json:"measured"`   // requests with a target processing time
	Unanswered  int64        `json:"unanswered"` // requests the target did not answer (no time)
	Percentiles []Percentile `json:"percentiles"`
}

func (s *Server) lbLatency(ctx context.Context, sc scope, f lbFilters) (any, error) {
	var res struct {
		Aggregations struct {
			Measured   json.RawMessage
			Unanswered struct {
				DocCount int64 `json:"doc_count"`
			}
			Percentiles struct {
				Values []struct {
					Key   float64
					Value *float64
				}
			}
		}
	}
	err := s.search(ctx, lbFamily, sc, map[string]any{"size": 0, "query": f.both(), "aggs": map[string]any{
		"measured":    map[string]any{"value_count": map[string]any{"field": lbLatencyField}},
		"unanswered":  filterAgg(term("aws.elb.target_unanswered", true)),
		"percentiles": map[string]any{"percentiles": map[string]any{"field": lbLatencyField, "percents": lbPercentiles, "keyed": false}},
	}}, &res)
	if err != nil {
		return nil, err
	}
	a := res.Aggregations
	out := LBLatency{Field: lbLatencyField, Measured: int64(value(a.Measured)), Unanswered: a.Unanswered.DocCount, Percentiles: []Percentile{}}
	got := map[float64]*float64{}
	for _, v := range a.Percentiles.Values {
		got[v.Key] = v.Value
	}
	for _, p := range lbPercentiles {
		pc := Percentile{P: p}
		if v := got[p]; v != nil && out.Measured > 0 {
			pc.NS = v
		}
		out.Percentiles = append(out.Percentiles, pc)
	}
	return out, nil
}
