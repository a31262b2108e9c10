package webhook

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/aggregate"
)

// Window of the fixtures: 2023-11-14T22:20:00Z, ten minutes.
const (
	winStart int64 = 1700000400
	winEnd   int64 = winStart + 600
)

func addrs(tb testing.TB, ss ...string) []netip.Addr {
	tb.Helper()
	if len(ss) == 0 {
		return nil
	}
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// final is an exact final of the fixture window with counters derived from its position, so no two sets look alike.
func final(tb testing.TB, ip string, ports []uint16, peers ...string) aggregate.Final {
	tb.Helper()
	n := uint64(len(peers))
	return aggregate.Final{Revision: 1, ConnSet: aggregate.ConnSet{
		WindowStart: winStart, WindowEnd: winEnd, IP: netip.MustParseAddr(ip),
		Peers: addrs(tb, peers...), PeersCount: n, DstPorts: ports,
		FlowsSent: 10 * n, FlowsReceived: 7 * n, FlowsRejected: n, FlowsLate: 0,
		BytesSent: 1500 * n, BytesReceived: 900 * n, PacketsSent: 12 * n, PacketsReceived: 9 * n,
		FirstSeen: winStart + 5, LastSeen: winEnd + 42,
	}}
}

// estimated is a final whose peers outgrew the exact set: a count and no list (the sketch is the aggregate
// package's business and not part of a webhook body).
func estimated(ip string, count uint64) aggregate.Final {
	return aggregate.Final{Revision: 1, ConnSet: aggregate.ConnSet{
		WindowStart: winStart, WindowEnd: winEnd, IP: netip.MustParseAddr(ip),
		PeersCount: count, PeersEstimated: true, DstPorts: []uint16{22, 80, 443, 8443},
		FlowsSent: 250000, FlowsReceived: 180000, FlowsRejected: 3100, FlowsLate: 17,
		BytesSent: 9876543210, BytesReceived: 1234567890, PacketsSent: 7000000, PacketsReceived: 5000000,
		FirstSeen: winStart, LastSeen: winEnd - 1,
	}}
}

// fixtureChunk is the last chunk of revision 2 of the fixture window, IPv4 and IPv6, exact and estimated sets.
func fixtureChunk(tb testing.TB) *Chunk {
	tb.Helper()
	sets := []aggregate.Final{
		final(tb, "10.0.0.1", []uint16{53, 443}, "10.0.0.2", "10.0.0.9", "172.16.4.1"),
		final(tb, "10.0.0.2", nil, "10.0.0.1"),
		estimated("10.0.7.7", 15234),
		final(tb, "2001:db8::1", []uint16{8080}, "2001:db8::2", "2001:db8::3"),
	}
	for i := range sets {
		sets[i].Revision = 2
	}
	top := NewTop(3)
	for i := range sets {
		top.Add(&sets[i])
	}
	return &Chunk{WindowStart: winStart, WindowEnd: winEnd, Revision: 2, Index: 3, Last: true, Sets: sets, Top: top.Sets()}
}

// metricValue returns the value of the counter or the sample count of the histogram name{label=value} in reg,
// 0 when there is none.
func metricValue(tb testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gathering metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if h := m.GetHistogram(); h != nil {
						return float64(h.GetSampleCount())
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
