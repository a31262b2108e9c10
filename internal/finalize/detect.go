package finalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/alerts"
	"github.com/kinflow/kinflow/internal/detect"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/webhook"
)

// DetectConfig shapes the detections the finalizer runs on each window it finalizes.
type DetectConfig struct {
	// Enabled runs the rules; off, windows are finalized without alerts.
	Enabled bool
	Rules   detect.Config
	// BaselineWindows is how many windows before a window its IPs' baselines cover (36: six hours of 10-minute
	// windows). Baselines are read from the final connection sets, so the conns retention must keep that long.
	BaselineWindows int
	// EpisodeGap: a rule firing again on an IP within EpisodeGap windows after its last signal continues that alert
	// instead of raising a new one (1: only the next window; 3: a slow scan may pause two windows).
	EpisodeGap int
}

// DefaultDetectConfig: detections on, detect's default rules, six hours of baseline, alerts that survive a pause
// of two windows.
func DefaultDetectConfig() DetectConfig {
	return DetectConfig{Enabled: true, Rules: detect.DefaultConfig(), BaselineWindows: 36, EpisodeGap: 3}
}

func (c DetectConfig) validate(bad func(string, ...any)) []error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if err := c.Rules.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.BaselineWindows < c.Rules.MinBaselineWindows || c.BaselineWindows > 10_000 {
		bad("Detect.BaselineWindows %d: want %d (the rules' MinBaselineWindows) to 10000", c.BaselineWindows, c.Rules.MinBaselineWindows)
	}
	if c.EpisodeGap < 1 || c.EpisodeGap > 1000 {
		bad("Detect.EpisodeGap %d: want 1 to 1000", c.EpisodeGap)
	}
	return errs
}

// errDetectionInput marks a document the rules read back that they cannot use (a signal that does not decode, an
// episode whose signals disagree, an address that does not parse): no retry mends it, so the window is finalized
// without its alerts rather than held back, with every later window, behind it.
var errDetectionInput = errors.New("finalize: a detection input that cannot be used")

// maxListed bounds the listed addresses one window's threat findings return (the clusters' default bucket limit is
// 65,536); a window with more raises alerts for the lowest maxListed addresses.
const maxListed = 10_000

// ipBatch bounds the values (IPs, alert ids) of one terms query.
const ipBatch = 1000

// detection collects one window revision's candidate sets while the window's finals are made, then evaluates the
// rules and reconciles the window's signals and their alerts with what is stored.
type detection struct {
	f      *Finalizer // its detector runs the rules
	window detect.Window
	rev    int64
	// kept are the sets some rule could fire on, with samples of their own (the finals they came from are gone
	// by the time the rules run). About 0.7 KiB each; a window has a few.
	kept []detect.Set
	// baselineIPs counts the IPs whose history was read.
	baselineIPs int
	// dropped counts the candidates beyond maxCandidates.
	dropped int
}

// maxCandidates bounds the sets a window keeps for the rules: about 0.7 KiB each, 70 MiB at most.
const maxCandidates = 100_000

func (f *Finalizer) newDetection(start, end, rev int64) *detection {
	if f.detector == nil {
		return nil
	}
	return &detection{f: f, window: detect.Window{Start: start, End: end}, rev: rev}
}

// add looks at one final of the window.
func (dt *detection) add(fin *aggregate.Final) {
	s := detect.SetOf(&fin.ConnSet, dt.f.cfg.Detect.Rules.SampleSize)
	if !dt.f.detector.Candidate(&s) {
		return
	}
	if len(dt.kept) == maxCandidates {
		// A window of more candidates than that is an attack from everywhere at once; the rules judge the first
		// maxCandidates IPs in address order (the same ones on a redo) and the rest are counted, not kept.
		dt.dropped++
		return
	}
	s.PeerSample, s.PortSample = slices.Clone(s.PeerSample), slices.Clone(s.PortSample)
	dt.kept = append(dt.kept, s)
}

// finish evaluates the rules over the kept sets and writes the window's signals and their alerts; it reports what
// the window's revision changed. Every write has a deterministic id and content, so a redo after a crash at any
// point writes the same documents and the webhook the same key and body.
func (dt *detection) finish(ctx context.Context) ([]alerts.Signal, error) {
	f := dt.f
	if err := f.refresh(ctx, f.alertsPattern()); err != nil {
		return nil, err
	}
	baselines, err := dt.baselines(ctx)
	if err != nil {
		return nil, err
	}
	raised := dt.f.detector.Evaluate(dt.window, dt.kept, baselines)
	findings, err := dt.threatFindings(ctx)
	if err != nil {
		return nil, err
	}
	for _, fi := range findings {
		raised = append(raised, dt.f.detector.ThreatAlert(dt.window, fi))
	}
	stored, err := dt.storedSignals(ctx)
	if err != nil {
		return nil, err
	}
	episodes, err := dt.episodes(ctx, raised, stored)
	if err != nil {
		return nil, err
	}
	// The window's signals: what fires now, and what an earlier revision raised that no longer fires.
	var signals []alerts.Signal
	firing := make(map[string]bool, len(raised))
	for _, a := range raised {
		ep := episodes[a.ID()]
		signals = append(signals, alerts.Signal{Alert: a, Status: alerts.Active, Revision: dt.rev, Episode: ep.id, EpisodeStart: ep.start})
		firing[a.ID()] = true
	}
	for _, s := range stored {
		switch {
		case firing[s.ID()]:
		case s.Status == alerts.Active:
			s.Status, s.Revision = alerts.Withdrawn, dt.rev
			signals = append(signals, s)
		case s.Revision == dt.rev:
			// Withdrawn by this revision before a crash: the redo reports it again.
			signals = append(signals, s)
		}
	}
	if len(signals) == 0 {
		return nil, nil
	}
	if err := dt.write(ctx, signals); err != nil {
		return nil, err
	}
	return signals, nil
}

// write stores the signals, then the alerts they belong to, summarised anew from all their signals.
func (dt *detection) write(ctx context.Context, signals []alerts.Signal) error {
	f := dt.f
	docs := make([]sink.Doc, 0, len(signals))
	index := f.indices.Alerts(time.Unix(dt.window.Start, 0))
	affected := map[string]int64{}
	for i := range signals {
		src, err := alerts.SignalJSON(&signals[i])
		if err != nil {
			return err
		}
		docs = append(docs, sink.Doc{Index: index, ID: signals[i].ID(), Op: sink.OpIndex, Source: src})
		affected[signals[i].Episode] = signals[i].EpisodeStart
	}
	if err := f.parts.Sink.Write(ctx, docs); err != nil {
		return fmt.Errorf("writing %d signals: %w", len(docs), err)
	}
	if err := f.reached(stepSignalsWritten, dt.window.Start, 0); err != nil {
		return err
	}
	if err := f.refresh(ctx, f.alertsPattern()); err != nil {
		return err
	}
	// Every affected alert's signals, in a request per ipBatch alerts rather than one per alert.
	ids := slices.Sorted(maps.Keys(affected))
	of := make(map[string][]alerts.Signal, len(ids))
	for chunk := range slices.Chunk(ids, ipBatch) {
		err := f.searchAll(ctx, f.alertsPattern(), map[string]any{"bool": map[string]any{"filter": []any{
			term("event.kind", alerts.KindSignal), map[string]any{"terms": map[string]any{"alert.episode": chunk}}}}},
			[]any{map[string]any{"alert.episode": "asc"}, map[string]any{"window.start": "asc"}}, func(_ string, src json.RawMessage) error {
				s, err := alerts.DecodeSignal(src)
				of[s.Episode] = append(of[s.Episode], s)
				return inputErr(err)
			})
		if err != nil {
			return err
		}
	}
	docs = docs[:0]
	for _, id := range ids {
		ep, err := alerts.Summarize(of[id])
		if err != nil {
			return fmt.Errorf("alert %s: %w", id, inputErr(err))
		}
		src, err := alerts.EpisodeJSON(&ep)
		if err != nil {
			return err
		}
		docs = append(docs, sink.Doc{Index: f.indices.Alerts(time.Unix(affected[id], 0)), ID: id, Op: sink.OpIndex, Source: src})
	}
	if err := f.parts.Sink.Write(ctx, docs); err != nil {
		return fmt.Errorf("writing %d alerts: %w", len(docs), err)
	}
	return nil
}

// storedSignals reads the signals an earlier revision (or a crashed pass) wrote for the window.
func (dt *detection) storedSignals(ctx context.Context) ([]alerts.Signal, error) {
	var out []alerts.Signal
	err := dt.f.searchAll(ctx, dt.f.alertsPattern(), map[string]any{"bool": map[string]any{"filter": []any{
		term("event.kind", alerts.KindSignal), dateRange("window.start", dt.window.Start, dt.window.Start)}}},
		[]any{map[string]any{"source.ip": "asc"}, map[string]any{"rule.name": "asc"}}, func(_ string, src json.RawMessage) error {
			s, err := alerts.DecodeSignal(src)
			out = append(out, s)
			return inputErr(err)
		})
	return out, err
}

type episodeRef struct {
	id    string
	start int64
}

// episodes finds the alert each raised signal belongs to: its own earlier version's (a redo or a correction), else
// the latest active signal of its rule and IP within EpisodeGap windows before, else a new one begun here.
func (dt *detection) episodes(ctx context.Context, raised []detect.Alert, stored []alerts.Signal) (map[string]episodeRef, error) {
	f := dt.f
	out := make(map[string]episodeRef, len(raised))
	byID := make(map[string]alerts.Signal, len(stored))
	for _, s := range stored {
		byID[s.ID()] = s
	}
	type ruleIP struct {
		r  detect.Rule
		ip netip.Addr
	}
	var lookup []netip.Addr
	pending := map[ruleIP]string{}
	for _, a := range raised {
		if s, ok := byID[a.ID()]; ok {
			out[a.ID()] = episodeRef{s.Episode, s.EpisodeStart}
			continue
		}
		pending[ruleIP{a.Rule, a.IP}] = a.ID()
		out[a.ID()] = episodeRef{detect.EpisodeID(a.Rule, a.IP, dt.window.Start), dt.window.Start}
		lookup = append(lookup, a.IP)
	}
	if len(lookup) == 0 {
		return out, nil
	}
	width := dt.window.End - dt.window.Start
	from := dt.window.Start - int64(f.cfg.Detect.EpisodeGap)*width
	slices.SortFunc(lookup, netip.Addr.Compare)
	lookup = slices.Compact(lookup)
	latest := map[ruleIP]alerts.Signal{}
	for chunk := range slices.Chunk(lookup, ipBatch) {
		err := f.eachActiveSignal(ctx, ipStrings(chunk), from, dt.window.Start-1, func(s alerts.Signal) {
			k := ruleIP{s.Rule, s.IP}
			if _, ok := pending[k]; ok && s.Window.Start >= latest[k].Window.Start {
				latest[k] = s
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for k, s := range latest {
		out[pending[k]] = episodeRef{s.Episode, s.EpisodeStart}
	}
	return out, nil
}

// baselines reads the history of the kept sets that need one from the final connection sets of the previous
// BaselineWindows windows, leaving out each IP's windows in which it raised a signal: an incident must not become
// the norm its next window is judged by. Nothing is stored for it beyond the finals themselves.
func (dt *detection) baselines(ctx context.Context) (map[netip.Addr]detect.Baseline, error) {
	f := dt.f
	var need []netip.Addr
	for i := range dt.kept {
		if dt.f.detector.NeedsBaseline(&dt.kept[i]) {
			need = append(need, dt.kept[i].IP)
		}
	}
	if len(need) == 0 {
		return nil, nil
	}
	width := dt.window.End - dt.window.Start
	from := dt.window.Start - int64(f.cfg.Detect.BaselineWindows)*width
	if err := f.refresh(ctx, f.indices.Prefix+"-conns-*"); err != nil {
		return nil, err
	}
	// The history begins where the finals do: a deployment an hour old has six windows of history, not 36 windows
	// of which 30 were silent.
	first, ok, err := f.firstFinal(ctx, from, dt.window.Start)
	if err != nil || !ok {
		return nil, err
	}
	from = max(from, first)
	slices.SortFunc(need, netip.Addr.Compare)
	need = slices.Compact(need)
	dt.baselineIPs = len(need)
	history := map[netip.Addr]map[int64]detect.Set{}
	alerted := map[netip.Addr]map[int64]bool{}
	for chunk := range slices.Chunk(need, ipBatch) {
		ips := ipStrings(chunk)
		err := f.searchAll(ctx, f.indices.Prefix+"-conns-*", map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"exists": map[string]any{"field": "revision"}},
			map[string]any{"terms": map[string]any{"ip": ips}},
			dateRange("window.start", from, dt.window.Start-1)}}},
			[]any{map[string]any{"ip": "asc"}, map[string]any{"window.start": "asc"}},
			func(_ string, src json.RawMessage) error {
				var h struct {
					IP     netip.Addr `json:"ip"`
					Window struct {
						Start time.Time `json:"start"`
					} `json:"window"`
					Flows struct {
						Rejected uint64 `json:"rejected"`
					} `json:"flows"`
					Bytes struct {
						Sent uint64 `json:"sent"`
					} `json:"bytes"`
				}
				if err := json.Unmarshal(src, &h); err != nil {
					return fmt.Errorf("a final connection set: %w", inputErr(err))
				}
				ip := h.IP.Unmap()
				if history[ip] == nil {
					history[ip] = map[int64]detect.Set{}
				}
				history[ip][h.Window.Start.Unix()] = detect.Set{IP: ip, Rejected: h.Flows.Rejected, BytesSent: h.Bytes.Sent}
				return nil
			}, "ip", "window.start", "flows.rejected", "bytes.sent")
		if err != nil {
			return nil, err
		}
		err = f.eachActiveSignal(ctx, ips, from, dt.window.Start-1, func(s alerts.Signal) {
			if alerted[s.IP] == nil {
				alerted[s.IP] = map[int64]bool{}
			}
			alerted[s.IP][s.Window.Start] = true
		})
		if err != nil {
			return nil, err
		}
	}
	out := make(map[netip.Addr]detect.Baseline, len(need))
	span := int((dt.window.Start - from) / width)
	for _, ip := range need {
		// In window order: the sums are of floats, and a redo must compute the same baseline to the last bit (the
		// alerts' documents and webhook body carry it).
		var sets []detect.Set
		for _, start := range slices.Sorted(maps.Keys(history[ip])) {
			if !alerted[ip][start] {
				sets = append(sets, history[ip][start])
			}
		}
		if b := detect.BaselineOf(sets, span-len(alerted[ip])); b.Windows > 0 {
			out[ip] = b
		}
	}
	return out, nil
}

// threatFindings reads, from the window's flow documents, the addresses a threat list holds (the enrichment marks
// them at ingest, threat.enrichments.matched.atomic): each with its lists, flows, bytes and peers. None without
// enrichment; one aggregation request a window either way.
func (dt *detection) threatFindings(ctx context.Context) ([]detect.ThreatFinding, error) {
	f := dt.f
	// A window lies within one day (windows divide days), so within one daily index: only it is refreshed, not
	// every day's.
	pattern := f.indices.Flows(time.Unix(dt.window.Start, 0))
	if err := f.refresh(ctx, pattern); err != nil {
		return nil, err
	}
	sample := max(dt.f.cfg.Detect.Rules.SampleSize, 1) + 1 // the listed address is among its flows' related IPs
	body, _ := json.Marshal(map[string]any{
		"size": 0, "track_total_hits": false,
		"query": map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"range": map[string]any{"@timestamp": map[string]any{"gte": dt.window.Start, "lt": dt.window.End, "format": "epoch_second"}}},
			map[string]any{"exists": map[string]any{"field": "threat.enrichments.matched.atomic"}}}}},
		"aggs": map[string]any{"listed": map[string]any{
			"terms": map[string]any{"field": "threat.enrichments.matched.atomic", "size": maxListed, "order": map[string]any{"_key": "asc"}},
			"aggs": map[string]any{
				"lists":  map[string]any{"terms": map[string]any{"field": "threat.enrichments.indicator.provider", "size": 10, "order": map[string]any{"_key": "asc"}}},
				"bytes":  map[string]any{"sum": map[string]any{"field": "network.bytes"}},
				"peers":  map[string]any{"cardinality": map[string]any{"field": "related.ip"}},
				"sample": map[string]any{"terms": map[string]any{"field": "related.ip", "size": sample, "order": map[string]any{"_key": "asc"}}},
			},
		}},
	})
	type bucket struct {
		Key      string `json:"key"`
		DocCount uint64 `json:"doc_count"`
	}
	var res struct {
		Aggregations struct {
			Listed struct {
				Buckets []struct {
					bucket
					Lists struct {
						Buckets []bucket `json:"buckets"`
					} `json:"lists"`
					Bytes struct {
						Value float64 `json:"value"`
					} `json:"bytes"`
					Peers struct {
						Value uint64 `json:"value"`
					} `json:"peers"`
					Sample struct {
						Buckets []bucket `json:"buckets"`
					} `json:"sample"`
				} `json:"buckets"`
			} `json:"listed"`
		} `json:"aggregations"`
	}
	if err := f.do(ctx, "POST", "/"+pattern+"/_search?ignore_unavailable=true&allow_no_indices=true", body, &res); err != nil {
		return nil, err
	}
	var out []detect.ThreatFinding
	for _, b := range res.Aggregations.Listed.Buckets {
		ip, err := netip.ParseAddr(b.Key)
		if err != nil {
			return nil, fmt.Errorf("a listed address %q: %w", b.Key, inputErr(err))
		}
		fi := detect.ThreatFinding{IP: ip.Unmap(), Flows: b.DocCount, Bytes: uint64(b.Bytes.Value), Peers: max(b.Peers.Value, 1) - 1}
		for _, l := range b.Lists.Buckets {
			fi.Lists = append(fi.Lists, l.Key)
		}
		for _, p := range b.Sample.Buckets {
			if a, err := netip.ParseAddr(p.Key); err == nil && a.Unmap() != fi.IP {
				fi.PeerSample = append(fi.PeerSample, a.Unmap())
			}
		}
		out = append(out, fi)
	}
	return out, nil
}

// firstFinal is the earliest window in [from, to) that has final connection sets, or false when none has.
func (f *Finalizer) firstFinal(ctx context.Context, from, to int64) (int64, bool, error) {
	body, _ := json.Marshal(map[string]any{
		"size": 0, "track_total_hits": false,
		"query": map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"exists": map[string]any{"field": "revision"}}, dateRange("window.start", from, to-1)}}},
		"aggs": map[string]any{"first": map[string]any{"min": map[string]any{"field": "window.start"}}},
	})
	var res struct {
		Aggregations struct {
			First struct {
				Value *float64 `json:"value"`
			} `json:"first"`
		} `json:"aggregations"`
	}
	if err := f.do(ctx, "POST", "/"+f.indices.Prefix+"-conns-*/_search?ignore_unavailable=true&allow_no_indices=true", body, &res); err != nil {
		return 0, false, err
	}
	if res.Aggregations.First.Value == nil {
		return 0, false, nil
	}
	return int64(*res.Aggregations.First.Value) / 1000, true, nil
}

// sendAlerts posts a window revision's signals to the alerts webhook; a delivery that fails for good is
// dead-lettered like a chunk of connection sets.
func (f *Finalizer) sendAlerts(ctx context.Context, w detect.Window, rev int64, signals []alerts.Signal) (bool, error) {
	body, err := alerts.WebhookBody(w, rev, signals)
	if err != nil {
		return false, err
	}
	msg := &webhook.Message{WindowStart: w.Start, Revision: rev, Key: alerts.WebhookKey(w.Start, rev), Body: body}
	return f.send(ctx, f.parts.Alerts, msg)
}

func (f *Finalizer) alertsPattern() string { return f.indices.Prefix + "-alerts-*" }

// eachActiveSignal calls fn with every active signal raised on one of ips in a window starting from from to to
// (Unix seconds). The episodes of a window's alerts and its baselines both read them.
func (f *Finalizer) eachActiveSignal(ctx context.Context, ips []string, from, to int64, fn func(alerts.Signal)) error {
	return f.searchAll(ctx, f.alertsPattern(), map[string]any{"bool": map[string]any{"filter": []any{
		term("event.kind", alerts.KindSignal), term("alert.status", string(alerts.Active)),
		map[string]any{"terms": map[string]any{"source.ip": ips}},
		dateRange("window.start", from, to)}}},
		[]any{map[string]any{"window.start": "asc"}, map[string]any{"source.ip": "asc"}, map[string]any{"rule.name": "asc"}},
		func(_ string, src json.RawMessage) error {
			s, err := alerts.DecodeSignal(src)
			if err != nil {
				return inputErr(err)
			}
			fn(s)
			return nil
		})
}

// refresh makes what was written to the indices of pattern visible to searches.
func (f *Finalizer) refresh(ctx context.Context, pattern string) error {
	return f.do(ctx, "POST", "/"+pattern+"/_refresh?ignore_unavailable=true&allow_no_indices=true", nil, nil)
}

// searchAll calls fn with the id and _source of every document of pattern that query matches, in sort order (which
// must be a unique key of the documents, for search_after), one page at a time. source, when given, limits
// _source. An error of fn stops the search, named by the document.
func (f *Finalizer) searchAll(ctx context.Context, pattern string, query map[string]any, sort []any,
	fn func(id string, src json.RawMessage) error, source ...string) error {
	req := map[string]any{"query": query, "sort": sort}
	if len(source) > 0 {
		req["_source"] = source
	}
	return f.eachHit(ctx, pattern, req, func(h searchHit) error { return fn(h.ID, h.Source) })
}

// searchHit is one document a search answers with.
type searchHit struct {
	ID     string            `json:"_id"`
	Source json.RawMessage   `json:"_source"`
	Fields json.RawMessage   `json:"fields"` // docvalue_fields
	Sort   []json.RawMessage `json:"sort"`
}

// eachHit runs the search req (query, sort, what to return; eachHit sets size and search_after) on pattern page by
// page and calls fn with every hit in sort order, which must be a unique key of the documents. An error of fn stops
// the search, named by the document.
func (f *Finalizer) eachHit(ctx context.Context, pattern string, req map[string]any, fn func(searchHit) error) error {
	req = maps.Clone(req)
	req["size"], req["track_total_hits"] = f.cfg.PageSize, false
	for {
		body, _ := json.Marshal(req)
		var res struct {
			Hits struct {
				Hits []searchHit `json:"hits"`
			} `json:"hits"`
		}
		if err := f.do(ctx, "POST", "/"+pattern+"/_search?ignore_unavailable=true&allow_no_indices=true", body, &res); err != nil {
			return err
		}
		for _, h := range res.Hits.Hits {
			if err := fn(h); err != nil {
				return fmt.Errorf("finalize: %s document %s: %w", pattern, h.ID, err)
			}
		}
		if len(res.Hits.Hits) < f.cfg.PageSize {
			return nil
		}
		req["search_after"] = res.Hits.Hits[len(res.Hits.Hits)-1].Sort
	}
}

// inputErr marks err as errDetectionInput; nil stays nil.
func inputErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", errDetectionInput, err)
}

func term(field, value string) map[string]any {
	return map[string]any{"term": map[string]any{field: value}}
}

// dateRange matches a date field from from to to, both included, in Unix seconds.
func dateRange(field string, from, to int64) map[string]any {
	return map[string]any{"range": map[string]any{field: map[string]any{"gte": from, "lte": to, "format": "epoch_second"}}}
}

func ipStrings(ips []netip.Addr) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
