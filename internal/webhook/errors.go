package webhook

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/kinflow/kinflow/internal/retry"
)

// Sentinels wrapped by a *DeliveryError (ErrRejected, ErrExhausted, ErrTimeout) and by Request and Deliver given
// a malformed chunk (ErrInvalidChunk, a bug in the caller, so neither delivered nor dead-lettered).
//
// ErrRejected and ErrExhausted are marked permanent (retry.IsPermanent), and with them every DeliveryError: the
// delivery is over, retrying it now is pointless.
var (
	ErrRejected     = retry.Permanent(errors.New("webhook: rejected"))
	ErrExhausted    = retry.Permanent(errors.New("webhook: attempts exhausted"))
	ErrTimeout      = errors.New("webhook: attempt timed out")
	ErrInvalidChunk = errors.New("webhook: invalid chunk")
)

// A DeliveryError says that a chunk could not be delivered and never will be by retrying it now: the receiver
// refused it (Permanent, wrapping ErrRejected) or every attempt failed (wrapping ErrExhausted). Either way
// retry.IsPermanent reports it, and the caller dead-letters the chunk; the Permanent field says which of the two.
//
// A per-attempt timeout wraps ErrTimeout and deliberately not context.DeadlineExceeded, so that
// errors.Is(err, context.DeadlineExceeded) keeps meaning that the caller's own context ended.
type DeliveryError struct {
	Key       string // Idempotency-Key of the chunk
	URL       string // where it was sent, password and query values redacted
	Attempts  int
	Status    int    // of the last answer; 0 when the last attempt got none (transport error or timeout)
	Body      string // the first KiB of the last answer's body
	Permanent bool   // the receiver refused the chunk; false: attempts exhausted on retryable failures
	Err       error  // wraps ErrRejected or ErrExhausted, and the last transport error or ErrTimeout if any
}

func (e *DeliveryError) Error() string {
	b := fmt.Appendf(nil, "webhook: POST %s (%s) failed after %d attempt", e.URL, e.Key, e.Attempts)
	if e.Attempts != 1 {
		b = append(b, 's')
	}
	if e.Status != 0 {
		b = fmt.Appendf(b, ", last answer %d", e.Status)
		if e.Body != "" {
			body := e.Body
			if len(body) > 200 {
				body = body[:200] + "..."
			}
			b = fmt.Appendf(b, " %q", body)
		}
	}
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Reason is a short machine-readable reason for dead letters and metric labels: webhook_rejected_<status>,
// webhook_exhausted_<status>, webhook_exhausted_timeout or webhook_exhausted_network.
func (e *DeliveryError) Reason() string {
	kind := "webhook_exhausted_"
	if e.Permanent {
		kind = "webhook_rejected_"
	}
	switch {
	case e.Status != 0:
		return kind + strconv.Itoa(e.Status)
	case errors.Is(e.Err, ErrTimeout):
		return kind + "timeout"
	default:
		return kind + "network"
	}
}
