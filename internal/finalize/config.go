package finalize

import (
	"errors"
	"fmt"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/sink"
)

// Config shapes when windows close and how the finalizer reads them. Start from DefaultConfig.
type Config struct {
	// Window, AllowedLateness and MaxExactPeers are the aggregate settings the shard processors use.
	Window          time.Duration
	AllowedLateness time.Duration
	MaxExactPeers   int
	// MaxDelay is the safety net: a shard that holds the watermark back but has recorded no progress for MaxDelay
	// (a stalled worker, a shard nobody reads) is stuck and stops holding it; windows that close only because of
	// that are forced. A consumer catching up on a backlog records progress all the time and is never stuck.
	MaxDelay time.Duration
	// IdleAfter: a shard that is caught up and has carried no flows for this long does not hold the watermark back.
	IdleAfter time.Duration
	// StaleAfter: a shard whose progress has not been recorded for this long does not hold the watermark back
	// either. Consumer workers record every shard they hold every 10 seconds, so a stale shard is one nobody reads
	// any more: in Lambda mode a closed parent shard (the event source mapping never reports its end) or a shard
	// gone quiet after a backlog.
	StaleAfter time.Duration
	// Horizon is how far back in event time, from the newest flow any shard has acknowledged, windows are looked
	// at: closed ones are finalized, finalized ones are corrected when late partials changed them. Older partials
	// are left alone. Event time, so that a backlog days old is finalized like live data.
	Horizon time.Duration
	// PageSize is how many partials one search page returns.
	PageSize int
	// ChunkBytes bounds a chunk of finals (written together, then posted as one webhook request) besides the
	// webhook's IPs per chunk: a chunk also ends before its finals' estimated size passes ChunkBytes. The estimate
	// (sizeOf) bounds both a set's rich JSON and the memory it holds, so a window of heavy fan-out IPs neither
	// builds a huge body nor holds thousands of 10,000-peer sets at once. Memory is then about one page of
	// partials, one IP's partials and one chunk.
	ChunkBytes int
	// Prefix names the indices (sink.Indices).
	Prefix string
	// Interval is the pause between passes of the long-running loop (consumer mode).
	Interval time.Duration
	// LockLease is the finalizer lock's lease: a holder that dies is replaced after at most this long.
	LockLease time.Duration
	// MaxResponseBytes caps a search response.
	MaxResponseBytes int64
	// Detect shapes the detection rules run on each window finalized.
	Detect DetectConfig
}

// DefaultConfig: the aggregate defaults, a one-hour safety net, shards idle after two minutes and stale after 20, a day of
// corrections, 500 partials a page, a pass every 30 seconds under a 60-second lock lease.
func DefaultConfig() Config {
	a := aggregate.DefaultConfig()
	return Config{
		Window:           a.Window,
		AllowedLateness:  a.AllowedLateness,
		MaxExactPeers:    a.MaxExactPeers,
		MaxDelay:         time.Hour,
		IdleAfter:        2 * time.Minute,
		StaleAfter:       20 * time.Minute,
		Horizon:          24 * time.Hour,
		PageSize:         500,
		ChunkBytes:       4 << 20,
		Prefix:           sink.DefaultPrefix,
		Interval:         30 * time.Second,
		LockLease:        60 * time.Second,
		MaxResponseBytes: 256 << 20,
		Detect:           DefaultDetectConfig(),
	}
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("finalize: invalid config")

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	agg := aggregate.DefaultConfig()
	agg.Window, agg.AllowedLateness, agg.MaxExactPeers = c.Window, c.AllowedLateness, c.MaxExactPeers
	if err := agg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxDelay < c.AllowedLateness {
		bad("MaxDelay %v: want at least AllowedLateness (%v)", c.MaxDelay, c.AllowedLateness)
	}
	if c.IdleAfter <= 0 {
		bad("IdleAfter %v: want a positive duration", c.IdleAfter)
	}
	if c.StaleAfter < c.IdleAfter {
		bad("StaleAfter %v: want at least IdleAfter (%v)", c.StaleAfter, c.IdleAfter)
	}
	if c.Horizon < c.Window+c.MaxDelay {
		bad("Horizon %v: want at least Window + MaxDelay (%v)", c.Horizon, c.Window+c.MaxDelay)
	}
	if c.ChunkBytes < 64<<10 {
		bad("ChunkBytes %d: want 64 KiB or more", c.ChunkBytes)
	}
	if c.PageSize < 1 || c.PageSize > 10_000 {
		bad("PageSize %d: want 1 to 10000 (the clusters' default max_result_window)", c.PageSize)
	}
	if err := sink.ValidatePrefix(c.Prefix); err != nil {
		bad("Prefix: %v", err)
	}
	if c.Interval <= 0 {
		bad("Interval %v: want a positive duration", c.Interval)
	}
	if c.LockLease < 3*time.Second {
		bad("LockLease %v: want 3s or more", c.LockLease)
	}
	if c.MaxResponseBytes < 1<<20 {
		bad("MaxResponseBytes %d: want 1 MiB or more", c.MaxResponseBytes)
	}
	errs = append(errs, c.Detect.validate(bad)...)
	return errors.Join(errs...)
}
