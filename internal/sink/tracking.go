package sink

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

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

// settle counts n documents of the Write as settled: written when err is nil, else failed with err. The first
// failure is the Write's outcome and ends it at once; its documents still on their way are dropped when a worker
// next looks at them (see live). Every settlement goes through here: from write for the documents never handed to a
// worker, from worker.settle for every item that was.
func (t *ticket) settle(n int, err error) {
	if err != nil {
		t.finish(err) // before counting, so that the last document to settle cannot finish the ticket with nil
	}
	if t.remaining.Add(-int64(n)) == 0 {
		t.finish(nil)
	}
}

// finish decides the Write's outcome, once: err, or nil when every document is written.
func (t *ticket) finish(err error) {
	t.doneOnce.Do(func() {
		t.err = err
		t.failed.Store(err != nil)
		close(t.done)
	})
}

// errAbandoned settles a document dropped unsent because its Write already failed (the ticket's outcome is that
// failure; this error only keeps the document from counting as written).
var errAbandoned = errors.New("sink: the write already failed")

// abandoned returns why nobody waits for the ticket any more, or nil while its writer does: the writer's context
// ended (which fails the Write, should that be what ended it), or the Write already failed.
func (t *ticket) abandoned() error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if t.failed.Load() {
		return errAbandoned
	}
	return nil
}

// live returns the items still to send, settling the others: failed with ErrClosed after a forced close, dropped
// when nobody waits for them any more.
func (s *BulkSink) live(w *worker, items []*item) []*item {
	stopped := s.stopCtx.Err() != nil
	out := items[:0]
	for _, it := range items {
		switch err := it.t.abandoned(); {
		case stopped:
			w.settle(it, 0, ErrClosed)
		case err != nil:
			w.settle(it, 0, err)
		default:
			out = append(out, it)
		}
	}
	return out
}

// settle is the one place an item settles its Write: written, with its answer's status (2xx, or 409 on a create),
// when err is nil; failed with err otherwise. A written item records its Outcome for a caller that asked and counts
// in the written metric; written items are counted on their tickets in runs (a batch usually holds long runs of one
// writer's documents), so a ticket is touched once per run, when the run ends or at endRound.
func (w *worker) settle(it *item, status int, err error) {
	if err != nil {
		it.t.settle(1, err)
		return
	}
	if it.outcome != nil {
		*it.outcome = outcomeOf(it, status)
	}
	w.written[family(it.index)]++
	if it.t != w.run.t {
		w.flushRun()
		w.run.t = it.t
	}
	w.run.n++
}

func outcomeOf(it *item, status int) Outcome {
	switch {
	case it.deadLetter:
		return OutcomeDeadLettered
	case status == 409:
		return OutcomeExists
	}
	return OutcomeWritten
}

// run is the written items of one ticket not yet counted on it.
type run struct {
	t *ticket
	n int
}

func (w *worker) flushRun() {
	if w.run.t != nil && w.run.n > 0 {
		w.run.t.settle(w.run.n, nil)
	}
	w.run = run{}
}
