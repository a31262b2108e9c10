package assemble

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/intake"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

// S3 returns the S3 client of c: its endpoint and path-style addressing for a local emulator.
func S3(c config.Config, awsCfg aws.Config) *s3.Client {
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// A ranged read (a resumed download) has no checksum to validate; that is expected, not worth a log line.
		o.DisableLogOutputChecksumValidationSkipped = true
		if c.Objects.S3Endpoint != "" {
			o.BaseEndpoint, o.UsePathStyle = aws.String(c.Objects.S3Endpoint), true
		}
	})
}

// SQS returns the SQS client of c.
func SQS(c config.Config, awsCfg aws.Config) *sqs.Client {
	return sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if c.Objects.SQSEndpoint != "" {
			o.BaseEndpoint = aws.String(c.Objects.SQSEndpoint)
		}
	})
}

// Intake builds the S3 intake over Build's parts: objects read from S3 through the same pipeline and sink.
// concurrency is how many objects may be read at once.
func Intake(p *Parts, concurrency int, reg prometheus.Registerer, log *slog.Logger) (*intake.Intake, error) {
	c := p.Config
	opener, err := s3obj.NewS3Opener(S3(c, p.AWS), c.Objects.S3)
	if err != nil {
		return nil, err
	}
	return intake.New(c.Objects.S3, concurrency, intake.Parts{Pipeline: p.Pipeline, Opener: opener, Sink: p.Sink, Prefix: c.Pipeline.Prefix},
		intake.Options{Registerer: reg, Logger: log})
}

// QueueProgressID names a queue's row among the shards' progress: "sqs/" and the queue's name (the last part of its
// URL or ARN), so the consumer polling a queue and the Lambda function behind it write the same row.
func QueueProgressID(urlOrARN string) string {
	name := urlOrARN[strings.LastIndexAny(urlOrARN, "/:")+1:]
	return "sqs/" + name
}

// ProgressWriter records a shard's (or a queue's) progress; *state.Store is one.
type ProgressWriter interface {
	PutProgress(ctx context.Context, p state.Progress) error
}

var _ ProgressWriter = (*state.Store)(nil)

// RecordQueueProgress writes a queue's progress as a shard's: its flows hold the watermark back until the queue is
// caught up, like a shard's. lastData is when its last flows were made durable (zero: keep the stored one). A
// failure is logged, not returned: the next message records it again, and the finalizer's safety net closes what
// a lost write holds back. Nothing is written without a store (no state table).
func RecordQueueProgress(ctx context.Context, store ProgressWriter, id string, watermark int64, caughtUp bool, lastData time.Time, log *slog.Logger) {
	if store == nil {
		return
	}
	p := state.Progress{ShardID: id, Watermark: watermark, CaughtUp: caughtUp, LastDataAt: lastData}
	if err := store.PutProgress(ctx, p); err != nil && ctx.Err() == nil {
		log.Warn("recording the queue's progress failed; the next message records it again", "queue", id, "error", err)
	}
}
