package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// BulkSink is the bulk engine behind both the Elasticsearch and the OpenSearch sink.
//
// Write encodes its documents (action line + source) into one buffer the sink owns and hands them to a batcher in
// chunks; the batcher cuts bulk requests by bytes, count and interval and gives each to one of MaxInFlight workers.
// A worker keeps its batch until every item is settled: it resends only the items that failed transiently (429,
// 5xx, or the whole request on a transport error), after a capped, jittered exponential backoff; it replaces each
// item the cluster refused permanently with a dead letter and sends that in the next round. While workers are busy
// retrying, the batcher blocks, and so do writers: backpressure, with memory bounded by MaxInFlight+1 batches.
//
// Each item settles its Write's ticket exactly once: acknowledged, failed (a refused dead letter, a forced close),
// or dropped unsent because its writer no longer waits (its context ended, or the Write already failed). A Write
// returns when all of its items are settled, or at its first failure; the rest of its items are then dropped.
//
// The engine is written on the raw _bulk protocol rather than esutil.BulkIndexer because the indexer acknowledges
// items through per-item callbacks with no way to resend just the failed items inside the same flush or to tell a
// caller when all of its documents (including their dead letters) are durable; and one engine serves opensearch-go too.
type BulkSink struct {
	cfg     Config
	client  Client
	log     *slog.Logger
	m       *metrics
	now     func() time.Time
	dlIndex string

	in      chan chunk
	work    chan []*item
	mu      sync.RWMutex // held shared while sending on in, exclusively to close it
	closing chan struct{}
	once    sync.Once
	stopCtx context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

var _ Sink = (*BulkSink)(nil)

// New returns a running sink that writes through client.
func New(client Client, cfg Config, opts Options) (*BulkSink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidConfig)
	}
	m, err := newMetrics(cfg.Name, opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &BulkSink{
		cfg:     cfg,
		client:  client,
		log:     opts.Logger,
		m:       m,
		now:     opts.Now,
		dlIndex: Indices{Prefix: cfg.Prefix}.DeadLetter(),
		in:      make(chan chunk, cfg.MaxInFlight),
		work:    make(chan []*item),
		closing: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("sink", cfg.Name)
	if s.now == nil {
		s.now = time.Now
	}
	// The engine's own lifetime, not a request path: it ends only when Close gives up waiting.
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(1 + cfg.MaxInFlight)
	go s.batcher()
	for range cfg.MaxInFlight {
		go s.worker()
	}
	return s, nil
}

// DeadLetterIndex returns the index dead letters are written to.
func (s *BulkSink) DeadLetterIndex() string { return s.dlIndex }

// An item is one document on its way: its encoded action and source lines, and what to dead-letter it with.
type item struct {
	t          *ticket
	buf        []byte // buf[off:end] is the action line + source line, each ending in '\n'
	off, end   int
	index, id  string
	op         Op
	origin     Origin   // Raw points into sink-owned memory
	deadLetter bool     // the item is itself a dead letter: a permanent refusal fails the write
	outcome    *Outcome // the caller's Doc.Outcome (carried over to the dead letter that replaces a refused doc)
}

// settled records what became of it for a caller that asked: status is the item's answer (2xx, or 409 on create).
func (it *item) settled(status int) {
	switch {
	case it.outcome == nil:
	case it.deadLetter:
		*it.outcome = OutcomeDeadLettered
	case status == 409:
		*it.outcome = OutcomeExists
	default:
		*it.outcome = OutcomeWritten
	}
}

func (it *item) line() []byte { return it.buf[it.off:it.end] }

// contiguous returns the items' lines as one slice of their shared buffer when they lie back to back in it (a
// batch cut from one Write, sent the first time), saving a copy of the request body; otherwise nil.
func contiguous(items []*item) []byte {
	first := items[0]
	prev := first
	for _, it := range items[1:] {
		if it.off != prev.end || len(it.buf) == 0 || &it.buf[0] != &first.buf[0] {
			return nil
		}
		prev = it
	}
	return first.buf[first.off:prev.end]
}

// A ticket tracks one Write: each of its documents settles it exactly once, and it is done when all have, or at the
// first failure, whichever comes first.
type ticket struct {
	ctx       context.Context
	remaining atomic.Int64 // documents not yet settled
	done      chan struct{}
	failed    atomic.Bool
	err       error // the Write's outcome, set before done is closed
	doneOnce  sync.Once
}

func newTicket(ctx context.Context, n int) *ticket {
	t := &ticket{ctx: ctx, done: make(chan struct{})}
	t.remaining.Store(int64(n))
	return t
}

// settle settles n documents that are written (acknowledged, themselves or as dead letters).
func (t *ticket) settle(n int) {
	if t.remaining.Add(-int64(n)) == 0 {
		t.finish(nil)
	}
}

// fail settles n documents that could not be written. The first failure is the Write's outcome and ends it at
// once; its documents still on their way are dropped when a worker next looks at them (see live).
func (t *ticket) fail(n int, err error) {
	t.finish(err) // before settling, so that the last document to settle cannot finish the ticket with nil
	t.settle(n)
}

// drop settles n documents left unsent because nobody waits for them any more (see abandoned). They fail the
// Write with its context's error, should that be what ended it: a dropped document never counts as written.
func (t *ticket) drop(n int) { t.fail(n, t.ctx.Err()) }

// finish decides the Write's outcome, once: err, or nil when every document is written.
func (t *ticket) finish(err error) {
	t.doneOnce.Do(func() {
		t.err = err
		t.failed.Store(err != nil)
		close(t.done)
	})
}

// abandoned reports whether nobody waits for the ticket any more (its writer gave up, or it already failed).
func (t *ticket) abandoned() bool { return t.failed.Load() || t.ctx.Err() != nil }

// Write implements Sink.
func (s *BulkSink) Write(ctx context.Context, docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	if err := validateDocs(docs); err != nil {
		return err
	}
	_, err := s.write(ctx, docs)
	return err
}

// write is Write; it also returns the Write's ticket, which tests audit once the sink is closed.
func (s *BulkSink) write(ctx context.Context, docs []Doc) (*ticket, error) {
	t := newTicket(ctx, len(docs))
	for start := 0; start < len(docs); start += s.cfg.FlushDocs {
		end := min(start+s.cfg.FlushDocs, len(docs))
		// The writer waits for its documents, so nothing more comes from it: its last chunk is sent at once.
		c := chunk{items: s.encode(t, docs[start:end]), last: end == len(docs)}
		if err := s.enqueue(t, c); err != nil {
			// The documents not handed over settle here; those that were are dropped unsent (see live).
			t.fail(len(docs)-start, err)
			return t, err
		}
	}
	select {
	case <-t.done:
		return t, t.err
	case <-ctx.Done():
		return t, ctx.Err()
	}
}

// A chunk is the encoded documents of one Write, at most FlushDocs of them; last marks the Write's final chunk.
type chunk struct {
	items []item
	last  bool
}

// enqueue hands a chunk of t's documents to the batcher, unless t's writer stops waiting first.
func (s *BulkSink) enqueue(t *ticket, c chunk) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	select {
	case <-s.closing:
		return ErrClosed
	default:
	}
	select {
	case s.in <- c:
		return nil
	case <-t.ctx.Done():
		return t.ctx.Err()
	case <-t.done: // an earlier chunk failed the Write
		return t.err
	case <-s.closing:
		return ErrClosed
	}
}

// Close implements Sink.
func (s *BulkSink) Close(ctx context.Context) error {
	s.once.Do(func() {
		close(s.closing)
		s.mu.Lock()
		close(s.in)
		s.mu.Unlock()
	})
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.stop()
		<-done
		return ctx.Err()
	}
}

const maxIDBytes = 512 // the cluster's limit on _id

func validateDocs(docs []Doc) error {
	var errs []error
	for i, d := range docs {
		switch {
		case d.Index == "":
			errs = append(errs, fmt.Errorf("doc %d: empty index", i))
		case d.ID == "" || len(d.ID) > maxIDBytes:
			errs = append(errs, fmt.Errorf("doc %d: id of %d bytes, want 1..%d (ids are deterministic, see docid)", i, len(d.ID), maxIDBytes))
		case d.Op != OpCreate && d.Op != OpIndex:
			errs = append(errs, fmt.Errorf("doc %d: op %v, allowed: create, index", i, d.Op))
		}
		if len(errs) >= 10 {
			errs = append(errs, errors.New("..."))
			break
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidDoc, errors.Join(errs...))
}

// encode copies docs into one sink-owned buffer as bulk lines. A source that spans lines is compacted; one that is
// not even JSON becomes a dead letter here, since sending it would break the request's framing.
func (s *BulkSink) encode(t *ticket, docs []Doc) []item {
	size, rawSize := 0, 0
	for i := range docs {
		d := &docs[i]
		size += len(`{"create":{"_index":"","_id":""}}`) + 2 + len(d.Index) + len(d.ID) + len(d.Source)
		rawSize += len(d.Origin.Raw)
	}
	buf := make([]byte, 0, size)
	var raws []byte
	if rawSize > 0 {
		raws = make([]byte, 0, rawSize)
	}
	items := make([]item, len(docs))
	var standalone []int // items with a buffer of their own
	for i := range docs {
		d := &docs[i]
		start := len(buf)
		buf = appendAction(buf, d.Op, d.Index, d.ID)
		if bytes.IndexByte(d.Source, '\n') >= 0 || len(d.Source) == 0 {
			var compact bytes.Buffer
			if err := json.Compact(&compact, d.Source); err != nil || compact.Len() == 0 {
				if err == nil {
					err = errors.New("empty source")
				}
				buf = buf[:start]
				dl := newDeadLetter(s.dlIndex, d.Origin, StageIndex, "invalid_json", fmt.Errorf("source of %s/%s: %w", d.Index, d.ID, err), s.now(), d.Index, d.ID)
				items[i] = s.encodeOne(t, dl, true)
				items[i].outcome = d.Outcome
				standalone = append(standalone, i)
				s.m.deadLettered.WithLabelValues(family(d.Index), "invalid_json").Inc()
				continue
			}
			buf = append(buf, compact.Bytes()...)
		} else {
			buf = append(buf, d.Source...)
		}
		buf = append(buf, '\n')
		o := d.Origin
		if len(o.Raw) > 0 {
			rs := len(raws)
			raws = append(raws, o.Raw...)
			o.Raw = raws[rs:len(raws):len(raws)]
		}
		items[i] = item{t: t, buf: buf, off: start, end: len(buf), index: d.Index, id: d.ID, op: d.Op, origin: o,
			deadLetter: d.Index == s.dlIndex, outcome: d.Outcome}
	}
	// Every item refers to the final buffer (append may have moved it while encoding), so that consecutive items
	// can be sent as one slice of it.
	for i := range items {
		if len(standalone) > 0 && standalone[0] == i {
			standalone = standalone[1:]
			continue
		}
		items[i].buf = buf
	}
	return items
}

// encodeOne encodes a single document into its own buffer (dead letters, off the hot path).
func (s *BulkSink) encodeOne(t *ticket, d Doc, deadLetter bool) item {
	buf := appendAction(make([]byte, 0, 64+len(d.Source)), d.Op, d.Index, d.ID)
	buf = append(buf, d.Source...)
	buf = append(buf, '\n')
	o := d.Origin
	o.Raw = bytes.Clone(o.Raw)
	return item{t: t, buf: buf, off: 0, end: len(buf), index: d.Index, id: d.ID, op: d.Op, origin: o, deadLetter: deadLetter}
}

func appendAction(b []byte, op Op, index, id string) []byte {
	if op == OpIndex {
		b = append(b, `{"index":{"_index":`...)
	} else {
		b = append(b, `{"create":{"_index":`...)
	}
	b = appendJSONString(b, index)
	b = append(b, `,"_id":`...)
	b = appendJSONString(b, id)
	return append(b, "}}\n"...)
}

// appendJSONString appends s as a JSON string; ids and index names rarely need escaping, so the common case is a copy.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s) // cannot fail for a string
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// batcher cuts the incoming chunks into bulk requests.
func (s *BulkSink) batcher() {
	defer s.wg.Done()
	defer close(s.work)
	var cur []*item
	curBytes := 0
	flush := func() {
		if len(cur) > 0 {
			s.work <- cur // blocks while every worker is busy: backpressure
		}
		cur, curBytes = nil, 0
	}
	for c := range s.in {
		for i := range c.items {
			if cur == nil {
				cur = make([]*item, 0, min(s.cfg.FlushDocs, 1024))
			}
			cur = append(cur, &c.items[i])
			curBytes += c.items[i].end - c.items[i].off
			if curBytes >= s.cfg.FlushBytes || len(cur) >= s.cfg.FlushDocs {
				flush()
			}
		}
		if c.last {
			flush()
		}
	}
	flush()
}

// A worker sends one batch at a time and keeps it until every item is settled.
type worker struct {
	body    []byte
	written map[string]float64 // per index family, for one request
	bytes   map[string]float64
}

func (s *BulkSink) worker() {
	defer s.wg.Done()
	w := &worker{written: map[string]float64{}, bytes: map[string]float64{}}
	for b := range s.work {
		s.m.inFlight.Inc()
		s.process(w, b)
		s.m.inFlight.Dec()
	}
}

func (s *BulkSink) process(w *worker, items []*item) {
	queue := [][]*item{items}
	for len(queue) > 0 {
		pending := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for attempt := 0; ; {
			pending = s.live(pending)
			if len(pending) == 0 {
				break
			}
			res := s.send(w, pending)
			if res.split != nil {
				queue = append(queue, res.split...)
				break
			}
			pending = res.next
			if res.transient {
				attempt++
				s.sleep(s.backoff(attempt))
			} else {
				attempt = 0
			}
		}
	}
}

// live returns the items still to send. It drops, settled, the items nobody waits for any more; on a forced close it
// fails them.
func (s *BulkSink) live(items []*item) []*item {
	stopped := s.stopCtx.Err() != nil
	out := items[:0]
	for _, it := range items {
		switch {
		case stopped:
			it.t.fail(1, ErrClosed)
		case it.t.abandoned():
			it.t.drop(1)
		default:
			out = append(out, it)
		}
	}
	return out
}

func (s *BulkSink) backoff(attempt int) time.Duration {
	d := s.cfg.RetryInitial << min(attempt-1, 30)
	if d > s.cfg.RetryMax || d <= 0 {
		d = s.cfg.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}

func (s *BulkSink) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.stopCtx.Done():
	}
}

type sendResult struct {
	next      []*item   // items still to send
	transient bool      // some were retried after a transient failure: back off first
	split     [][]*item // the request was too large or malformed: send these parts separately
}

func (s *BulkSink) send(w *worker, pending []*item) sendResult {
	body := contiguous(pending)
	if body == nil {
		w.body = w.body[:0]
		for _, it := range pending {
			w.body = append(w.body, it.line()...)
		}
		body = w.body
	}
	for _, it := range pending {
		w.bytes[family(it.index)] += float64(it.end - it.off)
	}
	for f, n := range w.bytes {
		s.m.bytes.WithLabelValues(f).Add(n)
	}
	clear(w.bytes)

	ctx, cancel := context.WithTimeout(s.stopCtx, s.cfg.RequestTimeout)
	start := time.Now()
	status, resp, err := s.client.Bulk(ctx, body, s.cfg.MaxResponseBytes)
	cancel()
	elapsed := time.Since(start).Seconds()
	observe := func(outcome string) {
		s.m.requests.WithLabelValues(outcome).Inc()
		s.m.latency.WithLabelValues(outcome).Observe(elapsed)
	}

	switch {
	case err != nil:
		observe("retry")
		s.retryAll(pending, "transport")
		s.log.Warn("bulk request failed; retrying", "docs", len(pending), "bytes", len(body), "error", err)
		return sendResult{next: pending, transient: true}
	case status == 413 || status == 400:
		if len(pending) > 1 {
			observe("split")
			s.log.Warn("bulk request refused as a whole; splitting it", "status", status, "docs", len(pending), "error", errorSummary(resp))
			h := len(pending) / 2
			return sendResult{split: [][]*item{pending[h:], pending[:h]}}
		}
		observe("item_errors")
		typ, msg := requestError(status, resp)
		return sendResult{next: s.refuse(pending[:0:0], pending[0], typ, msg)}
	case status < 200 || status > 299:
		// 429, 5xx, and anything else (401/403 while credentials rotate, 404 from a proxy) is retried, never dropped.
		observe("retry")
		s.retryAll(pending, "status_"+strconv.Itoa(status))
		level := slog.LevelWarn
		if status != 429 && status < 500 {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "bulk request answered with an error; retrying", "status", status, "docs", len(pending), "error", errorSummary(resp))
		return sendResult{next: pending, transient: true}
	}

	if bytes.HasPrefix(resp, []byte(`{"errors":false`)) {
		observe("ok")
		s.ackAll(w, pending)
		return sendResult{}
	}
	var br bulkResponse
	if err := json.Unmarshal(resp, &br); err != nil || len(br.Items) != len(pending) {
		observe("retry")
		s.retryAll(pending, "bad_response")
		s.log.Error("bulk response does not match the request; retrying", "docs", len(pending), "items", len(br.Items), "error", err)
		return sendResult{next: pending, transient: true}
	}
	if !br.Errors {
		observe("ok")
		s.ackAll(w, pending)
		return sendResult{}
	}
	observe("item_errors")
	var res sendResult
	var ack acker
	retried, refused := 0, 0
	for i, it := range pending {
		r := br.Items[i].result()
		switch {
		case r.Status >= 200 && r.Status <= 299, r.Status == 409 && it.op == OpCreate:
			w.written[family(it.index)]++
			it.settled(r.Status)
			ack.add(it.t)
		case r.Status == 429 || r.Status >= 500 || r.Status == 409 || r.Status == 0:
			s.m.retried.WithLabelValues(family(it.index), "status_"+strconv.Itoa(r.Status)).Inc()
			res.next = append(res.next, it)
			res.transient = true
			retried++
		default:
			typ, msg := r.Error.describe(r.Status)
			res.next = s.refuse(res.next, it, typ, msg)
			refused++
		}
	}
	ack.flush()
	s.countWritten(w)
	if retried > 0 || refused > 0 {
		s.log.Warn("bulk items failed", "docs", len(pending), "retried", retried, "dead_lettered", refused)
	}
	return res
}

// refuse handles an item the cluster refused permanently: a document becomes a dead letter (appended to next); a
// dead letter that is refused fails its write, since there is nowhere left to put it.
func (s *BulkSink) refuse(next []*item, it *item, typ, msg string) []*item {
	if it.deadLetter {
		s.m.requests.WithLabelValues("rejected").Inc()
		s.log.Error("dead letter refused by the cluster", "index", it.index, "id", it.id, "reason", typ, "error", msg)
		it.t.fail(1, fmt.Errorf("%w: %s/%s: %s", ErrDeadLetterRejected, it.index, it.id, msg))
		return next
	}
	s.m.deadLettered.WithLabelValues(family(it.index), typ).Inc()
	dl := newDeadLetter(s.dlIndex, it.origin, StageIndex, typ, errors.New(msg), s.now(), it.index, it.id)
	d := s.encodeOne(it.t, dl, true)
	d.outcome = it.outcome
	return append(next, &d)
}

func (s *BulkSink) retryAll(items []*item, reason string) {
	for _, it := range items {
		s.m.retried.WithLabelValues(family(it.index), reason).Inc()
	}
}

func (s *BulkSink) ackAll(w *worker, items []*item) {
	var ack acker
	for _, it := range items {
		w.written[family(it.index)]++
		it.settled(200)
		ack.add(it.t)
	}
	ack.flush()
	s.countWritten(w)
}

func (s *BulkSink) countWritten(w *worker) {
	for f, n := range w.written {
		s.m.written.WithLabelValues(f).Add(n)
	}
	clear(w.written)
}

// acker settles items a run of one ticket at a time: a batch usually holds long runs of one writer's documents.
type acker struct {
	t *ticket
	n int
}

func (a *acker) add(t *ticket) {
	if t != a.t {
		a.flush()
		a.t = t
	}
	a.n++
}

func (a *acker) flush() {
	if a.t != nil && a.n > 0 {
		a.t.settle(a.n)
	}
	a.t, a.n = nil, 0
}
