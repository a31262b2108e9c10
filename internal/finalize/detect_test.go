package finalize_test

import (
	"encoding/json"
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
	"github.com/kinflow/kinflow/internal/finalize"
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
		var cut []aggregate.Partial
		for _, fl := range flows {
			if _, err := acc.Add(fl); err != nil {
				e.t.Fatal(err)
			}
			if acc.Full() {
				e.t.Fatal("accumulator full: raise its limits for the test")
			}
		}
		cut = acc.Cut("corpus", seq, seq)
		for i := range cut {
			src, err := cut[i].AppendJSON(nil)
			if err != nil {
				e.t.Fatal(err)
			}
			docs = append(docs, sink.Doc{Index: ix.ConnsPartial(time.Unix(cut[i].WindowStart, 0)), ID: cut[i].ID(), Op: sink.OpIndex, Source: src})
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
