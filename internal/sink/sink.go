package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/retry"
)

// A Sink writes documents durably.
type Sink interface {
	// Write returns nil once every doc is durable in the cluster or, if the cluster refused it permanently,
	// durable as a dead letter. It blocks while the cluster is down or throttling (backpressure) and returns
	// ctx's error if ctx ends first, in which case none of docs may be considered written (some may be; writes are
	// idempotent). docs and their byte slices must not be modified until Write returns.
	Write(ctx context.Context, docs []Doc) error
	// Close flushes what was accepted, waits for it, and stops. If ctx ends first, outstanding writes fail with
	// ErrClosed.
	Close(ctx context.Context) error
}

// A Client sends requests to one cluster. Implementations add authentication and must not retry on their own:
// the engine decides what to retry. The body returned is complete (read through a limit of maxBody bytes).
type Client interface {
	// Bulk POSTs an NDJSON body to /_bulk with the filter_path the engine needs and returns the status and body.
	// err is set only when no HTTP response arrived (connection refused or reset, timeout, TLS).
	Bulk(ctx context.Context, body []byte, maxBody int64) (status int, resp []byte, err error)
	Doer
}

// A Doer sends a JSON request (method, path with query) and returns the status and body: template installation,
// the finalizer's searches, the pipeline's reads of existing documents, tests. Every Client is one.
type Doer interface {
	Do(ctx context.Context, method, path string, body []byte, maxBody int64) (status int, resp []byte, err error)
}

// DoJSON sends one request through d and decodes a 2xx answer into out (nil: discarded). Its errors name the
// request, and a non-2xx answer's status and the start of its body; the caller adds what it was doing.
func DoJSON(ctx context.Context, d Doer, method, path string, body []byte, maxBody int64, out any) error {
	status, resp, err := d.Do(ctx, method, path, body, maxBody)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, status, excerpt(resp))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// excerpt is the start of an answer's body, enough to see the cluster's error without flooding a log line.
func excerpt(b []byte) string {
	const n = 512
	if len(b) > n {
		return strings.ToValidUTF8(string(b[:n]), "") + "..."
	}
	return string(b)
}

// Sentinel errors. All but ErrClosed are permanent (retry.IsPermanent): the same write, or the same configuration,
// fails the same way again. A closed sink is only this process's state: the write succeeds elsewhere or later.
var (
	ErrClosed             = errors.New("sink closed")
	ErrInvalidDoc         = retry.Permanent(errors.New("invalid document"))
	ErrDeadLetterRejected = retry.Permanent(errors.New("dead letter refused by the cluster"))
	ErrInvalidConfig      = retry.Permanent(errors.New("invalid sink configuration"))
)

// BulkFilterPath is the filter_path every Client sends with _bulk: only what per-item handling reads, so a
// response costs a few bytes per item.
const BulkFilterPath = "errors,items.*.status,items.*.error.type,items.*.error.reason,items.*.error.caused_by.type,items.*.error.caused_by.reason"

// Config tunes the bulk engine.
type Config struct {
	// Name labels metrics and logs (e.g. "elasticsearch", "opensearch").
	Name string
	// Prefix names the dead-letter index (Indices{Prefix}.DeadLetter()).
	Prefix string
	// A bulk request is sent when it reaches FlushBytes or FlushDocs, or when a Write has handed over its last
	// document: the writer waits for durability, so holding its tail back for more documents would only add latency.
	FlushBytes int
	FlushDocs  int
	// MaxInFlight bounds concurrent bulk requests (and with them memory: at most MaxInFlight+1 batches exist).
	MaxInFlight int
	// RequestTimeout bounds each bulk request.
	RequestTimeout time.Duration
	// Retries back off exponentially from RetryInitial to RetryMax, with jitter, for as long as the writer waits.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// MaxResponseBytes caps how much of a bulk response is read.
	MaxResponseBytes int64
}

// DefaultConfig returns the defaults: 5 MiB or 5000 docs per request, 4 requests in flight, 60 s per request,
// retries from 100 ms to 30 s.
func DefaultConfig() Config {
	return Config{
		Name:             "search",
		Prefix:           DefaultPrefix,
		FlushBytes:       5 << 20,
		FlushDocs:        5000,
		MaxInFlight:      4,
		RequestTimeout:   60 * time.Second,
		RetryInitial:     100 * time.Millisecond,
		RetryMax:         30 * time.Second,
		MaxResponseBytes: 256 << 20,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Name == "" {
		bad("sink name is empty")
	}
	if err := ValidatePrefix(c.Prefix); err != nil {
		errs = append(errs, err)
	}
	if c.FlushBytes < 1<<10 || c.FlushBytes > 100<<20 {
		bad("flush bytes %d: allowed 1 KiB..100 MiB (the cluster's http.max_content_length)", c.FlushBytes)
	}
	if c.FlushDocs < 1 {
		bad("flush docs %d: must be at least 1", c.FlushDocs)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 256 {
		bad("max in-flight requests %d: allowed 1..256", c.MaxInFlight)
	}
	if c.RequestTimeout <= 0 {
		bad("request timeout %v: must be positive", c.RequestTimeout)
	}
	if c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial {
		bad("retry backoff %v..%v: need 0 < initial <= max", c.RetryInitial, c.RetryMax)
	}
	if c.MaxResponseBytes < 1<<20 {
		bad("max response bytes %d: must be at least 1 MiB", c.MaxResponseBytes)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

// ValidatePrefix checks an index prefix: lower case letters, digits, '-' and '_', not starting with '-', '_' or
// '+', at most 100 bytes (index names allow 255; the prefix leaves room for the rest).
func ValidatePrefix(p string) error {
	if p == "" {
		return fmt.Errorf("index prefix is empty")
	}
	if len(p) > 100 {
		return fmt.Errorf("index prefix %q: longer than 100 bytes", p)
	}
	if p[0] == '-' || p[0] == '_' || p[0] == '+' {
		return fmt.Errorf("index prefix %q: must not start with '-', '_' or '+'", p)
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("index prefix %q: allowed characters are a-z, 0-9, '-' and '_'", p)
		}
	}
	return nil
}

// Options are the collaborators a sink is given.
type Options struct {
	Registerer prometheus.Registerer // nil: metrics are not registered
	Logger     *slog.Logger          // nil: slog.Default()
	// Now is the clock for dead letters' @timestamp; nil: time.Now.
	Now func() time.Time
}
