package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/kinflow/kinflow/internal/retry"
)

// BulkSink is the bulk engine behind both the Elasticsearch and the OpenSearch sink.
//
// Write encodes its documents (action line + source) into one buffer the sink owns and hands them to a batcher in
// chunks; the batcher cuts bulk requests by bytes, count and interval and gives each to one of MaxInFlight workers.
// A worker keeps its batch until every item is settled: it resends only the items that failed transiently (429,
// 5xx, or the whole request on a transport error), after a capped, jittered exponential backoff; it replaces each
// item the cluster refused permanently with a dead letter and sends that in the next round. While workers are busy
// retrying, the batcher blocks, and so do writers: backpressure, with memory bounded by MaxInFlight+1 batches.
//
// Each item settles its Write's ticket exactly once: acknowledged, failed (a refused dead letter, a forced close),
// or dropped unsent because its writer no longer waits (its context ended, or the Write already failed). A Write
// returns when all of its items are settled, or at its first failure; the rest of its items are then dropped.
//
// The engine is written on the raw _bulk protocol rather than esutil.BulkIndexer because the indexer acknowledges
// items through per-item callbacks with no way to resend just the failed items inside the same flush or to tell a
// caller when all of its documents (including their dead letters) are durable; and one engine serves opensearch-go too.
type BulkSink struct {
	cfg     Config
	client  Client
	log     *slog.Logger
	m       *metrics
	now     func() time.Time
	dlIndex string
	retry   retry.Policy // RetryInitial..RetryMax, for as long as the engine runs

	in      chan chunk
	work    chan []*item
	mu      sync.RWMutex // held shared while sending on in, exclusively to close it
	closing chan struct{}
	once    sync.Once
	stopCtx context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

var _ Sink = (*BulkSink)(nil)

// New returns a running sink that writes through client.
func New(client Client, cfg Config, opts Options) (*BulkSink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidConfig)
	}
	m, err := newMetrics(cfg.Name, opts.Registerer)
	if err != nil {
		return nil, err
	}
	s := &BulkSink{
		cfg:     cfg,
		client:  client,
		log:     opts.Logger,
		m:       m,
		now:     opts.Now,
		dlIndex: Indices{Prefix: cfg.Prefix}.DeadLetter(),
		retry:   retry.Policy{Initial: cfg.RetryInitial, Max: cfg.RetryMax},
		in:      make(chan chunk, cfg.MaxInFlight),
		work:    make(chan []*item),
		closing: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("sink", cfg.Name)
	if s.now == nil {
		s.now = time.Now
	}
	// The engine's own lifetime, not a request path: it ends only when Close gives up waiting.
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	s.wg.Add(1 + cfg.MaxInFlight)
	go s.batcher()
	for range cfg.MaxInFlight {
		go s.worker()
	}
	return s, nil
}

// Write implements Sink.
func (s *BulkSink) Write(ctx context.Context, docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	if err := validateDocs(docs); err != nil {
		return err
	}
	_, err := s.write(ctx, docs)
	return err
}

// write is Write; it also returns the Write's ticket, which tests audit once the sink is closed.
func (s *BulkSink) write(ctx context.Context, docs []Doc) (*ticket, error) {
	t := newTicket(ctx, len(docs))
	for start := 0; start < len(docs); start += s.cfg.FlushDocs {
		end := min(start+s.cfg.FlushDocs, len(docs))
		// The writer waits for its documents, so nothing more comes from it: its last chunk is sent at once.
		c := chunk{items: s.encode(t, docs[start:end]), last: end == len(docs)}
		if err := s.enqueue(t, c); err != nil {
			// The documents never handed to a worker settle here, failed; those that were are dropped unsent when a
			// worker next looks at them (see live).
			t.settle(len(docs)-start, err)
			return t, err
		}
	}
	select {
	case <-t.done:
		return t, t.err
	case <-ctx.Done():
		return t, ctx.Err()
	}
}

// enqueue hands a chunk of t's documents to the batcher, unless t's writer stops waiting first.
func (s *BulkSink) enqueue(t *ticket, c chunk) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	select {
	case <-s.closing:
		return ErrClosed
	default:
	}
	select {
	case s.in <- c:
		return nil
	case <-t.ctx.Done():
		return t.ctx.Err()
	case <-t.done: // an earlier chunk failed the Write
		return t.err
	case <-s.closing:
		return ErrClosed
	}
}

// Close implements Sink.
func (s *BulkSink) Close(ctx context.Context) error {
	s.once.Do(func() {
		close(s.closing)
		s.mu.Lock()
		close(s.in)
		s.mu.Unlock()
	})
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.stop()
		<-done
		return ctx.Err()
	}
}

const maxIDBytes = 512 // the cluster's limit on _id

func validateDocs(docs []Doc) error {
	var errs []error
	for i, d := range docs {
		switch {
		case d.Index == "":
			errs = append(errs, fmt.Errorf("doc %d: empty index", i))
		case d.ID == "" || len(d.ID) > maxIDBytes:
			errs = append(errs, fmt.Errorf("doc %d: id of %d bytes, want 1..%d (ids are deterministic, see docid)", i, len(d.ID), maxIDBytes))
		case d.Op != OpCreate && d.Op != OpIndex:
			errs = append(errs, fmt.Errorf("doc %d: op %v, allowed: create, index", i, d.Op))
		}
		if len(errs) >= 10 {
			errs = append(errs, errors.New("..."))
			break
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidDoc, errors.Join(errs...))
}
