package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// selfClassified is an error type that says what it is, as cwlogs.Error or state.Error do.
type selfClassified struct{ permanent bool }

func (e selfClassified) Error() string {
	return fmt.Sprintf("self-classified (permanent %t)", e.permanent)
}
func (e selfClassified) Permanent() bool { return e.permanent }

func TestClassification(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name          string
		err           error
		permanent     bool
		retryable     bool
		stillMatchesB bool // errors.Is(err, base)
	}{
		{"nil", nil, false, false, false},
		{"unclassified", base, false, true, true},
		{"context canceled", context.Canceled, false, true, false},
		{"marked permanent", Permanent(base), true, false, true},
		{"marked transient", Transient(base), false, true, true},
		{"permanent, wrapped with context", fmt.Errorf("writing: %w", Permanent(base)), true, false, true},
		{"transient overrides a permanent inside", Transient(Permanent(base)), false, true, true},
		{"permanent overrides a transient inside", Permanent(Transient(base)), true, false, true},
		{"type says permanent", fmt.Errorf("decoding: %w", selfClassified{true}), true, false, false},
		{"type says transient", selfClassified{false}, false, true, false},
		{"joined: the first classified decides", errors.Join(base, Permanent(io.EOF)), true, false, true},
		{"after is retryable", After(Permanent(base), time.Second), false, true, true},
		{"stopped is retryable", &StoppedError{Err: context.Canceled, Last: base}, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsPermanent(tt.err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			if got := IsRetryable(tt.err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if got := errors.Is(tt.err, base); got != tt.stillMatchesB {
				t.Errorf("errors.Is(err, base) = %v, want %v", got, tt.stillMatchesB)
			}
		})
	}
	if Permanent(nil) != nil || Transient(nil) != nil || After(nil, time.Second) != nil {
		t.Error("marking nil must stay nil")
	}
}

// recorder is a sleep that records the waits and returns at once, cancelling ctx at wait cancelAt (1-based).
type recorder struct {
	waits    []time.Duration
	cancelAt int
	cancel   context.CancelFunc
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	if len(r.waits) == r.cancelAt {
		r.cancel()
	}
	return ctx.Err()
}

// backoffWait in a test's waits stands for a backoff wait, checked against the policy's bounds.
const backoffWait time.Duration = -1

func TestDo(t *testing.T) {
	transient, permanent := errors.New("throttled"), Permanent(errors.New("refused"))
	policy := Policy{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond}
	b := backoffWait
	tests := []struct {
		name      string
		policy    Policy
		results   []error // op's answer per attempt; the last one repeats
		cancelAt  int     // cancel the context at this wait (0: never)
		wantErr   func(error) bool
		wantRuns  int
		wantWaits []time.Duration // exact, or backoffWait
	}{
		{name: "success at once", policy: policy, results: []error{nil},
			wantErr: func(err error) bool { return err == nil }, wantRuns: 1},
		{name: "retryable, then success", policy: policy, results: []error{transient, transient, transient, nil},
			wantErr: func(err error) bool { return err == nil }, wantRuns: 4, wantWaits: []time.Duration{b, b, b}},
		{name: "permanent stops at once", policy: policy, results: []error{transient, permanent},
			wantErr: func(err error) bool { return err == permanent }, wantRuns: 2, wantWaits: []time.Duration{b}},
		{name: "attempts exhausted", policy: Policy{Initial: time.Millisecond, Max: time.Second, MaxAttempts: 3},
			results: []error{transient}, wantErr: func(err error) bool { return err == transient }, wantRuns: 3,
			wantWaits: []time.Duration{b, b}},
		{name: "one attempt: no retry", policy: Policy{Initial: time.Millisecond, Max: time.Second, MaxAttempts: 1},
			results: []error{transient}, wantErr: func(err error) bool { return err == transient }, wantRuns: 1},
		{name: "retry-after replaces the backoff, which still counts the attempt", policy: policy,
			results:  []error{After(transient, 3*time.Second), After(transient, 0), transient, nil},
			wantErr:  func(err error) bool { return err == nil },
			wantRuns: 4, wantWaits: []time.Duration{3 * time.Second, 0, b}},
		{name: "context ends while waiting", policy: policy, results: []error{transient}, cancelAt: 2,
			wantErr: func(err error) bool {
				var s *StoppedError
				return errors.As(err, &s) && errors.Is(err, context.Canceled) && errors.Is(err, transient) &&
					err.Error() == "context canceled (last error: throttled)"
			},
			wantRuns: 2, wantWaits: []time.Duration{b, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			rec := &recorder{cancelAt: tt.cancelAt, cancel: cancel}
			var notified []int
			var notifiedWaits []time.Duration
			runs := 0
			err := Do(ctx, tt.policy, func(context.Context) error {
				runs++
				return tt.results[min(runs, len(tt.results))-1]
			}, WithSleep(rec.sleep), OnRetry(func(err error, attempt int, wait time.Duration) {
				if err == nil {
					t.Errorf("OnRetry(nil, %d, %v): want the failure", attempt, wait)
				}
				notified, notifiedWaits = append(notified, attempt), append(notifiedWaits, wait)
			}))
			if !tt.wantErr(err) {
				t.Fatalf("Do = %v", err)
			}
			if runs != tt.wantRuns {
				t.Errorf("%d attempts, want %d", runs, tt.wantRuns)
			}
			if len(rec.waits) != len(tt.wantWaits) {
				t.Fatalf("waits %v, want %d", rec.waits, len(tt.wantWaits))
			}
			for i, w := range rec.waits {
				if want := tt.wantWaits[i]; want != backoffWait {
					if w != want {
						t.Errorf("wait %d = %v, want %v", i+1, w, want)
					}
					continue
				}
				d := min(tt.policy.Initial<<i, tt.policy.Max)
				if w < d/2 || w > d {
					t.Errorf("wait %d = %v, want within [%v, %v]", i+1, w, d/2, d)
				}
			}
			if want := seq(len(rec.waits)); !cmp.Equal(notified, want) || !cmp.Equal(notifiedWaits, rec.waits) {
				t.Errorf("OnRetry attempts %v, waits %v; want %v, %v (before each sleep)", notified, notifiedWaits, want, rec.waits)
			}
		})
	}
}

func seq(n int) []int {
	var out []int
	for i := 1; i <= n; i++ {
		out = append(out, i)
	}
	return out
}

func TestDoFirstAttemptDespiteEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	runs := 0
	err := Do(ctx, Policy{Initial: time.Millisecond, Max: time.Millisecond}, func(context.Context) error {
		runs++
		return errors.New("down")
	})
	var s *StoppedError
	if runs != 1 || !errors.As(err, &s) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Do = %v after %d attempts; want one attempt and a StoppedError", err, runs)
	}
}

func TestBackoffBounds(t *testing.T) {
	for _, p := range []Policy{
		{Initial: 500 * time.Millisecond, Max: 30 * time.Second},
		{Initial: 100 * time.Millisecond, Max: 30 * time.Second},
		{Initial: time.Millisecond, Max: 5 * time.Millisecond},
		{Initial: 3 * time.Millisecond, Max: 3 * time.Millisecond},
	} {
		for range 50 {
			b := p.NewBackOff()
			for n := 1; n <= 100; n++ {
				d := p.Initial
				for i := 1; i < n && d < p.Max; i++ {
					d *= 2
				}
				d = min(d, p.Max)
				if w := b.NextBackOff(); w < d/2 || w > d {
					t.Fatalf("%+v: wait %d = %v, want within [%v, %v]", p, n, w, d/2, d)
				}
			}
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := (Policy{Initial: time.Second, Max: time.Millisecond, MaxAttempts: -1}).Validate(); !errors.Is(err, ErrInvalidPolicy) ||
		err.Error() != "retry: invalid policy: backoff 1s..1ms: need 0 < initial <= max\n"+
			"retry: invalid policy: max attempts -1: need 0 (no limit) or more" {
		t.Errorf("Validate = %v", err)
	}
	if err := (Policy{Initial: time.Millisecond, Max: time.Millisecond}).Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(t.Context(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("Sleep on an ended context = %v after %v", err, time.Since(start))
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(0) on an ended context = %v", err)
	}
}

func TestRetryableStatus(t *testing.T) {
	for status, want := range map[int]bool{200: false, 301: false, 400: false, 404: false, 409: false, 413: false,
		429: true, 500: true, 502: true, 503: true, 504: true} {
		if got := RetryableStatus(status); got != want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", status, got, want)
		}
	}
}
