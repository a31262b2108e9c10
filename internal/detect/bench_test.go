package detect

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// naiveEvaluate is the rules written down plainly, as a reference for the tests and the plain contender of the
// benchmark: the allow-lists scanned prefix by prefix for every rule and set, the rules restated from their
// documentation, the result sorted by sort.Slice. It returns what must agree with Evaluate: rule, ip and score.
func naiveEvaluate(cfg Config, sets []Set, baselines map[netip.Addr]Baseline) []naiveAlert {
	allowed := func(list []netip.Prefix, ip netip.Addr) bool {
		for _, p := range list {
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	var out []naiveAlert
	for _, s := range sets {
		ip := s.IP.Unmap()
		if !ip.IsValid() {
			continue
		}
		b, hasHistory := baselines[ip]
		hasHistory = hasHistory && b.Windows >= cfg.MinBaselineWindows
		flows := float64(s.FlowsSent) + float64(s.FlowsReceived)

		h := cfg.Horizontal
		answeredShare := 1.0
		if s.FlowsSent > 0 {
			answeredShare = math.Min(float64(s.FlowsReceived)/float64(s.FlowsSent), 1)
		}
		if !allowed(h.Allow, ip) && s.Peers >= h.MinPeers && s.FlowsSent >= h.MinFlowsSent &&
			((flows > 0 && float64(s.Rejected) >= h.RejectedShare*flows) ||
				(s.ServicePorts <= h.FewPorts && answeredShare <= h.AnsweredShare)) {
			out = append(out, naiveAlert{HorizontalScan, ip, float64(s.Peers) / float64(h.MinPeers)})
		}
		v := cfg.Vertical
		if !allowed(v.Allow, ip) && s.ServicePorts >= v.MinPorts && s.Peers <= v.MaxPeers {
			out = append(out, naiveAlert{VerticalScan, ip, float64(s.ServicePorts) / float64(v.MinPorts)})
		}
		r := cfg.RejectStorm
		if !allowed(r.Allow, ip) && s.Rejected >= r.MinRejected {
			level := float64(r.NewIPMinRejected)
			if hasHistory {
				sd := math.Max(math.Max(b.RejectedStd, math.Sqrt(b.RejectedMean)), 1)
				level = math.Max(math.Max(float64(r.MinRejected), r.MinFactor*b.RejectedMean), b.RejectedMean+r.MinZ*sd)
			}
			if float64(s.Rejected) >= level {
				out = append(out, naiveAlert{RejectStorm, ip, float64(s.Rejected) / level})
			}
		}
		e := cfg.Egress
		if !allowed(e.Allow, ip) && s.BytesSent >= e.MinBytes {
			level := float64(e.NewIPMinBytes)
			if hasHistory {
				level = math.Max(math.Max(float64(e.MinBytes), e.MinFactor*b.BytesSentMean), b.BytesSentMean+e.MinZ*math.Max(b.BytesSentStd, 1))
			}
			if float64(s.BytesSent) >= level {
				out = append(out, naiveAlert{UnusualEgress, ip, float64(s.BytesSent) / level})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := out[i].IP.Compare(out[j].IP); c != 0 {
			return c < 0
		}
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Score < out[j].Score
	})
	return out
}

type naiveAlert struct {
	Rule  Rule
	IP    netip.Addr
	Score float64
}

// randomWindow makes n Sets shaped like a large VPC's window: mostly ordinary hosts, one in a hundred a heavy
// talker, one in two hundred an attacker of some kind, baselines for nine in ten; and allow-lists of a thousand
// single addresses and ten CIDRs per rule.
func randomWindow(seed uint64, n int) ([]Set, map[netip.Addr]Baseline, Config) {
	r := rand.New(rand.NewPCG(seed, 1))
	sets := make([]Set, n)
	bs := make(map[netip.Addr]Baseline, n)
	for i := range sets {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s := Set{IP: ip, Peers: 1 + r.Uint64N(50), ServicePorts: r.Uint64N(5), FlowsSent: r.Uint64N(500),
			FlowsReceived: r.Uint64N(500), Rejected: r.Uint64N(5), BytesSent: r.Uint64N(200 << 20)}
		switch k := r.IntN(200); {
		case k < 2: // heavy talker
			s.Peers, s.FlowsSent, s.FlowsReceived, s.BytesSent = 5000, 20_000, 20_000, 4*gib
		case k == 2: // scanner
			s.Peers, s.FlowsSent, s.Rejected = 254, 300, 250
		case k == 3: // vertical scanner
			s.Peers, s.ServicePorts, s.Rejected = 1, 1000, 998
		case k == 4: // exfiltration
			s.BytesSent = 5 * gib
		}
		s.Ports = s.ServicePorts + r.Uint64N(100)
		sets[i] = s
		if r.IntN(10) > 0 {
			bs[ip] = history36(2, 1.5, 100<<20, 50<<20)
		}
	}
	cfg := DefaultConfig()
	var allow []netip.Prefix
	for i := range 1000 {
		allow = append(allow, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), 32))
	}
	for i := range 10 {
		allow = append(allow, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 24))
	}
	cfg.Horizontal.Allow, cfg.Vertical.Allow, cfg.RejectStorm.Allow, cfg.Egress.Allow = allow, allow, allow, allow
	return sets, bs, cfg
}

func TestEvaluateAgreesWithNaive(t *testing.T) {
	for seed := range uint64(5) {
		sets, bs, cfg := randomWindow(seed, 20_000)
		// Some of the attackers are allow-listed, one by one and by CIDR.
		cfg.Horizontal.Allow = append(cfg.Horizontal.Allow, netip.MustParsePrefix("10.0.0.0/18"))
		cfg.RejectStorm.Allow = append(cfg.RejectStorm.Allow, netip.MustParsePrefix("::ffff:10.0.64.0/114"))
		for i := 0; i < len(sets); i += 97 {
			cfg.Egress.Allow = append(cfg.Egress.Allow, netip.PrefixFrom(sets[i].IP, 32))
		}
		var got []naiveAlert
		for _, a := range mustNew(t, cfg).Evaluate(window, sets, bs) {
			got = append(got, naiveAlert{a.Rule, a.IP, a.Score})
		}
		want := naiveEvaluate(cfg, sets, bs)
		if len(want) < 100 {
			t.Fatalf("seed %d: only %d alerts: the corpus tests little", seed, len(want))
		}
		if diff := cmp.Diff(want, got, addrs); diff != "" {
			t.Errorf("seed %d: (-naive +Evaluate):\n%s", seed, diff)
		}
	}
}

// BenchmarkEvaluate measures a window of 100,000 connection sets (a large VPC's 10 minutes), against the plain
// reference, with allow-lists of 1,010 entries per rule and without any. Alerts cost allocations (their reason, samples
// and baseline); a set that raises nothing costs none.
func BenchmarkEvaluate(b *testing.B) {
	sets, bs, listed := randomWindow(1, 100_000)
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"allow-lists", listed}, {"no allow-lists", DefaultConfig()}} {
		d := mustNew(b, c.cfg)
		alerts := len(d.Evaluate(window, sets, bs))
		b.Run("detector/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d.Evaluate(window, sets, bs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(sets)), "ns/set")
			b.ReportMetric(float64(alerts), "alerts/op")
		})
		b.Run("naive/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				naiveEvaluate(c.cfg, sets, bs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(sets)), "ns/set")
			b.ReportMetric(float64(alerts), "alerts/op")
		})
	}
}
