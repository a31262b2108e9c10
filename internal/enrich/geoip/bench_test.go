package geoip

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// benchAddrs are n public IPv4 addresses spread over the networks of the test databases, and some outside them.
func benchAddrs(n int) []netip.Addr {
	prefixes := [][2]byte{{81, 2}, {8, 8}, {37, 252}, {1, 1}}
	out := make([]netip.Addr, n)
	for i := range out {
		p := prefixes[i%len(prefixes)]
		out[i] = netip.AddrFrom4([4]byte{p[0], p[1], byte(i >> 8), byte(i)})
		if i%8 == 0 {
			out[i] = netip.AddrFrom16([16]byte{0x26, 0x00, 0x1f, 0x18, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
		}
	}
	return out
}

// BenchmarkLookup looks up one address per op, City and ASN databases together:
//   - hit: 1,024 addresses, all cached after the first round;
//   - miss: 1<<16 addresses through a cache of 16, so every lookup walks both trees (the records are decoded
//     once and shared, as they are in production);
//   - private: an address answered without the databases;
//   - parallel-hit: hit from GOMAXPROCS goroutines;
//   - plain: the reference, the reader's own Lookup and Decode into ordinary structs, no cache;
//   - plain-tree: the reader's tree walk alone, no decoding: the floor of a miss.
//
// The loops count b.N rather than b.Loop: b.Loop keeps every call's results alive and stops the calls in its body
// from being inlined, which for a 120-byte Info costs some 20 ns per op, more than the whole of a private lookup,
// so it would measure the harness.
func BenchmarkLookup(b *testing.B) {
	city, asn := cityDB(b), asnDB(b)
	newDB := func(entries int) *DB {
		cfg := testConfig(Database{Load: Bytes(city), Name: "city"}, Database{Load: Bytes(asn), Name: "asn"})
		cfg.CacheEntries = entries
		return newTestDB(b, cfg)
	}
	hits, misses := benchAddrs(1024), benchAddrs(1<<16)
	b.Run("hit", func(b *testing.B) {
		db := newDB(DefaultConfig().CacheEntries)
		for _, ip := range hits {
			db.Lookup(ip)
		}
		b.ResetTimer()
		b.ReportAllocs()
		i := 0
		for range b.N {
			db.Lookup(hits[i&1023])
			i++
		}
	})
	b.Run("miss", func(b *testing.B) {
		db := newDB(MinCacheEntries)
		b.ReportAllocs()
		i := 0
		for range b.N {
			db.Lookup(misses[i&(1<<16-1)])
			i++
		}
	})
	b.Run("private", func(b *testing.B) {
		db := newDB(DefaultConfig().CacheEntries)
		ip := netip.MustParseAddr("172.31.12.34")
		b.ReportAllocs()
		for range b.N {
			db.Lookup(ip)
		}
	})
	b.Run("parallel-hit", func(b *testing.B) {
		db := newDB(DefaultConfig().CacheEntries)
		for _, ip := range hits {
			db.Lookup(ip)
		}
		b.ResetTimer()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				db.Lookup(hits[i&1023])
				i++
			}
		})
	})
	cityR, err := maxminddb.OpenBytes(city)
	if err != nil {
		b.Fatal(err)
	}
	asnR, err := maxminddb.OpenBytes(asn)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for range b.N {
			ip := hits[i&1023]
			i++
			var c plainCity
			var a plainASN
			if err := cityR.Lookup(ip).Decode(&c); err != nil {
				b.Fatal(err)
			}
			if err := asnR.Lookup(ip).Decode(&a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain-tree", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for range b.N {
			ip := hits[i&1023]
			i++
			if cityR.Lookup(ip).Err() != nil || asnR.Lookup(ip).Err() != nil {
				b.Fatal("lookup failed")
			}
		}
	})
}

// BenchmarkCacheMemory fills both caches of a DB with addresses of distinct records (the worst case: no two share
// a record) and reports the heap they hold per cached address, both databases together.
func BenchmarkCacheMemory(b *testing.B) {
	const n = 1 << 14
	var cityNets, asnNets []network
	for i := range n {
		cidr := fmt.Sprintf("81.%d.%d.0/24", 2+i>>8, i&255)
		cityNets = append(cityNets, network{cidr, mmdbtype.Map{
			"city": place("", fmt.Sprintf("City %d", i), ""), "continent": eu, "country": gb,
			"location": loc(51, float64(i)/n), "subdivisions": mmdbtype.Slice{place("R", fmt.Sprintf("Region %d", i), "")},
		}})
		asnNets = append(asnNets, network{cidr, mmdbtype.Map{
			"autonomous_system_number": mmdbtype.Uint32(i), "autonomous_system_organization": mmdbtype.String(fmt.Sprintf("Org %d", i)),
		}})
	}
	city, asn := buildDB(b, "GeoLite2-City", cityNets), buildDB(b, "GeoLite2-ASN", asnNets)
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		_, ipnet, _ := net.ParseCIDR(cityNets[i].cidr)
		a, _ := netip.AddrFromSlice(ipnet.IP.To4())
		addrs[i] = a.Next()
	}
	b.ReportAllocs()
	for b.Loop() {
		cfg := testConfig(Database{Load: Bytes(city), Name: "city"}, Database{Load: Bytes(asn), Name: "asn"})
		cfg.CacheEntries = n
		db := newTestDB(b, cfg)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, ip := range addrs {
			if _, ok := db.Lookup(ip); !ok {
				b.Fatalf("%s not found", ip)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(db)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/address")
	}
}
