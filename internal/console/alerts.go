package console

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/kinflow/kinflow/internal/alerts"
	"github.com/kinflow/kinflow/internal/detect"
)

// The alerts page: what the finalizer's rules found (<prefix>-alerts-*, the fields of schema.Alerts). The list is
// of alerts, the episodes a person is paged about (event.kind alert), whose windows overlap the range, the latest
// activity first; the query bar (parsed against the alerts' fields), a rule and a status narrow it. Above it, the
// counts per rule, severity and status. Selecting an alert shows its evidence and its signals: the rows of its
// windows (event.kind signal of its episode).

// AlertsN is how many alerts the list shows; the answer's total says how many match.
const AlertsN = 500

// SignalsN bounds the signals read for one alert: a week of 10-minute windows.
const SignalsN = 1008

// Statuses of an alert or a signal (alert.status), as internal/alerts writes them.
var alertStatuses = []string{string(alerts.Active), string(alerts.Withdrawn)}

// ruleNames are the rules an alert may name (rule.name), in detect's order.
var ruleNames = func() []string {
	names := make([]string, 0, len(detect.AllRules))
	for _, r := range detect.AllRules {
		names = append(names, r.String())
	}
	return names
}()

// Severities (event.severity) by name, highest first, as internal/detect scores them.
var severities = []struct {
	level int
	name  string
}{{detect.SeverityCritical, "critical"}, {detect.SeverityHigh, "high"}, {detect.SeverityMedium, "medium"}, {detect.SeverityLow, "low"}}

func severityName(level int) string {
	for _, s := range severities {
		if s.level == level {
			return s.name
		}
	}
	return ""
}

// A Detection is an alert (an episode) or one of its signals (one window), as the page shows it.
type Detection struct {
	ID            string    `json:"id"` // the document's id; an alert's is its episode's
	Kind          string    `json:"kind"`
	Episode       string    `json:"episode"`
	Rule          string    `json:"rule"`
	Severity      int       `json:"severity"`
	SeverityName  string    `json:"severity_name"`
	Technique     string    `json:"technique,omitempty"`
	TechniqueName string    `json:"technique_name,omitempty"`
	Tactic        string    `json:"tactic,omitempty"`
	IP            string    `json:"ip"`
	Start         time.Time `json:"start"` // the first window's start
	End           time.Time `json:"end"`   // the last window's end
	Windows       int64     `json:"windows"`
	// Ongoing: active, and its last window is the latest closed one.
	Ongoing  bool      `json:"ongoing"`
	Score    float64   `json:"score"`
	Reason   string    `json:"reason"`
	Status   string    `json:"status"`
	Revision int64     `json:"revision"`
	Evidence *Evidence `json:"evidence,omitempty"` // the list leaves it out; an alert's is its latest signal's
	Baseline *Baseline `json:"baseline,omitempty"` // nil: the rule uses none, or the IP had too short a history
}

// Evidence is what the rule saw in the connection set (alert.evidence).
type Evidence struct {
	Peers          int64    `json:"peers"`
	PeersEstimated bool     `json:"peers_estimated"`
	Ports          int64    `json:"ports"`
	ServicePorts   int64    `json:"service_ports"`
	FlowsSent      int64    `json:"flows_sent"`
	FlowsReceived  int64    `json:"flows_received"`
	Rejected       int64    `json:"rejected"`
	BytesSent      int64    `json:"bytes_sent"`
	PeerSample     []string `json:"peer_sample"`
	PortSample     []int64  `json:"port_sample"`
}

// Baseline is the IP's previous windows the rule compared against (alert.baseline).
type Baseline struct {
	Windows       int64   `json:"windows"`
	RejectedMean  float64 `json:"rejected_mean"`
	RejectedStd   float64 `json:"rejected_std"`
	BytesSentMean float64 `json:"bytes_sent_mean"`
	BytesSentStd  float64 `json:"bytes_sent_std"`
}

// alertListSource is what a row of the list reads; the evidence is read for the selected alert only.
var alertListSource = []string{"event.kind", "event.severity", "event.reason", "rule.name", "threat.technique.id",
	"threat.technique.name", "threat.tactic.name", "source.ip", "window.start", "window.end", "alert.status",
	"alert.episode", "alert.windows", "alert.revision", "alert.score"}

// alertSort is a total order, the latest activity first: the end of the last window, then the highest severity,
// the latest start, and rule, IP and episode for ties.
var alertSort = []any{
	map[string]any{"window.end": "desc"}, map[string]any{"event.severity": "desc"}, map[string]any{"window.start": "desc"},
	map[string]any{"rule.name": "asc"}, map[string]any{"source.ip": "asc"}, map[string]any{"alert.episode": "asc"},
}

type detectionDoc struct {
	Event struct {
		Kind     string
		Severity int
		Reason   string
	}
	Rule   struct{ Name string }
	Threat struct {
		Technique struct{ ID, Name string }
		Tactic    struct{ Name string }
	}
	Source struct{ IP string }
	Window struct{ Start, End time.Time }
	Alert  struct {
		Status, Episode   string
		Windows, Revision int64
		Score             float64
		Evidence          *Evidence
		Baseline          *Baseline
	}
}

func (d *detectionDoc) detection(id string, latestClosed time.Time) Detection {
	a := Detection{ID: id, Kind: d.Event.Kind, Episode: d.Alert.Episode, Rule: d.Rule.Name, Severity: d.Event.Severity,
		SeverityName: severityName(d.Event.Severity), Technique: d.Threat.Technique.ID, TechniqueName: d.Threat.Technique.Name,
		Tactic: d.Threat.Tactic.Name, IP: d.Source.IP, Start: d.Window.Start.UTC(), End: d.Window.End.UTC(),
		Windows: d.Alert.Windows, Score: d.Alert.Score, Reason: d.Event.Reason, Status: d.Alert.Status,
		Revision: d.Alert.Revision, Evidence: d.Alert.Evidence, Baseline: d.Alert.Baseline}
	a.Ongoing = a.Status == string(alerts.Active) && !latestClosed.IsZero() && !a.End.Before(latestClosed)
	return a
}

type detectionHits struct {
	Hits struct {
		Total struct{ Value int64 }
		Hits  []struct {
			ID     string       `json:"_id"`
			Source detectionDoc `json:"_source"`
		}
	}
}

func (h *detectionHits) detections(latestClosed time.Time) []Detection {
	out := make([]Detection, 0, len(h.Hits.Hits))
	for i := range h.Hits.Hits {
		x := &h.Hits.Hits[i]
		out = append(out, x.Source.detection(x.ID, latestClosed))
	}
	return out
}

// alertFilters are the page's own filters: a rule (rule.name) and a status, each "" for all.
type alertFilters struct{ rule, status string }

func alertFiltersOf(r *http.Request) (alertFilters, error) {
	f := alertFilters{rule: r.URL.Query().Get("rule"), status: r.URL.Query().Get("status")}
	if _, ok := detect.ParseRule(f.rule); f.rule != "" && !ok {
		return f, badRequest("rule %q: want one of %v, or none for all", f.rule, ruleNames)
	}
	if f.status != "" && !slices.Contains(alertStatuses, f.status) {
		return f, badRequest("status %q: want one of %v, or none for all", f.status, alertStatuses)
	}
	return f, nil
}

func (f alertFilters) ruleClause() any {
	if f.rule == "" {
		return nil
	}
	return term("rule.name", f.rule)
}

func (f alertFilters) statusClause() any {
	if f.status == "" {
		return nil
	}
	return term("alert.status", f.status)
}

// allOf ANDs the clauses that are not nil.
func allOf(clauses ...any) any {
	kept := slices.DeleteFunc(slices.Clone(clauses), func(c any) bool { return c == nil })
	if len(kept) == 0 {
		return map[string]any{"match_all": map[string]any{}}
	}
	return map[string]any{"bool": map[string]any{"filter": kept}}
}

func (s *Server) handleAlerts(ctx context.Context, r *http.Request) (any, error) {
	// A query the flows page reads but this one cannot (it names event.action or destination.port) is not applied.
	sc, applied, err := s.pageScope(r, s.fields.alerts, s.fields.flows)
	if err != nil {
		return nil, err
	}
	f, err := alertFiltersOf(r)
	if err != nil {
		return nil, err
	}
	panels, err := s.runPanels(ctx, sc, map[string]panelFunc{
		"counts": func(ctx context.Context, sc scope) (any, error) { return s.alertCounts(ctx, sc, f) },
		"alerts": func(ctx context.Context, sc scope) (any, error) { return s.alertList(ctx, sc, f) },
	})
	return map[string]any{"from": sc.From, "to": sc.To, "query": sc.Query, "query_applied": applied,
		"rule": f.rule, "status": f.status, "panels": panels}, err
}

// A Count is one value of a field and its alerts.
type Count struct {
	Key   string `json:"key"`
	Name  string `json:"name,omitempty"` // a severity's name; a kind of load balancer's event.dataset
	Count int64  `json:"count"`
}

// alertCounts counts the scope's alerts per rule, severity and status. Each count is what the list would hold with
// that value chosen and the other filter kept: the rule counts are under the status filter, the status counts
// under the rule filter, the severity counts under both. Every rule, severity and status is listed, 0 or not.
func (s *Server) alertCounts(ctx context.Context, sc scope, f alertFilters) (any, error) {
	facet := func(field string, filter any) map[string]any {
		return map[string]any{"filter": filter, "aggs": map[string]any{"k": map[string]any{"terms": map[string]any{"field": field, "size": 50}}}}
	}
	var res struct {
		Hits struct {
			Total struct{ Value int64 }
		}
		Aggregations map[string]struct {
			DocCount int64       `json:"doc_count"`
			K        termBuckets `json:"k"`
		}
	}
	err := s.search(ctx, alertsFamily, sc, map[string]any{"size": 0, "track_total_hits": true,
		"query": term("event.kind", alerts.KindAlert),
		"aggs": map[string]any{
			"rules":      facet("rule.name", allOf(f.statusClause())),
			"statuses":   facet("alert.status", allOf(f.ruleClause())),
			"severities": facet("event.severity", allOf(f.ruleClause(), f.statusClause())),
		}}, &res)
	if err != nil {
		return nil, err
	}
	counted := func(agg string) map[string]int64 {
		m := map[string]int64{}
		for _, row := range res.Aggregations[agg].K.rows() {
			m[row.Key] = row.Flows
		}
		return m
	}
	// The known values in their order, then any other the index holds (a rule added later), by name.
	list := func(known []string, m map[string]int64) []Count {
		out := []Count{}
		for _, k := range known {
			out = append(out, Count{Key: k, Count: m[k]})
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !slices.Contains(known, k) {
				out = append(out, Count{Key: k, Count: m[k]})
			}
		}
		return out
	}
	levels := make([]string, 0, len(severities))
	for _, sv := range severities {
		levels = append(levels, strconv.Itoa(sv.level))
	}
	bySeverity := list(levels, counted("severities"))
	for i := range bySeverity {
		n, _ := strconv.Atoi(bySeverity[i].Key)
		bySeverity[i].Name = severityName(n)
	}
	return map[string]any{"total": res.Hits.Total.Value, "matching": res.Aggregations["severities"].DocCount,
		"by_rule": list(ruleNames, counted("rules")), "by_status": list(alertStatuses, counted("statuses")), "by_severity": bySeverity}, nil
}

// alertList is the scope's alerts under the filters, the latest activity first, at most AlertsN.
func (s *Server) alertList(ctx context.Context, sc scope, f alertFilters) (any, error) {
	latest, err := s.latestClosed(ctx)
	if err != nil {
		return nil, err
	}
	var res detectionHits
	err = s.search(ctx, alertsFamily, sc, map[string]any{"size": AlertsN, "track_total_hits": true, "sort": alertSort,
		"_source": alertListSource, "query": allOf(term("event.kind", alerts.KindAlert), f.ruleClause(), f.statusClause())}, &res)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"total": res.Hits.Total.Value, "alerts": res.detections(latest)}
	if !latest.IsZero() {
		out["latest_closed"] = latest
	}
	return out, nil
}

// latestClosed is the end of the latest closed window, of all time: the latest final connection set's (a final is
// written once its window closed). Zero when there is none.
func (s *Server) latestClosed(ctx context.Context) (time.Time, error) {
	var res struct {
		Aggregations struct{ Latest struct{ Value *float64 } }
	}
	if err := s.search(ctx, finalsFamily, scope{}, map[string]any{"size": 0, "track_total_hits": false,
		"aggs": map[string]any{"latest": map[string]any{"max": map[string]any{"field": "window.end"}}}}, &res); err != nil {
		return time.Time{}, err
	}
	if v := res.Aggregations.Latest.Value; v != nil {
		return time.UnixMilli(int64(*v)).UTC(), nil
	}
	return time.Time{}, nil
}

// AlertReport is one alert with its evidence and its signals, oldest window first.
type AlertReport struct {
	Alert        Detection   `json:"alert"`
	Signals      []Detection `json:"signals"`
	LatestClosed time.Time   `json:"latest_closed,omitzero"`
}

// handleAlert returns one alert by its id (its episode), from any alerts index, whatever the range: an alert's
// signals all belong to it, the windows before the range too.
func (s *Server) handleAlert(ctx context.Context, r *http.Request) (any, error) {
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 512 {
		return nil, badRequest("id: required")
	}
	latest, err := s.latestClosed(ctx)
	if err != nil {
		return nil, err
	}
	var res detectionHits
	if err := s.search(ctx, alertsFamily, scope{}, map[string]any{"size": 1,
		"query": allOf(term("event.kind", alerts.KindAlert), map[string]any{"ids": map[string]any{"values": []string{id}}})}, &res); err != nil {
		return nil, err
	}
	if len(res.Hits.Hits) == 0 {
		return nil, &apiError{Status: http.StatusNotFound, Msg: "no alert with id " + id}
	}
	rep := AlertReport{Alert: res.detections(latest)[0], LatestClosed: latest}
	var sig detectionHits
	if err := s.search(ctx, alertsFamily, scope{}, map[string]any{"size": SignalsN,
		"sort":  []any{map[string]any{"window.start": "asc"}},
		"query": allOf(term("event.kind", alerts.KindSignal), term("alert.episode", id))}, &sig); err != nil {
		return nil, err
	}
	rep.Signals = sig.detections(latest)
	return rep, nil
}
