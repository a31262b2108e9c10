package detect

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzEvaluate feeds Evaluate random windows: counts across their whole range, addresses of both families
// (mapped and not, repeated), baselines with NaN and infinities. Evaluate must not panic, must give the same alerts
// twice, must alert only on the IPs it was given, with a score of at least 1 and bounded sorted samples.
func FuzzEvaluate(f *testing.F) {
	f.Add(uint64(1), uint8(10), uint8(0))
	f.Add(uint64(2), uint8(200), uint8(3))
	f.Add(uint64(3), uint8(1), uint8(255))
	f.Fuzz(func(t *testing.T, seed uint64, n, sample uint8) {
		r := rand.New(rand.NewPCG(seed, uint64(n)))
		count := func() uint64 {
			switch r.IntN(4) {
			case 0:
				return r.Uint64() // anything, up to 2^64-1
			case 1:
				return r.Uint64N(2000)
			}
			return r.Uint64N(200)
		}
		float := func() float64 {
			switch r.IntN(8) {
			case 0:
				return math.NaN()
			case 1:
				return math.Inf(1 - 2*r.IntN(2))
			case 2:
				return -r.Float64() * 1e6
			}
			return r.Float64() * math.Pow(10, float64(r.IntN(12)))
		}
		addr := func() netip.Addr {
			switch r.IntN(4) {
			case 0:
				return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(r.IntN(8))})
			case 1:
				return netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 15: byte(r.IntN(8))})
			case 2:
				return netip.Addr{}
			}
			return netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(8))})
		}
		sets := make([]Set, n)
		bs := map[netip.Addr]Baseline{}
		for i := range sets {
			s := Set{IP: addr(), Peers: count(), PeersEstimated: r.IntN(2) == 0, Ports: count(), ServicePorts: count(),
				FlowsSent: count(), FlowsReceived: count(), Rejected: count(), BytesSent: count(), BytesReceived: count()}
			for range r.IntN(40) {
				s.PeerSample = append(s.PeerSample, addr())
				s.PortSample = append(s.PortSample, uint16(r.Uint32()))
			}
			sets[i] = s
			if r.IntN(2) == 0 {
				bs[addr()] = Baseline{Windows: r.IntN(100) - 10, RejectedMean: float(), RejectedStd: float(),
					BytesSentMean: float(), BytesSentStd: float()}
			}
		}
		cfg := DefaultConfig()
		cfg.SampleSize = int(sample) % 50
		cfg.RejectStorm.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.4/31")}
		d := mustNew(t, cfg)
		given := map[netip.Addr]bool{}
		for _, s := range sets {
			given[s.IP.Unmap()] = true
		}
		first := d.Evaluate(window, slices.Clone(sets), bs)
		if diff := cmp.Diff(first, d.Evaluate(window, sets, bs), addrs, cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("not deterministic (-first +second):\n%s", diff)
		}
		for _, a := range first {
			if !given[a.IP] || !a.IP.IsValid() {
				t.Errorf("alert on %v, not among the sets", a.IP)
			}
			if !(a.Score >= 1) {
				t.Errorf("%v %v: score %v", a.Rule, a.IP, a.Score)
			}
			if a.Rule == RejectStorm && (a.IP == netip.MustParseAddr("10.0.0.4") || a.IP == netip.MustParseAddr("10.0.0.5")) {
				t.Errorf("allow-listed %v raised %v", a.IP, a.Rule)
			}
			ps, qs := a.Evidence.PeerSample, a.Evidence.PortSample
			if len(ps) > cfg.SampleSize || len(qs) > cfg.SampleSize ||
				!slices.IsSortedFunc(ps, netip.Addr.Compare) || !slices.IsSorted(qs) {
				t.Errorf("samples %v %v: want sorted, at most %d", ps, qs, cfg.SampleSize)
			}
			if a.Reason == "" || a.ID() == "" {
				t.Errorf("alert without reason or id: %+v", a)
			}
		}
	})
}
