package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/jsonw"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/prom"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/schema"
	"github.com/kinflow/kinflow/internal/sink"
)

// Config tunes a Redriver. Start from DefaultConfig.
type Config struct {
	// PageSize is how many selected letters one search returns (search_after pages): a page's records are
	// redriven, then its letters marked, before the next page is read.
	PageSize int
	// Workers is how many records are redriven at once (each through its own Shard; the bulk engine batches
	// their documents together).
	Workers int
	// MaxListed bounds the letters a Report lists one by one; the groups count them all.
	MaxListed int
}

// DefaultConfig returns pages of 500 letters, 4 records at once, 100 letters listed.
func DefaultConfig() Config { return Config{PageSize: 500, Workers: 4, MaxListed: 100} }

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.PageSize < 1 || c.PageSize > 10000 {
		errs = append(errs, fmt.Errorf("page size %d: want 1..10000", c.PageSize))
	}
	if c.Workers < 1 || c.Workers > 64 {
		errs = append(errs, fmt.Errorf("workers %d: want 1..64", c.Workers))
	}
	if c.MaxListed < 0 {
		errs = append(errs, fmt.Errorf("max listed %d: want 0 or more", c.MaxListed))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// Parts are what a Redriver is built from: the current configuration's cluster client and bulk settings, its
// pipeline settings and its format resolver (internal/assemble.Redriver makes them from a config).
type Parts struct {
	Client   sink.Client
	Bulk     sink.Config
	Pipeline pipeline.Config
	Resolver *vpcflow.Resolver
}

// Options are the collaborators of a Redriver.
type Options struct {
	Registerer prometheus.Registerer // nil: metrics are not registered
	Logger     *slog.Logger          // nil: slog.Default()
	Now        func() time.Time      // nil: time.Now
}

// A Redriver redrives dead letters through a pipeline of the current configuration. Close it when done.
type Redriver struct {
	cfg     Config
	store   *Store
	client  sink.Client // the cluster, for the marks
	capture *captureClient
	sink    *sink.BulkSink
	pipe    *pipeline.Pipeline
	log     *slog.Logger
	now     func() time.Time
	letters *prometheus.CounterVec // result
}

// New builds a Redriver: its own bulk engine on parts.Client (behind the client that captures the redrive's dead
// letters) and its own pipeline on it, so nothing of a runtime's pipeline is shared or changed.
func New(cfg Config, parts Parts, opts Options) (*Redriver, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if parts.Client == nil || parts.Resolver == nil {
		errs = append(errs, fmt.Errorf("%w: a cluster client and a format resolver are required", ErrConfig))
	}
	if parts.Bulk.Prefix != parts.Pipeline.Prefix {
		errs = append(errs, fmt.Errorf("%w: the sink's prefix %q and the pipeline's %q differ", ErrConfig, parts.Bulk.Prefix, parts.Pipeline.Prefix))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	store, err := NewStore(parts.Client, parts.Pipeline.Prefix)
	if err != nil {
		return nil, err
	}
	r := &Redriver{cfg: cfg, store: store, client: parts.Client, log: opts.Logger, now: opts.Now,
		letters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kinflow_redrive_letters_total",
			Help: "Dead letters a redrive took, by result (succeeded, failed, skipped)."}, []string{"result"})}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	if err := prom.Register(opts.Registerer, r.letters); err != nil {
		return nil, fmt.Errorf("redrive: %w", err)
	}
	r.capture = newCaptureClient(parts.Client, store.index)
	bulk := parts.Bulk
	bulk.Name = "redrive"
	if r.sink, err = sink.New(r.capture, bulk, sink.Options{Logger: r.log, Now: r.now}); err != nil {
		return nil, err
	}
	// The pipeline's metrics stay unregistered: a runtime that redrives (the Lambda) registers its own pipeline's.
	r.pipe, err = pipeline.New(parts.Pipeline, parts.Resolver, r.sink, pipeline.Options{Logger: r.log, Now: r.now, Reader: parts.Client})
	if err != nil {
		r.sink.Close(context.Background())
		return nil, err
	}
	return r, nil
}

// Store is the Redriver's reader of the dead-letter index.
func (r *Redriver) Store() *Store { return r.store }

// Close flushes and stops the Redriver's bulk engine.
func (r *Redriver) Close(ctx context.Context) error { return r.sink.Close(ctx) }

// Results of a letter in a Report.
const (
	ResultSucceeded = "succeeded" // its flows are durable (dry run: would be written)
	ResultFailed    = "failed"    // it fails again: NewStage, NewReason, Error say how
	ResultSkipped   = "skipped"   // it cannot be redriven: Error says why
)

// A Report says what a redrive did, or in a dry run would do.
type Report struct {
	DryRun bool `json:"dry_run"`
	// Selected counts the letters the selection picked; Letters those redriven: every letter of each record the
	// selection touched (a record is redriven whole, so its redrive partials stay whole).
	Selected int `json:"selected"`
	Records  int `json:"records"`
	Letters  int `json:"letters"`
	// Succeeded, Failed and Skipped count Letters by result.
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	// Flows counts flow documents of the redriven records: written now or already there (dry run: to write).
	Flows int `json:"flows"`
	// Duplicates are flows whose document another record wrote (counted there, not here).
	Duplicates int `json:"duplicates"`
	// MissingTimestamp counts events sent without their original timestamp (letters written before kinflow
	// recorded it): their flows get other ids than the first delivery would have given them.
	MissingTimestamp int       `json:"missing_timestamp"`
	Groups           []Outcome `json:"groups"`
	// Listed are the first Config.MaxListed letters, one by one.
	Listed   []LetterResult `json:"listed"`
	Duration time.Duration  `json:"duration_ns"`
}

// An Outcome counts the letters of one stage and reason that ended one way.
type Outcome struct {
	Stage     string `json:"stage"`
	Reason    string `json:"reason"`
	Result    string `json:"result"`
	NewStage  string `json:"new_stage,omitempty"`
	NewReason string `json:"new_reason,omitempty"`
	Count     int    `json:"count"`
}

// A LetterResult is what became of one letter.
type LetterResult struct {
	ID        string `json:"id"`
	Stage     string `json:"stage"`
	Reason    string `json:"reason"`
	Result    string `json:"result"`
	Flows     int    `json:"flows,omitempty"`
	NewStage  string `json:"new_stage,omitempty"`
	NewReason string `json:"new_reason,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (rep *Report) add(lr LetterResult, maxListed int) {
	rep.Letters++
	switch lr.Result {
	case ResultSucceeded:
		rep.Succeeded++
	case ResultFailed:
		rep.Failed++
	default:
		rep.Skipped++
	}
	o := Outcome{Stage: lr.Stage, Reason: lr.Reason, Result: lr.Result, NewStage: lr.NewStage, NewReason: lr.NewReason}
	i := slices.IndexFunc(rep.Groups, func(g Outcome) bool { g.Count = 0; return g == o })
	if i < 0 {
		rep.Groups = append(rep.Groups, o)
		i = len(rep.Groups) - 1
	}
	rep.Groups[i].Count++
	if len(rep.Listed) < maxListed {
		rep.Listed = append(rep.Listed, lr)
	}
}

// Redrive pages through the letters sel picks (search_after, Config.PageSize at a time), redrives every letter of
// each record they come from through the pipeline (Process, then Cut: the record's flows are durable and its
// redrive partials written), and marks each letter: redrive.status succeeded with the flows it became, or failed
// with its new stage, reason and error. A dry run only prepares each record (decode, parse, encode: nothing is
// written) and reports what would succeed and what would fail, and why; a refusal by the cluster's mapping shows
// only for real.
//
// A redrive that stops anywhere (ctx ends, the cluster fails) is safe to run again: records redriven but not yet
// marked are redriven again and find their flows written by the record they name (no new document, the same
// partial ids and contents). The error then wraps the cause and the Report counts what was done.
func (r *Redriver) Redrive(ctx context.Context, sel Selection, dryRun bool) (Report, error) {
	start := time.Now()
	rep := Report{DryRun: dryRun}
	if err := sel.validateRedrive(); err != nil {
		return rep, err
	}
	if !dryRun {
		if err := r.ensureMapping(ctx); err != nil {
			return rep, err
		}
	}
	if err := r.store.refresh(ctx); err != nil {
		return rep, err
	}
	query := sel.query(true)
	var after []any
	var last recordKey
	for {
		size := r.cfg.PageSize
		if sel.Limit > 0 {
			size = min(size, sel.Limit-rep.Selected)
		}
		if size <= 0 {
			break
		}
		pg, err := r.store.search(ctx, query, after, size)
		if err != nil {
			return r.finish(rep, start), err
		}
		if len(pg.letters) == 0 {
			break
		}
		rep.Selected += len(pg.letters)
		after = pg.after
		// The records of the page not redriven yet: the page before may have ended inside the first one.
		var keys []recordKey
		for _, l := range pg.letters {
			k := recordKey{l.ShardID, l.SequenceNumber}
			if (len(keys) == 0 || keys[len(keys)-1] != k) && (last == recordKey{} || last.less(k)) {
				keys = append(keys, k)
			}
		}
		if err := r.records(ctx, keys, dryRun, &rep); err != nil {
			return r.finish(rep, start), err
		}
		if len(keys) > 0 {
			last = keys[len(keys)-1]
		}
		if len(pg.letters) < size {
			break
		}
	}
	return r.finish(rep, start), nil
}

func (r *Redriver) finish(rep Report, start time.Time) Report {
	rep.Duration = time.Since(start)
	slices.SortFunc(rep.Groups, func(a, b Outcome) int {
		return strings.Compare(a.Stage+"\x00"+a.Reason+"\x00"+a.Result+"\x00"+a.NewStage+"\x00"+a.NewReason,
			b.Stage+"\x00"+b.Reason+"\x00"+b.Result+"\x00"+b.NewStage+"\x00"+b.NewReason)
	})
	return rep
}

// keysPerQuery bounds the records whose letters one search asks for.
const keysPerQuery = 100

// records redrives the records keys, whole: every redrivable letter of each, whatever the selection.
func (r *Redriver) records(ctx context.Context, keys []recordKey, dryRun bool, rep *Report) error {
	for len(keys) > 0 {
		n := min(len(keys), keysPerQuery)
		letters, err := r.lettersOf(ctx, keys[:n])
		if err != nil {
			return err
		}
		keys = keys[n:]
		groups, err := groupLetters(letters)
		if err != nil {
			return err
		}
		results := make([][]LetterResult, len(groups))
		stats := make([]pipeline.Result, len(groups))
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		work := make(chan int)
		for range r.cfg.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					res, lr, err := r.group(ctx, &groups[i], dryRun)
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						continue
					}
					results[i], stats[i] = lr, res
				}
			}()
		}
	feed:
		for i := range groups {
			select {
			case work <- i:
			case <-ctx.Done():
				break feed
			}
		}
		close(work)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !dryRun {
			if err := r.mark(ctx, groups, results); err != nil {
				return err
			}
		}
		var pageRes pipeline.Result
		for i := range groups {
			rep.Records++
			rep.MissingTimestamp += groups[i].missingTimestamp
			pageRes.Add(stats[i])
			for _, lr := range results[i] {
				rep.add(lr, r.cfg.MaxListed)
				r.letters.WithLabelValues(lr.Result).Inc()
			}
		}
		rep.Flows += pageRes.Flows
		rep.Duplicates += pageRes.Duplicates
		r.log.Info("redrive batch", "dry_run", dryRun, "records", len(groups), "letters", len(letters),
			"flows", pageRes.Flows, "dead_letters", pageRes.DeadLetters, "duplicates", pageRes.Duplicates,
			"succeeded", rep.Succeeded, "failed", rep.Failed, "skipped", rep.Skipped)
	}
	return nil
}

// lettersOf returns every redrivable letter of the records keys, in sortKeys order.
func (r *Redriver) lettersOf(ctx context.Context, keys []recordKey) ([]Letter, error) {
	should := make([]any, len(keys))
	for i, k := range keys {
		should[i] = map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"term": map[string]any{"shard_id": k.shard}},
			map[string]any{"term": map[string]any{"sequence_number": k.seq}},
		}}}
	}
	query := map[string]any{"bool": map[string]any{
		"filter":               []any{map[string]any{"terms": map[string]any{"stage": redrivable}}},
		"should":               should,
		"minimum_should_match": 1,
	}}
	const size = 1000
	var out []Letter
	var after []any
	for {
		pg, err := r.store.search(ctx, query, after, size)
		if err != nil {
			return nil, err
		}
		out = append(out, pg.letters...)
		if len(pg.letters) < size {
			return out, nil
		}
		after = pg.after
	}
}

// group redrives one record, or in a dry run prepares it, and says what became of each of its letters.
func (r *Redriver) group(ctx context.Context, g *group, dryRun bool) (pipeline.Result, []LetterResult, error) {
	var res pipeline.Result
	var dead []captured
	if g.record.Data != nil {
		sh, err := r.pipe.RedriveShard(g.key.shard)
		if err != nil {
			return res, nil, err
		}
		records := []pipeline.Record{g.record}
		if dryRun {
			b, err := sh.Prepare(ctx, records)
			if err != nil {
				return res, nil, fmt.Errorf("redrive: record %s/%s: %w", g.key.shard, g.key.seq, err)
			}
			for _, d := range b.Docs() {
				if d.Index != r.store.index {
					res.Flows++
					continue
				}
				var l Letter
				if err := json.Unmarshal(d.Source, &l); err != nil {
					return res, nil, err
				}
				dead = append(dead, captured{id: d.ID, letter: l})
			}
		} else {
			// One record a Shard and a cut: the partials' ids and contents depend on this record alone, so a rerun
			// after a kill, or a second redrive, rewrites exactly what the first wrote.
			if res, err = sh.Process(ctx, records); err != nil {
				return res, nil, fmt.Errorf("redrive: record %s/%s: %w", g.key.shard, g.key.seq, err)
			}
			if err := sh.Cut(ctx); err != nil {
				return res, nil, fmt.Errorf("redrive: record %s/%s: %w", g.key.shard, g.key.seq, err)
			}
			dead = r.capture.take(g.key)
			res.Flows -= countOutcome(dead, sink.StageIndex) // refused by the cluster: not in the index
		}
	}
	return res, results(g, dead, res.Flows), nil
}

func countOutcome(dead []captured, stage sink.Stage) int {
	n := 0
	for _, d := range dead {
		if d.letter.Stage == stage {
			n++
		}
	}
	return n
}

// results says what became of each letter of g, given the dead letters its redrive made and its flows.
func results(g *group, dead []captured, flows int) []LetterResult {
	byEvent := map[string]*Letter{}
	var recordLevel *Letter
	for i := range dead {
		l := &dead[i].letter
		if l.EventID == "" {
			recordLevel = l
		} else if _, ok := byEvent[l.EventID]; !ok {
			byEvent[l.EventID] = l
		}
	}
	out := make([]LetterResult, 0, len(g.letters))
	for _, l := range g.letters {
		lr := LetterResult{ID: l.ID, Stage: string(l.Stage), Reason: l.Reason}
		fail := func(n *Letter, msg string) {
			lr.Result, lr.NewStage, lr.NewReason, lr.Error = ResultFailed, string(n.Stage), n.Reason, msg
		}
		switch why, skipped := g.skipped[l.ID]; {
		case skipped:
			lr.Result, lr.Error = ResultSkipped, why
		case l.Stage == sink.StageDecode:
			switch {
			case recordLevel != nil:
				fail(recordLevel, recordLevel.Error)
			case len(dead) > 0:
				// The record decodes now, but some of its lines fail: its letter stays, with the first failure.
				fail(&dead[0].letter, fmt.Sprintf("%d of the record's lines failed; the first (event %s): %s",
					len(dead), dead[0].letter.EventID, dead[0].letter.Error))
			default:
				lr.Result, lr.Flows = ResultSucceeded, flows
			}
		default:
			if n, ok := byEvent[l.EventID]; ok {
				fail(n, n.Error)
			} else {
				lr.Result, lr.Flows = ResultSucceeded, 1
			}
		}
		out = append(out, lr)
	}
	return out
}

// mark writes what became of each letter into it: one bulk of partial updates (never a delete), retried while
// the cluster answers 429 or 5xx. A letter that failed again takes its new stage, reason and error; its first
// stage and reason stay in redrive.previous_*.
func (r *Redriver) mark(ctx context.Context, groups []group, results [][]LetterResult) error {
	at := r.now().UTC().Format(time.RFC3339Nano)
	var body []byte
	n := 0
	for gi := range groups {
		for li, lr := range results[gi] {
			if lr.Result == ResultSkipped {
				continue
			}
			l := &groups[gi].letters[li]
			prevStage, prevReason := string(l.Stage), l.Reason
			if l.Redrive != nil && l.Redrive.PreviousStage != "" {
				prevStage, prevReason = l.Redrive.PreviousStage, l.Redrive.PreviousReason
			}
			doc := map[string]any{"redrive": Mark{Status: StatusSucceeded, At: at, Flows: lr.Flows,
				PreviousStage: prevStage, PreviousReason: prevReason}}
			if lr.Result == ResultFailed {
				doc["redrive"] = Mark{Status: StatusFailed, At: at, PreviousStage: prevStage, PreviousReason: prevReason}
				doc["stage"], doc["reason"], doc["error"] = lr.NewStage, lr.NewReason, lr.Error
			}
			src, err := json.Marshal(map[string]any{"doc": doc})
			if err != nil {
				return err
			}
			body = append(body, `{"update":{"_index":`...)
			body = jsonw.AppendString(body, r.store.index)
			body = append(body, `,"_id":`...)
			body = jsonw.AppendString(body, l.ID)
			body = append(body, `,"retry_on_conflict":3}}`+"\n"...)
			body = append(body, src...)
			body = append(body, '\n')
			n++
		}
	}
	if n == 0 {
		return nil
	}
	err := retry.Do(ctx, r.store.retry, func(ctx context.Context) error {
		status, resp, err := r.client.Bulk(ctx, body, maxAnswer)
		switch {
		case err != nil:
			return retry.Transient(err)
		case status < 200 || status > 299:
			return answerError(fmt.Sprintf("status %d", status), status, resp)
		}
		var br struct {
			Errors bool `json:"errors"`
			Items  []map[string]struct {
				Status int             `json:"status"`
				Error  json.RawMessage `json:"error"`
			} `json:"items"`
		}
		if err := json.Unmarshal(resp, &br); err != nil {
			return retry.Transient(fmt.Errorf("decoding the answer: %w", err))
		}
		if !br.Errors {
			return nil
		}
		// Updates are idempotent: resending the whole bulk on a transient item error is harmless.
		for _, it := range br.Items {
			for _, a := range it {
				if a.Status > 299 {
					return answerError(fmt.Sprintf("item status %d", a.Status), a.Status, a.Error)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redrive: marking %d dead letters: %w", n, err)
	}
	return nil
}

// ensureMapping adds the fields a redrive writes (and event_timestamp) to the dead-letter index's mapping. The
// index is one, made by whichever template version was installed when its first letter came, and a template only
// shapes indices made after it: an index from before these fields would keep the marks unindexed (dynamic false),
// and a redrive could not leave succeeded letters out. Adding fields to a mapping is allowed on a live index.
func (r *Redriver) ensureMapping(ctx context.Context) error {
	props := map[string]any{}
	for _, f := range schema.DeadLetters().Fields {
		name, sub, nested := strings.Cut(f.Name, ".")
		switch {
		case f.Name == "event_timestamp":
			props[name] = map[string]any{"type": string(f.Type)}
		case nested && name == "redrive":
			if props[name] == nil {
				props[name] = map[string]any{"properties": map[string]any{}}
			}
			props[name].(map[string]any)["properties"].(map[string]any)[sub] = map[string]any{"type": string(f.Type)}
		}
	}
	err := r.store.do(ctx, "PUT", "/"+r.store.index+"/_mapping", map[string]any{"properties": props}, nil)
	if errors.Is(err, ErrNotFound) {
		return nil // no dead letter was ever written: nothing to redrive, and the template maps a new index
	}
	if err != nil {
		return fmt.Errorf("redrive: mapping the redrive's fields in %s: %w", r.store.index, err)
	}
	return nil
}
