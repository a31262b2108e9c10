package detect

import (
	"math"
	"net/netip"

	"github.com/kinflow/kinflow/aggregate"
)

// EphemeralPorts is the first port of the ephemeral range: ports from it up are where clients receive responses
// (Linux uses 32768-60999, Windows and macOS 49152-65535), so a destination port below it is a service port. The
// vertical scan rule counts service ports only, so that a server answering many clients is not a port scan.
const EphemeralPorts = 32768

// A Set is what the rules read of one IP's connection set in one closed window: aggregate.Final's counters and
// bounded samples of its peers and destination ports. SetOf builds one.
type Set struct {
	IP             netip.Addr
	Peers          uint64 // distinct peers, both directions; an estimate when PeersEstimated
	PeersEstimated bool
	PeerSample     []netip.Addr // the lowest peers, sorted; empty when the peers were estimated
	Ports          uint64       // distinct destination ports of the flows it sent
	ServicePorts   uint64       // of which below EphemeralPorts
	PortSample     []uint16     // the lowest destination ports, sorted
	FlowsSent      uint64
	FlowsReceived  uint64
	Rejected       uint64 // its rejected flows, sent and received
	BytesSent      uint64
	BytesReceived  uint64
}

// SetOf returns the Set of a final connection set, with at most sample peers and ports in its samples. The samples
// share memory with cs (they are sub-slices of its sorted lists), so building a Set allocates nothing.
func SetOf(cs *aggregate.ConnSet, sample int) Set {
	sample = max(sample, 0)
	s := Set{
		IP: cs.IP.Unmap(), Peers: cs.PeersCount, PeersEstimated: cs.PeersEstimated,
		Ports:     uint64(len(cs.DstPorts)),
		FlowsSent: cs.FlowsSent, FlowsReceived: cs.FlowsReceived, Rejected: cs.FlowsRejected,
		BytesSent: cs.BytesSent, BytesReceived: cs.BytesReceived,
	}
	s.PeerSample = cs.Peers[:min(sample, len(cs.Peers)):min(sample, len(cs.Peers))]
	s.PortSample = cs.DstPorts[:min(sample, len(cs.DstPorts)):min(sample, len(cs.DstPorts))]
	// DstPorts is sorted: the service ports are the ones before the first ephemeral port.
	lo, hi := 0, len(cs.DstPorts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cs.DstPorts[m] < EphemeralPorts {
			lo = m + 1
		} else {
			hi = m
		}
	}
	s.ServicePorts = uint64(lo)
	return s
}

// A Baseline summarises an IP's previous windows: how many (Windows; 0 means no history) and the mean and standard
// deviation of its rejected flows and bytes sent per window. The caller computes it with BaselineOf.
type Baseline struct {
	Windows                     int
	RejectedMean, RejectedStd   float64
	BytesSentMean, BytesSentStd float64
}

// BaselineOf summarises history, the IP's Sets of the previous windows, over windows windows: a window in which the
// IP was absent counts as zero rejects and zero bytes (a host that talks once an hour has a low mean, not the mean
// of its busy windows). windows is how many windows the history covers, at least len(history); the caller passes
// fewer than its usual span when its data begins later (a fresh start must not read as an hour of silence). An empty
// history has no baseline: Baseline{}. The deviation is the population one, over the windows.
//
// The caller must leave out of history, and out of windows, the windows in which the IP raised an alert: otherwise
// an incident becomes the norm its next window is judged by. One window of 2 GiB in a baseline of six hours
// raises the level of MinZ 6 to about the same 2 GiB, so a second window of exfiltration would pass unseen, and a
// slow scan would raise a reject storm in its first window only. On the corpus test, keeping those windows drops
// the recall of reject_storm from 1 to 0.56 and of unusual_egress from 1 to 0.67.
func BaselineOf(history []Set, windows int) Baseline {
	if len(history) == 0 || windows <= 0 {
		return Baseline{}
	}
	windows = max(windows, len(history))
	// Two passes (mean, then squared deviations): byte counts reach 1e10 and more, whose squares summed in one pass
	// would lose the deviation to rounding. Absent windows add zero to the sum and mean^2 each to the deviations.
	n := float64(windows)
	var rs, bs float64
	for i := range history {
		rs += float64(history[i].Rejected)
		bs += float64(history[i].BytesSent)
	}
	rm, bm := rs/n, bs/n
	absent := n - float64(len(history))
	rq, bq := absent*rm*rm, absent*bm*bm
	for i := range history {
		dr, db := float64(history[i].Rejected)-rm, float64(history[i].BytesSent)-bm
		rq, bq = rq+dr*dr, bq+db*db
	}
	return Baseline{
		Windows:      windows,
		RejectedMean: rm, RejectedStd: math.Sqrt(rq / n),
		BytesSentMean: bm, BytesSentStd: math.Sqrt(bq / n),
	}
}
