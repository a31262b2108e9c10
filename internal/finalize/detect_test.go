package finalize_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/alerts"
	"github.com/kinflow/kinflow/internal/detect"
	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/testing/attackgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
	"github.com/kinflow/kinflow/internal/webhook"
)

// lateness is the finalizer's default allowed lateness, in seconds.
const lateness = 900

// writePartials aggregates each window's flows on one accumulator cut once per window (shard "corpus", the
// window's index as its sequence number) and writes the partials to the partial index, as the pipeline would.
func (e *env) writePartials(windows [][]aggregate.Flow, firstSeq int) {
	e.t.Helper()
	ctx := testenv.Context(e.t, 5*time.Minute)
	acc, err := aggregate.NewAccumulator(aggregate.DefaultConfig())
	if err != nil {
		e.t.Fatal(err)
	}
	ix := sink.Indices{Prefix: e.prefix}
	var docs []sink.Doc
	for w, flows := range windows {
		seq := fmt.Sprint(firstSeq + w)
		for _, fl := range flows {
			if _, err := acc.Add(fl); err != nil {
				e.t.Fatal(err)
			}
			if acc.Full() {
				e.t.Fatal("accumulator full: raise its limits for the test")
			}
		}
		for _, b := range aggregate.Blocks(acc.Cut("corpus", seq, seq), aggregate.BlockBytes) {
			docs = append(docs, sink.Doc{Index: ix.ConnsPartial(time.Unix(b.WindowStart, 0)), ID: b.ID(), Op: sink.OpIndex, Source: b.AppendJSON(nil)})
		}
	}
	for len(docs) > 0 {
		n := min(len(docs), 5000)
		if err := e.sink.Write(ctx, docs[:n]); err != nil {
			e.t.Fatal(err)
		}
		docs = docs[n:]
	}
}

// closeThrough reports progress that closes the window starting at start (and every one before), with the
// finalizer's clock at that moment: the watermark is the window's end plus the allowed lateness.
func (e *env) closeThrough(start int64) time.Time {
	e.t.Helper()
	at := time.Unix(start+width+lateness, 0)
	p := state.Progress{ShardID: "corpus", Watermark: at.Unix(), CaughtUp: true, LastDataAt: at, UpdatedAt: at}
	if err := e.store.PutProgress(testenv.Context(e.t, time.Minute), p); err != nil {
		e.t.Fatal(err)
	}
	return at
}

// storedSignals reads every signal of the alerts index back.
func (e *env) storedSignals() []alerts.Signal {
	e.t.Helper()
	var out []alerts.Signal
	for _, src := range testenv.Sources(e.t, e.esURL, e.prefix+"-alerts-*") {
		if !strings.Contains(string(src), `"kind":"signal"`) {
			continue
		}
		s, err := alerts.DecodeSignal(src)
		if err != nil {
			e.t.Fatalf("%v: %s", err, src)
		}
		out = append(out, s)
	}
	return out
}

// episodeDoc is what the tests read of an alert document.
type episodeDoc struct {
	Event struct {
		Kind     string `json:"kind"`
		Severity int    `json:"severity"`
	} `json:"event"`
	Rule struct {
		Name string `json:"name"`
	} `json:"rule"`
	Source struct {
		IP string `json:"ip"`
	} `json:"source"`
	Window struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	} `json:"window"`
	Alert struct {
		Status    string  `json:"status"`
		Episode   string  `json:"episode"`
		Windows   int     `json:"windows"`
		Revision  int64   `json:"revision"`
		Score     float64 `json:"score"`
		Continued bool    `json:"continued"`
	} `json:"alert"`
}

func (e *env) storedEpisodes() map[string]episodeDoc {
	e.t.Helper()
	out := map[string]episodeDoc{}
	for _, src := range testenv.Sources(e.t, e.esURL, e.prefix+"-alerts-*") {
		var d episodeDoc
		if err := json.Unmarshal(src, &d); err != nil {
			e.t.Fatal(err)
		}
		if d.Event.Kind != alerts.KindAlert {
			continue
		}
		if _, dup := out[d.Alert.Episode]; dup {
			e.t.Errorf("two alert documents for episode %s", d.Alert.Episode)
		}
		out[d.Alert.Episode] = d
	}
	return out
}

type refEpisode struct {
	id          string
	first, last int64
	windows     int
	rule        detect.Rule
	ip          netip.Addr
}

// referenceEpisodes groups active signals into episodes the plain way: per rule and IP, in window order, a new
// episode whenever the previous signal is more than gap windows back.
func referenceEpisodes(signals []alerts.Signal, gap int) map[string]refEpisode {
	type ruleIP struct {
		r  detect.Rule
		ip netip.Addr
	}
	groups := map[ruleIP][]int64{}
	for _, s := range signals {
		if s.Status == alerts.Active {
			k := ruleIP{s.Rule, s.IP}
			groups[k] = append(groups[k], s.Window.Start)
		}
	}
	out := map[string]refEpisode{}
	for k, starts := range groups {
		slices.Sort(starts)
		var cur *refEpisode
		for _, s := range starts {
			if cur == nil || s-cur.last > int64(gap)*width {
				if cur != nil {
					out[cur.id] = *cur
				}
				cur = &refEpisode{id: detect.EpisodeID(k.r, k.ip, s), first: s, rule: k.r, ip: k.ip}
			}
			cur.last = s
			cur.windows++
		}
		out[cur.id] = *cur
	}
	return out
}

// TestDetectionsOnCorpus runs attackgen's labelled corpus (six hours of background with heavy talkers, and the
// injected attacks) through the partial index and the finalizer, a pass per window closed as the watermark moves,
// with the operator's allow-list (the vulnerability scanner). It checks, from the alerts index: the latency (every
// signal of a window exists after the pass that closed it), precision and recall of every rule against the labels
// (0.95 or more), the alerts (episodes) against a plain grouping of the signals, and the alerts webhook (one post
// per window with signals, listing exactly them).
func TestDetectionsOnCorpus(t *testing.T) {
	e := newEnv(t)
	// 06:00 UTC three days ago: the corpus's diurnal volume follows the hour of the day, so the hour is fixed; the
	// day follows the clock, so that no index is older than a retention.
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-72*time.Hour + 6*time.Hour)
	corpus, err := attackgen.Generate(attackgen.Config{Seed: 1, Start: start, Windows: attackgen.MinWindows})
	if err != nil {
		t.Fatal(err)
	}
	windows := make([][]aggregate.Flow, len(corpus.Windows))
	for i, w := range corpus.Windows {
		windows[i] = w.Flows
	}
	e.writePartials(windows, 1)
	gap := finalize.DefaultDetectConfig().EpisodeGap
	e.editCfg = func(c *finalize.Config) {
		c.PageSize = 500
		r := &c.Detect.Rules
		r.Horizontal.Allow, r.Vertical.Allow, r.RejectStorm.Allow, r.Egress.Allow = corpus.Allowed, corpus.Allowed, corpus.Allowed, corpus.Allowed
	}
	hook := e.webhook(webhook.FormatCompat, func(c *webhook.Config) { c.URL = e.receiver.srv.URL + "/alerts/{bucket_time}" })
	want := map[string]attackgen.Label{}
	for _, l := range corpus.Labels {
		want[fmt.Sprint(l.Rule, " ", l.IP, " ", l.Window)] = l
	}
	maxCandidates, maxBaselines, sets := 0, 0, 0
	for i, w := range corpus.Windows {
		now := e.closeThrough(w.Start)
		f := e.finalizerWith(now, finalize.Parts{Alerts: hook}, nil)
		rep, err := f.RunOnce(testenv.Context(t, 5*time.Minute))
		if err != nil {
			t.Fatalf("window %d: %v", i, err)
		}
		if rep.Finalized != 1 {
			t.Fatalf("window %d: the pass finalized %d windows, want 1 (%+v)", i, rep.Finalized, rep)
		}
		maxCandidates, maxBaselines, sets = max(maxCandidates, rep.Candidates), max(maxBaselines, rep.Baselines), sets+rep.Finals
		// Latency: the labels of the window just closed are signals now, not a pass later.
		got := map[string]bool{}
		for _, s := range e.storedSignals() {
			if s.Window.Start == w.Start && s.Status == alerts.Active {
				got[fmt.Sprint(s.Rule, " ", s.IP, " ", s.Window.Start)] = true
			}
		}
		for k, l := range want {
			if l.Window == w.Start && !got[k] {
				t.Errorf("window %d: no signal for %s (%s) after the pass that closed it", i, k, l.Attack)
			}
		}
	}

	t.Logf("%d connection sets in %d windows; at most %d kept for the rules and %d baselines read in one window",
		sets, len(corpus.Windows), maxCandidates, maxBaselines)
	signals := e.storedSignals()
	type score struct{ tp, fp, fn int }
	scores := map[string]*score{}
	for _, r := range detect.Rules {
		scores[r.String()] = &score{}
	}
	seen := map[string]bool{}
	for _, s := range signals {
		if s.Status != alerts.Active {
			t.Errorf("signal %s withdrawn: nothing corrected the corpus", s.ID())
			continue
		}
		k := fmt.Sprint(s.Rule, " ", s.IP, " ", s.Window.Start)
		seen[k] = true
		if _, ok := want[k]; ok {
			scores[s.Rule.String()].tp++
		} else {
			scores[s.Rule.String()].fp++
			t.Logf("false positive: %s: %s", k, s.Reason)
		}
	}
	for k, l := range want {
		if !seen[k] {
			scores[l.Rule].fn++
			t.Logf("missed: %s (%s)", k, l.Attack)
		}
	}
	for _, r := range detect.Rules {
		s := scores[r.String()]
		precision, recall := float64(s.tp)/float64(max(1, s.tp+s.fp)), float64(s.tp)/float64(max(1, s.tp+s.fn))
		t.Logf("%-16s labels %3d  signals %3d  precision %.3f recall %.3f", r, s.tp+s.fn, s.tp+s.fp, precision, recall)
		if s.tp+s.fn == 0 || precision < 0.95 || recall < 0.95 {
			t.Errorf("%s: %d labels, precision %.3f, recall %.3f: want labels, and both at least 0.95", r, s.tp+s.fn, precision, recall)
		}
	}

	// Alerts: one per episode of the plain grouping, with its windows.
	ref := referenceEpisodes(signals, gap)
	got := e.storedEpisodes()
	for id, r := range ref {
		d, ok := got[id]
		switch {
		case !ok:
			t.Errorf("no alert for %v on %v from window %d", r.rule, r.ip, r.first)
		case d.Alert.Windows != r.windows || d.Window.Start.Unix() != r.first || d.Window.End.Unix() != r.last+width ||
			d.Rule.Name != r.rule.String() || d.Source.IP != r.ip.String() || d.Alert.Status != "active" || d.Alert.Continued != (r.windows > 1):
			t.Errorf("alert %s: %+v; want %+v", id, d, r)
		}
	}
	if len(got) != len(ref) {
		t.Errorf("%d alerts, want %d", len(got), len(ref))
	}
	multi := 0
	for _, r := range ref {
		if r.windows > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Error("no alert spans windows: the corpus does not test continuation")
	}
	t.Logf("%d signals, %d alerts (%d over several windows)", len(signals), len(ref), multi)

	// The alerts webhook: a post per window that has signals, listing exactly them.
	perWindow := map[int64]int{}
	for _, s := range signals {
		perWindow[s.Window.Start]++
	}
	posts := map[int64]int{}
	for _, p := range e.receiver.all() {
		var body struct {
			Window struct{ Start int64 }
			Alerts []struct {
				Change string `json:"change"`
			}
		}
		if err := json.Unmarshal(p.body, &body); err != nil {
			t.Fatalf("alerts body %s: %v", p.body, err)
		}
		if p.key != alerts.WebhookKey(body.Window.Start, 1) || p.path != fmt.Sprint("/alerts/", body.Window.Start) {
			t.Errorf("post %s to %s for window %d", p.key, p.path, body.Window.Start)
		}
		if _, dup := posts[body.Window.Start]; dup {
			t.Errorf("window %d posted twice", body.Window.Start)
		}
		posts[body.Window.Start] = len(body.Alerts)
	}
	if !maps.Equal(posts, perWindow) {
		t.Errorf("alerts posted per window %v, want %v", posts, perWindow)
	}
}

// Addresses of the crash and correction test.
var (
	sweeper = netip.MustParseAddr("198.51.100.9")  // sweeps 150 hosts on port 22, rejected, in windows 1 and 2
	prober  = netip.MustParseAddr("198.51.100.20") // probes 150 ports of one host in window 2
	victim  = netip.MustParseAddr("10.0.4.4")
)

// scenario returns the flows of windows 0 to 3 from base: ordinary traffic in each, a horizontal scan in windows 1
// and 2 (one alert over two windows), a vertical scan in window 2.
func scenario(base int64) [][]aggregate.Flow {
	out := make([][]aggregate.Flow, 4)
	for w := range out {
		start := base + int64(w)*width
		for i := range 20 {
			out[w] = append(out[w], aggregate.Flow{Start: start + int64(i), End: start + int64(i) + 5,
				Src: netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), Dst: victim, SrcPort: 40000, DstPort: 443, Protocol: 6, Bytes: 1500, Packets: 3})
		}
		if w == 1 || w == 2 {
			for i := range 150 {
				out[w] = append(out[w], aggregate.Flow{Start: start + 30, End: start + 31, Src: sweeper,
					Dst: netip.AddrFrom4([4]byte{10, 0, 9, byte(i + 1)}), SrcPort: 50000, DstPort: 22, Protocol: 6, Bytes: 40, Packets: 1, Rejected: true})
			}
		}
		if w == 2 {
			for p := range 150 {
				out[w] = append(out[w], aggregate.Flow{Start: start + 60, End: start + 61, Src: prober, Dst: victim,
					SrcPort: 50001, DstPort: uint16(p + 1), Protocol: 6, Bytes: 44, Packets: 1})
			}
		}
	}
	return out
}

// alertDocs reads every document of the alerts index, by kind then a key: signals by rule, IP and window, alerts by
// rule, IP and first window.
func (e *env) alertDocs() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, src := range testenv.Sources(e.t, e.esURL, e.prefix+"-alerts-*") {
		var d episodeDoc
		if err := json.Unmarshal(src, &d); err != nil {
			e.t.Fatal(err)
		}
		k := fmt.Sprint(d.Event.Kind, " ", d.Rule.Name, " ", d.Source.IP, " ", d.Window.Start.Unix())
		if _, dup := out[k]; dup {
			e.t.Errorf("two documents for %s", k)
		}
		out[k] = string(src)
	}
	return out
}

// TestDetectionsSurviveCrashesAndCorrections stops the finalizer at each step of a window with alerts (after its
// signals, after its alerts were posted, before it is recorded done); a new finalizer redoes the window and leaves
// exactly the documents and posts an uninterrupted run leaves. Then a late partial corrects the window so that one
// rule no longer fires: its signal and its alert are withdrawn, the other alert continues, under revision 2, posted
// once more; and a further pass, or the same partials written again, changes nothing.
func TestDetectionsSurviveCrashesAndCorrections(t *testing.T) {
	for _, cluster := range []testenv.Service{testenv.Elasticsearch, testenv.OpenSearch} {
		for _, at := range []finalize.Step{finalize.StepSignals, finalize.StepDelivered} {
			t.Run(fmt.Sprint(cluster.Name, " ", at), func(t *testing.T) {
				e := newEnvOn(t, cluster)
				base := flowStart.Unix()
				w1, w2 := base+width, base+2*width
				flows := scenario(base)
				e.writePartials(flows, 1)
				hook := e.webhook(webhook.FormatCompat, func(c *webhook.Config) { c.URL = e.receiver.srv.URL + "/alerts/{bucket_time}" })
				ctx := testenv.Context(t, 2*time.Minute)
				now := e.closeThrough(base + 3*width)
				crashes := 0
				errCrash := fmt.Errorf("crash")
				crash := func(s finalize.Step, start int64, _ int) error {
					if s == at && start == w2 && crashes == 0 {
						crashes++
						return errCrash
					}
					return nil
				}
				if _, err := e.finalizerWith(now, finalize.Parts{Alerts: hook}, crash).RunOnce(ctx); !errors.Is(err, errCrash) {
					t.Fatalf("first pass: %v, want the crash", err)
				}
				rep, err := e.finalizerWith(now, finalize.Parts{Alerts: hook}, nil).RunOnce(ctx)
				if err != nil {
					t.Fatal(err)
				}
				docs := e.alertDocs()
				horizontal, vertical := detect.HorizontalScan.String(), detect.VerticalScan.String()
				want := []string{
					fmt.Sprint("signal ", horizontal, " ", sweeper, " ", w1), fmt.Sprint("signal ", horizontal, " ", sweeper, " ", w2),
					fmt.Sprint("signal ", vertical, " ", prober, " ", w2),
					fmt.Sprint("alert ", horizontal, " ", sweeper, " ", w1), fmt.Sprint("alert ", vertical, " ", prober, " ", w2),
				}
				if got := slices.Sorted(maps.Keys(docs)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
					t.Fatalf("after the crash at %s and the redo (%+v): documents %v, want %v", at, rep, got, want)
				}
				ep := e.storedEpisodes()[detect.EpisodeID(detect.HorizontalScan, sweeper, w1)]
				if ep.Alert.Windows != 2 || !ep.Alert.Continued || ep.Window.End.Unix() != w2+width || ep.Alert.Status != "active" {
					t.Errorf("the sweep's alert: %+v, want two windows, continued, active", ep)
				}
				// Posts: one key per window with alerts; a key posted twice (before the crash and by the redo) has
				// the same body.
				bodies := map[string]string{}
				for _, p := range e.receiver.all() {
					if prev, ok := bodies[p.key]; ok && prev != string(p.body) {
						t.Errorf("%s posted with two bodies:\n%s\n%s", p.key, prev, p.body)
					}
					bodies[p.key] = string(p.body)
				}
				if got, want := slices.Sorted(maps.Keys(bodies)), []string{alerts.WebhookKey(w1, 1), alerts.WebhookKey(w2, 1)}; !slices.Equal(got, want) {
					t.Errorf("keys posted %v, want %v", got, want)
				}

				// The correction: the prober also reached 30 more hosts in window 2, too many peers for a port scan.
				var late []aggregate.Flow
				for i := range 30 {
					late = append(late, aggregate.Flow{Start: w2 + 90, End: w2 + 91, Src: prober,
						Dst: netip.AddrFrom4([4]byte{10, 0, 7, byte(i + 1)}), SrcPort: 50002, DstPort: 443, Protocol: 6, Bytes: 60, Packets: 1})
				}
				e.writePartials([][]aggregate.Flow{late}, 100)
				rep, err = e.finalizerWith(now, finalize.Parts{Alerts: hook}, nil).RunOnce(ctx)
				if err != nil || rep.Corrected != 1 {
					t.Fatalf("correction pass: %+v, %v; want one window corrected", rep, err)
				}
				var byKey = map[string]alerts.Signal{}
				for _, s := range e.storedSignals() {
					byKey[fmt.Sprint(s.Rule, " ", s.IP, " ", s.Window.Start)] = s
				}
				if s := byKey[fmt.Sprint(vertical, " ", prober, " ", w2)]; s.Status != alerts.Withdrawn || s.Revision != 2 {
					t.Errorf("the probe's signal: %s revision %d, want withdrawn by revision 2", s.Status, s.Revision)
				}
				if s := byKey[fmt.Sprint(horizontal, " ", sweeper, " ", w2)]; s.Status != alerts.Active || s.Revision != 2 || !s.Continued() {
					t.Errorf("the sweep's signal: %s revision %d continued %v, want active, revision 2, continued", s.Status, s.Revision, s.Continued())
				}
				eps := e.storedEpisodes()
				if ep := eps[detect.EpisodeID(detect.VerticalScan, prober, w2)]; ep.Alert.Status != "withdrawn" {
					t.Errorf("the probe's alert: %+v, want withdrawn", ep)
				}
				if ep := eps[detect.EpisodeID(detect.HorizontalScan, sweeper, w1)]; ep.Alert.Status != "active" || ep.Alert.Windows != 2 || ep.Alert.Revision != 2 {
					t.Errorf("the sweep's alert: %+v, want active over two windows, revision 2", ep)
				}
				var r2 struct {
					Alerts []struct {
						IP     string `json:"ip"`
						Change string `json:"change"`
					}
				}
				last := e.receiver.all()[len(e.receiver.all())-1]
				if err := json.Unmarshal(last.body, &r2); err != nil || last.key != alerts.WebhookKey(w2, 2) {
					t.Fatalf("last post %s: %s (%v), want the correction of window 2", last.key, last.body, err)
				}
				changes := map[string]string{}
				for _, a := range r2.Alerts {
					changes[a.IP] = a.Change
				}
				if want := map[string]string{sweeper.String(): "continued", prober.String(): "withdrawn"}; !maps.Equal(changes, want) {
					t.Errorf("the correction posted %v, want %v", changes, want)
				}

				// Nothing changes any more: another pass, or the same partials written again.
				before, posts := e.alertDocs(), len(e.receiver.all())
				e.writePartials(flows, 1)
				if rep, err := e.finalizerWith(now, finalize.Parts{Alerts: hook}, nil).RunOnce(ctx); err != nil || rep.Finalized+rep.Corrected != 0 {
					t.Fatalf("a pass over unchanged partials: %+v, %v", rep, err)
				}
				if after := e.alertDocs(); !maps.Equal(before, after) || len(e.receiver.all()) != posts {
					t.Errorf("a pass over unchanged partials changed the alerts or posted")
				}
			})
		}
	}
}

// TestThreatMatchAlerts: flows whose documents the enrichment marked (an address on a threat list) raise a
// threat_match alert for the listed address in their window, with its lists, flows and peers, in the same pass
// that finalizes the window; a window without marked flows raises none.
func TestThreatMatchAlerts(t *testing.T) {
	e := newEnv(t)
	base := flowStart.Unix()
	w1 := base + width
	e.writePartials(scenario(base), 1)
	listed := netip.MustParseAddr("81.2.69.142")
	parser, err := vpcflow.NewParser(vpcflow.DefaultFormat())
	if err != nil {
		t.Fatal(err)
	}
	var docs []sink.Doc
	var enc vpcflow.Encoder
	for i, dst := range []string{"10.0.1.1", "10.0.1.2", "10.0.1.2"} {
		var f vpcflow.Flow
		src := &vpcflow.Source{LogGroup: logGroup, LogStream: "eni-1-all", EventID: fmt.Sprint(i)}
		line := fmt.Sprintf("2 123456789012 eni-1 %s %s 51515 22 6 1 40 %d %d REJECT OK", listed, dst, w1+int64(10*i), w1+int64(10*i)+5)
		if err := parser.Parse(&f, src, line); err != nil {
			t.Fatal(err)
		}
		x := &enrich.Context{Source: enrich.End{Threat: enrich.Indicator{List: "scanners", Value: listed.String()}}}
		docs = append(docs, sink.Doc{Index: sink.Indices{Prefix: e.prefix}.Flows(time.Unix(w1, 0)), ID: fmt.Sprint("threat-", i),
			Op: sink.OpCreate, Source: enc.AppendDocumentWith(nil, &f, src, x)})
	}
	if err := e.sink.Write(testenv.Context(t, time.Minute), docs); err != nil {
		t.Fatal(err)
	}
	now := e.closeThrough(base + 3*width)
	if _, err := e.finalizerWith(now, finalize.Parts{}, nil).RunOnce(testenv.Context(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	var got []alerts.Signal
	for _, s := range e.storedSignals() {
		if s.Rule == detect.ThreatMatch {
			got = append(got, s)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d threat_match signals, want 1: %+v", len(got), got)
	}
	s := got[0]
	if s.IP != listed || s.Window.Start != w1 || s.Evidence.FlowsSent != 3 || s.Evidence.Peers != 2 ||
		len(s.Evidence.PeerSample) != 2 || s.Severity != detect.SeverityHigh || !strings.Contains(s.Reason, "scanners") {
		t.Errorf("the signal: %+v", s)
	}
	if ep, ok := e.storedEpisodes()[detect.EpisodeID(detect.ThreatMatch, listed, w1)]; !ok || ep.Alert.Status != "active" {
		t.Errorf("no active alert for the listed address: %+v", ep)
	}
}

// A signal document the rules cannot read back (written by hand, or by a later version) does not hold its window,
// or any later one, back: the windows are finalized, the one without its alerts.
func TestUnreadableSignalDoesNotStall(t *testing.T) {
	e := newEnv(t)
	base := flowStart.Unix()
	e.writePartials(scenario(base), 1)
	w2 := base + 2*width
	bogus := fmt.Sprintf(`{"event":{"kind":"signal"},"rule":{"name":"no_such_rule"},"source":{"ip":"10.9.9.9"},"window":{"start":%q,"end":%q}}`,
		time.Unix(w2, 0).UTC().Format(time.RFC3339), time.Unix(w2+width, 0).UTC().Format(time.RFC3339))
	if err := e.sink.Write(testenv.Context(t, time.Minute), []sink.Doc{{Index: sink.Indices{Prefix: e.prefix}.Alerts(time.Unix(w2, 0)),
		ID: "bogus", Op: sink.OpIndex, Source: []byte(bogus)}}); err != nil {
		t.Fatal(err)
	}
	now := e.closeThrough(base + 3*width)
	rep, err := e.finalizerWith(now, finalize.Parts{}, nil).RunOnce(testenv.Context(t, time.Minute))
	if err != nil || rep.Finalized != 4 {
		t.Fatalf("%+v, %v: want the four windows finalized", rep, err)
	}
}
