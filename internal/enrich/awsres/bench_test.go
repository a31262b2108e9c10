package awsres

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// benchSnapshot is a snapshot of n synthetic interfaces and the addresses to look up: hits, and one miss in four.
func benchSnapshot(tb testing.TB, n int) (*Snapshot, []netip.Addr) {
	tb.Helper()
	p, err := fetch(tb.Context(), synthetic(n, netip.MustParseAddr("10.0.0.10")), Target{Region: "us-east-1"}, n)
	if err != nil {
		tb.Fatal(err)
	}
	s := assemble([]*part{p}, n, time.Now())
	var ips []netip.Addr
	for i, r := range p.resources {
		ips = append(ips, r.PrivateIPs[i%2])
		if i%3 == 0 {
			ips = append(ips, netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)}))
		}
	}
	return s, ips
}

// BenchmarkLookup compares Lookup (atomic load of the snapshot, address canonicalized, map) with the plain map it
// is built on, in the same run.
func BenchmarkLookup(b *testing.B) {
	s, ips := benchSnapshot(b, 10_000)
	r := &Refresher{}
	r.snap.Store(s)
	plain := make(map[netip.Addr]*Resource, len(s.byAddr))
	for a, res := range s.byAddr {
		plain[a] = res
	}
	b.Run("Refresher.Lookup", func(b *testing.B) {
		b.ReportAllocs()
		hits := 0
		for i := 0; b.Loop(); i++ {
			if _, ok := r.Lookup(ips[i%len(ips)]); ok {
				hits++
			}
		}
		_ = hits
	})
	b.Run("Snapshot.byAddr", func(b *testing.B) {
		b.ReportAllocs()
		hits := 0
		for i := 0; b.Loop(); i++ {
			if _, ok := s.byAddr[ips[i%len(ips)]]; ok {
				hits++
			}
		}
		_ = hits
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		hits := 0
		for i := 0; b.Loop(); i++ {
			if _, ok := plain[ips[i%len(ips)]]; ok {
				hits++
			}
		}
		_ = hits
	})
	b.Run("Refresher.Interface", func(b *testing.B) {
		b.ReportAllocs()
		enis := make([]string, 0, len(s.byENI))
		for id := range s.byENI {
			enis = append(enis, id)
		}
		for i := 0; b.Loop(); i++ {
			r.Interface(enis[i%len(enis)])
		}
	})
}

// BenchmarkMemoryPerInterface measures the heap a snapshot of synthetic interfaces holds (two private addresses
// each, a public and an IPv6 address for one in four, a Description, shared subnets, VPCs and groups), per
// interface, the bytes the parsed EC2 answers hold included as the snapshot keeps their strings.
func BenchmarkMemoryPerInterface(b *testing.B) {
	b.ReportAllocs()
	const n = 100_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f := synthetic(n, netip.MustParseAddr("10.0.0.10"))
		p, err := fetch(b.Context(), f, Target{Region: "us-east-1"}, n)
		if err != nil {
			b.Fatal(err)
		}
		s := assemble([]*part{p}, n, time.Now())
		f = nil // the answers go; what the snapshot keeps of them stays
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/interface")
		runtime.KeepAlive(s)
	}
}
