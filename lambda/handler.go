package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kinflow/kinflow/internal/pipeline"
)

// chunkRecords is how many records one Process call covers. A chunk is the unit of acknowledgement: when the
// invocation runs out of time, the records from the first unfinished chunk on are reported as failures.
const chunkRecords = 100

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
	for _, sr := range byShard(ev.Records) {
		durable, res := h.shard(ctx, work, sr)
		total.Add(res)
		for _, r := range sr.records[durable:] {
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
		}
	}
	h.log.Info("batch done", "records", len(ev.Records), "flows", total.Flows, "dead_letters", total.DeadLetters,
		"late", total.Late, "failures", len(resp.BatchItemFailures), "duration", h.now().Sub(start))
	h.emitMetrics(&total, len(ev.Records), len(resp.BatchItemFailures), h.now().Sub(start))
	return resp, nil
}

// shard processes one shard's records chunk by chunk until done or out of time, then cuts the partial rollups of
// what was processed. It returns how many leading records are durable.
func (h *kinesisHandler) shard(ctx, work context.Context, sr shardRecords) (int, pipeline.Result) {
	var total pipeline.Result
	// A fresh processor per invocation: a partial cut here covers exactly the records this invocation
	// acknowledges, named by this batch's first sequence number, so a retried batch rewrites its own partials.
	sh, err := h.pipe.Shard(sr.shardID)
	if err != nil {
		h.log.Error("cannot process shard", "shard", sr.shardID, "error", err)
		return 0, total
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
			h.log.Warn("records not durable; reporting them for retry", "shard", sr.shardID,
				"first_sequence", batch[0].SequenceNumber, "error", err)
			break
		}
		total.Add(res)
		processed += len(batch)
	}
	if processed == 0 {
		return 0, total
	}
	// The reserve is for this: cut with the invocation's own deadline, not the work deadline that may have passed.
	if err := sh.Cut(ctx); err != nil {
		h.log.Warn("partial rollups not durable; reporting the shard's records for retry", "shard", sr.shardID, "error", err)
		return 0, total
	}
	return processed, total
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

// emitMetrics writes one CloudWatch embedded-metric-format line: CloudWatch turns it into metrics without API calls.
func (h *kinesisHandler) emitMetrics(r *pipeline.Result, records, failures int, took time.Duration) {
	if h.emf == nil {
		return
	}
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	values := []struct {
		name  string
		unit  string
		value float64
	}{
		{"Records", "Count", float64(records)},
		{"LogEvents", "Count", float64(r.Events)},
		{"Flows", "Count", float64(r.Flows)},
		{"DeadLetters", "Count", float64(r.DeadLetters)},
		{"LateFlows", "Count", float64(r.Late)},
		{"ControlMessages", "Count", float64(r.Control)},
		{"BatchItemFailures", "Count", float64(failures)},
		{"BatchDuration", "Milliseconds", float64(took.Milliseconds())},
	}
	line := map[string]any{"Service": "kinflow"}
	metrics := make([]metric, len(values))
	for i, v := range values {
		metrics[i] = metric{v.name, v.unit}
		line[v.name] = v.value
	}
	line["_aws"] = map[string]any{
		"Timestamp": h.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "kinflow",
			"Dimensions": [][]string{{"Service"}},
			"Metrics":    metrics,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	h.emf.Write(append(b, '\n'))
}
