package finalize

import (
	"context"
	"errors"
	"time"

	"github.com/kinflow/kinflow/internal/state"
)

// LockName is the DynamoDB lock every finalizer of a deployment takes before a pass.
const LockName = "finalizer"

// A Locker hands out the finalizer lock; *state.Store is one.
type Locker interface {
	Hold(ctx context.Context, name, owner string, lease time.Duration) (*state.Lock, error)
}

var _ Locker = (*state.Store)(nil)

// Run is the long-running finalizer of consumer mode: every worker runs it, and the one holding the lock runs a
// pass every Interval while the others wait to take over (a dead holder's lease expires after LockLease). It
// returns when ctx ends, releasing the lock. Pass errors are logged and retried at the next interval: they never
// reach the shard processors.
func (f *Finalizer) Run(ctx context.Context, locks Locker, owner string) error {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		f.hold(ctx, locks, owner, t.C)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// hold takes the lock if it is free and runs passes while it lasts.
func (f *Finalizer) hold(ctx context.Context, locks Locker, owner string, tick <-chan time.Time) {
	lock, err := locks.Hold(ctx, LockName, owner, f.cfg.LockLease)
	if err != nil {
		if !errors.Is(err, state.ErrNotHeld) && ctx.Err() == nil {
			f.log.Warn("finalizer lock: could not ask for it", "error", err)
		}
		return
	}
	f.metrics.lockHeld.Set(1)
	f.log.Info("finalizer lock taken", "owner", owner, "lease", f.cfg.LockLease)
	passCtx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		f.metrics.lockHeld.Set(0)
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if err := lock.Release(rctx); err != nil {
			f.log.Warn("finalizer lock: release", "error", err)
		}
	}()
	go func() {
		// A lost lock stops the pass in flight: another finalizer may be running already.
		select {
		case <-lock.Lost():
			cancel()
		case <-passCtx.Done():
		}
	}()
	for {
		rep, err := f.RunOnce(passCtx)
		switch {
		case err != nil && passCtx.Err() == nil:
			f.log.Warn("finalizer pass failed; retrying at the next interval", "error", err)
		case err == nil && (rep.Finalized > 0 || rep.Corrected > 0):
			f.log.Info("finalizer pass", "watermark", rep.Watermark, "windows", rep.Windows, "open", rep.Open,
				"finalized", rep.Finalized, "corrected", rep.Corrected, "finals", rep.Finals, "chunks", rep.Chunks,
				"dead_lettered", rep.DeadLettered, "superseded_partials", rep.Superseded)
		}
		select {
		case <-passCtx.Done():
			if ctx.Err() == nil {
				f.log.Warn("finalizer lock lost; another worker takes over")
			}
			return
		case <-tick:
		}
	}
}
