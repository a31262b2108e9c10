package retry

import (
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// A Policy is the limits of a retry loop.
type Policy struct {
	// Initial and Max bound the exponential backoff: the n-th wait is drawn at random from [d/2, d] with
	// d = min(Max, Initial*2^(n-1)), so that clients failing together do not retry together.
	Initial, Max time.Duration
	// MaxAttempts is the number of attempts in all, the first one included; 0: no limit, retry until the context
	// ends.
	MaxAttempts int
}

// ErrInvalidPolicy is wrapped by Validate's errors.
var ErrInvalidPolicy = errors.New("retry: invalid policy")

// Validate reports every problem of p at once.
func (p Policy) Validate() error {
	var errs []error
	if p.Initial <= 0 || p.Max < p.Initial {
		errs = append(errs, fmt.Errorf("%w: backoff %v..%v: need 0 < initial <= max", ErrInvalidPolicy, p.Initial, p.Max))
	}
	if p.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("%w: max attempts %d: need 0 (no limit) or more", ErrInvalidPolicy, p.MaxAttempts))
	}
	return errors.Join(errs...)
}

// NewBackOff returns the policy's schedule of waits, fresh: each NextBackOff is the next wait.
//
// backoff's ExponentialBackOff draws from [c(1-r), c(1+r)] around its current interval c. Drawing from [d/2, d]
// (the range kinflow's settings document) is the same thing with c = 3d/4 and r = 1/3, so the intervals are
// scaled by 3/4 and the randomization factor is 1/3.
func (p Policy) NewBackOff() backoff.BackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.Initial * 3 / 4,
		RandomizationFactor: 1.0 / 3,
		Multiplier:          2,
		MaxInterval:         p.Max * 3 / 4,
	}
	b.Reset()
	return capped{b: b, max: p.Max}
}

// capped keeps a wait within the policy's Max, which float rounding in the randomization could pass by a
// nanosecond.
type capped struct {
	b   backoff.BackOff
	max time.Duration
}

func (c capped) NextBackOff() time.Duration { return min(c.b.NextBackOff(), c.max) }
func (c capped) Reset()                     { c.b.Reset() }
