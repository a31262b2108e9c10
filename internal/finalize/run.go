package finalize

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/state"
)

// LockName is the DynamoDB lock every finalizer of a deployment takes before a pass.
const LockName = "finalizer"

// ErrLockLost is wrapped by the error of work stopped because the finalizer lock was lost (another finalizer may
// run already).
var ErrLockLost = errors.New("finalize: the lock was lost")

// releaseTimeout bounds releasing the lock. A release that fails leaves the lease to expire (LockLease).
const releaseTimeout = 5 * time.Second

// A Locker hands out the finalizer lock, with a context that ends when the lock is lost; *state.Store is one.
type Locker interface {
	Hold(ctx context.Context, name, owner string, lease time.Duration) (context.Context, *state.Lock, error)
}

var _ Locker = (*state.Store)(nil)

// RunOnceLocked takes the finalizer lock as owner, runs one pass while holding it, and releases it: the Lambda
// finalizer and `consumer finalize`. When another finalizer holds the lock it returns an error wrapping
// state.ErrNotHeld at once; a lock lost during the pass stops it with an error wrapping ErrLockLost.
func (f *Finalizer) RunOnceLocked(ctx context.Context, locks Locker, owner string) (Report, error) {
	var rep Report
	err := f.withLock(ctx, locks, owner, func(ctx context.Context) error {
		var err error
		rep, err = f.RunOnce(ctx)
		return err
	})
	return rep, err
}

// Run is the long-running finalizer of consumer mode: every worker runs it, and the one holding the lock runs a
// pass every Interval while the others wait to take over (a dead holder's lease expires after LockLease). It
// returns when ctx ends, releasing the lock. Pass errors are logged and retried at the next interval: they never
// reach the shard processors.
func (f *Finalizer) Run(ctx context.Context, locks Locker, owner string) error {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		err := f.withLock(ctx, locks, owner, func(ctx context.Context) error { return f.passes(ctx, owner, t.C) })
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, ErrLockLost):
			f.log.Warn("finalizer lock lost; another worker takes over")
		case err != nil && !errors.Is(err, state.ErrNotHeld):
			f.log.Warn("finalizer lock: could not ask for it", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// passes runs a pass at every tick until ctx ends (the lock was lost, or the worker stops).
func (f *Finalizer) passes(ctx context.Context, owner string, tick <-chan time.Time) error {
	f.log.Info("finalizer lock taken", "owner", owner, "lease", f.cfg.LockLease)
	for {
		rep, err := f.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil && retry.IsPermanent(err):
			// Retried all the same (the next pass may find the window moved on), but waiting alone will not fix it.
			f.log.Error("finalizer pass failed; the next one is likely to fail the same way", "error", err)
		case err != nil && ctx.Err() == nil:
			f.log.Warn("finalizer pass failed; retrying at the next interval", "error", err)
		case err == nil && (rep.Finalized > 0 || rep.Corrected > 0):
			f.log.Info("finalizer pass", "watermark", rep.Watermark, "windows", rep.Windows, "open", rep.Open,
				"finalized", rep.Finalized, "corrected", rep.Corrected, "finals", rep.Finals, "chunks", rep.Chunks,
				"dead_lettered", rep.DeadLettered, "superseded_partials", rep.Superseded)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
		}
	}
}

// withLock takes the lock, runs work under the lock's context (it ends when ctx does or the lock is lost), and
// releases the lock. work's error is returned, wrapped in ErrLockLost when the lock was lost.
func (f *Finalizer) withLock(ctx context.Context, locks Locker, owner string, work func(context.Context) error) error {
	held, lock, err := locks.Hold(ctx, LockName, owner, f.cfg.LockLease)
	if err != nil {
		return err
	}
	f.metrics.lockHeld.Set(1)
	err = work(held)
	// Read before Release, which ends the context too.
	lost := errors.Is(context.Cause(held), state.ErrLost)
	f.metrics.lockHeld.Set(0)
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer rcancel()
	if rerr := lock.Release(rctx); rerr != nil {
		f.log.Warn("finalizer lock: release failed; it expires after its lease", "lease", f.cfg.LockLease, "error", rerr)
	}
	if lost && err != nil {
		return fmt.Errorf("%w: %w", ErrLockLost, err)
	}
	// A loss after work returned nil came too late to stop anything: the work is done.
	return err
}
