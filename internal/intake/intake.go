// Package intake owns the S3 path's unit of work: one SQS message of S3 notifications. It decodes the message
// (internal/transport/s3obj), routes each object it announces by its key, opens it and has the pipeline read it
// (pipeline.ObjectReader), and says whether the message may be deleted: only when every document of every object
// is durable. Both runtimes use it: the consumer's queue poller and the Lambda function behind an SQS event source.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/retry"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// Parts are the intake's collaborators.
type Parts struct {
	Pipeline *pipeline.Pipeline
	Opener   s3obj.Opener
	Sink     sink.Sink // dead letters of messages and objects the pipeline never sees
	Prefix   string    // the index prefix of the dead-letter index
}

// Options are optional.
type Options struct {
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
}

// An Intake handles messages; it is safe for concurrent use (each call reads its objects with an ObjectReader of
// its own from a pool).
type Intake struct {
	cfg     s3obj.Config
	parts   Parts
	router  *s3obj.Router
	readers chan *pipeline.ObjectReader
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
}

// New returns an intake routing and reading with cfg; concurrency bounds the objects read at once (readers kept).
func New(cfg s3obj.Config, concurrency int, parts Parts, opts Options) (*Intake, error) {
	var errs []error
	if parts.Pipeline == nil || parts.Opener == nil || parts.Sink == nil {
		errs = append(errs, errors.New("intake: Pipeline, Opener and Sink are required"))
	}
	if concurrency < 1 {
		errs = append(errs, fmt.Errorf("intake: concurrency %d: want at least 1", concurrency))
	}
	router, err := s3obj.NewRouter(cfg)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	in := &Intake{cfg: cfg, parts: parts, router: router, readers: make(chan *pipeline.ObjectReader, concurrency),
		log: opts.Logger, now: opts.Now, metrics: m}
	if in.log == nil {
		in.log = slog.Default()
	}
	if in.now == nil {
		in.now = time.Now
	}
	return in, nil
}

// Result says what one message came to.
type Result struct {
	Objects int // objects read to their end
	Skipped int // events that announce no object to read: a test event, a removal
	// The objects' counts summed, and the latest flow start of them all (Watermark).
	pipeline.ObjectResult
}

// ErrObject is wrapped by the error of a message whose object could not be read for good (it is dead-lettered):
// the message is not to be deleted, so that the queue moves it to its dead-letter queue after its receives.
var ErrObject = errors.New("intake: an object could not be read")

// Message handles one message body. nil means every object it announces is durable in the index (or could never
// be: a message that is no notification, a key of no known layout, both dead-lettered): delete the message. An
// error means keep it: retry.IsPermanent for an object that cannot be read (dead-lettered, wrapping ErrObject),
// transient otherwise (the cluster, S3, the context).
func (in *Intake) Message(ctx context.Context, id string, body []byte) (Result, error) {
	var res Result
	n, err := s3obj.ParseMessage(body)
	if err != nil {
		if !retry.IsPermanent(err) {
			return res, err
		}
		// Poison: it will never be a notification. Written where a person finds it, then deleted.
		return res, in.deadLetter(ctx, id, body, err)
	}
	res.Skipped = len(n.Skipped)
	if n.IsTest() {
		in.log.Info("S3 test event received: the notification reaches the queue", "message_id", id)
	}
	var failed error
	for _, ev := range n.Objects {
		r, err := in.object(ctx, ev.Object)
		res.ObjectResult.Add(r)
		switch {
		case err == nil:
			res.Objects++
		case retry.IsPermanent(err):
			// The other objects of the message are still read: one bad object must not hold back the rest.
			failed = errors.Join(failed, err)
		default:
			return res, err
		}
	}
	if failed != nil {
		return res, retry.Permanent(fmt.Errorf("%w: %w", ErrObject, failed))
	}
	return res, nil
}

// object routes, opens and reads one object.
func (in *Intake) object(ctx context.Context, ref s3obj.ObjectRef) (pipeline.ObjectResult, error) {
	route, err := in.router.Route(ref.Bucket, ref.Key)
	if err != nil {
		// A key of no known layout is reported, never guessed; there is nothing to retry.
		in.metrics.objects.WithLabelValues("unknown_layout").Inc()
		return pipeline.ObjectResult{DeadLetters: 1}, in.deadLetterObject(ctx, ref, err)
	}
	body, err := in.parts.Opener.Open(ctx, ref)
	if err != nil {
		if retry.IsPermanent(err) {
			in.metrics.objects.WithLabelValues(reason(err)).Inc()
			if derr := in.deadLetterObject(ctx, ref, err); derr != nil {
				return pipeline.ObjectResult{}, derr
			}
			return pipeline.ObjectResult{DeadLetters: 1}, retry.Permanent(fmt.Errorf("opening %s: %w", ref.URI(), err))
		}
		return pipeline.ObjectResult{}, fmt.Errorf("opening %s: %w", ref.URI(), err)
	}
	defer body.Close()
	reader, err := in.reader()
	if err != nil {
		return pipeline.ObjectResult{}, err
	}
	defer in.release(reader)
	start := time.Now()
	res, err := reader.Read(ctx, ref, route, body)
	in.metrics.seconds.Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		in.metrics.objects.WithLabelValues("read").Inc()
		in.log.Debug("object read", "bucket", ref.Bucket, "key", ref.Key, "kind", route.Kind, "lines", res.Lines,
			"documents", res.Documents, "dead_letters", res.DeadLetters, "partials", res.Partials)
	case retry.IsPermanent(err):
		in.metrics.objects.WithLabelValues(reason(err)).Inc()
	}
	return res, err
}

func (in *Intake) reader() (*pipeline.ObjectReader, error) {
	select {
	case r := <-in.readers:
		return r, nil
	default:
		return in.parts.Pipeline.Objects(in.cfg)
	}
}

func (in *Intake) release(r *pipeline.ObjectReader) {
	select {
	case in.readers <- r:
	default: // more readers than the pool keeps: let it go
	}
}

// deadLetter writes a message that is no notification to the dead-letter index, stage read, named by "sqs" and the
// message id, so that a redelivery writes the same letter.
func (in *Intake) deadLetter(ctx context.Context, id string, body []byte, cause error) error {
	dl := sink.NewDeadLetter(sink.Indices{Prefix: in.parts.Prefix}.DeadLetter(), sink.Origin{ShardID: "sqs", SequenceNumber: id, Raw: body},
		sink.StageRead, reason(cause), cause, in.now())
	if err := in.parts.Sink.Write(ctx, []sink.Doc{dl}); err != nil {
		return fmt.Errorf("dead-lettering message %s: %w", id, err)
	}
	in.log.Warn("dead-lettered a message that is no S3 notification", "message_id", id, "reason", reason(cause), "error", cause)
	return nil
}

// deadLetterObject writes the letter of an object the intake cannot route or open: the pipeline's, as the one it
// writes of an object it cannot read.
func (in *Intake) deadLetterObject(ctx context.Context, ref s3obj.ObjectRef, cause error) error {
	if err := in.parts.Pipeline.DeadLetterObject(ctx, ref, "", cause); err != nil {
		return err
	}
	in.log.Warn("dead-lettered", "object", ref.URI(), "identity", ref.Identity(), "reason", reason(cause), "error", cause)
	return nil
}

// reason is the error's code for labels and dead letters.
func reason(err error) string { return pipeline.ReasonOf(err) }
