// Package retry owns two questions every part of kinflow asks of a failure, and answers them in one place: is the
// error worth retrying, and how long to wait before the next attempt.
//
// # Classification
//
// An error is permanent when repeating the same request cannot succeed (a record that is not gzip, a line that is
// not a flow log, a document the cluster refuses, a webhook that answers 400, an invalid configuration): its input
// goes to the dead-letter index, or an operator has to act. Anything else is retryable (throttling, 5xx, a timeout,
// a connection reset), and holds its work back until it succeeds, never skipping data (DESIGN.md, invariant 3).
//
// An error type says which it is by a method, Permanent() bool, which the transport, format and state packages'
// error types implement; Permanent and Transient mark any other error. IsPermanent asks the outermost error of the
// chain that answers, so a caller can override what an error it wraps says. An error nobody classified is
// retryable: the cost of retrying a hopeless request is a delay, the cost of dead-lettering a good one is data.
//
// # The loop
//
// Do is the one retry loop: jittered exponential backoff from github.com/cenkalti/backoff/v5, only on retryable
// errors, until an attempt limit or the context's end. Do keeps its own loop rather than backoff.Retry's for three
// things that one lacks: the sleep can be replaced (tests record the waits instead of sleeping them), the last
// error survives the context's end (a log line has to say what was being waited out), and the classification is
// this package's rather than backoff's own PermanentError type.
package retry

import (
	"context"
	"errors"
	"time"
)

// A marked error carries a classification its wrapped error lacks, or overrides the one it has.
type marked struct {
	err       error
	permanent bool
}

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() error   { return m.err }
func (m *marked) Permanent() bool { return m.permanent }

// Permanent returns err marked as not worth retrying: the same request fails the same way every time. It wraps err,
// so errors.Is and errors.As see through it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, permanent: true}
}

// Transient returns err marked as worth retrying, whatever the errors it wraps say. Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err}
}

// classifier is what an error type implements to say whether it is permanent.
type classifier interface{ Permanent() bool }

// IsPermanent reports whether retrying the request that failed with err is pointless: the outermost error in err's
// chain that classifies itself says so. nil and unclassified errors are not permanent.
func IsPermanent(err error) bool {
	var c classifier
	return errors.As(err, &c) && c.Permanent()
}

// RetryableStatus reports whether an HTTP answer may succeed when the same request is sent again: throttling (429)
// or a server error (5xx). Any other answer outside 2xx is the server's final word on that request.
func RetryableStatus(status int) bool { return status == 429 || status >= 500 }

// IsRetryable reports whether err is a failure worth retrying: not nil and not permanent.
func IsRetryable(err error) bool { return err != nil && !IsPermanent(err) }

// afterError is a retryable error that names its own wait (a Retry-After answer).
type afterError struct {
	err  error
	wait time.Duration
}

func (a *afterError) Error() string   { return a.err.Error() }
func (a *afterError) Unwrap() error   { return a.err }
func (a *afterError) Permanent() bool { return false }

// After returns err marked as retryable after wait instead of the backoff's next wait: the server said when to come
// back. The backoff still counts the attempt, so the wait after a later failure without one is what it would have
// been. After(nil, d) is nil.
func After(err error, wait time.Duration) error {
	if err == nil {
		return nil
	}
	return &afterError{err: err, wait: max(wait, 0)}
}

// A StoppedError is what Do returns when its context ended (or its sleep failed) while a retryable failure was
// being waited out: Err is the context's error, Last the last attempt's. Both are in its chain.
type StoppedError struct {
	Err  error
	Last error
}

func (e *StoppedError) Error() string   { return e.Err.Error() + " (last error: " + e.Last.Error() + ")" }
func (e *StoppedError) Unwrap() []error { return []error{e.Err, e.Last} }

// Sleep waits d, or returns ctx's error when ctx ends first. With d <= 0 it only reports whether ctx has ended.
// It is Do's sleep unless WithSleep replaces it.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// An Option adjusts one Do call.
type Option func(*options)

type options struct {
	onRetry func(err error, attempt int, wait time.Duration)
	sleep   func(ctx context.Context, d time.Duration) error
}

// OnRetry has Do call fn before each wait, with the failed attempt's error, its number (the first is 1) and the
// wait: where callers count retries in their metrics and log them.
func OnRetry(fn func(err error, attempt int, wait time.Duration)) Option {
	return func(o *options) { o.onRetry = fn }
}

// WithSleep replaces Do's sleep. sleep must return ctx's error when ctx ends first; any error it returns stops Do.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) {
		if sleep != nil {
			o.sleep = sleep
		}
	}
}

// Do calls op until it returns nil, and returns nil then. It stops with op's error as soon as that is permanent
// or op has failed p.MaxAttempts times; between attempts it waits the policy's next backoff (or an After error's
// own wait). When ctx ends, it stops with a *StoppedError. The first attempt is always made, even when ctx has
// already ended: op decides what an ended context means to it.
func Do(ctx context.Context, p Policy, op func(ctx context.Context) error, opts ...Option) error {
	o := options{sleep: Sleep}
	for _, opt := range opts {
		opt(&o)
	}
	b := p.NewBackOff()
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || IsPermanent(err) || p.MaxAttempts > 0 && attempt >= p.MaxAttempts {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return &StoppedError{Err: cerr, Last: err}
		}
		wait := b.NextBackOff()
		if a := (*afterError)(nil); errors.As(err, &a) {
			wait = a.wait
		}
		if o.onRetry != nil {
			o.onRetry(err, attempt, wait)
		}
		if serr := o.sleep(ctx, wait); serr != nil {
			return &StoppedError{Err: serr, Last: err}
		}
	}
}
