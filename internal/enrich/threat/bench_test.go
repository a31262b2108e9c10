package threat

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
)

// corpus is a synthetic list of n indicators shaped like real feeds: mostly single IPv4 addresses (C2 and scanner
// lists), some IPv4 blocks (DROP-style /16 to /30), a tenth IPv6. It also returns addresses that hit and miss.
func corpus(tb testing.TB, n int) (text []byte, prefixes []netip.Prefix, hits, misses []netip.Addr) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for range n {
		var p netip.Prefix
		switch r := rng.IntN(10); {
		case r < 7:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}), 32)
		case r < 9:
			a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			p = netip.PrefixFrom(a, 16+rng.IntN(15)).Masked()
		default:
			var a [16]byte
			a[0], a[1] = 0x20, 0x01
			for i := 2; i < 16; i++ {
				a[i] = byte(rng.Uint32())
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), []int{32, 48, 56, 64, 128}[rng.IntN(5)]).Masked()
		}
		prefixes = append(prefixes, p)
		fmt.Fprintf(&b, "%s ; SBL%d\n", p, len(prefixes))
	}
	for _, p := range prefixes[:1024] {
		hits = append(hits, p.Addr())
	}
	for len(misses) < 1024 {
		a := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		if len(misses)%8 == 7 { // some IPv6 misses too
			a = netip.AddrFrom16([16]byte{0x20, 0x01, byte(rng.Uint32()), byte(rng.Uint32()), 15: 1})
		}
		if !linearMatch(prefixes, a) {
			misses = append(misses, a)
		}
	}
	return []byte(b.String()), prefixes, hits, misses
}

// linearMatch is the plain reference: a scan of every prefix.
func linearMatch(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func benchSet(tb testing.TB, text []byte) *Set {
	tb.Helper()
	l, err := ParseList("bench", text, FormatText)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := NewSet(l)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkMatch looks up addresses in a Set of 100,000 prefixes beside two plain references in the same run: a
// map of the single addresses (exact match only, the least a lookup can cost) and a linear scan of the prefixes
// (what matching without a trie costs).
func BenchmarkMatch(b *testing.B) {
	const n = 100_000
	text, prefixes, hits, misses := corpus(b, n)
	s := benchSet(b, text)
	exact := make(map[netip.Addr]int)
	for i, p := range prefixes {
		if p.IsSingleIP() {
			exact[p.Addr()] = i
		}
	}
	var exactHits []netip.Addr
	for a := range exact {
		if exactHits = append(exactHits, a); len(exactHits) == 1024 {
			break
		}
	}
	for _, c := range []struct {
		name string
		ips  []netip.Addr
	}{{"hit", hits}, {"miss", misses}} {
		b.Run("Set/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			i, found := 0, 0
			for b.Loop() {
				if _, ok := s.Match(c.ips[i&1023]); ok {
					found++
				}
				i++
			}
			if (found == 0) != (c.name == "miss") {
				b.Fatalf("%d found", found)
			}
		})
		b.Run("Set/"+c.name+"/mapped", func(b *testing.B) {
			mapped := make([]netip.Addr, len(c.ips))
			for i, a := range c.ips {
				mapped[i] = netip.AddrFrom16(a.As16())
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Match(mapped[i&1023])
				i++
			}
		})
		b.Run("map32/"+c.name, func(b *testing.B) {
			ips := c.ips
			if c.name == "hit" {
				ips = exactHits
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = exact[ips[i&1023]]
				i++
			}
		})
		b.Run("linear/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				linearMatch(prefixes, c.ips[i&1023])
				i++
			}
		})
	}
}

// heapAfter returns the live heap after collecting garbage.
func heapAfter() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// memoryPerIndicator measures what a list of n indicators costs: the parsed List (indicators and their strings)
// and the Set's table on top, in bytes per indicator.
func memoryPerIndicator(tb testing.TB, n int) (list, table float64) {
	tb.Helper()
	text, _, _, _ := corpus(tb, n)
	base := heapAfter()
	l, err := ParseList("bench", text, FormatText)
	if err != nil {
		tb.Fatal(err)
	}
	withList := heapAfter()
	s, err := NewSet(l)
	if err != nil {
		tb.Fatal(err)
	}
	withSet := heapAfter()
	runtime.KeepAlive(text)
	runtime.KeepAlive(s)
	return float64(withList-base) / float64(n), float64(withSet-withList) / float64(n)
}

func TestMemoryPerIndicator(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds 100,000 indicators; the race detector makes that slow and the heap unrepresentative")
	}
	list, table := memoryPerIndicator(t, 100_000)
	t.Logf("per indicator: %.0f B in the List, %.0f B in the Set's table, %.0f B in all", list, table, list+table)
	// A generous bound, to catch a regression in kind (a copy per lookup table, a map per indicator).
	if list+table > 1024 {
		t.Errorf("%.0f B per indicator, want under 1 KiB", list+table)
	}
}

// BenchmarkBuild parses a 100,000-indicator list and builds its Set, as a reload does, and reports the memory the
// result holds per indicator.
func BenchmarkBuild(b *testing.B) {
	text, _, _, _ := corpus(b, 100_000)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		benchSet(b, text)
	}
	b.StopTimer()
	list, table := memoryPerIndicator(b, 100_000)
	b.ReportMetric(list, "list-B/indicator")
	b.ReportMetric(table, "table-B/indicator")
}
