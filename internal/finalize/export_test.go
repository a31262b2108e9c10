package finalize

// The crash-injection hook is for tests only: these names give the external tests (package finalize_test) access
// to it without making it part of the package's API.

// Step names a point in a window's finalization where a test can stop a pass.
type Step = step

// The steps.
const (
	StepClaimed       = stepClaimed
	StepFinalsWritten = stepFinalsWritten
	StepDelivered     = stepDelivered
	StepSignals       = stepSignalsWritten
)

// WithHook returns opts with the hook set: it is called at each step, and an error stops the pass there as a
// crash would.
func WithHook(opts Options, hook func(s Step, windowStart int64, chunk int) error) Options {
	opts.hook = hook
	return opts
}
