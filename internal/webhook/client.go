package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/retry"
)

const (
	// bodyExcerpt is how much of a failed answer's body a DeliveryError keeps.
	bodyExcerpt = 1 << 10
	// drainLimit bounds what is read of an answer to let its connection be reused; a longer body costs a new
	// connection, not an unbounded read.
	drainLimit = 64 << 10
)

// Options are the client's collaborators; the zero Options work.
type Options struct {
	// HTTPClient sends the requests; nil: a client with its own transport. Either way the Client uses a copy that
	// follows no redirect.
	HTTPClient *http.Client
	Registerer prometheus.Registerer // nil: metrics are kept but not registered
	Logger     *slog.Logger          // nil: no logs
	// Sleep waits d between attempts or returns ctx's error when ctx ends first; nil: a timer. Tests record the
	// waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
}

// A Client delivers chunks to one webhook. It is safe for concurrent use.
type Client struct {
	cfg     Config
	hc      *http.Client
	metrics *metrics
	log     *slog.Logger
	sleep   func(context.Context, time.Duration) error
	policy  retry.Policy
	// stdKey is the HMAC key of webhook-signature (StandardKey of the secret); nil: no secret, no signature.
	stdKey []byte
	// now is the clock of Retry-After dates and of webhook-timestamp; tests fix it.
	now func() time.Time
}

// New validates cfg and returns a client.
func New(cfg Config, opts Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	var hc http.Client
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	} else {
		hc.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	// A redirect is answered, not followed: net/http would resend a signed POST elsewhere, or as a bodiless GET.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{cfg: cfg, hc: &hc, metrics: m, log: opts.Logger, sleep: opts.Sleep, now: time.Now,
		policy: retry.Policy{Initial: cfg.RetryInitial, Max: cfg.RetryMax, MaxAttempts: cfg.MaxAttempts}}
	c.cfg.Secret = slices.Clone(cfg.Secret) // the caller may reuse its slice
	if len(c.cfg.Secret) > 0 {
		c.stdKey, _ = StandardKey(c.cfg.Secret) // Validate refused a secret it cannot decode
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.sleep == nil {
		c.sleep = retry.Sleep
	}
	return c, nil
}

// Config returns the client's configuration (the finalizer reads ChunkIPs and TopN from it).
func (c *Client) Config() Config {
	cfg := c.cfg
	cfg.Secret = slices.Clone(c.cfg.Secret)
	return cfg
}

// Deliver POSTs the chunk until the webhook accepts it (nil), refuses it, or MaxAttempts attempts failed (both a
// *DeliveryError). If ctx ends first, the error wraps ctx.Err() and is no DeliveryError. An answer that arrives is
// final even when ctx ends right after.
func (c *Client) Deliver(ctx context.Context, ch *Chunk) error {
	m, err := c.Message(ch)
	if err != nil {
		return err
	}
	return c.Send(ctx, m)
}

// Message is what Deliver sends for ch: Request's body and key, and the chunk's place (X-Kinflow-Chunk), for a
// caller that sends it itself (the finalizer, which dead-letters what fails for good).
func (c *Client) Message(ch *Chunk) (*Message, error) {
	_, body, key, err := c.Request(ch)
	if err != nil {
		return nil, err
	}
	part := strconv.Itoa(ch.Index)
	if ch.Last {
		part += "; last"
	}
	return &Message{WindowStart: ch.WindowStart, Revision: ch.Revision, Key: key, Body: body,
		Header: http.Header{"X-Kinflow-Chunk": {part}}}, nil
}

// A Message is one POST of any kind: a chunk of connection sets (Deliver makes it), or a window's alerts.
type Message struct {
	WindowStart int64 // replaces {bucket_time} in the URL; sent as X-Kinflow-Window-Start
	Revision    int64 // sent as X-Kinflow-Revision
	Key         string
	Body        []byte      // JSON
	Header      http.Header // sent besides the common ones
}

// target is the URL of the window starting at windowStart: {bucket_time} replaced.
func (c *Client) target(windowStart int64) string {
	return strings.ReplaceAll(c.cfg.URL, BucketTime, strconv.FormatInt(windowStart, 10))
}

// Send POSTs m, signed and retried as Deliver does a chunk, with the same outcomes.
func (c *Client) Send(ctx context.Context, m *Message) error {
	target := c.target(m.WindowStart)
	body, key := m.Body, m.Key
	header := c.header(m)
	shown := redactURL(target)
	var last attemptResult
	attempts := 0
	err := retry.Do(ctx, c.policy, func(ctx context.Context) error {
		attempts++
		// The Standard Webhooks timestamp is the attempt's, not the message's: a receiver refusing old timestamps
		// (replays) must still accept a retry sent minutes after the first attempt.
		h := header.Clone()
		setStandard(h, c.stdKey, key, c.now().Unix(), body)
		last = c.attempt(ctx, target, body, h)
		return last.classify()
	}, retry.WithSleep(c.sleep), retry.OnRetry(func(_ error, n int, wait time.Duration) {
		c.log.Warn("webhook attempt failed, retrying", "key", key, "url", shown, "attempt", n,
			"max_attempts", c.cfg.MaxAttempts, "status", last.status, "outcome", last.outcome, "wait", wait,
			"retry_after", last.hasRetryAfter, "error", last.err)
	}))
	var stopped *retry.StoppedError
	switch {
	case err == nil:
		c.metrics.deliveries.WithLabelValues(resultDelivered).Inc()
		return nil
	case errors.As(err, &stopped):
		return c.cancelled(ctx, key, shown, stopped.Err)
	case last.status == 0 && ctx.Err() != nil:
		// The last attempt got no answer because ctx ended: nothing was refused or exhausted.
		return c.cancelled(ctx, key, shown, last.err)
	}
	de := &DeliveryError{Key: key, URL: shown, Attempts: attempts, Status: last.status, Body: last.body,
		Permanent: !last.retryable()}
	result, sentinel := resultExhausted, ErrExhausted
	if de.Permanent {
		result, sentinel = resultRejected, ErrRejected
	}
	de.Err = sentinel
	if last.err != nil {
		de.Err = fmt.Errorf("%w: %w", sentinel, last.err)
	}
	c.metrics.deliveries.WithLabelValues(result).Inc()
	c.log.Warn("webhook delivery failed", "key", key, "url", shown, "attempts", attempts, "status", last.status,
		"reason", de.Reason(), "error", last.err)
	return de
}

func (c *Client) cancelled(ctx context.Context, key, shown string, last error) error {
	c.metrics.deliveries.WithLabelValues(resultCancelled).Inc()
	cause := ctx.Err()
	if cause == nil { // an injected Sleep failed on its own
		cause = last
	}
	return fmt.Errorf("webhook: delivering %s to %s: %w", key, shown, cause)
}

// header is what every attempt of a message sends alike; Send adds each attempt's Standard Webhooks headers.
func (c *Client) header(m *Message) http.Header {
	h := make(http.Header, 8+len(m.Header))
	for k, v := range m.Header {
		h[k] = slices.Clone(v)
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "kinflow")
	h.Set("Idempotency-Key", m.Key)
	h.Set("X-Kinflow-Window-Start", strconv.FormatInt(m.WindowStart, 10))
	h.Set("X-Kinflow-Revision", strconv.FormatInt(m.Revision, 10))
	if len(c.cfg.Secret) > 0 {
		mac := hmac.New(sha256.New, c.cfg.Secret)
		mac.Write(m.Body)
		h.Set("X-Kinflow-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	return h
}

// attemptResult is what one POST came to: an answer (status set), or a transport failure or timeout (err set).
type attemptResult struct {
	outcome       string // metric label: status class, network or timeout
	status        int
	body          string // excerpt of a non-2xx answer
	retryAfter    time.Duration
	hasRetryAfter bool
	err           error
}

// errAnswer is an attempt's failure as the retry loop sees it; Deliver reports the attemptResult itself.
var errAnswer = errors.New("webhook: attempt failed")

// retryable reports whether the attempt's failure may succeed later: no answer (a transport error or a timeout),
// 429, or 5xx. Anything else (3xx, 4xx) is the receiver's final word.
func (a *attemptResult) retryable() bool {
	return a.status == 0 || retry.RetryableStatus(a.status)
}

// classify is the attempt for the retry loop: nil when delivered; else an error it retries or not, after the
// answer's Retry-After when there is one.
func (a *attemptResult) classify() error {
	switch {
	case a.outcome == "2xx":
		return nil
	case !a.retryable():
		return retry.Permanent(errAnswer)
	case a.hasRetryAfter:
		return retry.After(errAnswer, a.retryAfter)
	}
	return errAnswer
}

func (c *Client) attempt(ctx context.Context, target string, body []byte, header http.Header) (a attemptResult) {
	start := time.Now()
	defer func() {
		c.metrics.attempts.WithLabelValues(a.outcome).Inc()
		c.metrics.duration.WithLabelValues(a.outcome).Observe(time.Since(start).Seconds())
	}()
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil { // Validate parsed the URL and only digits replace the placeholder, so this is not expected
		return attemptResult{outcome: outcomeNetwork, err: fmt.Errorf("building the request: %w", err)}
	}
	req.Header = header // Deliver made it for this attempt
	resp, err := c.hc.Do(req)
	if err != nil {
		// url.Error repeats the URL, query included; DeliveryError.URL shows it redacted instead.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		var ne net.Error
		if ctx.Err() == nil && (actx.Err() != nil || errors.As(err, &ne) && ne.Timeout()) {
			// Not wrapping context.DeadlineExceeded: that is for the caller's context (see DeliveryError).
			return attemptResult{outcome: outcomeTimeout, err: fmt.Errorf("%w: no answer within %v", ErrTimeout, c.cfg.Timeout)}
		}
		return attemptResult{outcome: outcomeNetwork, err: err}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		_ = resp.Body.Close()
	}()
	a = attemptResult{outcome: strconv.Itoa(resp.StatusCode/100) + "xx", status: resp.StatusCode}
	if resp.StatusCode/100 == 2 {
		return a
	}
	// A body cut short by the timeout still leaves the status to decide by; the excerpt is what arrived.
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, bodyExcerpt))
	a.body = strings.ToValidUTF8(string(excerpt), "\uFFFD")
	a.retryAfter, a.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.now(), c.cfg.MaxRetryAfter)
	return a
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date, as a wait capped at limit. A date in
// the past means now; a value that is neither form is ignored (the backoff applies).
func parseRetryAfter(v string, now time.Time, limit time.Duration) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		d = limit
		if secs < uint64(limit/time.Second) {
			d = time.Duration(secs) * time.Second
		}
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	return min(d, limit), true
}
