package sink

import (
	"context"
	"errors"
	"strconv"

	"github.com/kinflow/kinflow/internal/retry"
)

// What the cluster's answers mean is decided here, through the one classification (internal/retry): an answer
// worth resending is retryable, one the cluster will give again for the same bytes is permanent.
var (
	// errResend is a failure a resend can cure: 429 and 5xx (the cluster is busy or a shard is moving), a 409 on an
	// index (a concurrent write of the same id), an item without a status, and any request that got no answer or an
	// answer that does not match it. A request answered 401, 403 or 404 as a whole is resent as well (credentials
	// rotating, a proxy in between): a document is dead-lettered only for what the cluster said of it, never
	// dropped for the state of the path to it.
	errResend = retry.Transient(errors.New("sink: resend"))
	// errRefused is the cluster refusing an item (a mapping or parse error) or a request as a whole (400, 413):
	// the same bytes fail the same way again.
	errRefused = retry.Permanent(errors.New("sink: refused"))
)

// classifyRequest classifies a bulk request's answer as a whole: nil when it is 2xx and its items' answers decide.
// err is the client's: a request that got no answer is resent whatever the client made of it, since the cluster
// refused nothing.
func classifyRequest(status int, err error) error {
	switch {
	case err != nil:
		return errResend
	case status == 413 || status == 400:
		return errRefused
	case status < 200 || status > 299:
		return errResend
	}
	return nil
}

// classifyItem classifies one item's answer: nil when the item is written (2xx, or 409 on a create: an earlier
// attempt wrote the same immutable document).
func classifyItem(status int, op Op) error {
	switch {
	case status >= 200 && status <= 299, status == 409 && op == OpCreate:
		return nil
	case retry.RetryableStatus(status) || status == 409 || status == 0:
		return errResend
	}
	return errRefused
}

// statusReason is the metric reason of a resend for an HTTP status.
func statusReason(status int) string { return "status_" + strconv.Itoa(status) }

// deliver keeps a batch until every item of it is settled: round after round, each resending only what is left,
// parts of a batch refused as a whole one after the other. While some items wait out a transient failure, the
// rounds back off (RetryInitial..RetryMax, jittered) for as long as the engine runs. A round that leaves only dead
// letters to send (in place of refused documents) ends retry.Do: they go at once, and the backoff starts over.
func (s *BulkSink) deliver(w *worker, batch []*item) {
	queue := [][]*item{batch}
	for len(queue) > 0 {
		pending := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for len(pending) > 0 {
			// A stopped engine ends Do; the next round fails what is left (see live).
			_ = retry.Do(s.stopCtx, s.retry, func(context.Context) error {
				r := s.round(w, pending)
				pending = r.next
				queue = append(queue, r.split...)
				return r.err
			})
		}
	}
}
