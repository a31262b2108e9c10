package detect

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
)

// Config holds the thresholds of every rule and their allow-lists. Start from DefaultConfig; New refuses a config
// that Validate does not accept.
type Config struct {
	// SampleSize bounds the peers and the ports an alert carries as evidence (each sorted, the lowest first).
	SampleSize int
	// MinBaselineWindows is the history an IP needs before the baseline rules compare it with its own past; an IP
	// with fewer windows of history is judged by the absolute NewIP thresholds only.
	MinBaselineWindows int

	Horizontal  HorizontalConfig
	Vertical    VerticalConfig
	RejectStorm RejectStormConfig
	Egress      EgressConfig
}

// HorizontalConfig shapes horizontal_scan. An IP fires when it has at least MinPeers distinct peers, sent at least
// MinFlowsSent flows, and either at least RejectedShare of its flows were rejected, or its flows went to at most
// FewPorts service ports with at most AnsweredShare of them answered (flows received / flows sent).
type HorizontalConfig struct {
	MinPeers      uint64
	MinFlowsSent  uint64
	RejectedShare float64
	FewPorts      uint64
	AnsweredShare float64
	Allow         []netip.Prefix
}

// VerticalConfig shapes vertical_scan: at least MinPorts distinct service ports (below EphemeralPorts) on at most
// MaxPeers distinct peers.
type VerticalConfig struct {
	MinPorts uint64
	MaxPeers uint64
	Allow    []netip.Prefix
}

// RejectStormConfig shapes reject_storm. An IP with a baseline fires when its rejected flows reach MinRejected,
// MinFactor times its mean, and MinZ standard deviations above it (the deviation taken as at least the square root
// of the mean, the noise of a count, and at least 1); an IP without enough history fires at NewIPMinRejected.
type RejectStormConfig struct {
	MinRejected      uint64
	NewIPMinRejected uint64
	MinZ             float64
	MinFactor        float64
	Allow            []netip.Prefix
}

// EgressConfig shapes unusual_egress. An IP with a baseline fires when its bytes sent reach MinBytes, MinFactor
// times its mean and MinZ standard deviations above it (the deviation taken as at least 1 byte); an IP without
// enough history fires at NewIPMinBytes.
type EgressConfig struct {
	MinBytes      uint64
	NewIPMinBytes uint64
	MinZ          float64
	MinFactor     float64
	Allow         []netip.Prefix
}

// DefaultConfig returns thresholds meant for 10-minute windows. Why each holds:
//
//   - Horizontal.MinPeers 100 and MinFlowsSent 100: an ordinary host has tens of peers a window; a sweep of a /24 has
//     254. Peers count both directions, so a server with many clients would pass MinPeers alone; MinFlowsSent and the
//     two conditions below are what keep it quiet.
//   - Horizontal.RejectedShare 0.5: half of all the IP's flows rejected. A NAT gateway, a load balancer, a resolver
//     or a monitoring system has almost all its flows accepted (a load balancer's background of internet noise is a
//     few percent), while a sweep meets security groups and closed hosts on most of its targets.
//   - Horizontal.FewPorts 3 and AnsweredShare 0.2: the accepted fan-out of a worm (one port, hundreds of hosts, no
//     one listening) is on few ports and unanswered. A monitoring system also reaches hundreds of hosts on two or
//     three ports, but every scrape is answered (about one flow received per flow sent), as are a resolver's and a
//     NAT gateway's.
//   - Vertical.MinPorts 100 and MaxPeers 20: 100 distinct service ports on at most 20 peers is a port scan (nmap's
//     default is the top 1,000 ports). Servers, load balancers and NAT gateways send to many ports, but those are
//     their clients' ephemeral ports, which service ports leave out; and they have far more than 20 peers.
//   - RejectStorm.MinRejected 100: a quiet IP's first rejects (a dozen retries of a misconfigured client) stay below
//     it. MinZ 6: internet-facing addresses see a steady background of rejected probes, whose ups and downs stay
//     within a few deviations. MinFactor 3: that background comes in campaigns, burstier than its deviation says;
//     a load balancer's noise doubling for a window is an ordinary day, tripling is not. NewIPMinRejected 500: an address without history is rejected 500 times in a window
//     only when it is hammering something.
//   - Egress.MinBytes 1 GiB (about 1.8 MB/s over 10 minutes): below it, a doubling of a small host's uploads is
//     not worth a page. MinFactor 4 and MinZ 6: a NAT gateway's or a load balancer's diurnal swing is within about
//     2x of its mean over the baseline and a few deviations; four times the mean is not a busy hour.
//     NewIPMinBytes 20 GiB: a new address (a fresh instance, a new NAT gateway) has no past to compare with, so only
//     a volume beyond what most single hosts send in 10 minutes (about 36 MB/s) pages.
//   - MinBaselineWindows 6: an hour of history before an IP is compared with itself.
//   - SampleSize 20: enough peers and ports to see the pattern in an alert, small enough for every alert document.
func DefaultConfig() Config {
	return Config{
		SampleSize:         20,
		MinBaselineWindows: 6,
		Horizontal: HorizontalConfig{
			MinPeers: 100, MinFlowsSent: 100, RejectedShare: 0.5, FewPorts: 3, AnsweredShare: 0.2,
		},
		Vertical:    VerticalConfig{MinPorts: 100, MaxPeers: 20},
		RejectStorm: RejectStormConfig{MinRejected: 100, NewIPMinRejected: 500, MinZ: 6, MinFactor: 3},
		Egress: EgressConfig{
			MinBytes: 1 << 30, NewIPMinBytes: 20 << 30, MinZ: 6, MinFactor: 4,
		},
	}
}

// Ranges of the configurable values.
const (
	maxSampleSize  = 1000
	maxBaseline    = 100_000
	maxCount       = 1 << 40
	maxZ           = 1000.0
	maxFactor      = 1e6
	maxAllowLength = 100_000
)

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("detect: invalid config")

// Validate reports every problem of c at once, each naming the field and the values it allows.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	intIn := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			bad("%s %d: want %d to %d", name, v, lo, hi)
		}
	}
	countIn := func(name string, v, lo, hi uint64) {
		if v < lo || v > hi {
			bad("%s %d: want %d to %d", name, v, lo, hi)
		}
	}
	// NaN fails every comparison, so the range test is written to catch it too.
	floatIn := func(name string, v, lo, hi float64) {
		if !(v >= lo && v <= hi) {
			bad("%s %v: want %v to %v", name, v, lo, hi)
		}
	}
	allow := func(name string, ps []netip.Prefix) {
		if len(ps) > maxAllowLength {
			bad("%s: %d entries, want at most %d", name, len(ps), maxAllowLength)
		}
		for i, p := range ps {
			if !p.IsValid() {
				bad("%s[%d]: not a valid IP or CIDR (want e.g. 10.0.0.5/32 or 2001:db8::/32)", name, i)
			}
		}
	}
	intIn("SampleSize", c.SampleSize, 0, maxSampleSize)
	intIn("MinBaselineWindows", c.MinBaselineWindows, 1, maxBaseline)

	h := c.Horizontal
	countIn("Horizontal.MinPeers", h.MinPeers, 2, maxCount)
	countIn("Horizontal.MinFlowsSent", h.MinFlowsSent, 1, maxCount)
	floatIn("Horizontal.RejectedShare", h.RejectedShare, 0.01, 1)
	countIn("Horizontal.FewPorts", h.FewPorts, 0, 65535)
	floatIn("Horizontal.AnsweredShare", h.AnsweredShare, 0, 1)
	allow("Horizontal.Allow", h.Allow)

	v := c.Vertical
	countIn("Vertical.MinPorts", v.MinPorts, 2, EphemeralPorts)
	countIn("Vertical.MaxPeers", v.MaxPeers, 1, maxCount)
	allow("Vertical.Allow", v.Allow)

	r := c.RejectStorm
	countIn("RejectStorm.MinRejected", r.MinRejected, 1, maxCount)
	countIn("RejectStorm.NewIPMinRejected", r.NewIPMinRejected, 1, maxCount)
	floatIn("RejectStorm.MinZ", r.MinZ, 0, maxZ)
	floatIn("RejectStorm.MinFactor", r.MinFactor, 1, maxFactor)
	allow("RejectStorm.Allow", r.Allow)

	e := c.Egress
	countIn("Egress.MinBytes", e.MinBytes, 1, math.MaxInt64)
	countIn("Egress.NewIPMinBytes", e.NewIPMinBytes, 1, math.MaxInt64)
	floatIn("Egress.MinZ", e.MinZ, 0, maxZ)
	floatIn("Egress.MinFactor", e.MinFactor, 1, maxFactor)
	allow("Egress.Allow", e.Allow)
	return errors.Join(errs...)
}
