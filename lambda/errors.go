package main

import "errors"

// The errors the functions return to the runtime. aws-lambda-go reports the Go type name of a returned error as
// the invocation's errorType (in CloudWatch Logs, the Invoke API's error payload, an on-failure destination), so
// each way an invocation fails has a type of its own: an alarm or a log query tells a configuration to fix from a
// cluster that was down from a finalizer pass that failed. Each wraps its cause, and is classified as its cause
// is (internal/retry), except a ConfigError, which is permanent.

// A ConfigError is a configuration that cannot work, found at cold start: every invocation fails with it, listing
// every problem, until the function's configuration is fixed.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "invalid configuration: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Permanent reports that retrying the invocation cannot help: only a new configuration can.
func (e *ConfigError) Permanent() bool { return true }

// A SetupError is a failure to build what a handler needs on a fresh container (AWS credentials, the sink and its
// index templates, the state store, the webhook's secret): the next invocation tries again.
type SetupError struct {
	Handler string // batch or finalizer
	Err     error
}

func (e *SetupError) Error() string {
	return "setting up the " + e.Handler + " handler: " + e.Err.Error()
}
func (e *SetupError) Unwrap() error { return e.Err }

// A PassError is a finalizer pass that failed for another reason than the invocation's deadline: what it finished
// stays finished, and the next scheduled run retries the rest.
type PassError struct{ Err error }

func (e *PassError) Error() string { return "finalizer pass: " + e.Err.Error() }
func (e *PassError) Unwrap() error { return e.Err }

// setupFailed is what a handler returns when it could not be built: the configuration's error as it is, anything
// else as a SetupError.
func setupFailed(handler string, err error) error {
	if ce := (*ConfigError)(nil); errors.As(err, &ce) {
		return err
	}
	return &SetupError{Handler: handler, Err: err}
}
