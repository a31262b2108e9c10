// config.go owns the package's configuration: defaults, limits and Validate.

package s3obj

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config configures the router, the line reader and the S3 opener. Start from DefaultConfig.
type Config struct {
	// Overrides route keys that AWS's own layouts do not account for (logs copied under another layout, or a
	// bucket that holds only one family). The longest matching prefix wins; see Router.
	Overrides []Override
	// MaxLineBytes caps one line. AWS's lines are far shorter (a flow log record is under 1 KiB, an ALB entry with
	// a long URL and user agent a few KiB), so a longer line is garbage or not a log; it is reported with
	// ReasonLineTooLong and skipped, never buffered whole.
	MaxLineBytes int
	// ReadBufferBytes sizes the reader's buffer for lines; lines longer than it (up to MaxLineBytes) cost a copy.
	ReadBufferBytes int
	// MaxReopens bounds how many times one object read is resumed with a Range request after a broken
	// connection, before the read fails with ReasonTransient.
	MaxReopens int
	// ReopenBackoff is the first pause before a resume; it doubles per attempt, with jitter, up to
	// MaxReopenBackoff.
	ReopenBackoff    time.Duration
	MaxReopenBackoff time.Duration
}

// An Override routes the keys of Bucket ("*" for any bucket) that start with Prefix to Kind.
type Override struct {
	Bucket string
	Prefix string
	Kind   Kind
}

// Limits of the configuration values.
const (
	MinLineBytes       = 1 << 10
	MaxLineBytesLimit  = 64 << 20
	MinReadBufferBytes = 4 << 10
	MaxReopensLimit    = 100
)

// DefaultConfig returns the configuration for logs as AWS writes them: no overrides, lines up to 1 MiB, a 64 KiB
// buffer, and up to 5 resumes of a broken download starting 200 ms apart.
func DefaultConfig() Config {
	return Config{
		MaxLineBytes:     1 << 20,
		ReadBufferBytes:  64 << 10,
		MaxReopens:       5,
		ReopenBackoff:    200 * time.Millisecond,
		MaxReopenBackoff: 5 * time.Second,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.MaxLineBytes < MinLineBytes || c.MaxLineBytes > MaxLineBytesLimit {
		errs = append(errs, fmt.Errorf("s3obj: MaxLineBytes %d: allowed %d to %d", c.MaxLineBytes, MinLineBytes, MaxLineBytesLimit))
	}
	if c.ReadBufferBytes < MinReadBufferBytes || c.ReadBufferBytes > max(c.MaxLineBytes, MinReadBufferBytes) {
		errs = append(errs, fmt.Errorf("s3obj: ReadBufferBytes %d: allowed %d to MaxLineBytes (%d)",
			c.ReadBufferBytes, MinReadBufferBytes, c.MaxLineBytes))
	}
	if c.MaxReopens < 0 || c.MaxReopens > MaxReopensLimit {
		errs = append(errs, fmt.Errorf("s3obj: MaxReopens %d: allowed 0 to %d", c.MaxReopens, MaxReopensLimit))
	}
	if c.ReopenBackoff <= 0 || c.MaxReopenBackoff < c.ReopenBackoff {
		errs = append(errs, fmt.Errorf("s3obj: ReopenBackoff %v, MaxReopenBackoff %v: want 0 < ReopenBackoff <= MaxReopenBackoff",
			c.ReopenBackoff, c.MaxReopenBackoff))
	}
	seen := make(map[[2]string]int, len(c.Overrides))
	for i, o := range c.Overrides {
		switch {
		case o.Bucket == "":
			errs = append(errs, fmt.Errorf("s3obj: Overrides[%d]: Bucket is empty: want a bucket name or \"*\" for any", i))
		case o.Bucket != "*" && strings.ContainsAny(o.Bucket, "*/"):
			errs = append(errs, fmt.Errorf("s3obj: Overrides[%d]: Bucket %q: want a bucket name or \"*\" alone", i, o.Bucket))
		}
		if strings.HasPrefix(o.Prefix, "/") {
			errs = append(errs, fmt.Errorf("s3obj: Overrides[%d]: Prefix %q: keys do not start with \"/\"", i, o.Prefix))
		}
		if !o.Kind.valid() || o.Kind == KindUnknown {
			errs = append(errs, fmt.Errorf("s3obj: Overrides[%d]: Kind %q: allowed %s", i, o.Kind, kindList()))
		}
		k := [2]string{o.Bucket, o.Prefix}
		if j, dup := seen[k]; dup {
			errs = append(errs, fmt.Errorf("s3obj: Overrides[%d]: same bucket %q and prefix %q as Overrides[%d]", i, o.Bucket, o.Prefix, j))
		} else {
			seen[k] = i
		}
	}
	return errors.Join(errs...)
}
