package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/state"
)

// chunkRecords is how many records one Process call covers. A chunk is the unit of acknowledgement: when the
// invocation runs out of time, the records from the first unfinished chunk on are reported as failures.
const chunkRecords = 100

// caughtUpWithin: a shard whose last acknowledged record arrived in the stream at most this long ago is at its tip
// (the Lambda's stand-in for the KCL's MillisBehindLatest). An event source mapping invokes again within seconds
// when there is more to read, so a minute is well past the normal lag of a shard that keeps up.
const caughtUpWithin = 60 * time.Second

// progressTimeout bounds recording a shard's progress. It comes out of the reserve, after the cut: a slow
// DynamoDB must not make the invocation miss its deadline and have the whole batch redelivered.
const progressTimeout = 2 * time.Second

// A ProgressStore records shard progress for the finalizer; *state.Store is one.
type ProgressStore interface {
	PutProgress(ctx context.Context, p state.Progress) error
}

var _ ProgressStore = (*state.Store)(nil)

// kinesisHandler runs the pipeline over a Kinesis event source mapping's batches and answers with partial batch
// responses (ReportBatchItemFailures).
type kinesisHandler struct {
	pipe *pipeline.Pipeline
	// reserve is kept back from the invocation's deadline to cut the partial rollups and answer.
	reserve time.Duration
	chunk   int // records per Process call; 0 means chunkRecords
	log     *slog.Logger
	emf     io.Writer // CloudWatch embedded-metric-format lines (stdout)
	now     func() time.Time
	// progress records each shard's event-time progress after its records are acknowledged; nil when no state
	// table is configured (then no finalizer reads it).
	progress ProgressStore
}

// shardOutcome is what became of one shard's records in an invocation.
type shardOutcome struct {
	durable       int // leading records acknowledged
	res           pipeline.Result
	progressError bool // the records are acknowledged, but their progress was not recorded
}

// shardRecords are the records of one shard in the batch, in order.
type shardRecords struct {
	shardID string
	records []events.KinesisEventRecord
}

// Handle processes the batch. A record is left out of BatchItemFailures only when every document it produced and
// its share of the partial rollups are durable; from the first record that is not, every record of its shard is
// reported, so the event source mapping retries from there. Poison records are never reported: the pipeline
// dead-letters them.
func (h *kinesisHandler) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	start := h.now()
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-h.reserve))
		defer cancel()
	}

	var resp events.KinesisEventResponse
	var total pipeline.Result
	progressErrors := 0
	for _, sr := range byShard(ev.Records) {
		out := h.shard(ctx, work, sr)
		total.Add(out.res)
		if out.progressError {
			progressErrors++
		}
		for _, r := range sr.records[out.durable:] {
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
		}
	}
	h.log.Info("batch done", "records", len(ev.Records), "flows", total.Flows, "dead_letters", total.DeadLetters,
		"late", total.Late, "failures", len(resp.BatchItemFailures), "progress_errors", progressErrors,
		"duration", h.now().Sub(start))
	h.emitMetrics(&total, len(ev.Records), len(resp.BatchItemFailures), progressErrors, h.now().Sub(start))
	return resp, nil
}

// shard processes one shard's records chunk by chunk until done or out of time, then cuts the partial rollups of
// what was processed and records the shard's progress. It returns how many leading records are durable.
func (h *kinesisHandler) shard(ctx, work context.Context, sr shardRecords) shardOutcome {
	var total pipeline.Result
	// A fresh processor per invocation: a partial cut here covers exactly the records this invocation
	// acknowledges, named by this batch's first sequence number, so a retried batch rewrites its own partials.
	sh, err := h.pipe.Shard(sr.shardID)
	if err != nil {
		h.log.Error("cannot process shard", "shard", sr.shardID, "error", err)
		return shardOutcome{}
	}
	chunk := h.chunk
	if chunk <= 0 {
		chunk = chunkRecords
	}
	processed := 0
	batch := make([]pipeline.Record, 0, chunk)
	for processed < len(sr.records) {
		batch = batch[:0]
		for _, r := range sr.records[processed:min(processed+chunk, len(sr.records))] {
			batch = append(batch, pipeline.Record{SequenceNumber: r.Kinesis.SequenceNumber, Data: r.Kinesis.Data})
		}
		res, err := sh.Process(work, batch)
		if err != nil {
			// Reported for retry either way: nothing is skipped. A permanent failure (a dead letter the cluster
			// refuses, say) will fail again, so it is logged as an error someone has to look at.
			level := slog.LevelWarn
			if retry.IsPermanent(err) {
				level = slog.LevelError
			}
			h.log.Log(ctx, level, "records not durable; reporting them for retry", "shard", sr.shardID,
				"first_sequence", batch[0].SequenceNumber, "permanent", level == slog.LevelError, "error", err)
			break
		}
		total.Add(res)
		processed += len(batch)
	}
	if processed == 0 {
		return shardOutcome{res: total}
	}
	// The reserve is for this: cut with the invocation's own deadline, not the work deadline that may have passed.
	if err := sh.Cut(ctx); err != nil {
		h.log.Warn("partial rollups not durable; reporting the shard's records for retry", "shard", sr.shardID, "error", err)
		return shardOutcome{res: total}
	}
	// Acknowledged from here on: the records are left out of BatchItemFailures whatever happens next.
	return shardOutcome{durable: processed, res: total,
		progressError: !h.recordProgress(ctx, sr.shardID, sh, sr.records[processed-1], total)}
}

// recordProgress tells the finalizer how far the shard has acknowledged in event time, and reports whether it
// succeeded (or there is no state table). It is advisory: a failed write only delays finalization until a later
// batch's write or the finalizer's wall-clock safety net, so it never fails the batch.
//
// sh lives for this invocation only, so its Watermark covers this batch's flows; the store keeps the maximum, so a
// retried or older batch cannot move the shard's progress back.
func (h *kinesisHandler) recordProgress(ctx context.Context, shardID string, sh *pipeline.Shard, last events.KinesisEventRecord, res pipeline.Result) bool {
	if h.progress == nil {
		return true
	}
	now := h.now()
	p := state.Progress{
		ShardID:   shardID,
		Watermark: sh.Watermark(),
		CaughtUp:  now.Sub(last.Kinesis.ApproximateArrivalTimestamp.Time) <= caughtUpWithin,
		UpdatedAt: now,
	}
	if res.Aggregated > 0 {
		p.LastDataAt = now // else zero: the stored one stays, and the shard may count as idle
	}
	pctx, cancel := context.WithTimeout(ctx, progressTimeout)
	defer cancel()
	if err := h.progress.PutProgress(pctx, p); err != nil {
		h.log.Warn("recording shard progress failed; the finalizer's watermark waits", "shard", shardID, "error", err)
		return false
	}
	return true
}

// byShard groups records by shard, keeping their order. An event source mapping sends one shard per batch, but
// nothing here depends on it.
func byShard(records []events.KinesisEventRecord) []shardRecords {
	var out []shardRecords
	index := map[string]int{}
	for _, r := range records {
		id := shardOf(r)
		i, ok := index[id]
		if !ok {
			i = len(out)
			index[id] = i
			out = append(out, shardRecords{shardID: id})
		}
		out[i].records = append(out[i].records, r)
	}
	return out
}

// shardOf returns the shard id of a record: its eventID is "<shard id>:<sequence number>".
func shardOf(r events.KinesisEventRecord) string {
	if id, _, ok := strings.Cut(r.EventID, ":"); ok && id != "" {
		return id
	}
	return "unknown-shard"
}

// emitMetrics writes the batch's embedded-metric-format line.
func (h *kinesisHandler) emitMetrics(r *pipeline.Result, records, failures, progressErrors int, took time.Duration) {
	writeEMF(h.emf, h.now(), []emfValue{
		{"Records", "Count", float64(records)},
		{"LogEvents", "Count", float64(r.Events)},
		{"Flows", "Count", float64(r.Flows)},
		{"DeadLetters", "Count", float64(r.DeadLetters)},
		{"LateFlows", "Count", float64(r.Late)},
		{"ControlMessages", "Count", float64(r.Control)},
		{"BatchItemFailures", "Count", float64(failures)},
		{"ProgressErrors", "Count", float64(progressErrors)},
		{"BatchDuration", "Milliseconds", float64(took.Milliseconds())},
	})
}
