package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/state"
)

// A passRunner runs one finalizer pass under the lock; *finalize.Finalizer is one.
type passRunner interface {
	RunOnceLocked(ctx context.Context, locks finalize.Locker, owner string) (finalize.Report, error)
}

var _ passRunner = (*finalize.Finalizer)(nil)

// finalizerHandler runs one finalizer pass per scheduled invocation, under the deployment's finalizer lock, so
// that a slow pass overlapping the next schedule, or a consumer-mode finalizer on the same table, never runs
// alongside it.
type finalizerHandler struct {
	fin   passRunner
	locks finalize.Locker
	// reserve is kept back from the invocation's deadline to release the lock and log the report.
	reserve time.Duration
	log     *slog.Logger
	emf     io.Writer // CloudWatch embedded-metric-format lines (stdout)
	now     func() time.Time
}

// Handle takes the lock as owner and runs a pass until it is done or the invocation's deadline (less the reserve)
// comes. It returns nil when another finalizer holds the lock, and when the pass was only cut short by the
// deadline: what it finished stays finished and the next scheduled run continues. Any other failure of the pass
// is returned as a *PassError, so the invocation counts as an error; the next schedule retries.
func (h *finalizerHandler) Handle(ctx context.Context, owner string) error {
	start := h.now()
	pass, cancel := context.WithCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		pass, cancel = context.WithDeadline(ctx, deadline.Add(-h.reserve))
	}
	rep, err := h.fin.RunOnceLocked(pass, h.locks, owner)
	deadlineCut := errors.Is(pass.Err(), context.DeadlineExceeded)
	cancel()
	if errors.Is(err, state.ErrNotHeld) {
		h.log.Info("finalizer already running; nothing to do", "owner", owner)
		return nil
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
	case retry.IsPermanent(err):
		// The next scheduled run fails the same way (a partial it cannot read, a table it may not use): the
		// invocation fails as any failed pass does, and the log says that waiting will not fix it.
		h.log.Error("finalizer pass failed permanently; the next run fails the same way until it is fixed", "error", err)
	}
	return &PassError{Err: err}
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
