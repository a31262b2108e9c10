package kcl

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kclif "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

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

	mu     sync.Mutex
	leases map[string][]*shardProcessor // the processors of the leases this worker holds, by shard, oldest first
}

// The library drives the worker through these two interfaces only.
var (
	_ kclif.IRecordProcessorFactory = (*processorFactory)(nil)
	_ kclif.IRecordProcessor        = (*shardProcessor)(nil)
)

func (f *processorFactory) CreateProcessor() kclif.IRecordProcessor {
	return &shardProcessor{f: f}
}

// taken registers p, just initialized, as the processor of its shard's lease. An older processor of the same shard
// in this worker lost that lease (the table gave it to this worker anew): it stops.
func (f *processorFactory) taken(p *shardProcessor) {
	f.mu.Lock()
	if f.leases == nil {
		f.leases = map[string][]*shardProcessor{}
	}
	older := f.leases[p.shardID]
	f.leases[p.shardID] = append(older[:len(older):len(older)], p)
	f.mu.Unlock()
	for _, o := range older {
		o.loseLease(errors.New("the lease was taken again by this worker"))
	}
}

// lost stops the processors of shardID, whose lease is not this worker's any more. It reports whether there were
// any.
func (f *processorFactory) lost(shardID string, err error) bool {
	f.mu.Lock()
	ps := f.leases[shardID]
	f.mu.Unlock()
	for _, p := range ps {
		p.loseLease(err)
	}
	return len(ps) > 0
}

// ended is the end of one of shardID's consumers in this worker, however it ended: the processor stops, if Shutdown
// has not already stopped it. The library does not say which consumer ended, and one may end before Initialize
// (never listed); so a processor already stopped (lease lost, or taken again by this worker) is the one taken off
// the list first, and the oldest only when none is: a live processor is never stopped while a stopped one is listed.
func (f *processorFactory) ended(shardID string) {
	f.mu.Lock()
	ps := f.leases[shardID]
	if len(ps) == 0 {
		f.mu.Unlock()
		return // it ended before Initialize
	}
	i := 0
	for j, q := range ps {
		if q.ctx.Err() != nil {
			i = j
			break
		}
	}
	p := ps[i]
	if len(ps) == 1 {
		delete(f.leases, shardID)
	} else {
		f.leases[shardID] = append(ps[:i:i], ps[i+1:]...)
	}
	f.mu.Unlock()
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.releaseLocked() {
		p.log.Warn("shard consumer ended without a shutdown; its work in flight is abandoned")
	}
}

// chunkSize: a worker holds two chunks of each of its shards. With chunks of 500 records or 512 KiB the load test's
// peak RSS was 280-383 MiB, with these 118-303 (BENCHMARKS.md, "Blocks, chunks and the consumer in its own process").
var chunkSize = pipeline.ChunkSize{Records: 100, Bytes: 128 << 10}

// shardProcessor runs one shard's records through the pipeline. A batch is checkpointed only after its documents
// and its partial connection sets are durable; a partial is cut (and the shard checkpointed) when the interval has
// passed, when a limit of the open partial is reached, at shard end, and at shutdown.
//
// Chunks of batches overlap by one: ProcessRecords decodes and parses chunk N+1 (and the KCL fetches the next
// batch) while chunk N's bulk write is in flight, then waits for N before committing N+1. So a shard is held back by
// Kinesis or the cluster, not by its own decoding; memory holds two chunks at most.
type shardProcessor struct {
	f       *processorFactory
	shardID string
	shard   *pipeline.Shard
	log     *slog.Logger
	lastSeq string // last record processed since the last checkpoint
	lastCut time.Time
	// checkpointed: this lease has checkpointed at least once.
	checkpointed bool
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
	// ctx ends when the lease is lost (or at the shutdown deadline): the work in flight is abandoned (the sink drops
	// what it has not sent), and nothing is processed, written or checkpointed any more.
	ctx    context.Context
	cancel context.CancelFunc
	// The gauges of the shard exist while the lease is held. mu orders their updates against the library's
	// lease-renewal goroutine, which reports a lost lease (see leaseTable).
	mu         sync.Mutex
	released   bool // the gauges are gone
	counted    bool // leases_held counts this lease
	firstBatch bool // the first records since the lease was taken have come
}

func (p *shardProcessor) Initialize(in *kclif.InitializationInput) {
	p.shardID = in.ShardId
	p.log = p.f.log.With("shard", in.ShardId)
	p.lastCut = p.f.now()
	p.ctx, p.cancel = context.WithCancel(p.f.ctx)
	p.f.taken(p)
	shard, err := p.f.pipe.Shard(in.ShardId)
	if err != nil {
		// Only an invalid configuration fails here, and run validated it at start-up.
		p.log.Error("cannot process shard", "error", err)
		p.failed = true
		return
	}
	p.shard = shard
	if p.f.parents != nil {
		if err := p.f.parents.wait(p.ctx, in.ShardId); err != nil {
			// Only a failing Kinesis or DynamoDB call, or shutdown: processing out of order loses nothing
			// (idempotent ids, event-time windows), so go on rather than stall the shard.
			p.log.Warn("could not wait for the adjacent parent shard", "error", err)
		}
	}
	p.whileHeld(func() {
		p.counted = true
		p.f.metrics.shardsHeld.Inc()
	})
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

func (p *shardProcessor) ProcessRecords(in *kclif.ProcessRecordsInput) {
	if p.failed || p.ctx.Err() != nil {
		// Failed, or the lease is lost: the library calls until it notices (at its next lease renewal and poll).
		return
	}
	p.whileHeld(func() { p.f.metrics.millisBehind.WithLabelValues(p.shardID).Set(float64(in.MillisBehindLatest)) })
	p.millisBehind = in.MillisBehindLatest
	if !p.firstBatch && len(in.Records) > 0 {
		p.firstBatch = true
		p.log.Info("first records since the lease was taken", "records", len(in.Records),
			"millis_behind_latest", in.MillisBehindLatest)
	}
	batch := make([]pipeline.Record, len(in.Records))
	for i, r := range in.Records {
		batch[i] = pipeline.Record{SequenceNumber: aws.ToString(r.SequenceNumber), Data: r.Data}
	}
	// A GetRecords answer holds up to 10,000 records or 10 MB, which can decompress to hundreds of MB of
	// documents: it is prepared and committed in chunks, so memory holds two chunks, not two answers.
	for len(batch) > 0 {
		n := chunkSize.Len(batch)
		// While the previous chunk is being written.
		prepared, err := p.shard.Prepare(p.ctx, batch[:n])
		if err != nil {
			p.await(in.Checkpointer)
			p.fail("batch not prepared", err)
			return
		}
		if !p.await(in.Checkpointer) {
			return
		}
		c := &commit{done: make(chan struct{}), last: batch[n-1].SequenceNumber}
		p.inflight = c
		go func() {
			defer close(c.done)
			c.res, c.err = p.shard.Commit(p.ctx, prepared)
		}()
		batch = batch[n:]
	}
	if len(in.Records) == 0 && !p.await(in.Checkpointer) {
		return
	}
	switch {
	case (p.lastSeq != "" || p.inflight != nil) && !p.checkpointed:
		// A lease's first checkpoint comes with its first durable batch, so that the lease of a parent shard shows
		// progress early: the wait for a merge's second parent (parentGate) takes a lease without a checkpoint for
		// a parent that is gone.
		if p.await(in.Checkpointer) && p.lastSeq != "" {
			p.checkpoint(in.Checkpointer, "first")
		}
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
func (p *shardProcessor) await(cp kclif.IRecordProcessorCheckpointer) bool {
	c := p.inflight
	if c == nil {
		return !p.failed && p.ctx.Err() == nil
	}
	select {
	case <-c.done:
	case <-p.ctx.Done():
		// The lease is lost: the write is abandoned (its context ended too).
		p.inflight = nil
		return false
	}
	p.inflight = nil
	if p.failed || p.ctx.Err() != nil {
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
	p.whileHeld(func() { // under the lease lock, so the log never shows a batch after the lease was lost
		p.log.Debug("batch durable", "records", c.res.Records, "flows", c.res.Flows, "dead_letters", c.res.DeadLetters,
			"late", c.res.Late, "millis_behind_latest", p.millisBehind)
	})
	if c.res.CutDue {
		p.checkpoint(cp, "limit")
	}
	return !p.failed && p.ctx.Err() == nil
}

// checkpoint cuts the open partial and, once it is durable, checkpoints the last record processed.
func (p *shardProcessor) checkpoint(cp kclif.IRecordProcessorCheckpointer, why string) {
	if p.ctx.Err() != nil {
		return
	}
	if err := p.shard.Cut(p.ctx); err != nil {
		p.fail("partial connection sets not durable", err)
		return
	}
	seq := p.lastSeq
	if err := cp.Checkpoint(&seq); err != nil {
		// The lease was lost or DynamoDB failed: the records after the previous checkpoint will be redone, with the
		// same document ids.
		p.f.metrics.checkpointErrors.Inc()
		if errors.Is(err, errLeaseLost) {
			p.loseLease(err)
			return
		}
		p.log.Warn("checkpoint failed", "sequence", seq, "error", err)
		return
	}
	p.f.metrics.checkpoints.WithLabelValues(why).Inc()
	p.whileHeld(func() {
		p.f.metrics.lastCheckpoint.WithLabelValues(p.shardID).SetToCurrentTime()
		p.log.Debug("checkpointed", "sequence", seq, "cause", why)
	})
	p.lastSeq, p.lastCut, p.checkpointed = "", p.f.now(), true
	p.recordProgress(false)
}

// recordProgress tells the finalizer how far this shard has acknowledged in event time. It is advisory: a failed
// write only delays finalization (the next one, or the finalizer's wall-clock safety net, makes up for it), so it
// never fails the shard.
func (p *shardProcessor) recordProgress(ended bool) {
	if p.f.state == nil || p.ctx.Err() != nil {
		return
	}
	now := p.f.now()
	p.lastProgress = now
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	err := p.f.state.PutProgress(ctx, state.Progress{ShardID: p.shardID, Watermark: p.shard.Watermark(),
		CaughtUp: ended || p.millisBehind < caughtUpMillis, Ended: ended, LastDataAt: p.lastDataAt, UpdatedAt: now})
	if err != nil {
		p.f.metrics.progressErrors.Inc()
		p.log.Warn("recording shard progress failed; the watermark waits", "error", err)
	}
}

func (p *shardProcessor) Shutdown(in *kclif.ShutdownInput) {
	reason := aws.ToString(kclif.ShutdownReasonMessage(in.ShutdownReason))
	defer func() {
		p.release()
		p.cancel()
		p.log.Info("shard released", "reason", reason)
	}()
	if p.failed || p.shard == nil || p.ctx.Err() != nil {
		return
	}
	if in.ShutdownReason == kclif.ZOMBIE {
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
	case kclif.TERMINATE:
		// The shard is closed and every record was delivered: make the rest durable and checkpoint the end, so the
		// child shards start.
		if err := p.shard.Cut(p.ctx); err != nil {
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
	case kclif.REQUESTED:
		if p.lastSeq != "" {
			p.checkpoint(in.Checkpointer, "shutdown")
		}
	}
}

func (p *shardProcessor) fail(what string, err error) {
	p.failed = true
	p.log.Warn(what+"; not checkpointing, the records will be redone", "error", err)
}

// loseLease stops the processor of a lease that is not this worker's any more: the work in flight is abandoned, and
// nothing is processed, written or checkpointed after it; the next owner redoes the records from the last
// checkpoint, with the same document ids. The gauges of the shard go at once.
func (p *shardProcessor) loseLease(err error) {
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.releaseLocked() {
		p.f.metrics.leasesLost.Inc()
		p.log.Warn("shard lease lost; its work in flight is abandoned, the next owner redoes it from the last checkpoint",
			"error", err)
	}
}

// release removes the shard's gauges, once; it reports whether this call did.
func (p *shardProcessor) release() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.releaseLocked()
}

func (p *shardProcessor) releaseLocked() bool {
	if p.released {
		return false
	}
	p.released = true
	if p.counted {
		p.f.metrics.shardsHeld.Dec()
	}
	p.f.metrics.millisBehind.DeleteLabelValues(p.shardID)
	p.f.metrics.lastCheckpoint.DeleteLabelValues(p.shardID)
	return true
}

// whileHeld runs set, which updates a gauge of the shard, unless the gauges are gone.
func (p *shardProcessor) whileHeld(set func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.released {
		set()
	}
}
