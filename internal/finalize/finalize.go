// Package finalize turns closed windows into final connection sets: it reads the shards' progress to compute the
// event-time watermark, finds the windows it closed, merges each window's partials from the index one IP at a time
// (bounded memory), writes the final rollups, delivers them to the webhook in chunks, and records the window as
// done, in that order. A crash at any step leaves the window to the next pass, which redoes it with the same
// document ids and the same idempotency keys. Windows that late partials change after they were finalized are
// finalized again as a correction, with the next revision.
//
// Exactly one finalizer should be active at a time (Run holds a DynamoDB lock; the Lambda handler does the same
// around RunOnce). Two at once would still write the same documents and keys, and the window records' conditional
// writes let only one of them move a window on.
package finalize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/alerts"
	"github.com/kinflow/kinflow/internal/detect"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/webhook"
)

// A Searcher sends a JSON request to the cluster; every sink.Client is one.
type Searcher = sink.Doer

// State is what the finalizer keeps in DynamoDB; *state.Store is it.
type State interface {
	Progress(ctx context.Context) ([]state.Progress, error)
	Windows(ctx context.Context, from, to int64) ([]state.Window, error)
	Claim(ctx context.Context, w state.Window) error
	Finish(ctx context.Context, start, revision int64, now time.Time) error
	Register(ctx context.Context, shardID string, now time.Time) error
	RenewRegistration(ctx context.Context, shardID string, now time.Time) error
}

// Leases lists the shards of the consumer's KCL lease table; *state.LeaseTable is one.
type Leases interface {
	Leases(ctx context.Context) ([]state.Lease, error)
}

var _ Leases = (*state.LeaseTable)(nil)

var _ State = (*state.Store)(nil)

// Parts are the finalizer's collaborators.
type Parts struct {
	Search  Searcher        // reads partials
	Sink    sink.Sink       // writes finals and dead letters
	State   State           // progress, window records
	Webhook *webhook.Client // nil: no webhook, finals are only written
	// Alerts receives each window revision's alerts (raised, continued, withdrawn); nil: they are only written.
	Alerts *webhook.Client
	// Leases, in consumer mode, is the KCL lease table: every shard in it holds the watermark back until it
	// reports, and one whose lease no live worker holds keeps holding it at its last progress. nil in Lambda mode.
	Leases Leases
	// Prune deletes the dead letters past their retention and reports how many (sink.PruneDeadLetters); nil: none.
	// A pass runs it at most once per pruneEvery: under the finalizer lock one process prunes, and never at a
	// start, where every Lambda container and consumer worker would race to do the same deletes.
	Prune func(ctx context.Context) (int, error)
}

// pruneEvery is how often the finalizer prunes dead letters: retention is counted in days, an hour late is nothing.
const pruneEvery = time.Hour

// step names a point in a window's finalization where the crash tests stop a pass (see Options.hook).
type step string

const (
	stepClaimed       step = "claimed"        // the revision is claimed, nothing written yet
	stepFinalsWritten step = "finals_written" // a chunk's finals are durable, the chunk not yet posted
	stepDelivered     step = "delivered"      // every chunk is posted, the window not yet recorded done
	// stepSignalsWritten: the window's signals are durable, the alerts they belong to not yet summarised.
	stepSignalsWritten step = "signals_written"
)

// Options are optional collaborators.
type Options struct {
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time // nil: time.Now

	// hook, when set, is called at each step; an error stops the pass there as a crash would. Only tests set it
	// (export_test.go): it is no knob for a deployment.
	hook func(s step, windowStart int64, chunk int) error
}

// A Finalizer runs passes over the windows. It is not safe for concurrent use.
type Finalizer struct {
	cfg     Config
	parts   Parts
	search  Searcher
	indices sink.Indices
	log     *slog.Logger
	now     func() time.Time
	hook    func(step, int64, int) error
	metrics *metrics
	pruned  time.Time // when the last prune ran; zero: never
	// detector runs the rules on each window finalized; nil when detections are off.
	detector *detect.Detector
}

// New returns a finalizer, or every problem of cfg and parts.
func New(cfg Config, parts Parts, opts Options) (*Finalizer, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if parts.Search == nil || parts.Sink == nil || parts.State == nil {
		errs = append(errs, errors.New("finalize: Search, Sink and State are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	f := &Finalizer{cfg: cfg, parts: parts, search: parts.Search, indices: sink.Indices{Prefix: cfg.Prefix},
		log: opts.Logger, now: opts.Now, hook: opts.hook, metrics: m}
	if f.log == nil {
		f.log = slog.Default()
	}
	if cfg.Detect.Enabled {
		// Validate accepted the rules, so New does too.
		if f.detector, err = detect.New(cfg.Detect.Rules); err != nil {
			return nil, err
		}
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f, nil
}

// Report says what one pass did.
type Report struct {
	Watermark    int64 // Unix seconds; 0 when no shard has reported progress
	Windows      int   // windows with partials within the horizon
	Open         int   // of those, not closed yet
	Forced       int   // windows closed only because shards made no progress for MaxDelay
	Finalized    int   // windows finalized for the first time
	Corrected    int   // windows finalized again because late partials changed them
	Finals       int   // final rollups written
	Chunks       int   // webhook chunks delivered
	DeadLettered int   // webhook chunks dead-lettered after their last attempt
	Superseded   int   // partials left out as superseded by a replay
	Pruned       int   // dead letters deleted for their age (Parts.Prune)
	Signals      int   // signals written: rules firing in a window, or withdrawn by its correction
	Candidates   int   // sets kept in memory for the rules (some rule could fire on them), summed over windows
	Baselines    int   // of those, the IPs whose history was read for a baseline
	AlertsPosted int   // windows whose alerts were posted to the alerts webhook
}

// prune runs Parts.Prune when pruneEvery has passed since it last ran. A failure is logged, not returned: it only
// keeps letters longer, until the next try, and must not hold windows back.
func (f *Finalizer) prune(ctx context.Context, now time.Time) int {
	if f.parts.Prune == nil || (!f.pruned.IsZero() && now.Sub(f.pruned) < pruneEvery) {
		return 0
	}
	f.pruned = now
	n, err := f.parts.Prune(ctx)
	switch {
	case err != nil:
		f.log.Warn("pruning dead letters failed; they are kept until the next try", "error", err)
	case n > 0:
		f.log.Info("dead letters pruned", "deleted", n)
	}
	return n
}

// RunOnce runs one pass: every closed window within the horizon that is not done, or whose partials changed since
// it was done, is finalized. It stops at the first error (the cluster, DynamoDB, the context); what it finished
// stays finished, and the next pass picks up the rest.
func (f *Finalizer) RunOnce(ctx context.Context) (Report, error) {
	var rep Report
	started := f.now()
	rep.Pruned = f.prune(ctx, started)
	cl, err := f.closeline(ctx, started)
	if err != nil {
		return rep, err
	}
	if !cl.ok {
		// No shard has ever reported (Lambda mode with every progress write failing, or a lost state table): event
		// time is unknown, and only the safety net closes windows, MaxDelay after they would have closed.
		cl.watermark, cl.strict, cl.newest = started.Add(-f.cfg.MaxDelay).Unix(), math.MinInt64, started.Unix()
	}
	rep.Watermark = cl.watermark
	f.metrics.watermark.Set(float64(cl.watermark))
	if len(cl.stuck) > 0 {
		f.log.Warn("shards without progress for max delay no longer hold the watermark back", "shards", cl.stuck,
			"max_delay", f.cfg.MaxDelay, "watermark", cl.watermark, "held_at", cl.strict)
	}
	// The horizon is event time, like the closing: measured from the newest flow any shard acknowledged, so a
	// consumer reading a backlog days old finalizes and corrects its windows as it would live ones.
	width := int64(f.cfg.Window / time.Second)
	from := cl.newest - int64(f.cfg.Horizon/time.Second)
	from -= from % width
	windows, err := f.partialWindows(ctx, from)
	if err != nil {
		return rep, err
	}
	rep.Windows = len(windows)
	if len(windows) == 0 {
		return rep, nil
	}
	records, err := f.parts.State.Windows(ctx, from, windows[len(windows)-1].start+1)
	if err != nil {
		return rep, fmt.Errorf("finalize: reading window records: %w", err)
	}
	done := make(map[int64]state.Window, len(records))
	for _, r := range records {
		done[r.Start] = r
	}
	lateness := int64(f.cfg.AllowedLateness / time.Second)
	for _, w := range windows {
		closeAt := w.start + width + lateness
		if cl.watermark < closeAt {
			rep.Open++
			continue
		}
		rec, seen := done[w.start]
		if seen && rec.Done && rec.Fingerprint == w.fingerprint {
			continue
		}
		if cl.strict < closeAt {
			rep.Forced++
			f.metrics.forced.Inc()
			f.log.Warn("closing a window because shards made no progress for max delay", "window_start", w.start,
				"shards", cl.stuck, "held_at", cl.strict, "max_delay", f.cfg.MaxDelay)
		}
		if err := f.window(ctx, w, rec, seen, &rep); err != nil {
			return rep, err
		}
	}
	f.metrics.passSeconds.Observe(f.now().Sub(started).Seconds())
	return rep, nil
}

// closeline reads the shards' progress and, in consumer mode, the lease table, registering every leased shard
// that has no progress row yet (so it holds the watermark back from now on), and applies the closing rules.
func (f *Finalizer) closeline(ctx context.Context, now time.Time) (closeline, error) {
	progress, err := f.parts.State.Progress(ctx)
	if err != nil {
		return closeline{}, fmt.Errorf("finalize: reading shard progress: %w", err)
	}
	var leases []state.Lease
	if f.parts.Leases != nil {
		if leases, err = f.parts.Leases.Leases(ctx); err != nil {
			return closeline{}, fmt.Errorf("finalize: reading the lease table: %w", err)
		}
		known := make(map[string]int, len(progress))
		for i, p := range progress {
			known[p.ShardID] = i
		}
		ended := make(map[string]bool, len(leases))
		for _, l := range leases {
			ended[l.ShardID] = l.Ended
		}
		for _, l := range leases {
			i, seen := known[l.ShardID]
			switch {
			case l.Ended:
			case !seen:
				if err := f.parts.State.Register(ctx, l.ShardID, now); err != nil {
					return closeline{}, fmt.Errorf("finalize: registering shard %s: %w", l.ShardID, err)
				}
				progress = append(progress, state.Progress{ShardID: l.ShardID, UpdatedAt: now, Registered: true})
			case progress[i].Registered && waiting(l, ended):
				// A child waiting for its parents cannot report yet: it is not stuck, however long they take.
				if err := f.parts.State.RenewRegistration(ctx, l.ShardID, now); err != nil {
					return closeline{}, fmt.Errorf("finalize: renewing the registration of shard %s: %w", l.ShardID, err)
				}
				progress[i].UpdatedAt = now
			}
		}
	}
	return f.cfg.computeCloseline(progress, leases, now), nil
}

// waiting reports whether a shard still waits for a parent the lease table lists as not ended.
func waiting(l state.Lease, ended map[string]bool) bool {
	for _, p := range l.Parents {
		if e, listed := ended[p]; listed && !e {
			return true
		}
	}
	return false
}

// window finalizes one closed window: claim the revision, write finals and deliver them chunk by chunk, record done.
func (f *Finalizer) window(ctx context.Context, w partialWindow, rec state.Window, seen bool, rep *Report) error {
	rev := int64(1)
	switch {
	case !seen:
	case rec.Done:
		rev = rec.Revision + 1 // a correction: late partials changed a finished window
	case rec.Fingerprint == w.fingerprint:
		rev = rec.Revision // a redo after a crash: same partials, same documents, same keys
	default:
		// A crash left revision r unfinished and the partials changed since: its remaining chunks would carry other
		// content under keys a receiver may already have seen. Close r as it is and deliver everything as r+1.
		if err := f.parts.State.Finish(ctx, w.start, rec.Revision, f.now()); err != nil {
			return f.conflict(err, w.start)
		}
		rev = rec.Revision + 1
	}
	if err := f.parts.State.Claim(ctx, state.Window{Start: w.start, Revision: rev, Fingerprint: w.fingerprint}); err != nil {
		return f.conflict(err, w.start)
	}
	if err := f.reached(stepClaimed, w.start, 0); err != nil {
		return err
	}
	log := f.log.With("window_start", w.start, "revision", rev)
	// Without a webhook, finals are still written in chunks of the webhook's default size.
	hook := webhook.DefaultConfig()
	if f.parts.Webhook != nil {
		hook = f.parts.Webhook.Config()
	}
	out := &windowWriter{f: f, start: w.start, end: w.start + int64(f.cfg.Window/time.Second), rev: rev,
		chunkIPs: hook.ChunkIPs}
	if f.parts.Webhook != nil && hook.Format == webhook.FormatRich {
		out.top = webhook.NewTop(hook.TopN)
	}
	det := f.newDetection(w.start, out.end, rev)
	superseded, err := f.eachSet(ctx, w.start, func(c aggregate.ConnSet) error {
		final := aggregate.Final{Revision: rev, ConnSet: c}
		if det != nil {
			det.add(&final)
		}
		return out.add(ctx, final)
	})
	out.superseded = superseded
	if err == nil {
		err = out.flush(ctx, true)
	} else {
		out.abandon()
	}
	var signals []alerts.Signal
	if err == nil && det != nil {
		signals, err = det.finish(ctx)
		rep.Candidates += len(det.kept)
		rep.Baselines += det.baselineIPs
		if det.dropped > 0 {
			f.metrics.candidatesDropped.Add(float64(det.dropped))
			log.Warn("more sets than the rules keep in memory: the rest were not judged", "kept", len(det.kept), "dropped", det.dropped)
		}
		if errors.Is(err, errDetectionInput) {
			f.metrics.detectionErrors.Inc()
			log.Error("the window is finalized without its alerts: the rules met a document they cannot use", "error", err)
			signals, err = nil, nil
		}
	}
	if err == nil && len(signals) > 0 && f.parts.Alerts != nil {
		var dead bool
		if dead, err = f.sendAlerts(ctx, det.window, rev, signals); err == nil && !dead {
			rep.AlertsPosted++
		}
	}
	if err != nil {
		return fmt.Errorf("finalize: window %d revision %d: %w", w.start, rev, err)
	}
	for i := range signals {
		f.metrics.alerts.WithLabelValues(signals[i].Rule.String(), string(alerts.ChangeOf(&signals[i]))).Inc()
	}
	rep.Signals += len(signals)
	if err := f.reached(stepDelivered, w.start, out.chunk); err != nil {
		return err
	}
	if err := f.parts.State.Finish(ctx, w.start, rev, f.now()); err != nil {
		return f.conflict(err, w.start)
	}
	rep.Finals += out.finals
	rep.Chunks += out.delivered
	rep.DeadLettered += out.deadLettered
	rep.Superseded += out.superseded
	if rev == 1 {
		rep.Finalized++
		f.metrics.windows.WithLabelValues("finalized").Inc()
	} else {
		rep.Corrected++
		f.metrics.windows.WithLabelValues("corrected").Inc()
	}
	log.Info("window finalized", "ips", out.finals, "signals", len(signals), "chunks", out.chunk, "dead_lettered", out.deadLettered,
		"superseded_partials", out.superseded, "fingerprint", w.fingerprint)
	return nil
}

// conflict turns a lost race on a window record into a skip: another finalizer moved the window on.
func (f *Finalizer) conflict(err error, start int64) error {
	if errors.Is(err, state.ErrConflict) {
		f.metrics.windows.WithLabelValues("conflict").Inc()
		f.log.Warn("window record moved on under this finalizer; leaving the window to it", "window_start", start, "error", err)
		return nil
	}
	return fmt.Errorf("finalize: window %d: %w", start, err)
}

// reached runs the test hook, if any, at step s of window start's finalization.
func (f *Finalizer) reached(s step, start int64, chunk int) error {
	if f.hook == nil {
		return nil
	}
	return f.hook(s, start, chunk)
}
