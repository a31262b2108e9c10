package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kinflow/kinflow/internal/retry"
)

// A worker sends one batch at a time and keeps it until every item is settled.
type worker struct {
	body    []byte // request body, reused when a batch's lines are not contiguous in one buffer
	written tally  // per index family, for one round
	bytes   tally
	run     run // written items not yet counted on their ticket
}

func (s *BulkSink) worker() {
	defer s.wg.Done()
	w := &worker{written: tally{}, bytes: tally{}}
	for b := range s.work {
		s.m.inFlight.Inc()
		s.deliver(w, b)
		s.m.inFlight.Dec()
	}
}

// roundResult is what is left of a batch after a round.
type roundResult struct {
	next  []*item   // items to send in the next round
	split [][]*item // the request was refused as a whole: send these parts separately instead
	err   error     // retryable when next waits out a transient failure (back off first)
}

// round settles the items nobody waits for, sends the others, and settles what the answer settles.
func (s *BulkSink) round(w *worker, pending []*item) roundResult {
	defer w.endRound(s.m)
	if pending = s.live(w, pending); len(pending) == 0 {
		return roundResult{}
	}
	return s.send(w, pending)
}

// endRound counts the round's written items on their tickets and in the metrics.
func (w *worker) endRound(m *metrics) {
	w.flushRun()
	w.written.flush(m.written)
}

// send sends pending as one bulk request and acts on the answer, as classifyRequest sorts it.
func (s *BulkSink) send(w *worker, pending []*item) roundResult {
	start := time.Now()
	status, resp, err := s.post(w, pending)
	elapsed := time.Since(start)
	observe := func(outcome string) { s.m.observeRequest(outcome, elapsed) }
	switch rerr := classifyRequest(status, err); {
	case rerr == nil:
		return s.answered(w, pending, resp, observe)
	case retry.IsRetryable(rerr):
		observe("retry")
		s.resendRequest(pending, status, resp, err)
		return roundResult{next: pending, err: rerr}
	case len(pending) > 1:
		observe("split")
		s.log.Warn("bulk request refused as a whole; splitting it", "status", status, "docs", len(pending), "error", errorSummary(resp))
		h := len(pending) / 2
		return roundResult{split: [][]*item{pending[h:], pending[:h]}}
	default:
		observe("item_errors")
		typ, msg := requestError(status, resp)
		return roundResult{next: s.refuse(w, pending[:0:0], pending[0], typ, msg)}
	}
}

// resendRequest counts and logs a request to be resent as a whole: it got no answer (err), or an error status.
func (s *BulkSink) resendRequest(pending []*item, status int, resp []byte, err error) {
	if err != nil {
		s.resendAll(pending, "transport")
		s.log.Warn("bulk request failed; retrying", "docs", len(pending), "error", err)
		return
	}
	s.resendAll(pending, statusReason(status))
	level := slog.LevelWarn
	if status != 429 && status < 500 {
		level = slog.LevelError // 401/403/404: someone has to look, though nothing is lost meanwhile
	}
	s.log.Log(s.stopCtx, level, "bulk request answered with an error; retrying", "status", status, "docs", len(pending),
		"error", errorSummary(resp))
}

// post sends pending's lines as one _bulk request under the request timeout.
func (s *BulkSink) post(w *worker, pending []*item) (int, []byte, error) {
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
	w.bytes.flush(s.m.bytes)
	ctx, cancel := context.WithTimeout(s.stopCtx, s.cfg.RequestTimeout)
	defer cancel()
	return s.client.Bulk(ctx, body, s.cfg.MaxResponseBytes)
}

// answered acts on a 2xx answer: every item written, or each item's own answer.
func (s *BulkSink) answered(w *worker, pending []*item, resp []byte, observe func(string)) roundResult {
	if bytes.HasPrefix(resp, []byte(`{"errors":false`)) {
		observe("ok")
		s.ackAll(w, pending)
		return roundResult{}
	}
	var br bulkResponse
	if err := json.Unmarshal(resp, &br); err != nil || len(br.Items) != len(pending) {
		observe("retry")
		s.resendAll(pending, "bad_response")
		s.log.Error("bulk response does not match the request; retrying", "docs", len(pending), "items", len(br.Items), "error", err)
		return roundResult{next: pending, err: errResend}
	}
	if !br.Errors {
		observe("ok")
		s.ackAll(w, pending)
		return roundResult{}
	}
	observe("item_errors")
	return s.items(w, pending, br.Items)
}

// items acts on each item's answer: written items settle, transient failures are resent, refused documents are
// replaced by their dead letters.
func (s *BulkSink) items(w *worker, pending []*item, answers []bulkItem) roundResult {
	var res roundResult
	retried, refused := 0, 0
	for i, it := range pending {
		r := answers[i].result()
		switch ierr := classifyItem(r.Status, it.op); {
		case ierr == nil:
			w.settle(it, r.Status, nil)
		case retry.IsRetryable(ierr):
			s.m.retried.WithLabelValues(family(it.index), statusReason(r.Status)).Inc()
			res.next, res.err = append(res.next, it), ierr
			retried++
		default:
			typ, msg := r.Error.describe(r.Status)
			res.next = s.refuse(w, res.next, it, typ, msg)
			refused++
		}
	}
	if retried > 0 || refused > 0 {
		s.log.Warn("bulk items failed", "docs", len(pending), "retried", retried, "dead_lettered", refused)
	}
	return res
}

// refuse handles an item the cluster refused permanently: a document becomes a dead letter (appended to next, to be
// sent in its place: it settles the document's share of the Write); a dead letter that is refused fails its write,
// since there is nowhere left to put it.
func (s *BulkSink) refuse(w *worker, next []*item, it *item, typ, msg string) []*item {
	if it.deadLetter {
		s.m.requests.WithLabelValues("rejected").Inc()
		s.log.Error("dead letter refused by the cluster", "index", it.index, "id", it.id, "reason", typ, "error", msg)
		w.settle(it, 0, fmt.Errorf("%w: %s/%s: %s", ErrDeadLetterRejected, it.index, it.id, msg))
		return next
	}
	s.m.deadLettered.WithLabelValues(family(it.index), typ).Inc()
	dl := newDeadLetter(s.dlIndex, it.origin, StageIndex, typ, errors.New(msg), s.now(), it.index, it.id)
	d := s.encodeOne(it.t, dl, true)
	d.outcome = it.outcome
	return append(next, &d)
}

func (s *BulkSink) resendAll(items []*item, reason string) {
	for _, it := range items {
		s.m.retried.WithLabelValues(family(it.index), reason).Inc()
	}
}

func (s *BulkSink) ackAll(w *worker, items []*item) {
	for _, it := range items {
		w.settle(it, 200, nil)
	}
}
