// Package queue is the consumer's reader of an SQS queue of S3 notifications: it long-polls the queue, hands each
// message to the intake with bounded concurrency, keeps a message invisible while its objects are read (however
// long a large object takes), and deletes it only when the intake says every document is durable. A message the
// intake could not finish stays in the queue: it comes back after its visibility timeout, and after the queue's
// maximum receives it moves to the queue's dead-letter queue.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/intake"
	"github.com/kinflow/kinflow/internal/retry"
)

// API is what the poller asks of SQS; *sqs.Client is one.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

var _ API = (*sqs.Client)(nil)

// Handler handles one message; *intake.Intake is one.
type Handler interface {
	Message(ctx context.Context, id string, body []byte) (intake.Result, error)
}

var _ Handler = (*intake.Intake)(nil)

// Config shapes the poller.
type Config struct {
	QueueURL    string
	Concurrency int           // messages handled at once
	Visibility  time.Duration // how long a received message stays invisible; renewed every half of it while handled
	// Wait is the long poll of one receive (at most 20 s, SQS's limit).
	Wait time.Duration
	// RetryInitial and RetryMax bound the backoff after a failed receive.
	RetryInitial, RetryMax time.Duration
}

// DefaultConfig: 4 messages at once, 5 minutes of visibility, 20-second long polls.
func DefaultConfig() Config {
	return Config{Concurrency: 4, Visibility: 5 * time.Minute, Wait: 20 * time.Second,
		RetryInitial: time.Second, RetryMax: time.Minute}
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.QueueURL == "" {
		errs = append(errs, errors.New("queue: QueueURL is empty"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("queue: Concurrency %d: want at least 1", c.Concurrency))
	}
	if c.Visibility < 2*time.Second || c.Visibility > 12*time.Hour {
		errs = append(errs, fmt.Errorf("queue: Visibility %v: want 2s to 12h (SQS's limit)", c.Visibility))
	}
	if c.Wait < 0 || c.Wait > 20*time.Second {
		errs = append(errs, fmt.Errorf("queue: Wait %v: want 0 to 20s (SQS's limit)", c.Wait))
	}
	if c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial {
		errs = append(errs, fmt.Errorf("queue: retry backoff %v..%v: want 0 < initial <= max", c.RetryInitial, c.RetryMax))
	}
	return errors.Join(errs...)
}

// Progress is what the poller reports after each message and each empty receive: the latest flow start of the
// objects it has made durable (0 before the first) and whether the queue had nothing more to give.
type Progress struct {
	Watermark int64
	CaughtUp  bool
	LastData  time.Time // when a message with flows was last made durable
}

// Options are optional.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// OnProgress is called, from one goroutine at a time, with the poller's progress; the consumer records it as
	// the queue's progress in the state table so that its flows hold the watermark back like a shard's.
	OnProgress func(ctx context.Context, p Progress)
	Now        func() time.Time
}

// A Poller reads one queue.
type Poller struct {
	cfg     Config
	api     API
	handler Handler
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	mu       sync.Mutex
	progress Progress
	// inflight counts the messages being handled: the queue is caught up only when a receive finds nothing and
	// none is in hand, or the watermark would close windows whose objects are still being read.
	inflight atomic.Int64
}

// New returns a poller, or every problem of cfg.
func New(api API, cfg Config, handler Handler, opts Options) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	p := &Poller{cfg: cfg, api: api, handler: handler, opts: opts, log: opts.Logger, now: opts.Now, metrics: m}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.log = p.log.With("queue", cfg.QueueURL)
	return p, nil
}

// Run polls until ctx ends, then waits for the messages in hand, which run on handle: the consumer gives them its
// shutdown's grace (handle ends later than ctx) to finish rather than be read again. A message whose handling
// handle cut short is not deleted: it comes back after its visibility timeout, and the deterministic ids make the
// second reading rewrite the same documents.
func (p *Poller) Run(ctx, handle context.Context) error {
	slots := make(chan struct{}, p.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := retry.Policy{Initial: p.cfg.RetryInitial, Max: p.cfg.RetryMax}.NewBackOff()
	for ctx.Err() == nil {
		// Ask for no more than the free slots: a received message's visibility runs from the receive.
		slots <- struct{}{}
		free := 1
		for free < min(10, p.cfg.Concurrency) {
			select {
			case slots <- struct{}{}:
				free++
				continue
			default:
			}
			break
		}
		out, err := p.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(p.cfg.QueueURL), MaxNumberOfMessages: int32(free),
			WaitTimeSeconds: int32(p.cfg.Wait / time.Second), VisibilityTimeout: int32(p.cfg.Visibility / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			release(slots, free)
			if ctx.Err() != nil {
				break
			}
			wait := backoff.NextBackOff()
			p.log.Warn("receiving from the queue failed; retrying", "error", err, "wait", wait)
			p.metrics.receiveErrors.Inc()
			if retry.Sleep(ctx, wait) != nil {
				break
			}
			continue
		}
		backoff.Reset()
		release(slots, free-len(out.Messages))
		if len(out.Messages) == 0 {
			p.report(ctx, 0, true)
		}
		for _, m := range out.Messages {
			wg.Add(1)
			p.inflight.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				defer p.inflight.Add(-1)
				p.handle(handle, m)
			}()
		}
	}
	return nil
}

func release(slots chan struct{}, n int) {
	for range n {
		<-slots
	}
}

// handle handles one message, keeping it invisible meanwhile, and deletes it when the handler says so.
func (p *Poller) handle(ctx context.Context, m types.Message) {
	id, receipt := aws.ToString(m.MessageId), aws.ToString(m.ReceiptHandle)
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	extended := make(chan struct{})
	go func() {
		defer close(extended)
		p.keepInvisible(hctx, id, receipt)
	}()
	start := p.now()
	res, err := p.handler.Message(hctx, id, []byte(aws.ToString(m.Body)))
	cancel()
	<-extended
	log := p.log.With("message_id", id, "receive_count", m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil {
		result := "retry"
		if retry.IsPermanent(err) {
			// Left for the queue's redrive policy: after its maximum receives the message moves to the DLQ; the
			// object is already in the dead-letter index.
			result = "failed"
			log.Error("message failed for good; the queue moves it to its dead-letter queue after its receives", "error", err)
		} else if ctx.Err() == nil {
			log.Warn("message failed; it comes back after its visibility timeout", "error", err)
		}
		p.metrics.messages.WithLabelValues(result).Inc()
		return
	}
	// The documents are durable: deleting may outlive the poller's context, or the message comes back for nothing.
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer dcancel()
	if _, err := p.api.DeleteMessage(dctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(p.cfg.QueueURL), ReceiptHandle: aws.String(receipt)}); err != nil {
		// Read again later, rewriting the same documents: wasted work, never a duplicate.
		log.Warn("deleting a handled message failed; it will be read again", "error", err)
		p.metrics.messages.WithLabelValues("not_deleted").Inc()
		return
	}
	p.metrics.messages.WithLabelValues("deleted").Inc()
	log.Debug("message handled", "objects", res.Objects, "documents", res.Documents, "dead_letters", res.DeadLetters,
		"seconds", p.now().Sub(start).Seconds())
	p.report(ctx, res.Watermark, false)
}

// keepInvisible extends the message's visibility every third of it until ctx ends: one failed extension still
// leaves a third of the timeout for the next.
func (p *Poller) keepInvisible(ctx context.Context, id, receipt string) {
	t := time.NewTicker(p.cfg.Visibility / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := p.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(p.cfg.QueueURL),
			ReceiptHandle: aws.String(receipt), VisibilityTimeout: int32(p.cfg.Visibility / time.Second)})
		if err != nil && ctx.Err() == nil {
			p.log.Warn("extending a message's visibility failed; another reader may get it (its documents are rewritten, not doubled)",
				"message_id", id, "error", err)
			continue
		}
		p.metrics.extensions.Inc()
	}
}

// report updates the progress and hands it to OnProgress.
func (p *Poller) report(ctx context.Context, watermark int64, caughtUp bool) {
	if p.opts.OnProgress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if watermark > 0 {
		p.progress.LastData = p.now()
	}
	p.progress.Watermark = max(p.progress.Watermark, watermark)
	p.progress.CaughtUp = caughtUp && p.inflight.Load() == 0
	p.opts.OnProgress(ctx, p.progress)
}
