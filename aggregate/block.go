package aggregate

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/axiomhq/hyperloglog"
	"github.com/zeebo/xxh3"

	"github.com/kinflow/kinflow/internal/docid"
)

// A Block is one document of partial connection sets: the sets of many IPs that one cut contributed to one window,
// a contiguous run of them in hash order (HashOf). A cut's sets for a window go into as few blocks as BlockBytes
// allows, so the partial documents of a busy shard number a handful per checkpoint and window instead of one per IP.
// The hash order spreads the IPs of every block evenly over the hash space whatever their addresses, so the finalizer
// can merge a window one range of hashes at a time, in bounded memory.
type Block struct {
	BlockHead
	// Sets holds the block's connection sets ordered by (HashOf(ip), ip), one per IP.
	Sets   []ConnSet
	hashes []uint32 // HashOf each set's IP
	raw    []byte   // the sets encoded, kept from Blocks for AppendJSON; nil: encoded on demand
}

// A BlockHead is what a block says about itself outside its sets: enough for the finalizer to list a window's blocks,
// leave out the superseded ones and choose its ranges without reading the sets.
type BlockHead struct {
	WindowStart, WindowEnd int64
	// ShardID, FirstSequence and LastSequence name the records the cut covers, as a Partial's do.
	ShardID, FirstSequence, LastSequence string
	// Number is the block's place among the blocks of its cut and window, from 0: part of its id.
	Number int
	// HashFirst and HashLast are the hashes of its first and last set: the block holds no set outside them.
	HashFirst, HashLast uint32
	IPs                 int // len(Sets)
	// Sums of the sets' counters: the finalizer's fingerprint of a window is made of them.
	FlowsSent, FlowsReceived, BytesSent uint64
	// PerIP is set, to its one IP, for a per-IP partial of a version before blocks read as a block of one set
	// (DecodePerIPPartial).
	PerIP netip.Addr
}

// ID is the block's document id: docid.Block(window start, shard, first sequence, number). A replay from the same
// checkpoint that cuts at the same record makes the same blocks and rewrites them; one that cuts later makes at least
// as many, so it overwrites every block the first run wrote (see DropSuperseded for one that cuts earlier).
func (h *BlockHead) ID() string {
	if h.PerIP.IsValid() {
		return docid.Partial(h.WindowStart, h.PerIP, h.ShardID, h.FirstSequence)
	}
	return docid.Block(h.WindowStart, h.ShardID, h.FirstSequence, h.Number)
}

// BlockBytes bounds a block's encoded sets (before base64): 128 KiB, about 175 KB of JSON, far below a bulk request's
// size, and about 4,000 sets of the usual few peers and ports. Small enough that a block spans a narrow range of
// hashes, so the finalizer's ranges seldom read a block twice; large enough that a busy cut writes a handful. A
// single set larger than that (10,000 exact IPv6 peers are 170 KB) still gets a block of its own.
const BlockBytes = 128 << 10

// HashOf places an IP in the hash order of blocks: the high 32 bits of XXH3-64 of its 16-byte form (IPv4 as
// IPv4-mapped IPv6), a fixed, published function, so blocks written by any version agree.
func HashOf(ip netip.Addr) uint32 {
	b := ip.Unmap().As16()
	return uint32(xxh3.Hash(b[:]) >> 32)
}

// compareSets orders sets as blocks hold them: by hash, then by address (two IPs may share a hash).
func compareSets(a, b *ConnSet, ha, hb uint32) int {
	return cmp.Or(cmp.Compare(ha, hb), a.IP.Compare(b.IP))
}

// Blocks packs the partials of one cut (Accumulator.Cut: one shard and record range, any windows) into blocks of at
// most maxBytes of encoded sets each, window by window, in hash order. The blocks share memory with the partials.
func Blocks(partials []Partial, maxBytes int) []Block {
	type keyed struct {
		hash uint32
		p    *Partial
	}
	sorted := make([]keyed, len(partials))
	for i := range partials {
		sorted[i] = keyed{HashOf(partials[i].IP), &partials[i]}
	}
	slices.SortFunc(sorted, func(a, b keyed) int {
		return cmp.Or(cmp.Compare(a.p.WindowStart, b.p.WindowStart), compareSets(&a.p.ConnSet, &b.p.ConnSet, a.hash, b.hash))
	})
	if len(sorted) == 0 {
		return nil
	}
	first := sorted[0].p
	pk := packer{maxBytes: maxBytes, cut: BlockHead{ShardID: first.ShardID, FirstSequence: first.FirstSequence, LastSequence: first.LastSequence}}
	for _, k := range sorted {
		pk.add(&k.p.ConnSet, k.hash, true)
	}
	return pk.finish()
}

// A packer packs sets, given in block order, into blocks of at most maxBytes of encoded sets: the work Blocks and
// Accumulator.CutBlocks share.
type packer struct {
	maxBytes int
	cut      BlockHead // the shard and sequences of every block
	blocks   []Block
	raw      []byte // the encodings of all blocks, one after the other
	ends     []int  // where each block's encoding ends in raw
}

// add encodes c, whose IP hashes to hash, into the current block, or a new one when c's window differs or the block
// would pass maxBytes (a block holds at least one set). keep also keeps c in the block's Sets.
func (pk *packer) add(c *ConnSet, hash uint32, keep bool) {
	n := len(pk.raw)
	pk.raw = appendSet(pk.raw, c)
	cur := len(pk.blocks) - 1
	if cur < 0 || pk.blocks[cur].WindowStart != c.WindowStart || len(pk.raw)-pk.start(cur) > pk.maxBytes {
		number := 0
		if cur >= 0 && pk.blocks[cur].WindowStart == c.WindowStart {
			number = pk.blocks[cur].Number + 1
		}
		if cur >= 0 {
			pk.ends[cur] = n
		}
		h := pk.cut
		h.WindowStart, h.WindowEnd, h.Number, h.HashFirst = c.WindowStart, c.WindowEnd, number, hash
		pk.blocks = append(pk.blocks, Block{BlockHead: h})
		pk.ends = append(pk.ends, 0)
		cur++
	}
	b := &pk.blocks[cur]
	if keep {
		b.Sets = append(b.Sets, *c)
		b.hashes = append(b.hashes, hash)
	}
	b.HashLast = hash
	b.IPs++
	b.FlowsSent += c.FlowsSent
	b.FlowsReceived += c.FlowsReceived
	b.BytesSent += c.BytesSent
}

// start is where block i's encoding starts in raw.
func (pk *packer) start(i int) int {
	if i == 0 {
		return 0
	}
	return pk.ends[i-1]
}

// finish hands each block its encoding and returns the blocks.
func (pk *packer) finish() []Block {
	if len(pk.blocks) == 0 {
		return nil
	}
	pk.ends[len(pk.blocks)-1] = len(pk.raw)
	for i := range pk.blocks {
		pk.blocks[i].raw = pk.raw[pk.start(i):pk.ends[i]:pk.ends[i]]
	}
	return pk.blocks
}

// Encoding of a block's sets (partial.data, base64 in the document), version 1. Integers are varints
// (encoding/binary), so small counters take a byte:
//
//	byte     version (1)
//	uvarint  number of sets, then each set, in block order:
//	  byte + bytes  address: its length (4 or 16) and bytes; IPv4 as 4 bytes, never IPv4-mapped
//	  8 uvarints    flows sent, received, rejected, late; bytes sent, received; packets sent, received
//	  2 varints     first_seen and last_seen, as seconds from the window's start
//	  uvarint n     destination ports, then n uvarints: the first port, then each one's distance from the previous
//	  byte          peers: 0 exact, 1 sketch
//	  exact:        uvarint n IPv4 peers, then n uvarints: the first as a number, then distances; uvarint m IPv6
//	                peers, then m times 16 bytes; both ascending
//	  sketch:       uvarint n, then n bytes: the HyperLogLog sketch (axiomhq/hyperloglog MarshalBinary)
const blockVersion = 1

// appendSet appends the encoding of one set (without the block's version and count).
func appendSet(dst []byte, c *ConnSet) []byte {
	if c.IP.Is4() {
		a := c.IP.As4()
		dst = append(append(dst, 4), a[:]...)
	} else {
		a := c.IP.As16()
		dst = append(append(dst, 16), a[:]...)
	}
	for _, v := range [...]uint64{c.FlowsSent, c.FlowsReceived, c.FlowsRejected, c.FlowsLate,
		c.BytesSent, c.BytesReceived, c.PacketsSent, c.PacketsReceived} {
		dst = binary.AppendUvarint(dst, v)
	}
	dst = binary.AppendVarint(dst, c.FirstSeen-c.WindowStart)
	dst = binary.AppendVarint(dst, c.LastSeen-c.WindowStart)
	dst = binary.AppendUvarint(dst, uint64(len(c.DstPorts)))
	prev := uint16(0)
	for _, p := range c.DstPorts {
		dst = binary.AppendUvarint(dst, uint64(p-prev))
		prev = p
	}
	if c.PeersEstimated {
		raw, _ := c.sketch.MarshalBinary() // a dense sketch always marshals
		dst = append(dst, 1)
		dst = binary.AppendUvarint(dst, uint64(len(raw)))
		return append(dst, raw...)
	}
	dst = append(dst, 0)
	v4 := 0
	for v4 < len(c.Peers) && c.Peers[v4].Is4() { // netip order: every IPv4 address before every IPv6 one
		v4++
	}
	dst = binary.AppendUvarint(dst, uint64(v4))
	var last uint32
	for _, p := range c.Peers[:v4] {
		a := p.As4()
		n := binary.BigEndian.Uint32(a[:])
		dst = binary.AppendUvarint(dst, uint64(n-last))
		last = n
	}
	dst = binary.AppendUvarint(dst, uint64(len(c.Peers)-v4))
	for _, p := range c.Peers[v4:] {
		a := p.As16()
		dst = append(dst, a[:]...)
	}
	return dst
}

// encode returns the block's encoded sets: the kept encoding (of IPs sets), or a new one of its Sets.
func (b *Block) encode() []byte {
	if b.raw != nil {
		return append(binary.AppendUvarint([]byte{blockVersion}, uint64(b.IPs)), b.raw...)
	}
	out := binary.AppendUvarint([]byte{blockVersion}, uint64(len(b.Sets)))
	for i := range b.Sets {
		out = appendSet(out, &b.Sets[i])
	}
	return out
}

// ErrBlock is wrapped by the errors of decoding a block's sets.
var ErrBlock = errors.New("aggregate: decoding block")

// decodeSets reads the encoded sets of a block of window [start, end). It checks everything the finalizer relies
// on: canonical addresses, the block's order, peers and ports ascending and distinct, sketches of the right precision.
func decodeSets(data []byte, start, end int64) ([]ConnSet, error) {
	d := decoder{buf: data}
	if v := d.byte(); d.err == nil && v != blockVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBlock, v, blockVersion)
	}
	n := d.count(10) // a set takes at least 10 bytes
	var sets []ConnSet
	if d.err == nil {
		sets = make([]ConnSet, 0, n)
	}
	var prevHash uint32
	for i := 0; i < n && d.err == nil; i++ {
		c := ConnSet{WindowStart: start, WindowEnd: end, IP: d.addr()}
		c.FlowsSent, c.FlowsReceived, c.FlowsRejected, c.FlowsLate = d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
		c.BytesSent, c.BytesReceived, c.PacketsSent, c.PacketsReceived = d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
		c.FirstSeen, c.LastSeen = d.date(start), d.date(start)
		if np := d.count(1); np > 0 && d.err == nil {
			c.DstPorts = make([]uint16, np)
			var port uint64
			for j := range c.DstPorts {
				delta := d.uvarint()
				if j > 0 && delta == 0 {
					d.fail("destination ports not ascending")
				}
				if port += delta; port > math.MaxUint16 {
					d.fail("destination port %d", port)
				}
				c.DstPorts[j] = uint16(port)
			}
		}
		switch kind := d.byte(); {
		case d.err != nil:
		case kind == 1:
			c.PeersEstimated, c.sketch = true, d.sketch()
			if c.sketch != nil {
				c.PeersCount = c.sketch.Estimate()
			}
		case kind == 0:
			c.Peers = d.peers()
			c.PeersCount = uint64(len(c.Peers))
		default:
			d.fail("peers kind %d", kind)
		}
		if d.err != nil {
			break
		}
		h := HashOf(c.IP)
		if i > 0 && compareSets(&sets[i-1], &c, prevHash, h) >= 0 {
			d.fail("set %d (%v) out of order", i, c.IP)
			break
		}
		prevHash = h
		sets = append(sets, c)
	}
	if d.err == nil && len(d.buf) > 0 {
		d.fail("%d bytes after the last set", len(d.buf))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: set %d: %w", ErrBlock, len(sets), d.err)
	}
	return sets, nil
}

// decoder reads an encoding; the first problem sticks in err and makes every later read return zero.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.buf) == 0 {
		d.fail("truncated")
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || len(d.buf) < n {
		d.fail("truncated")
		return nil
	}
	b := d.buf[:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// count reads a number of items that take at least minBytes each, refusing one the rest of the buffer cannot hold,
// so a corrupt count cannot make the decoder allocate gigabytes.
func (d *decoder) count(minBytes int) int {
	v := d.uvarint()
	if v > uint64(len(d.buf)/minBytes) {
		d.fail("count %d beyond the %d bytes left", v, len(d.buf))
		return 0
	}
	return int(v)
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// date reads a date written as seconds from the window's start, and refuses one outside 1970..9999.
func (d *decoder) date(start int64) int64 {
	v := d.varint()
	if d.err != nil {
		return 0
	}
	t := start + v
	if v > maxTime || v < -maxTime || t < 0 || t > maxTime {
		d.fail("date %d seconds from the window start", v)
		return 0
	}
	return t
}

func (d *decoder) addr() netip.Addr {
	switch n := d.byte(); n {
	case 4:
		if b := d.take(4); b != nil {
			return netip.AddrFrom4([4]byte(b))
		}
	case 16:
		if b := d.take(16); b != nil {
			if a := netip.AddrFrom16([16]byte(b)); !a.Is4In6() {
				return a
			}
			d.fail("IPv4-mapped address written as 16 bytes")
		}
	default:
		d.fail("address length %d", n)
	}
	return netip.Addr{}
}

func (d *decoder) peers() []netip.Addr {
	n4 := d.count(1)
	peers := make([]netip.Addr, 0, n4)
	var n uint64
	for i := 0; i < n4 && d.err == nil; i++ {
		delta := d.uvarint()
		if i > 0 && delta == 0 {
			d.fail("peers not ascending")
		}
		if n += delta; n > math.MaxUint32 {
			d.fail("IPv4 peer beyond 255.255.255.255")
		}
		peers = append(peers, netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}))
	}
	n6 := d.count(16)
	for i := 0; i < n6 && d.err == nil; i++ {
		b := d.take(16)
		if b == nil {
			break
		}
		a := netip.AddrFrom16([16]byte(b))
		if a.Is4In6() || (i > 0 && peers[len(peers)-1].Compare(a) >= 0) {
			d.fail("IPv6 peers not ascending, or IPv4-mapped")
		}
		peers = append(peers, a)
	}
	if d.err != nil {
		return nil
	}
	return peers
}

func (d *decoder) sketch() *hyperloglog.Sketch {
	raw := d.take(d.count(1))
	if d.err != nil || raw == nil {
		return nil
	}
	sk := new(hyperloglog.Sketch)
	if err := sk.UnmarshalBinary(raw); err != nil {
		d.fail("peers sketch: %w", err)
		return nil
	}
	// Merging into a fresh dense sketch makes any valid encoding canonical and checks the precision.
	out := newSketch()
	if out.Merge(sk) != nil {
		d.fail("peers sketch: want precision %d", sketchPrecision)
		return nil
	}
	return out
}
