// Package pipeline is the one processing path both runtimes share: Kinesis records -> CloudWatch Logs envelopes
// (cwlogs) -> flow-log lines (vpcflow) -> one document per flow and a dead letter per bad input, written through a
// sink; and, once those are durable, flows -> the shard's open partial connection sets (aggregate), cut and written
// when the runtime is about to checkpoint.
//
// It knows no runtime: the KCL consumer and the Lambda handler turn their records into Records, call Process, then
// Cut, and acknowledge (checkpoint, or leave out of BatchItemFailures) only what those calls reported durable.
package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
)

// A Record is one Kinesis record, as any runtime delivers it.
type Record struct {
	SequenceNumber string
	Data           []byte
}

// Config configures the processing path. Start from DefaultConfig.
type Config struct {
	Decode    cwlogs.Config
	Aggregate aggregate.Config
	// Prefix names the indices: <prefix>-flows-YYYY.MM.DD, <prefix>-conns-partial-YYYY.MM.DD, <prefix>-deadletter.
	Prefix string
	// RetryInitial and RetryMax bound the backoff while a transient error (format discovery) holds a batch back.
	RetryInitial time.Duration
	RetryMax     time.Duration
}

// DefaultConfig returns the defaults of every part.
func DefaultConfig() Config {
	return Config{
		Decode:       cwlogs.DefaultConfig(),
		Aggregate:    aggregate.DefaultConfig(),
		Prefix:       sink.DefaultPrefix,
		RetryInitial: 200 * time.Millisecond,
		RetryMax:     30 * time.Second,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if err := c.Decode.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("decode: %w", err))
	}
	if err := c.Aggregate.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("aggregate: %w", err))
	}
	if err := sink.ValidatePrefix(c.Prefix); err != nil {
		errs = append(errs, fmt.Errorf("prefix: %w", err))
	}
	if c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial {
		errs = append(errs, fmt.Errorf("retry backoff %v..%v: want 0 < initial <= max", c.RetryInitial, c.RetryMax))
	}
	return errors.Join(errs...)
}

// Options are the collaborators a Pipeline is given.
type Options struct {
	Registerer prometheus.Registerer // nil: metrics are not registered
	Logger     *slog.Logger          // nil: slog.Default()
	Now        func() time.Time      // the clock for dead letters; nil: time.Now
	// Reader reads back flow documents that already existed when written, to learn which record wrote them first
	// (see Shard.dropDuplicates). nil only where the sink never answers that a document exists.
	Reader Reader
	// Enricher adds what is known of each flow's addresses and interface to its document, and tells the second
	// copy of a connection logged at both ends; nil: none.
	Enricher *enrich.Enricher
}

// A Pipeline holds what every shard shares: the format resolver, the sink and the metrics. It is safe for
// concurrent use; each shard gets its own Shard.
type Pipeline struct {
	cfg      Config
	resolver *vpcflow.Resolver
	sink     sink.Sink
	reader   Reader
	enricher *enrich.Enricher
	retry    retry.Policy // RetryInitial..RetryMax, until the context ends
	indices  sink.Indices
	metrics  *metrics
	log      *slog.Logger
	now      func() time.Time
	// spare is the buffers a released Shard left for the next one (Shard.Release).
	spare atomic.Pointer[buffers]
}

// New returns a pipeline that parses with resolver's formats and writes through s.
func New(cfg Config, resolver *vpcflow.Resolver, s sink.Sink, opts Options) (*Pipeline, error) {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if resolver == nil {
		errs = append(errs, errors.New("no format resolver"))
	}
	if s == nil {
		errs = append(errs, errors.New("no sink"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p := &Pipeline{cfg: cfg, resolver: resolver, sink: s, reader: opts.Reader, enricher: opts.Enricher, indices: sink.Indices{Prefix: cfg.Prefix}, metrics: m,
		log: opts.Logger, now: opts.Now, retry: retry.Policy{Initial: cfg.RetryInitial, Max: cfg.RetryMax}}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Shard returns a processor for one shard's records. The caller feeds it the shard's records in order, from one
// goroutine at a time.
func (p *Pipeline) Shard(shardID string) (*Shard, error) {
	return p.shard(shardID, shardID)
}

// RedrivePrefix names the partials of a redrive: a redrive's Shard cuts them under RedrivePrefix+shard id.
const RedrivePrefix = "redrive/"

// RedriveShard returns a processor for records of shardID taken from the dead-letter index (internal/redrive).
// Its flow documents name the original record (aws.kinesis.shard_id and sequence_number are shardID and the
// record's sequence number), so a flow already written, by the first delivery or an earlier redrive, answers 409
// and counts only where its document says; but its partials are cut under the shard id RedrivePrefix+shardID, so
// their ids never collide with a live shard's partials (which cover other flows of the same records), and a rerun
// that cuts at the same records rewrites the same ids.
func (p *Pipeline) RedriveShard(shardID string) (*Shard, error) {
	return p.shard(shardID, RedrivePrefix+shardID)
}

func (p *Pipeline) shard(shardID, partialShard string) (*Shard, error) {
	acc, err := aggregate.NewAccumulator(p.cfg.Aggregate)
	if err != nil {
		return nil, err
	}
	buf := p.spare.Swap(nil)
	if buf == nil {
		dec, err := cwlogs.NewDecoder(p.cfg.Decode)
		if err != nil {
			return nil, err
		}
		buf = &buffers{dec: dec}
	}
	return &Shard{p: p, id: shardID, partialShard: partialShard, buffers: buf, acc: acc,
		flowIndex: newDailyIndex(p.indices.Flows), enrichers: p.enricher.NewCache(), log: p.log.With("shard", shardID)}, nil
}
