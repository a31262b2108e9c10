package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/console/kql"
	"github.com/kinflow/kinflow/internal/sink"
)

// A family is a kind of document the console reads: where it lives and which field is its time.
type family struct {
	name      string
	indices   func(prefix string, from, to time.Time) string // the index expression for a range
	timeField string
	// endField, when set, is where a document's span ends ([timeField, endField)): such a document is in a range
	// when its span overlaps it, not only when it starts in it.
	endField string
}

// inRange is the filter that puts a document of the family in [from, to).
func (f family) inRange(from, to time.Time) any {
	if f.endField == "" {
		return dateRange(f.timeField, map[string]time.Time{"gte": from, "lt": to})
	}
	return map[string]any{"bool": map[string]any{"filter": []any{
		dateRange(f.timeField, map[string]time.Time{"lt": to}), dateRange(f.endField, map[string]time.Time{"gt": from})}}}
}

// dateRange is a range query on a date field, its bounds by operator (gte, lt, ...).
func dateRange(field string, bounds map[string]time.Time) any {
	r := map[string]any{"format": "strict_date_optional_time"}
	for op, t := range bounds {
		r[op] = t.Format(time.RFC3339Nano)
	}
	return map[string]any{"range": map[string]any{field: r}}
}

// maxBody caps an answer read from the cluster: the largest, a page of composite buckets, is well below.
const maxBody = 64 << 20

// daily names the daily indices of kind (flows, conns) from from to to, when that is at most 31 days (fewer
// indices to open), else the wildcard. Days without an index are skipped by ignore_unavailable.
func daily(kind string) func(prefix string, from, to time.Time) string {
	return func(prefix string, from, to time.Time) string {
		if from.IsZero() || to.IsZero() || to.Sub(from) > 31*24*time.Hour || !to.After(from) {
			return prefix + "-" + kind + "-*"
		}
		var names []string
		for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.Add(24 * time.Hour) {
			names = append(names, prefix+"-"+kind+"-"+d.Format("2006.01.02"))
		}
		return strings.Join(names, ",")
	}
}

var (
	flowsFamily = family{name: "flows", indices: daily("flows"), timeField: "@timestamp"}
	// finalsFamily is the final connection sets only: conns-* also matches the partials, which the finalizer merges
	// and a person never reads. A window's final is written once per revision under the same id, so each (window,
	// ip) is one document.
	finalsFamily = family{name: "conns", timeField: "window.start", indices: func(prefix string, from, to time.Time) string {
		d := daily("conns")(prefix, from, to)
		if strings.HasSuffix(d, "*") {
			return d + ",-" + prefix + "-conns-partial-*"
		}
		return d
	}}
	partialsFamily    = family{name: "partials", indices: daily("conns-partial"), timeField: "window.start"}
	deadLettersFamily = family{name: "deadletter", timeField: "@timestamp",
		indices: func(prefix string, _, _ time.Time) string { return prefix + "-deadletter" }}
	// alertsFamily is the detections, signals and alerts alike. Like a connection set, a detection is about windows
	// (window.start), but it spans them: an alert runs from its first window's start to its last window's end. It
	// is in a range when that span overlaps the range, so an alert begun before the range and still firing in it
	// shows. An alert is stored in the index of the day its episode began, which may be days before the range, so
	// every alerts index is searched: they hold a few documents per window.
	alertsFamily = family{name: "alerts", timeField: "window.start", endField: "window.end",
		indices: func(prefix string, _, _ time.Time) string { return prefix + "-alerts-*" }}
	// lbFamily is the load balancers' access logs, a document per request, in the index of the day it was logged.
	lbFamily = family{name: "lb", indices: daily("lb"), timeField: "@timestamp"}
)

// A scope is what every panel shares: the time range and the query bar's clause.
type scope struct {
	From, To time.Time // [From, To); both zero: no range
	Query    string
	clause   map[string]any // nil: everything
}

// presets are the ranges the page offers by name.
var presets = map[string]time.Duration{"15m": 15 * time.Minute, "1h": time.Hour, "6h": 6 * time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// scopeOf reads range (a preset) or from/to (RFC 3339 or Unix seconds) and q from r; fields are the field table q
// is parsed against. The default is the last hour.
func (s *Server) scopeOf(r *http.Request, fields map[string]string) (scope, error) {
	sc, err := s.rangeOf(r)
	if err != nil {
		return sc, err
	}
	sc.clause, err = parseQuery(sc.Query, fields)
	return sc, err
}

// pageScope reads the range and parses the query bar against a page's own fields. A query that another page reads
// (it parses against one of others) but this one cannot is not applied, and applied says so; a query no page reads
// is the 400 that says where.
func (s *Server) pageScope(r *http.Request, own map[string]string, others ...map[string]string) (sc scope, applied bool, err error) {
	if sc, err = s.rangeOf(r); err != nil {
		return sc, false, err
	}
	clause, err := parseQuery(sc.Query, own)
	if err == nil {
		sc.clause = clause
		return sc, true, nil
	}
	for _, other := range others {
		if _, oerr := parseQuery(sc.Query, other); oerr == nil {
			return sc, false, nil
		}
	}
	return sc, false, err
}

// rangeOf is scopeOf without parsing the query: for a page that judges it against another field table.
func (s *Server) rangeOf(r *http.Request) (scope, error) {
	q := r.URL.Query()
	now := s.now().UTC()
	sc := scope{Query: strings.TrimSpace(q.Get("q"))}
	switch from, to := q.Get("from"), q.Get("to"); {
	case from != "" || to != "":
		var err1, err2 error
		sc.From, err1 = parseTime("from", from, now)
		sc.To, err2 = parseTime("to", to, now)
		if err := errors.Join(err1, err2); err != nil {
			return sc, err
		}
		if !sc.To.After(sc.From) {
			return sc, badRequest("to (%s) must be after from (%s)", sc.To.Format(time.RFC3339), sc.From.Format(time.RFC3339))
		}
	default:
		name := q.Get("range")
		if name == "" {
			name = "1h"
		}
		d, ok := presets[name]
		if !ok {
			return sc, badRequest("range %q: want 15m, 1h, 6h, 24h or 7d, or from and to", name)
		}
		sc.From, sc.To = now.Add(-d), now
	}
	return sc, nil
}

// parseQuery is the query bar's text as a clause (nil for none); a syntax error is a 400 that says where.
func parseQuery(q string, fields map[string]string) (map[string]any, error) {
	if q == "" {
		return nil, nil
	}
	clause, err := kql.Parse(q, fields)
	if err != nil {
		var se *kql.SyntaxError
		if errors.As(err, &se) {
			off := se.Offset
			return nil, &apiError{Status: http.StatusBadRequest, Msg: "query: " + err.Error(), Offset: &off}
		}
		return nil, badRequest("query: %v", err)
	}
	return clause, nil
}

func parseTime(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		if name == "to" {
			return now, nil
		}
		return time.Time{}, badRequest("from: required with to")
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil && sec > 0 {
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Time{}, badRequest("%s %q: want RFC 3339 (2026-11-23T12:00:00Z) or Unix seconds", name, v)
}

// search is the one way a panel reads the cluster: it scopes body to sc (the time range on the family's time
// field, or on its span, and the query bar's clause, ANDed with the panel's own query, if any) and POSTs it to the
// family's indices. Days without an index and a prefix without any are an empty answer, not an error.
func (s *Server) search(ctx context.Context, fam family, sc scope, body map[string]any, out any) error {
	var filters []any
	if !sc.From.IsZero() {
		filters = append(filters, fam.inRange(sc.From, sc.To))
	}
	if sc.clause != nil {
		filters = append(filters, sc.clause)
	}
	if own, ok := body["query"]; ok {
		filters = append(filters, own)
	}
	b := make(map[string]any, len(body)+1)
	for k, v := range body {
		b[k] = v
	}
	b["query"] = map[string]any{"bool": map[string]any{"filter": filters}}
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	path := "/" + fam.indices(s.cfg.Prefix, sc.From, sc.To) + "/_search?ignore_unavailable=true&allow_no_indices=true"
	return sink.DoJSON(ctx, s.cluster, "POST", path, raw, maxBody, out)
}
