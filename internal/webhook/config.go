package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Format is the shape of the request body.
type Format string

// The body formats; see the package documentation.
const (
	FormatCompat Format = "compat" // {"<ip>": <distinct peers>, ...}
	FormatRich   Format = "rich"   // window, revision, chunk, connection sets with counters, top-N
)

// BucketTime is the URL placeholder replaced by the window start in Unix seconds.
const BucketTime = "{bucket_time}"

// ErrInvalidConfig is wrapped by the errors of Validate and New.
var ErrInvalidConfig = errors.New("webhook: invalid configuration")

// Config is the webhook's configuration. Start from DefaultConfig and set URL.
type Config struct {
	// URL is the http or https endpoint. It may contain {bucket_time}, replaced by the window start (Unix seconds,
	// decimal) in the path or query; user information in it is sent as basic authentication.
	URL    string
	Format Format // FormatCompat or FormatRich
	// Secret signs the requests; empty: no signature. Its bytes are the HMAC-SHA256 key of X-Kinflow-Signature;
	// the key of webhook-signature is the same bytes, or, when Secret is "whsec_<base64>" (the Standard Webhooks
	// form), the decoded key (see StandardKey).
	Secret []byte
	// Timeout bounds one attempt: connecting, sending, and the answer's status line and headers.
	Timeout time.Duration
	// MaxAttempts is the number of attempts in all, the first one included (1: no retry).
	MaxAttempts int
	// RetryInitial and RetryMax bound the exponential backoff between attempts when the answer has no Retry-After:
	// the n-th wait is drawn from [d/2, d] with d = min(RetryMax, RetryInitial*2^(n-1)).
	RetryInitial, RetryMax time.Duration
	// MaxRetryAfter caps a Retry-After answer (seconds or HTTP date), so a receiver cannot park a window for a day.
	MaxRetryAfter time.Duration
	// ChunkIPs is the number of IPs per chunk; the finalizer reads it to cut a window's finals into chunks.
	ChunkIPs int
	// TopN is the length of the rich format's top list (0: none).
	TopN int
}

// DefaultConfig returns the defaults: compat format, no URL and no secret, 10s per attempt, 8 attempts, backoff
// from 500ms to 30s, Retry-After capped at 5 minutes, 5000 IPs a chunk, a top list of 20.
func DefaultConfig() Config {
	return Config{
		Format:        FormatCompat,
		Timeout:       10 * time.Second,
		MaxAttempts:   8,
		RetryInitial:  500 * time.Millisecond,
		RetryMax:      30 * time.Second,
		MaxRetryAfter: 5 * time.Minute,
		ChunkIPs:      5000,
		TopN:          20,
	}
}

// Validate reports every problem of the configuration at once, wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := validateURL(c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.Format != FormatCompat && c.Format != FormatRich {
		bad("format %q: allowed %q, %q", c.Format, FormatCompat, FormatRich)
	}
	if c.Timeout <= 0 {
		bad("timeout %v: must be positive", c.Timeout)
	}
	if c.MaxAttempts < 1 {
		bad("max attempts %d: must be at least 1 (1: no retry)", c.MaxAttempts)
	}
	if c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial {
		bad("retry backoff %v..%v: need 0 < initial <= max", c.RetryInitial, c.RetryMax)
	}
	if c.MaxRetryAfter <= 0 {
		bad("max retry-after %v: must be positive", c.MaxRetryAfter)
	}
	if c.ChunkIPs < 1 {
		bad("chunk IPs %d: must be at least 1", c.ChunkIPs)
	}
	if c.TopN < 0 {
		bad("top N %d: must be 0 (no top list) or more", c.TopN)
	}
	if _, err := StandardKey(c.Secret); err != nil {
		bad("%w; want %s followed by the standard base64 of the key, or a secret without that prefix, used as is",
			err, StandardSecretPrefix)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

// validateURL checks the URL as configured, placeholder included: url.Parse takes braces in a path or query and
// refuses them in a host or user, which is what we want.
func validateURL(raw string) error {
	if raw == "" {
		return errors.New("url is empty: want http(s)://host[:port]/path, optionally with " + BucketTime)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, which may hold a password: say what is wrong without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("url %q: %w", redactURL(raw), err)
	}
	var errs []error
	if u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, fmt.Errorf("url %q: scheme %q, allowed http, https", redactURL(raw), u.Scheme))
	}
	if u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q: no host", redactURL(raw)))
	}
	return errors.Join(errs...)
}

// String describes the configuration without the secret or the URL's password and query values.
func (c Config) String() string {
	secret := "none"
	if len(c.Secret) > 0 {
		secret = "[redacted]"
	}
	return fmt.Sprintf("webhook{url: %s, format: %s, secret: %s, timeout: %v, attempts: %d, backoff: %v..%v, "+
		"max retry-after: %v, chunk IPs: %d, top: %d}", redactURL(c.URL), c.Format, secret, c.Timeout,
		c.MaxAttempts, c.RetryInitial, c.RetryMax, c.MaxRetryAfter, c.ChunkIPs, c.TopN)
}

// redactURL hides a URL's password and its query values (tokens are often passed there), keeping the names so
// the address stays recognisable. A URL that does not parse is hidden entirely.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable url]"
	}
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			if k, _, found := strings.Cut(p, "="); found {
				params[i] = k + "=xxxxx"
			} else {
				params[i] = "xxxxx" // a bare token
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	return u.Redacted()
}
