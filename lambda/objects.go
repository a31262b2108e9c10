package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/intake"
	"github.com/kinflow/kinflow/internal/retry"
)

// MessageHandler handles one SQS message of S3 notifications; *intake.Intake is one.
type MessageHandler interface {
	Message(ctx context.Context, id string, body []byte) (intake.Result, error)
}

var _ MessageHandler = (*intake.Intake)(nil)

// objectsHandler reads the objects an SQS event source mapping's messages announce and answers with partial batch
// responses (ReportBatchItemFailures): a message is left out of BatchItemFailures only when every document of its
// objects is durable. A message that fails is retried by the event source mapping (its visibility timeout) and
// moves to the queue's dead-letter queue after the queue's maximum receives; the others of the batch are done.
type objectsHandler struct {
	intake      MessageHandler
	concurrency int
	// reserve is kept back from the invocation's deadline to answer: a message still being read then is reported
	// failed (and read again), not the whole batch lost to a timeout.
	reserve time.Duration
	log     *slog.Logger
	now     func() time.Time
	// progress records the queue's event-time progress after its messages are done; nil without a state table.
	progress ProgressStore
}

// Handle handles the batch's messages, a few at a time. Unlike a shard's records, messages carry no order: one
// failing holds back nothing else.
func (h *objectsHandler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	start := h.now()
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-h.reserve))
		defer cancel()
	}
	var (
		mu        sync.Mutex
		resp      events.SQSEventResponse
		watermark int64
		queue     string
		documents int
	)
	sem := make(chan struct{}, max(1, h.concurrency))
	var wg sync.WaitGroup
	for _, m := range ev.Records {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := h.intake.Message(ctx, m.MessageId, []byte(m.Body))
			mu.Lock()
			defer mu.Unlock()
			queue = m.EventSourceARN
			if err != nil {
				level := slog.LevelWarn
				if retry.IsPermanent(err) {
					level = slog.LevelError
				}
				h.log.Log(ctx, level, "message failed; the event source mapping retries it, then the queue's DLQ takes it",
					"message_id", m.MessageId, "receive_count", m.Attributes["ApproximateReceiveCount"], "error", err)
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
				return
			}
			watermark = max(watermark, res.Watermark)
			documents += res.Documents
		}()
	}
	wg.Wait()
	if h.progress != nil && queue != "" && len(resp.BatchItemFailures) < len(ev.Records) {
		var lastData time.Time
		if watermark > 0 {
			lastData = h.now()
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), progressTimeout)
		defer cancel()
		assemble.RecordQueueProgress(pctx, h.progress, assemble.QueueProgressID(queue), watermark, true, lastData, h.log)
	}
	h.log.Info("objects batch", "messages", len(ev.Records), "failed", len(resp.BatchItemFailures), "documents", documents,
		"seconds", fmt.Sprintf("%.3f", h.now().Sub(start).Seconds()))
	return resp, nil
}
