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

// chunkSize bounds the chunks of a batch. Larger than the consumer's (which holds many shards' chunks at once): a
// batch is one shard's, and a chunk's commit is one round of bulk requests, so fewer, larger chunks keep a slow
// cluster's answers from adding up (BENCHMARKS.md, "Chunks in the batch function").
var chunkSize = pipeline.ChunkSize{Records: 100, Bytes: 512 << 10}

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
	chunks  pipeline.ChunkSize // how a shard's records are cut into chunks: chunkSize, smaller in tests
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
	// A fresh processor per invocation: a partial cut here covers exactly the records this invocation
	// acknowledges, named by this batch's first sequence number, so a retried batch rewrites its own partials.
	sh, err := h.pipe.Shard(sr.shardID)
	if err != nil {
		h.log.Error("cannot process shard", "shard", sr.shardID, "error", err)
		return shardOutcome{}
	}
	// Its buffers go to the next invocation's: nothing it prepared is in use once shard returns.
	defer sh.Release()
	records := make([]pipeline.Record, len(sr.records))
	for i, r := range sr.records {
		records[i] = pipeline.Record{SequenceNumber: r.Kinesis.SequenceNumber, Data: r.Kinesis.Data}
	}
	processed, total, err := h.processChunks(work, sh, records)
	if err != nil {
		// Reported for retry either way: nothing is skipped. A permanent failure (a dead letter the cluster
		// refuses, say) will fail again, so it is logged as an error someone has to look at.
		level := slog.LevelWarn
		if retry.IsPermanent(err) {
			level = slog.LevelError
		}
		h.log.Log(ctx, level, "records not durable; reporting them for retry", "shard", sr.shardID,
			"first_sequence", records[processed].SequenceNumber, "permanent", level == slog.LevelError, "error", err)
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

// processChunks prepares and commits records a chunk at a time (h.chunks), preparing each chunk while the
// one before commits, as the consumer does: memory holds two chunks' documents whatever the batch's size (a 6 MB
// batch held whole peaked at 683 MiB), and the cluster's answers overlap the decoding. A chunk is the unit of
// acknowledgement. It returns how many leading records are durable, their result, and the error that stopped it
// (records from the first one not durable on are to be reported).
func (h *kinesisHandler) processChunks(ctx context.Context, sh *pipeline.Shard, records []pipeline.Record) (int, pipeline.Result, error) {
	type commit struct {
		records int
		res     pipeline.Result
		err     error
	}
	var (
		durable  int
		total    pipeline.Result
		inflight chan commit
	)
	// await waits for the chunk being committed, if any, and counts it once it is durable.
	await := func() error {
		if inflight == nil {
			return nil
		}
		c := <-inflight
		inflight = nil
		if c.err != nil {
			return c.err
		}
		durable += c.records
		total.Add(c.res)
		return nil
	}
	for next := 0; next < len(records); {
		n := h.chunks.Len(records[next:])
		b, err := sh.Prepare(ctx, records[next:next+n])
		if werr := await(); werr != nil {
			return durable, total, werr
		}
		if err != nil {
			return durable, total, err
		}
		next += n
		done := make(chan commit, 1)
		inflight = done
		go func() {
			res, err := sh.Commit(ctx, b)
			done <- commit{records: n, res: res, err: err}
		}()
	}
	return durable, total, await()
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
