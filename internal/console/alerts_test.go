package console

import (
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/alerts"
	"github.com/kinflow/kinflow/internal/detect"
	"github.com/kinflow/kinflow/internal/sink"
)

// The alerts fixture: episodes written as the finalizer writes them (alerts.SignalJSON and alerts.EpisodeJSON of
// alerts.Summarize), beside the corpus, timed against its latest closed window wl. Each is named by a letter.
//
//	A horizontal_scan 10.0.0.7   wl-20m, wl-10m, wl      active, ongoing (its last window is the latest closed)
//	B vertical_scan   10.0.0.9   wl-2h, wl-1h50m         active
//	C reject_storm    10.0.1.5   wl-1h                   withdrawn
//	D unusual_egress  10.0.0.12  wl-30m                  active, critical, with a baseline
//	E horizontal_scan 10.0.2.3   wl-3h (withdrawn), wl-2h50m: active with one window
//	F reject_storm    10.0.3.3   Nov 22 23:40 .. Nov 23 00:10: stored in the index of Nov 22, overlaps the range
//	G, H              decoys before and after the corpus range (H starts at its end, which is not in it)
type fixtureEpisode struct {
	name      string
	rule      detect.Rule
	ip        netip.Addr
	starts    []time.Time
	scores    []float64
	withdrawn []bool // per window; nil: all active
	baseline  *detect.Baseline
	reason    string

	signals []alerts.Signal // as written
	episode alerts.Episode
}

// escapeReason is A's reason: markup in a field must show as text.
const escapeReason = `10.0.0.7 contacted 250 peers in 10 minutes, <b>5.0x</b> the level & "more"`

// loadAlerts writes the fixture into c's prefix and returns it by name, with wl.
func loadAlerts(t testing.TB, c *cluster) (map[string]*fixtureEpisode, time.Time) {
	t.Helper()
	wl := time.Unix(slices.Max(slices.Collect(maps.Keys(c.sets))), 0).UTC()
	if wl.Add(-3 * time.Hour).Before(corpusFrom) {
		t.Fatalf("the latest corpus window %s is too early for the fixture", wl)
	}
	m := func(d time.Duration) time.Time { return wl.Add(d) }
	day := func(d, h, min int) time.Time { return time.Date(2026, 11, d, h, min, 0, 0, time.UTC) }
	ip := netip.MustParseAddr
	eps := []*fixtureEpisode{
		{name: "A", rule: detect.HorizontalScan, ip: ip("10.0.0.7"), starts: []time.Time{m(-20 * time.Minute), m(-10 * time.Minute), wl},
			scores: []float64{3, 6.5, 5}, reason: escapeReason},
		{name: "B", rule: detect.VerticalScan, ip: ip("10.0.0.9"), starts: []time.Time{m(-2 * time.Hour), m(-110 * time.Minute)}, scores: []float64{2.5, 3.5}},
		{name: "C", rule: detect.RejectStorm, ip: ip("10.0.1.5"), starts: []time.Time{m(-time.Hour)}, scores: []float64{1.5}, withdrawn: []bool{true}},
		{name: "D", rule: detect.UnusualEgress, ip: ip("10.0.0.12"), starts: []time.Time{m(-30 * time.Minute)}, scores: []float64{12},
			baseline: &detect.Baseline{Windows: 30, RejectedMean: 1.5, RejectedStd: 0.5, BytesSentMean: 1_000_000, BytesSentStd: 200_000}},
		{name: "E", rule: detect.HorizontalScan, ip: ip("10.0.2.3"), starts: []time.Time{m(-3 * time.Hour), m(-170 * time.Minute)},
			scores: []float64{8, 2.2}, withdrawn: []bool{true, false}},
		{name: "F", rule: detect.RejectStorm, ip: ip("10.0.3.3"), starts: []time.Time{day(22, 23, 40), day(22, 23, 50), day(23, 0, 0)}, scores: []float64{4.5, 4.5, 4.5}},
		{name: "G", rule: detect.HorizontalScan, ip: ip("10.0.4.4"), starts: []time.Time{day(20, 12, 0)}, scores: []float64{20}},
		{name: "H", rule: detect.HorizontalScan, ip: ip("10.0.4.5"), starts: []time.Time{corpusTo}, scores: []float64{20}},
	}
	ix := sink.Indices{Prefix: c.prefix}
	var docs []sink.Doc
	out := map[string]*fixtureEpisode{}
	for _, e := range eps {
		out[e.name] = e
		first := e.starts[0].Unix()
		id := detect.EpisodeID(e.rule, e.ip, first)
		for i, start := range e.starts {
			st, rev := alerts.Active, int64(1)
			if e.withdrawn != nil && e.withdrawn[i] {
				st, rev = alerts.Withdrawn, 2
			}
			reason := e.reason
			if reason == "" {
				reason = fmt.Sprintf("%s fired on %s in the window of %s", e.rule, e.ip, start.Format(time.RFC3339))
			}
			ev := detect.Evidence{Peers: uint64(100 + 10*i), Ports: uint64(3 + i), ServicePorts: uint64(2 + i), FlowsSent: uint64(400 + i),
				FlowsReceived: uint64(20 + i), Rejected: uint64(300 + i), BytesSent: uint64(50_000 * (i + 1)),
				PeerSample: []netip.Addr{ip("10.0.9.1"), ip("10.0.9.2"), ip(fmt.Sprintf("10.0.9.%d", 10+i))}, PortSample: []uint16{22, 80, uint16(443 + i)},
				Baseline: e.baseline}
			s := alerts.Signal{Alert: detect.Alert{Rule: e.rule, IP: e.ip,
				Window: detect.Window{Start: start.Unix(), End: start.Add(10 * time.Minute).Unix()}, Score: e.scores[i],
				Severity: detect.SeverityOf(e.scores[i]), Evidence: ev, Reason: reason}, Status: st, Revision: rev, Episode: id, EpisodeStart: first}
			src, err := alerts.SignalJSON(&s)
			if err != nil {
				t.Fatal(err)
			}
			e.signals = append(e.signals, s)
			docs = append(docs, sink.Doc{Index: ix.Alerts(start), ID: s.ID(), Op: sink.OpIndex, Source: src})
		}
		ep, err := alerts.Summarize(e.signals)
		if err != nil {
			t.Fatal(err)
		}
		e.episode = ep
		src, err := alerts.EpisodeJSON(&ep)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, sink.Doc{Index: ix.Alerts(e.starts[0]), ID: ep.ID, Op: sink.OpIndex, Source: src})
	}
	writeDocs(t, c.client, c.name, c.prefix, docs)
	return out, wl
}

// alertsAnswer is /api/alerts decoded.
type alertsAnswer struct {
	QueryApplied bool `json:"query_applied"`
	Panels       struct {
		Counts struct {
			Data struct {
				Total, Matching int64
				ByRule          []Count `json:"by_rule"`
				ByStatus        []Count `json:"by_status"`
				BySeverity      []Count `json:"by_severity"`
			}
			Error string
		}
		Alerts struct {
			Data struct {
				Total        int64
				Alerts       []Detection
				LatestClosed time.Time `json:"latest_closed"`
			}
			Error string
		}
	}
}

// row is how a test compares an alert: what the page shows of it.
func row(d Detection) string {
	return fmt.Sprintf("%s %s sev=%d(%s) %s %s..%s windows=%d ongoing=%v score=%.2f %s", d.Rule, d.IP, d.Severity, d.SeverityName,
		d.Technique, d.Start.Format("01-02T15:04"), d.End.Format("01-02T15:04"), d.Windows, d.Ongoing, d.Score, d.Status)
}

// want is the row the fixture's episode must show as, computed from what was written.
func (e *fixtureEpisode) want(ongoing bool) string {
	ep := e.episode
	return row(Detection{Rule: e.rule.String(), IP: e.ip.String(), Severity: ep.Severity, SeverityName: severityName(ep.Severity),
		Technique: e.rule.Technique(), Start: time.Unix(ep.First.Start, 0).UTC(), End: time.Unix(ep.Last.End, 0).UTC(),
		Windows: int64(ep.Windows), Ongoing: ongoing, Score: ep.MaxScore, Status: string(ep.Status)})
}

func counts(cs []Count) string {
	out := ""
	for _, c := range cs {
		out += fmt.Sprintf("%s=%d ", c.Key, c.Count)
	}
	return out
}

// The alerts page against the fixture on both engines: the list's rows and order, the overlap with the range,
// the counts per rule, severity and status under each filter, the query bar, one alert's signals and evidence.
func TestAlertsPage(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		fx, wl := loadAlerts(t, c)
		rec := &recorder{Doer: c.client}
		ts, api := serve(t, rec, c.prefix)
		want := func(ongoingName string, names ...string) []string {
			out := []string{}
			for _, n := range names {
				out = append(out, fx[n].want(n == ongoingName))
			}
			return out
		}
		for _, tc := range []struct {
			name                      string
			q                         url.Values
			rows                      []string
			rules, statuses, severity string // the counts, "" not checked
			applied                   bool
		}{
			{name: "all", q: corpusScope(""), rows: want("A", "A", "D", "C", "B", "E", "F"), applied: true,
				rules:    "horizontal_scan=2 vertical_scan=1 reject_storm=2 unusual_egress=1 threat_match=0 ",
				statuses: "active=5 withdrawn=1 ", severity: "99=1 73=2 47=2 21=1 "},
			{name: "active", q: with(corpusScope(""), "status", "active"), rows: want("A", "A", "D", "B", "E", "F"), applied: true,
				rules:    "horizontal_scan=2 vertical_scan=1 reject_storm=1 unusual_egress=1 threat_match=0 ",
				statuses: "active=5 withdrawn=1 ", severity: "99=1 73=2 47=2 21=0 "},
			{name: "withdrawn", q: with(corpusScope(""), "status", "withdrawn"), rows: want("", "C"), applied: true,
				rules: "horizontal_scan=0 vertical_scan=0 reject_storm=1 unusual_egress=0 threat_match=0 ", severity: "99=0 73=0 47=0 21=1 "},
			{name: "one rule", q: with(corpusScope(""), "rule", "horizontal_scan"), rows: want("A", "A", "E"), applied: true,
				rules:    "horizontal_scan=2 vertical_scan=1 reject_storm=2 unusual_egress=1 threat_match=0 ",
				statuses: "active=2 withdrawn=0 ", severity: "99=0 73=1 47=1 21=0 "},
			{name: "rule and status", q: with(with(corpusScope(""), "rule", "reject_storm"), "status", "active"), rows: want("", "F"), applied: true,
				statuses: "active=1 withdrawn=1 "},
			{name: "query on alert fields", q: corpusScope("source.ip:10.0.0.0/24"), rows: want("A", "A", "D", "B"), applied: true,
				rules: "horizontal_scan=1 vertical_scan=1 reject_storm=0 unusual_egress=1 threat_match=0 "},
			{name: "query on severity", q: corpusScope("event.severity >= 73 AND NOT rule.name:unusual_egress"), rows: want("A", "A", "F"), applied: true},
			{name: "flow query not applied", q: corpusScope(SeedQuery), rows: want("A", "A", "D", "C", "B", "E", "F"), applied: false},
			// A began before this range and fires in it; D ended before it.
			{name: "overlap", q: url.Values{"from": {wl.Add(-15 * time.Minute).Format(time.RFC3339)}, "to": {wl.Add(10 * time.Minute).Format(time.RFC3339)}},
				rows: want("A", "A"), applied: true},
			{name: "after the last window", q: url.Values{"from": {wl.Add(10 * time.Minute).Format(time.RFC3339)}, "to": {wl.Add(time.Hour).Format(time.RFC3339)}},
				rows: []string{}, applied: true, rules: "horizontal_scan=0 vertical_scan=0 reject_storm=0 unusual_egress=0 threat_match=0 "},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got alertsAnswer
				api("/api/alerts", tc.q, &got)
				a, cn := got.Panels.Alerts.Data, got.Panels.Counts.Data
				rows := []string{}
				for _, d := range a.Alerts {
					rows = append(rows, row(d))
					if d.Kind != "alert" || d.ID != d.Episode || d.Evidence != nil {
						t.Errorf("row %s: kind %q, id %q, episode %q, evidence %v; want an alert under its episode's id, no evidence in the list",
							row(d), d.Kind, d.ID, d.Episode, d.Evidence)
					}
				}
				if d := gocmp.Diff(tc.rows, rows); d != "" {
					t.Errorf("rows (-want +got):\n%s", d)
				}
				if a.Total != int64(len(tc.rows)) || cn.Matching != int64(len(tc.rows)) {
					t.Errorf("total %d, counts matching %d; want %d", a.Total, cn.Matching, len(tc.rows))
				}
				if got.QueryApplied != tc.applied {
					t.Errorf("query applied %v, want %v", got.QueryApplied, tc.applied)
				}
				for _, x := range []struct{ name, want, got string }{
					{"rule", tc.rules, counts(cn.ByRule)}, {"status", tc.statuses, counts(cn.ByStatus)}, {"severity", tc.severity, counts(cn.BySeverity)},
				} {
					if x.want != "" && x.want != x.got {
						t.Errorf("counts per %s %q, want %q", x.name, x.got, x.want)
					}
				}
				if want := wl.Add(10 * time.Minute); !a.LatestClosed.Equal(want) {
					t.Errorf("latest closed window ends %s, want %s", a.LatestClosed, want)
				}
			})
		}

		// One alert: its signals (the per-window rows of its episode, oldest first, withdrawn ones too) and its
		// evidence, the latest active signal's.
		for _, name := range []string{"A", "D", "E", "F"} {
			e := fx[name]
			var rep AlertReport
			api("/api/alert", url.Values{"id": {e.episode.ID}}, &rep)
			if got, want := row(rep.Alert), e.want(name == "A"); got != want {
				t.Errorf("%s: alert %s, want %s", name, got, want)
			}
			var gotSig, wantSig []string
			for _, s := range rep.Signals {
				gotSig = append(gotSig, fmt.Sprintf("%s %s score=%.2f sev=%d rev=%d %s", s.Kind, s.Start.Format(time.RFC3339), s.Score, s.Severity, s.Revision, s.Status))
				if s.Episode != e.episode.ID {
					t.Errorf("%s: signal of episode %s", name, s.Episode)
				}
			}
			for _, s := range e.signals {
				wantSig = append(wantSig, fmt.Sprintf("signal %s score=%.2f sev=%d rev=%d %s", time.Unix(s.Window.Start, 0).UTC().Format(time.RFC3339),
					s.Score, s.Severity, s.Revision, s.Status))
			}
			if d := gocmp.Diff(wantSig, gotSig); d != "" {
				t.Errorf("%s: signals (-want +got):\n%s", name, d)
			}
			l := e.episode.Latest.Evidence
			wantEv := &Evidence{Peers: int64(l.Peers), Ports: int64(l.Ports), ServicePorts: int64(l.ServicePorts), FlowsSent: int64(l.FlowsSent),
				FlowsReceived: int64(l.FlowsReceived), Rejected: int64(l.Rejected), BytesSent: int64(l.BytesSent)}
			for _, p := range l.PeerSample {
				wantEv.PeerSample = append(wantEv.PeerSample, p.String())
			}
			for _, p := range l.PortSample {
				wantEv.PortSample = append(wantEv.PortSample, int64(p))
			}
			if d := gocmp.Diff(wantEv, rep.Alert.Evidence); d != "" {
				t.Errorf("%s: evidence (-want +got):\n%s", name, d)
			}
			var wantBl *Baseline
			if b := e.baseline; b != nil {
				wantBl = &Baseline{Windows: int64(b.Windows), RejectedMean: b.RejectedMean, RejectedStd: b.RejectedStd,
					BytesSentMean: b.BytesSentMean, BytesSentStd: b.BytesSentStd}
			}
			if d := gocmp.Diff(wantBl, rep.Alert.Baseline); d != "" {
				t.Errorf("%s: baseline (-want +got):\n%s", name, d)
			}
			if rep.Alert.Reason != e.episode.Latest.Reason || rep.Alert.TechniqueName != e.rule.TechniqueName() {
				t.Errorf("%s: reason %q, technique %q", name, rep.Alert.Reason, rep.Alert.TechniqueName)
			}
		}
		// A signal's id, or no document's, is no alert.
		for _, id := range []string{fx["A"].signals[0].ID(), "nope"} {
			if status, body := get(t, ts.URL+"/api/alert?id="+url.QueryEscape(id)); status != http.StatusNotFound {
				t.Errorf("/api/alert?id=%s: %d %s, want 404", id, status, body)
			}
		}
		for _, r := range rec.sent {
			method, path, _ := cutSpace(r)
			if !AllowedRead(method, path) {
				t.Errorf("the console sent %s", r)
			}
		}
		t.Logf("%s: %d alerts in the corpus range, latest closed window %s; %s", c.name, 6, wl.Format(time.RFC3339), fx["A"].want(true))
	})
}

func with(v url.Values, k, val string) url.Values {
	v.Set(k, val)
	return v
}
