package aggregate

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestAddrKeyOrder(t *testing.T) {
	addrs := []netip.Addr{
		netip.MustParseAddr("::"), netip.MustParseAddr("::1"), netip.MustParseAddr("::ffff:0:1"),
		netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("255.255.255.255"),
		netip.MustParseAddr("2600:1f18::1"), netip.MustParseAddr("ffff::"), netip.MustParseAddr("::1:0:0:0"),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.IntN(3)) * 0x7f
		}
		addrs = append(addrs, netip.AddrFrom16(b).Unmap())
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap() // as the accumulator keeps them
	}
	for _, x := range addrs {
		for _, y := range addrs {
			if got, want := keyOf(x).compare(keyOf(y)), x.Compare(y); got != want {
				t.Errorf("compare(%v, %v) = %d, netip says %d", x, y, got, want)
			}
		}
		if got := keyOf(x).addr(); got != x {
			t.Errorf("%v comes back as %v", x, got)
		}
	}
}

func TestTable(t *testing.T) {
	set, m, in := newTable(false), newTable(true), newInterner()
	for round := range 3 { // reset keeps working, with and without shrinking
		n := 5000 >> (2 * round)
		for i := range n {
			if !set.insert(uint64(i+1)<<32) || set.insert(uint64(i+1)<<32) {
				t.Fatalf("round %d: insert %d twice reported new, or never", round, i)
			}
			if v, added := m.getOrPut(uint64(i)+1, uint32(i)); !added || v != uint32(i) {
				t.Fatalf("round %d: getOrPut(%d) = %d, %v", round, i+1, v, added)
			}
			a := keyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
			if got := in.id(a); got != uint32(i) {
				t.Fatalf("round %d: id of address %d = %d", round, i, got)
			}
		}
		for i := range n {
			if v, added := m.getOrPut(uint64(i)+1, 0); added || v != uint32(i) {
				t.Fatalf("round %d: getOrPut(%d) again = %d, %v", round, i+1, v, added)
			}
			if got := in.id(keyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))); got != uint32(i) {
				t.Fatalf("round %d: id of address %d again = %d", round, i, got)
			}
		}
		if set.n != n || m.n != n || len(in.addrs) != n {
			t.Fatalf("round %d: sizes %d %d %d, want %d", round, set.n, m.n, len(in.addrs), n)
		}
		set.reset()
		m.reset()
		in.reset()
	}
}
