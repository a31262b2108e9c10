package aggregate

import (
	"errors"
	"fmt"
	"time"
)

// Config shapes windows, the exact/estimated boundary of peer sets and the limits of one Accumulator. Start from
// DefaultConfig; every field must be set (Validate says which are not).
type Config struct {
	// Window is the width of the event-time windows, aligned to the Unix epoch: a flow starting at s belongs to
	// [s - s mod Window, s - s mod Window + Window). A whole number of seconds from 1s to 24h.
	Window time.Duration
	// AllowedLateness is how long after a window's end flows for it are still on time. A flow whose window end plus
	// AllowedLateness is at or before the watermark is late: still aggregated, and counted in flows.late.
	AllowedLateness time.Duration
	// MaxExactPeers is the largest peer set a document carries exactly; a larger one is a HyperLogLog sketch with
	// peers_estimated set. The accumulator itself stays exact (MaxTrackedPeers bounds it); the cap applies when a
	// partial is cut and when partials merge.
	MaxExactPeers int
	// MaxOpenWindows is how many distinct windows one open partial may span before Add asks for a cut.
	MaxOpenWindows int
	// MaxTrackedIPs is how many (window, ip) pairs one open partial may hold before Add asks for a cut.
	MaxTrackedIPs int
	// MaxTrackedPeers is how many (window, ip, peer) triples one open partial may hold before Add asks for a cut.
	MaxTrackedPeers int
}

// DefaultConfig: 10-minute windows, 15 minutes of lateness, exact sets up to 10,000 peers, and limits that keep an
// open partial under about 60 MB (see Memory in the package doc).
func DefaultConfig() Config {
	return Config{
		Window:          10 * time.Minute,
		AllowedLateness: 15 * time.Minute,
		MaxExactPeers:   10_000,
		MaxOpenWindows:  16,
		MaxTrackedIPs:   100_000,
		MaxTrackedPeers: 2_000_000,
	}
}

// Ranges of the configurable values.
const (
	minWindow       = time.Second
	maxWindow       = 24 * time.Hour
	maxLateness     = 7 * 24 * time.Hour
	maxExactPeers   = 1 << 20
	maxOpenWindows  = 1024
	maxTrackedIPs   = 1 << 28
	maxTrackedPeers = 1 << 30
)

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("aggregate: invalid config")

// Validate reports every problem of c at once, each with the allowed values.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.Window < minWindow || c.Window > maxWindow || c.Window%time.Second != 0 {
		bad("Window %v: want a whole number of seconds from %v to %v", c.Window, minWindow, maxWindow)
	}
	if c.AllowedLateness < 0 || c.AllowedLateness > maxLateness || c.AllowedLateness%time.Second != 0 {
		bad("AllowedLateness %v: want a whole number of seconds from 0s to %v", c.AllowedLateness, maxLateness)
	}
	if c.MaxExactPeers < 1 || c.MaxExactPeers > maxExactPeers {
		bad("MaxExactPeers %d: want 1 to %d", c.MaxExactPeers, maxExactPeers)
	}
	if c.MaxOpenWindows < 1 || c.MaxOpenWindows > maxOpenWindows {
		bad("MaxOpenWindows %d: want 1 to %d", c.MaxOpenWindows, maxOpenWindows)
	}
	if c.MaxTrackedIPs < 2 || c.MaxTrackedIPs > maxTrackedIPs {
		bad("MaxTrackedIPs %d: want 2 to %d", c.MaxTrackedIPs, maxTrackedIPs)
	}
	if c.MaxTrackedPeers < 2 || c.MaxTrackedPeers > maxTrackedPeers {
		bad("MaxTrackedPeers %d: want 2 to %d", c.MaxTrackedPeers, maxTrackedPeers)
	}
	return errors.Join(errs...)
}
