package aggregate

import (
	"cmp"
	"encoding/binary"
	"net/netip"
)

// table is an open-addressing hash table of non-zero uint64 keys (key 0 marks an empty slot), with linear probing,
// a power-of-two size and a load of at most 3/4. With vals it maps each key to a uint32; without, it is a set. It
// is the accumulator's only per-event structure: one slice per table, so the cost of a new key is a store, not an
// allocation, and growth allocates O(log n) times in total.
type table struct {
	keys  []uint64
	vals  []uint32 // nil for a set
	n     int
	limit int // grow when n reaches limit
	shift uint8
	isMap bool
}

const minTableBits = 8

func newTable(isMap bool) table {
	t := table{isMap: isMap}
	t.alloc(minTableBits)
	return t
}

func (t *table) alloc(bits uint8) {
	size := 1 << bits
	t.keys = make([]uint64, size)
	if t.isMap {
		t.vals = make([]uint32, size)
	}
	t.limit = size / 4 * 3
	t.shift = 64 - bits
	t.n = 0
}

// slot is Fibonacci hashing over a murmur3 finalizer: keys here are packed small integers, so their low bits alone
// would crowd a few slots.
func (t *table) slot(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	return (k * 0x9e3779b97f4a7c15) >> t.shift
}

// insert adds k to the set and reports whether it was new.
func (t *table) insert(k uint64) bool {
	if t.n >= t.limit {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return false
		case 0:
			t.keys[i] = k
			t.n++
			return true
		}
	}
}

// getOrPut returns the value of k, storing v first if k is absent; added reports whether it was.
func (t *table) getOrPut(k uint64, v uint32) (got uint32, added bool) {
	if t.n >= t.limit {
		t.grow()
	}
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return t.vals[i], false
		case 0:
			t.keys[i], t.vals[i] = k, v
			t.n++
			return v, true
		}
	}
}

func (t *table) grow() {
	keys, vals := t.keys, t.vals
	t.alloc(64 - t.shift + 1)
	mask := uint64(len(t.keys) - 1)
	for j, k := range keys {
		if k == 0 {
			continue
		}
		i := t.slot(k)
		for t.keys[i] != 0 {
			i = (i + 1) & mask
		}
		t.keys[i] = k
		if t.isMap {
			t.vals[i] = vals[j]
		}
	}
	t.n = len(keys) - countZero(keys)
}

func countZero(keys []uint64) int {
	n := 0
	for _, k := range keys {
		if k == 0 {
			n++
		}
	}
	return n
}

// reset empties the table. It keeps its slots for the next partial unless they were mostly idle, so a long-lived
// accumulator neither reallocates on every cut nor holds on to the memory of one unusually large partial.
func (t *table) reset() {
	if len(t.keys) > 1<<minTableBits && t.n < len(t.keys)/16 {
		t.alloc(minTableBits)
		return
	}
	clear(t.keys)
	t.n = 0
}

// bytes is the memory the table holds.
func (t *table) bytes() int { return len(t.keys)*8 + len(t.vals)*4 }

// addrKey is a normalised address: the 16 bytes of its IPv6 form (IPv4 as IPv4-mapped), zone dropped. It holds no
// pointer, so the accumulator's address list is not scanned by the garbage collector.
type addrKey struct{ hi, lo uint64 }

func keyOf(a netip.Addr) addrKey {
	b := a.As16()
	return addrKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (k addrKey) bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], k.hi)
	binary.BigEndian.PutUint64(b[8:], k.lo)
	return b
}

// compare orders keys as netip.Addr.Compare orders the addresses they stand for: IPv4 before IPv6, then by value.
func (k addrKey) compare(o addrKey) int {
	return cmp.Or(cmp.Compare(o.v4(), k.v4()), cmp.Compare(k.hi, o.hi), cmp.Compare(k.lo, o.lo))
}

func (k addrKey) v4() int {
	if k.hi == 0 && k.lo>>32 == 0xffff {
		return 1
	}
	return 0
}

func (k addrKey) addr() netip.Addr { return netip.AddrFrom16(k.bytes()).Unmap() }

// interner numbers distinct addresses densely from 0, so peers and entries can be keyed by small integers.
type interner struct {
	addrs []addrKey
	index table // key: hash of the address (never 0), value: position in addrs; probing compares addresses
}

func newInterner() interner { return interner{index: newTable(true)} }

func hashAddr(k addrKey) uint64 {
	h := (k.hi ^ 0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
	h ^= k.lo
	h ^= h >> 31
	h *= 0x94d049bb133111eb
	h ^= h >> 29
	return h | 1 // never the empty key
}

// id returns the number of k, assigning the next one if k is new.
func (in *interner) id(k addrKey) uint32 {
	t := &in.index
	if t.n >= t.limit {
		in.grow()
	}
	h := hashAddr(k)
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(h); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case h:
			if v := t.vals[i]; in.addrs[v] == k {
				return v
			}
		case 0:
			v := uint32(len(in.addrs))
			in.addrs = append(in.addrs, k)
			t.keys[i], t.vals[i] = h, v
			t.n++
			return v
		}
	}
}

// grow rehashes by position rather than by the table's own keys: two addresses may share a hash, which the table
// tolerates (probing compares addresses) but a key-driven rehash would merge.
func (in *interner) grow() {
	t := &in.index
	t.alloc(64 - t.shift + 1)
	mask := uint64(len(t.keys) - 1)
	for v, k := range in.addrs {
		h := hashAddr(k)
		i := t.slot(h)
		for t.keys[i] != 0 {
			i = (i + 1) & mask
		}
		t.keys[i], t.vals[i] = h, uint32(v)
		t.n++
	}
}

func (in *interner) reset() {
	in.index.reset()
	if cap(in.addrs) > 1<<minTableBits && len(in.addrs) < cap(in.addrs)/16 {
		in.addrs = nil
	}
	in.addrs = in.addrs[:0]
}
