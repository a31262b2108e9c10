package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/state"
)

// caughtUpMillis: a shard read less than this far behind its tip counts as caught up for the watermark.
const caughtUpMillis = 10_000

// processorFactory makes one shardProcessor per shard lease the KCL worker takes.
type processorFactory struct {
	ctx      context.Context // ends at shutdown: a write still waiting then gives up and nothing is checkpointed
	pipe     *pipeline.Pipeline
	interval time.Duration // longest time between two checkpoints of a shard with data
	metrics  *consumerMetrics
	log      *slog.Logger
	now      func() time.Time
	// state receives each shard's progress after its checkpoints (nil: the finalizer is not used).
	state *state.Store
	// parents holds a merged shard back until its second parent ended (nil: no wait).
	parents *parentGate
}

func (f *processorFactory) CreateProcessor() kcl.IRecordProcessor {
	return &shardProcessor{f: f}
}

// shardProcessor runs one shard's records through the pipeline. A batch is checkpointed only after its documents
// and its partial connection sets are durable; a partial is cut (and the shard checkpointed) when the interval has
// passed, when a limit of the open partial is reached, at shard end, and at shutdown.
//
// Batches overlap by one: ProcessRecords decodes and parses batch N+1 (and the KCL fetches it) while batch N's
// bulk write is in flight, then waits for N before committing N+1. So a shard is held back by Kinesis or the
// cluster, not by its own decoding; memory holds two batches at most.
type shardProcessor struct {
	f       *processorFactory
	shardID string
	shard   *pipeline.Shard
	log     *slog.Logger
	lastSeq string // last record processed since the last checkpoint
	lastCut time.Time
	// Progress for the finalizer's watermark: how far behind the tip the last batch was, when flows last came, and
	// when progress was last recorded.
	millisBehind int64
	lastDataAt   time.Time
	lastProgress time.Time
	// inflight is the batch being committed in the background, if any.
	inflight *commit
	// failed: a batch could not be made durable (only at shutdown: the sink waits out cluster outages). From then
	// on nothing is processed or checkpointed, so no checkpoint can pass the gap; the next lease owner redoes it.
	failed bool
}

func (p *shardProcessor) Initialize(in *kcl.InitializationInput) {
	p.shardID = in.ShardId
	p.log = p.f.log.With("shard", in.ShardId)
	p.lastCut = p.f.now()
	shard, err := p.f.pipe.Shard(in.ShardId)
	if err != nil {
		// Only an invalid configuration fails here, and run validated it at start-up.
		p.log.Error("cannot process shard", "error", err)
		p.failed = true
		return
	}
	p.shard = shard
	if p.f.parents != nil {
		if err := p.f.parents.wait(p.f.ctx, in.ShardId); err != nil {
			// Only a failing Kinesis or DynamoDB call, or shutdown: processing out of order loses nothing
			// (idempotent ids, event-time windows), so go on rather than stall the shard.
			p.log.Warn("could not wait for the adjacent parent shard", "error", err)
		}
	}
	p.f.metrics.shardsHeld.Inc()
	start := ""
	if in.ExtendedSequenceNumber != nil {
		start = aws.ToString(in.ExtendedSequenceNumber.SequenceNumber)
	}
	p.log.Info("shard lease taken", "checkpoint", start)
}

// commit is a batch being written in the background.
type commit struct {
	done chan struct{}
	last string // the batch's last sequence number
	res  pipeline.Result
	err  error
}

func (p *shardProcessor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	if p.failed {
		return
	}
	p.f.metrics.millisBehind.WithLabelValues(p.shardID).Set(float64(in.MillisBehindLatest))
	p.millisBehind = in.MillisBehindLatest
	var prepared *pipeline.Batch
	var last string
	if len(in.Records) > 0 {
		batch := make([]pipeline.Record, len(in.Records))
		for i, r := range in.Records {
			batch[i] = pipeline.Record{SequenceNumber: aws.ToString(r.SequenceNumber), Data: r.Data}
		}
		last = batch[len(batch)-1].SequenceNumber
		var err error
		// While the previous batch is being written.
		if prepared, err = p.shard.Prepare(p.f.ctx, batch); err != nil {
			p.await(in.Checkpointer)
			p.fail("batch not prepared", err)
			return
		}
	}
	if !p.await(in.Checkpointer) {
		return
	}
	if prepared != nil {
		c := &commit{done: make(chan struct{}), last: last}
		p.inflight = c
		go func() {
			defer close(c.done)
			c.res, c.err = p.shard.Commit(p.f.ctx, prepared)
		}()
	}
	switch {
	case (p.lastSeq != "" || p.inflight != nil) && p.f.now().Sub(p.lastCut) >= p.f.interval:
		if p.await(in.Checkpointer) && p.lastSeq != "" {
			p.checkpoint(in.Checkpointer, "interval")
		}
	case p.lastSeq == "" && p.inflight == nil && p.f.now().Sub(p.lastProgress) >= p.f.interval:
		// Nothing unacknowledged: an idle or caught-up shard still reports, so it does not hold the watermark back.
		p.recordProgress(false)
	}
}

// await waits for the batch in flight, if any, and takes its result: a limit of the open partial reached means a
// cut and checkpoint now. It reports whether the shard may go on.
func (p *shardProcessor) await(cp kcl.IRecordProcessorCheckpointer) bool {
	c := p.inflight
	if c == nil {
		return !p.failed
	}
	<-c.done
	p.inflight = nil
	if p.failed {
		return false
	}
	if c.err != nil {
		p.fail("batch not durable", c.err)
		return false
	}
	p.lastSeq = c.last
	if c.res.Aggregated > 0 {
		p.lastDataAt = p.f.now()
	}
	p.log.Debug("batch durable", "records", c.res.Records, "flows", c.res.Flows, "dead_letters", c.res.DeadLetters,
		"late", c.res.Late, "millis_behind_latest", p.millisBehind)
	if c.res.CutDue {
		p.checkpoint(cp, "limit")
	}
	return !p.failed
}

// checkpoint cuts the open partial and, once it is durable, checkpoints the last record processed.
func (p *shardProcessor) checkpoint(cp kcl.IRecordProcessorCheckpointer, why string) {
	if err := p.shard.Cut(p.f.ctx); err != nil {
		p.fail("partial connection sets not durable", err)
		return
	}
	seq := p.lastSeq
	if err := cp.Checkpoint(&seq); err != nil {
		// The lease was lost or DynamoDB failed: the records after the previous checkpoint will be redone, with the
		// same document ids.
		p.log.Warn("checkpoint failed", "sequence", seq, "error", err)
		p.f.metrics.checkpointErrors.Inc()
		return
	}
	p.f.metrics.checkpoints.WithLabelValues(why).Inc()
	p.f.metrics.lastCheckpoint.WithLabelValues(p.shardID).SetToCurrentTime()
	p.lastSeq, p.lastCut = "", p.f.now()
	p.recordProgress(false)
}

// recordProgress tells the finalizer how far this shard has acknowledged in event time. It is advisory: a failed
// write only delays finalization (the next one, or the finalizer's wall-clock safety net, makes up for it), so it
// never fails the shard.
func (p *shardProcessor) recordProgress(ended bool) {
	if p.f.state == nil {
		return
	}
	now := p.f.now()
	p.lastProgress = now
	ctx, cancel := context.WithTimeout(p.f.ctx, 5*time.Second)
	defer cancel()
	err := p.f.state.PutProgress(ctx, state.Progress{ShardID: p.shardID, Watermark: p.shard.Watermark(),
		CaughtUp: ended || p.millisBehind < caughtUpMillis, Ended: ended, LastDataAt: p.lastDataAt, UpdatedAt: now})
	if err != nil {
		p.f.metrics.progressErrors.Inc()
		p.log.Warn("recording shard progress failed; the watermark waits", "error", err)
	}
}

func (p *shardProcessor) Shutdown(in *kcl.ShutdownInput) {
	reason := aws.ToString(kcl.ShutdownReasonMessage(in.ShutdownReason))
	defer func() {
		if p.shard != nil {
			p.f.metrics.shardsHeld.Dec()
		}
		p.f.metrics.millisBehind.DeleteLabelValues(p.shardID)
		p.log.Info("shard released", "reason", reason)
	}()
	if p.failed || p.shard == nil {
		return
	}
	if in.ShutdownReason == kcl.ZOMBIE {
		// Another worker owns the lease now: checkpointing would move its position. Let the write in flight end
		// (it is idempotent) and drop what is open.
		if p.inflight != nil {
			<-p.inflight.done
		}
		return
	}
	if !p.await(in.Checkpointer) {
		return
	}
	switch in.ShutdownReason {
	case kcl.TERMINATE:
		// The shard is closed and every record was delivered: make the rest durable and checkpoint the end, so the
		// child shards start.
		if err := p.shard.Cut(p.f.ctx); err != nil {
			p.fail("partial connection sets not durable at shard end", err)
			return
		}
		if err := in.Checkpointer.Checkpoint(nil); err != nil {
			p.log.Warn("checkpointing shard end failed", "error", err)
			p.f.metrics.checkpointErrors.Inc()
			return
		}
		p.f.metrics.checkpoints.WithLabelValues("shard_end").Inc()
		p.recordProgress(true)
	case kcl.REQUESTED:
		if p.lastSeq != "" {
			p.checkpoint(in.Checkpointer, "shutdown")
		}
	}
}

func (p *shardProcessor) fail(what string, err error) {
	p.failed = true
	p.log.Warn(what+"; not checkpointing, the records will be redone", "error", err)
}
