// addr.go owns which addresses are worth a lookup (the globally reachable ones) and the cache key of an address.

package geoip

import (
	"encoding/binary"
	"net/netip"
)

// nonGlobal lists the blocks that no GeoIP database locates: IANA's special-purpose registries (RFC 6890 and its
// updates) where "globally reachable" is false, and the unicast space not allocated at all. A VPC's own traffic is
// full of them, so they are answered before any cache or database is touched.
var nonGlobal = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space, CGNAT (RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local, the instance metadata service"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation, TEST-NET-1"},
	{netip.MustParsePrefix("192.88.99.0/24"), "deprecated 6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation, TEST-NET-2"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation, TEST-NET-3"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved, and the limited broadcast address"},

	// IPv6 outside 2000::/3 (loopback, unspecified, ULA, link-local, multicast, discard, unallocated) is not
	// listed: only 2000::/3 is allocated as global unicast, so v6 checks that first.
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments: Teredo, benchmarking, ORCHID"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("3fff::/20"), "documentation (RFC 9637)"},
}

// block is a prefix as a value and mask over an address's first 32 (IPv4) or 64 (IPv6) bits: comparing two
// integers is cheaper than netip.Prefix.Contains.
type block struct{ value, mask uint64 }

// IPv4 addresses are sorted by their first octet, so that most are decided by one load: every address of an
// octet0Private octet is non-global, and an address is checked against the few blocks of its own octet only.
var (
	nonGlobal6                  = compile6()
	octet0Private, octet0Blocks = compile4()
)

func compile4() (private [256]bool, blocks [256][]block) {
	for _, n := range nonGlobal {
		p := n.prefix
		if !p.Addr().Is4() {
			continue
		}
		a := p.Addr().As4()
		first := int(a[0])
		if p.Bits() <= 8 {
			for o := first; o < first+1<<(8-p.Bits()); o++ {
				private[o] = true
			}
			continue
		}
		mask := ^uint64(0) << (32 - p.Bits()) & 0xffffffff
		blocks[first] = append(blocks[first], block{uint64(binary.BigEndian.Uint32(a[:])), mask})
	}
	return private, blocks
}

func compile6() (v6 []block) {
	for _, n := range nonGlobal {
		p := n.prefix
		if p.Addr().Is4() {
			continue
		}
		if p.Bits() > 64 {
			panic("geoip: an IPv6 non-global block longer than /64: " + p.String()) // a bug in the table above
		}
		a := p.Addr().As16()
		v6 = append(v6, block{binary.BigEndian.Uint64(a[:8]), ^uint64(0) << (64 - p.Bits())})
	}
	return v6
}

func global4(v uint32) bool {
	if octet0Private[v>>24] {
		return false
	}
	for _, n := range octet0Blocks[v>>24] {
		if uint64(v)&n.mask == n.value {
			return false
		}
	}
	return true
}

// nat64 is the well-known NAT64 prefix 64:ff9b::/96 (RFC 6052), the first 64 bits of it. An IPv6-only subnet
// reaches IPv4 hosts through a NAT gateway at 64:ff9b::<IPv4>, so those flows are located by the IPv4 address.
const nat64Hi = 0x0064_ff9b_0000_0000

// key is an address as the cache holds it: 16 bytes, IPv4 in its IPv4-mapped IPv6 form.
type key struct{ hi, lo uint64 }

func (k key) is4() bool { return k.hi == 0 && k.lo>>32 == 0xffff }

// globalKey returns the address to look up and its key, or false when the address is not globally reachable. An
// IPv4-mapped or NAT64 IPv6 address stands for its IPv4 address; a zone is dropped.
func globalKey(ip netip.Addr) (netip.Addr, key, bool) {
	if ip.Is4() {
		a := ip.As4()
		v := binary.BigEndian.Uint32(a[:])
		return ip, key{0, 0xffff<<32 | uint64(v)}, global4(v)
	}
	if !ip.IsValid() {
		return ip, key{}, false
	}
	b := ip.As16()
	k := key{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	if k.hi == nat64Hi && k.lo>>32 == 0 {
		k = key{0, k.lo | 0xffff<<32}
	}
	if k.is4() {
		v := uint32(k.lo)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), k, global4(v)
	}
	if k.hi>>61 != 1 { // not in 2000::/3
		return ip, k, false
	}
	for _, n := range nonGlobal6 {
		if k.hi&n.mask == n.value {
			return ip, k, false
		}
	}
	return ip.WithZone(""), k, true
}

// IsGlobal reports whether ip is worth a lookup: globally reachable unicast, by the table of this package.
func IsGlobal(ip netip.Addr) bool {
	_, _, ok := globalKey(ip)
	return ok
}

// slot spreads a key over a cache of 1<<bits entries. Addresses of one subnet differ in their last bits only, so
// the key is mixed (a SplitMix64 finalizer) before its low bits are taken.
func (k key) slot(mask uint64) uint64 {
	h := k.hi*0x9e3779b97f4a7c15 ^ k.lo
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h & mask
}
