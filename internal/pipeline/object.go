package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// objectBatchDocs and objectBatchBytes bound the documents of an object held before they are written: an object of
// any size is read in batches, never whole.
const (
	objectBatchDocs  = 2000
	objectBatchBytes = 4 << 20
	// objectSegmentLines is where objects are cut into partials: half the default MaxTrackedIPs (each line adds at
	// most two (window, ip) pairs), far under MaxTrackedPeers.
	objectSegmentLines = 50_000
)

// ErrUnsupported is wrapped by the error of an object whose kind kinflow routes but does not read yet (Parquet
// flow logs, ALB connection logs): permanent, so the object is dead-lettered rather than retried.
var ErrUnsupported = errors.New("unsupported object kind")

// ErrTooLarge is wrapped by the error of a Parquet object larger than the disk it is spooled to may hold.
var ErrTooLarge = errors.New("object too large")

// maxParquetSpool bounds a Parquet object's spool file: a Lambda function's /tmp is 512 MiB to 10 GiB.
const maxParquetSpool = 4 << 30

// ErrHeader is wrapped by the error of a flow-log object whose first line does not name its fields.
var ErrHeader = errors.New("flow-log file without a valid header")

// An ObjectResult counts what processing one object did.
type ObjectResult struct {
	Lines       int   // lines read (a flow-log file's header included)
	Documents   int   // documents written: one per flow or request
	DeadLetters int   // lines (or the object) that went to the dead-letter index
	Aggregated  int   // flows added to connection sets
	Partials    int   // partial connection sets written
	Watermark   int64 // the latest flow start (Unix seconds), 0 without flows
}

// Add adds o's counts to r, and keeps the later watermark.
func (r *ObjectResult) Add(o ObjectResult) {
	r.Lines += o.Lines
	r.Documents += o.Documents
	r.DeadLetters += o.DeadLetters
	r.Aggregated += o.Aggregated
	r.Partials += o.Partials
	r.Watermark = max(r.Watermark, o.Watermark)
}

// An ObjectReader processes S3 objects, one at a time: flow-log files into flow documents and connection sets,
// load-balancer access logs into request documents, each bad line into a dead letter. It is not safe for
// concurrent use; a runtime that reads objects in parallel makes one per goroutine.
type ObjectReader struct {
	p     *Pipeline
	lines *s3obj.Lines
	acc   *aggregate.Accumulator

	dec *LineDecoder
	src lineSource // the lines of the object being read

	arena   []byte
	spans   []docSpan
	pending []aggregate.Flow
	docs    []sink.Doc
}

// Objects returns a reader of S3 objects; cfg bounds its lines (MaxLineBytes, ReadBufferBytes).
func (p *Pipeline) Objects(cfg s3obj.Config) (*ObjectReader, error) {
	lines, err := s3obj.NewLines(strings.NewReader(""), cfg)
	if err != nil {
		return nil, err
	}
	acc, err := aggregate.NewAccumulator(p.cfg.Aggregate)
	if err != nil {
		return nil, err
	}
	return &ObjectReader{p: p, lines: lines, acc: acc, dec: NewLineDecoder(p.cfg.Prefix, p.enricher)}, nil
}

// lineSource is what the reader reads an object's lines from: s3obj.Lines for text, s3obj.ParquetLines for Parquet.
type lineSource interface {
	Next() bool
	Bytes() []byte
	Number() int64
	Offset() int64
	LineErr() error
	Err() error
}

var (
	_ lineSource = (*s3obj.Lines)(nil)
	_ lineSource = (*s3obj.ParquetLines)(nil)
)

// parquet spools the object to a temporary file (Parquet needs random access: its schema is at the end) and opens
// it as lines; cleanup removes the file. The file costs disk, not memory: the row groups are read one at a time.
func (o *ObjectReader) parquet(obj *object, r io.Reader) (*s3obj.ParquetLines, func(), error) {
	f, err := os.CreateTemp("", "kinflow-*.parquet")
	if err != nil {
		return nil, nil, fmt.Errorf("spooling %s: %w", obj.path, err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	size, err := io.CopyN(f, r, maxParquetSpool+1)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		cleanup()
		return nil, nil, fmt.Errorf("spooling %s: %w", obj.path, err)
	case size > maxParquetSpool:
		cleanup()
		return nil, nil, retry.Permanent(fmt.Errorf("%w: %s is over %d GiB, the spool's bound", ErrTooLarge, obj.path, maxParquetSpool>>30))
	}
	pl, err := s3obj.NewParquetLines(f, size)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return pl, func() { pl.Close(); cleanup() }, nil
}

// object is what the reader knows of the object it reads.
type object struct {
	ref   s3obj.ObjectRef
	path  string // s3://bucket/key
	shard string // the partials' shard: the object and its identity
	// firstLine is the first line the open partial covers (0: nothing since the last cut); lastLine the last.
	firstLine, lastLine int64
}

// Read processes the object ref, routed as route, from r (its bytes as S3 holds them, gzip'd or not), and returns
// when every document it made is durable. Ids come from the bucket, key, identity and line number, so reading an
// object again (a redelivered notification, a retry after a crash) rewrites the same documents and partials.
//
// A line that cannot be parsed is dead-lettered and reading goes on. An object that cannot be read to its end is
// an error: permanent (retry.IsPermanent: a corrupt gzip stream, an unsupported kind, a header that names no
// fields) after its dead letter was written, the caller lets the message go to the queue's dead-letter queue;
// transient otherwise, and nothing of the open partial was written, so a retry counts every flow once.
func (o *ObjectReader) Read(ctx context.Context, ref s3obj.ObjectRef, route s3obj.Route, r io.Reader) (ObjectResult, error) {
	var res ObjectResult
	obj := &object{ref: ref, path: ref.URI()}
	obj.shard = "s3/" + ref.Bucket + "/" + ref.Key + "@" + ref.Identity()
	o.reset()
	if err := o.dec.Reset(route.Kind); err != nil {
		return res, o.failObject(ctx, obj, &res, "unsupported_kind", fmt.Errorf("%s: %w", obj.path, err))
	}
	var lines lineSource = o.lines
	if route.Kind == s3obj.KindVPCFlowParquet {
		pl, cleanup, err := o.parquet(obj, r)
		if err != nil {
			if !retry.IsPermanent(err) {
				return res, err
			}
			return res, o.failObject(ctx, obj, &res, "", err)
		}
		defer cleanup()
		lines = pl
	} else {
		o.lines.Reset(r)
	}
	o.src = lines
	for lines.Next() {
		res.Lines++
		n := lines.Number()
		if err := lines.LineErr(); err != nil {
			o.deadLetter(obj, &res, n, nil, sink.StageParse, err)
			continue
		}
		if err := o.line(obj, &res, n, lines.Bytes()); err != nil {
			// A header that names no fields: no line of the file can be read.
			return res, o.failObject(ctx, obj, &res, "bad_header", fmt.Errorf("%s: %w", obj.path, err))
		}
		if len(o.spans) >= objectBatchDocs || len(o.arena) >= objectBatchBytes {
			if err := o.flush(ctx, obj, &res); err != nil {
				return res, err
			}
		}
	}
	if err := lines.Err(); err != nil {
		if !retry.IsPermanent(err) {
			return res, fmt.Errorf("reading %s: %w", obj.path, err)
		}
		// A corrupt stream ends at the same byte every time, so the lines before it are cut at the same place on
		// every try: their partials can be written like the rest.
		if ferr := o.flush(ctx, obj, &res); ferr != nil {
			return res, ferr
		}
		if cerr := o.cut(ctx, obj, &res); cerr != nil {
			return res, cerr
		}
		return res, o.failObject(ctx, obj, &res, "", err)
	}
	if err := o.flush(ctx, obj, &res); err != nil {
		return res, err
	}
	return res, o.cut(ctx, obj, &res)
}

func (o *ObjectReader) reset() {
	o.arena, o.spans, o.pending = o.arena[:0], o.spans[:0], o.pending[:0]
	// Whatever a failed read left open is discarded: it was never written.
	o.acc.Cut("", "", "")
}

// line parses one line into the batch. Only a flow-log header it cannot read is an error.
func (o *ObjectReader) line(obj *object, res *ObjectResult, n int64, line []byte) error {
	src := vpcflow.Source{File: obj.path, Offset: o.src.Offset()}
	sp := docSpan{pending: -1, line: n, origin: o.origin(obj, n, nil)}
	sp.src[0] = len(o.arena)
	var err error
	o.arena, sp.index, err = o.dec.Line(o.arena, line, &src)
	sp.src[1] = len(o.arena)
	switch {
	case errors.Is(err, ErrHeader):
		return err
	case err != nil:
		o.deadLetter(obj, res, n, line, sink.StageParse, err)
		return nil
	case sp.index == "":
		return nil // the header
	}
	f := o.dec.Flow()
	aggregates := o.dec.FlowLog() && !f.NoTraffic() && f.SrcAddr.IsValid() && f.DstAddr.IsValid()
	if aggregates && o.dec.SecondCopy() {
		// The receiving interface's record of a connection the sender's interface logs too: counted once, from the
		// sender's record.
		o.p.metrics.doubleLogged.Inc()
		aggregates = false
	}
	if aggregates {
		sp.pending = len(o.pending)
		o.pending = append(o.pending, aggregate.Flow{Start: f.EventTime(0), End: f.End, Src: f.SrcAddr, Dst: f.DstAddr,
			SrcPort: f.SrcPort, DstPort: f.DstPort, Protocol: f.Protocol, Bytes: f.Bytes, Packets: f.Packets,
			Rejected: f.Action == vpcflow.ActionReject})
	}
	sp.id[0] = len(o.arena)
	o.arena = docid.AppendObjectLine(o.arena, obj.ref.Bucket, obj.ref.Key, obj.ref.Identity(), n)
	sp.id[1] = len(o.arena)
	o.spans = append(o.spans, sp)
	return nil
}

// origin names line n of the object in a dead letter: the object as the shard, its identity and line number as the
// sequence number (so each bad line has one dead letter however often the object is read).
func (o *ObjectReader) origin(obj *object, n int64, raw []byte) sink.Origin {
	seq := obj.ref.Identity()
	if n > 0 {
		seq += ":" + strconv.FormatInt(n, 10)
	}
	return sink.Origin{ShardID: obj.path, SequenceNumber: seq, Raw: raw}
}

func (o *ObjectReader) deadLetter(obj *object, res *ObjectResult, n int64, line []byte, stage sink.Stage, err error) {
	reason := reasonOf(err)
	o.p.metrics.badInput.WithLabelValues(string(stage), reason).Inc()
	// The span's origin keeps the line until the batch is written; the arena may move, so it gets its own copy.
	o.spans = append(o.spans, docSpan{isDeadLetter: true, pending: -1,
		deadLetter: sink.NewDeadLetter(o.p.indices.DeadLetter(), o.origin(obj, n, append([]byte(nil), line...)), stage, reason, err, o.p.now())})
	res.DeadLetters++
}

// failObject dead-letters the object itself and returns err, which is permanent.
func (o *ObjectReader) failObject(ctx context.Context, obj *object, res *ObjectResult, reason string, err error) error {
	if derr := o.p.DeadLetterObject(ctx, obj.ref, reason, err); derr != nil {
		return derr
	}
	res.DeadLetters++
	return fmt.Errorf("object %s: %w", obj.path, err)
}

// DeadLetterObject writes the dead letter of an object that cannot be read (stage read): named by the object (its
// shard_id, and its original) and its identity (its sequence number), so that every try of the object, whoever
// makes it (the reader, the intake for a key it cannot route or an object it cannot open), writes the one letter.
// reason "" is the cause's own (ReasonOf).
func (p *Pipeline) DeadLetterObject(ctx context.Context, ref s3obj.ObjectRef, reason string, cause error) error {
	if reason == "" {
		reason = reasonOf(cause)
	}
	p.metrics.badInput.WithLabelValues(string(sink.StageRead), reason).Inc()
	uri := ref.URI()
	dl := sink.NewDeadLetter(p.indices.DeadLetter(), sink.Origin{ShardID: uri, SequenceNumber: ref.Identity(), Raw: []byte(uri)},
		sink.StageRead, reason, cause, p.now())
	if err := p.sink.Write(ctx, []sink.Doc{dl}); err != nil {
		return fmt.Errorf("dead-lettering %s: %w", uri, err)
	}
	return nil
}

// flush writes the batch's documents and dead letters, then adds its flows to the open partial, cutting it (and
// writing the cut) whenever it is full.
func (o *ObjectReader) flush(ctx context.Context, obj *object, res *ObjectResult) error {
	if len(o.spans) == 0 {
		return nil
	}
	o.docs = o.docs[:0]
	for i := range o.spans {
		sp := &o.spans[i]
		if sp.isDeadLetter {
			o.docs = append(o.docs, sp.deadLetter)
			continue
		}
		o.docs = append(o.docs, sink.Doc{Index: sp.index, ID: string(o.arena[sp.id[0]:sp.id[1]]), Op: sink.OpCreate,
			Source: o.arena[sp.src[0]:sp.src[1]], Origin: sp.origin})
	}
	if err := o.p.sink.Write(ctx, o.docs); err != nil {
		return fmt.Errorf("writing %d documents of %s: %w", len(o.docs), obj.path, err)
	}
	res.Documents += len(o.docs) - countDeadLetters(o.spans)
	// Durable: the flows now belong to the open partial.
	for i := range o.spans {
		sp := &o.spans[i]
		if sp.pending < 0 {
			continue
		}
		if obj.firstLine != 0 && (sp.line-1)/objectSegmentLines != (obj.firstLine-1)/objectSegmentLines {
			// A new segment: cut where the line numbers say, whatever was aggregated before.
			if err := o.cut(ctx, obj, res); err != nil {
				return err
			}
		}
		if obj.firstLine == 0 {
			obj.firstLine = sp.line
		}
		obj.lastLine = sp.line
		f := o.pending[sp.pending]
		sig, err := o.acc.Add(f)
		if err != nil {
			o.p.metrics.notAggregated.Inc()
			continue
		}
		res.Aggregated++
		res.Watermark = max(res.Watermark, f.Start)
		if sig.Full() {
			if err := o.cut(ctx, obj, res); err != nil {
				return err
			}
		}
	}
	o.arena, o.spans, o.pending = o.arena[:0], o.spans[:0], o.pending[:0]
	return nil
}

// cut writes the open partial connection sets, named by the object and the first line they cover. An object is cut
// every objectSegmentLines lines, by line number: a segment's flows cannot reach the accumulator's limits on IPs
// and peers (two of each per line), so the cut points do not depend on which flows were aggregated (an enrichment
// that leaves out a second copy on one read and not on the next still cuts alike), and every read writes the same
// partial ids. A limit reached all the same (a segment spanning more windows than MaxOpenWindows) cuts early.
func (o *ObjectReader) cut(ctx context.Context, obj *object, res *ObjectResult) error {
	if obj.firstLine == 0 {
		return nil
	}
	blocks := o.acc.CutBlocks(obj.shard, strconv.FormatInt(obj.firstLine, 10), strconv.FormatInt(obj.lastLine, 10),
		aggregate.BlockBytes)
	obj.firstLine = 0
	docs := make([]sink.Doc, len(blocks))
	for i := range blocks {
		b := &blocks[i]
		docs[i] = sink.Doc{Index: o.p.indices.ConnsPartial(time.Unix(b.WindowStart, 0)), ID: b.ID(), Op: sink.OpIndex,
			Source: b.AppendJSON(nil), Origin: sink.Origin{ShardID: obj.shard, SequenceNumber: strconv.FormatInt(b.WindowStart, 10)}}
	}
	if err := o.p.sink.Write(ctx, docs); err != nil {
		return fmt.Errorf("writing %d blocks of partial connection sets of %s: %w", len(docs), obj.path, err)
	}
	o.p.metrics.partials.Add(float64(len(docs)))
	res.Partials += len(docs)
	return nil
}

func countDeadLetters(spans []docSpan) int {
	n := 0
	for i := range spans {
		if spans[i].isDeadLetter {
			n++
		}
	}
	return n
}
