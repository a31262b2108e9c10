package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/state"
)

// A passRunner runs one finalizer pass; *finalize.Finalizer is one.
type passRunner interface {
	RunOnce(ctx context.Context) (finalize.Report, error)
}

var _ passRunner = (*finalize.Finalizer)(nil)

// releaseTimeout bounds releasing the lock after a pass. A release that fails leaves the lease to expire
// (LockLease), which only makes the next scheduled run find the lock taken and skip.
const releaseTimeout = 5 * time.Second

// finalizerHandler runs one finalizer pass per scheduled invocation, under the deployment's finalizer lock, so
// that a slow pass overlapping the next schedule, or a consumer-mode finalizer on the same table, never runs
// alongside it.
type finalizerHandler struct {
	fin   passRunner
	locks finalize.Locker
	lease time.Duration // the lock's lease; renewed in the background while the pass runs
	// reserve is kept back from the invocation's deadline to release the lock and log the report.
	reserve time.Duration
	log     *slog.Logger
	emf     io.Writer // CloudWatch embedded-metric-format lines (stdout)
	now     func() time.Time
}

// Handle takes the lock as owner and runs a pass until it is done or the invocation's deadline (less the reserve)
// comes. It returns nil when another finalizer holds the lock, and when the pass was only cut short by the
// deadline: what it finished stays finished and the next scheduled run continues. Any other failure of the pass
// is returned, so the invocation counts as an error; the next schedule retries.
func (h *finalizerHandler) Handle(ctx context.Context, owner string) error {
	start := h.now()
	lock, err := h.locks.Hold(ctx, finalize.LockName, owner, h.lease)
	if errors.Is(err, state.ErrNotHeld) {
		h.log.Info("finalizer already running; nothing to do", "owner", owner)
		return nil
	}
	if err != nil {
		return fmt.Errorf("taking the finalizer lock: %w", err)
	}

	var pass context.Context
	var cancel context.CancelFunc
	if deadline, ok := ctx.Deadline(); ok {
		pass, cancel = context.WithDeadline(ctx, deadline.Add(-h.reserve))
	} else {
		pass, cancel = context.WithCancel(ctx)
	}
	lost := make(chan struct{})
	go func() {
		// A lost lock stops the pass: another finalizer may be running already.
		select {
		case <-lock.Lost():
			close(lost)
			cancel()
		case <-pass.Done():
		}
	}()
	rep, err := h.fin.RunOnce(pass)
	deadlineCut := errors.Is(pass.Err(), context.DeadlineExceeded)
	cancel()

	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer rcancel()
	if rerr := lock.Release(rctx); rerr != nil {
		h.log.Warn("finalizer lock: release failed; it expires after its lease", "lease", h.lease, "error", rerr)
	}

	took := h.now().Sub(start)
	h.logReport(rep, took, err)
	h.emitMetrics(rep, took)
	switch {
	case err == nil:
		return nil
	case deadlineCut:
		h.log.Warn("finalizer pass cut short by the invocation deadline; the next run continues", "error", err)
		return nil
	case isClosed(lost):
		return fmt.Errorf("finalizer lock lost during the pass: %w", err)
	default:
		return fmt.Errorf("finalizer pass: %w", err)
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// logReport writes the pass's report as one JSON line.
func (h *finalizerHandler) logReport(rep finalize.Report, took time.Duration, err error) {
	attrs := []any{"watermark", rep.Watermark, "windows", rep.Windows, "open", rep.Open,
		"finalized", rep.Finalized, "corrected", rep.Corrected, "finals", rep.Finals, "chunks", rep.Chunks,
		"dead_lettered", rep.DeadLettered, "superseded_partials", rep.Superseded, "duration", took}
	if err != nil {
		attrs = append(attrs, "error", err)
	}
	h.log.Info("finalizer pass", attrs...)
}

// emitMetrics writes the pass's embedded-metric-format line. The watermark lag (wall clock minus watermark) is
// left out while no shard has reported progress: there is no watermark to lag.
func (h *finalizerHandler) emitMetrics(rep finalize.Report, took time.Duration) {
	now := h.now()
	values := []emfValue{
		{"FinalizedWindows", "Count", float64(rep.Finalized)},
		{"CorrectedWindows", "Count", float64(rep.Corrected)},
		{"Finals", "Count", float64(rep.Finals)},
		{"WebhookChunks", "Count", float64(rep.Chunks)},
		{"WebhookDeadLetters", "Count", float64(rep.DeadLettered)},
		{"FinalizerDuration", "Milliseconds", float64(took.Milliseconds())},
	}
	if rep.Watermark > 0 {
		values = append(values, emfValue{"WatermarkLag", "Seconds", float64(now.Unix() - rep.Watermark)})
	}
	writeEMF(h.emf, now, values)
}
