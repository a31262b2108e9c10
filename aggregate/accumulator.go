package aggregate

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"github.com/axiomhq/hyperloglog"
	"github.com/zeebo/xxh3"
)

// A Flow is what aggregate needs of one flow-log record; the pipeline maps its parsed records to it. Records
// without traffic (NODATA, SKIPDATA) are not Flows: the pipeline leaves them out by their log status, whatever
// values their line carries.
type Flow struct {
	Start, End       int64 // Unix seconds; the window is chosen by Start, End (0 if unknown) only moves last_seen
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Protocol         uint8 // IANA protocol number
	Bytes, Packets   uint64
	Rejected         bool // action REJECT
}

// ErrInvalidFlow is wrapped by the error Add returns for a flow it cannot aggregate (an unset address, a start
// time outside 1970..9999). Such a flow is counted in Stats.Invalid and left out; the caller dead-letters it.
var ErrInvalidFlow = errors.New("aggregate: invalid flow")

var (
	errNoAddr   = fmt.Errorf("%w: source or destination address unset", ErrInvalidFlow)
	errBadStart = fmt.Errorf("%w: start outside 1970-01-01 .. 9999-12-29", ErrInvalidFlow)
)

// maxTime is the last second a window may end in and still be written as an RFC 3339 date (9999-12-31T23:59:59Z),
// with a day to spare for the widest window; flow starts beyond it are rejected.
const (
	maxTime  = 253402300799
	maxStart = maxTime - 2*86400
)

// Signal reports what Add noticed about a flow. It is a set of bits; the zero Signal means nothing to do.
type Signal uint8

const (
	// Late: the flow's window had closed (its end plus the allowed lateness is at or before the watermark). The flow
	// is aggregated all the same and counted in flows.late of both its IPs.
	Late Signal = 1 << iota
	// Full: an open-partial limit (windows, tracked IPs or tracked peers) is reached. The flow was aggregated; the
	// caller should Cut at the next record boundary (and checkpoint there). Limits are soft: until the cut the
	// accumulator keeps accepting, so the overshoot is at most one record's flows.
	Full
)

// Late and Full report the bits of s.
func (s Signal) Late() bool { return s&Late != 0 }
func (s Signal) Full() bool { return s&Full != 0 }

// Stats describe an accumulator: Flows, Late and Invalid count since it was made, the rest describe the open
// partial.
type Stats struct {
	Flows, Late, Invalid uint64
	OpenWindows          int
	TrackedIPs           int // (window, ip) pairs
	TrackedPeers         int // (window, ip, peer) triples
	TrackedPorts         int // (window, ip, destination port) triples
	Bytes                int // memory the accumulator holds (tables and Cut's scratch), allocated but unused included
}

// entry is one (window, ip) of the open partial. It holds no pointer, so the garbage collector skips the slice.
type entry struct {
	window, addr             uint32 // slot in Accumulator.windows, number in the interner
	peers, ports             uint32 // distinct peers and destination ports tracked
	flowsSent, flowsRecv     uint64
	rejected, late           uint64
	bytesSent, bytesRecv     uint64
	packetsSent, packetsRecv uint64
	firstSeen, lastSeen      int64
}

// An Accumulator aggregates the flows of one shard between two checkpoints into partial connection sets. It is
// not safe for concurrent use; run one per shard.
//
// Every open (window, ip, peer) costs one 8-byte key in a hash table kept 3/8 to 3/4 full, so 10.7 to 21.3 bytes
// (twice that for an instant while the table doubles); every (window, ip) costs a 96-byte entry plus 12 to 24 bytes
// of index, every distinct address 16 bytes plus 12 to 24, every (window, ip, destination port) 10.7 to 21.3
// bytes. BenchmarkMemory measures 19.6 bytes per peer, everything included, over the benchmark corpus.
type Accumulator struct {
	cfg       Config
	width     int64
	lateness  int64
	watermark int64

	windows []int64 // start of each open window, by slot
	last    int     // slot of the previous flow's window
	in      interner
	index   table   // (window slot+1)<<32 | address -> entry
	entries []entry // by entry number
	peers   table   // (entry+1)<<32 | peer address
	ports   table   // (entry+1)<<32 | destination port
	scratch scratch

	stats Stats
}

// NewAccumulator returns an empty accumulator for cfg, or cfg's problems.
func NewAccumulator(cfg Config) (*Accumulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Accumulator{
		cfg:       cfg,
		width:     int64(cfg.Window / time.Second),
		lateness:  int64(cfg.AllowedLateness / time.Second),
		watermark: -1 << 62,
		in:        newInterner(),
		index:     newTable(true),
		peers:     newTable(false),
		ports:     newTable(false),
	}, nil
}

// SetWatermark tells the accumulator how far event time has progressed (Unix seconds): a flow is late when its
// window ended the allowed lateness or longer before the watermark. The watermark never moves back; an older value is
// ignored.
func (a *Accumulator) SetWatermark(unix int64) { a.watermark = max(a.watermark, unix) }

// hasPorts reports whether flow logs carry ports for the protocol: TCP, UDP and SCTP do, everything else (ICMP
// among them) is written with port 0, which is not a destination port.
func hasPorts(proto uint8) bool { return proto == 6 || proto == 17 || proto == 132 }

// Add aggregates f into the open partial: dst becomes a peer of src (flows, bytes and packets sent; the destination
// port, for TCP, UDP and SCTP, counts among src's distinct destination ports) and src a peer of dst (received).
// Accepted and rejected flows alike make peers; a rejected flow also counts in flows.rejected of both IPs, once for
// a flow from an IP to itself. An error (wrapping ErrInvalidFlow) means f was left out.
func (a *Accumulator) Add(f Flow) (Signal, error) {
	if !f.Src.IsValid() || !f.Dst.IsValid() {
		a.stats.Invalid++
		return 0, errNoAddr
	}
	if f.Start < 0 || f.Start > maxStart {
		a.stats.Invalid++
		return 0, errBadStart
	}
	end := max(f.Start, min(f.End, maxTime))
	ws := f.Start - f.Start%a.width
	slot := a.window(ws)
	src := a.in.id(keyOf(f.Src))
	dst := a.in.id(keyOf(f.Dst))
	es, ed := a.entry(slot, src), a.entry(slot, dst)

	var sig Signal
	a.stats.Flows++
	late := ws+a.width+a.lateness <= a.watermark
	if late {
		sig |= Late
		a.stats.Late++
	}
	e := &a.entries[es]
	e.flowsSent++
	e.bytesSent += f.Bytes
	e.packetsSent += f.Packets
	e.firstSeen, e.lastSeen = min(e.firstSeen, f.Start), max(e.lastSeen, end)
	if a.peers.insert(uint64(es+1)<<32 | uint64(dst)) {
		e.peers++
	}
	if hasPorts(f.Protocol) && a.ports.insert(uint64(es+1)<<32|uint64(f.DstPort)) {
		e.ports++
	}
	if f.Rejected {
		e.rejected++
	}
	if late {
		e.late++
	}
	e = &a.entries[ed]
	e.flowsRecv++
	e.bytesRecv += f.Bytes
	e.packetsRecv += f.Packets
	e.firstSeen, e.lastSeen = min(e.firstSeen, f.Start), max(e.lastSeen, end)
	if a.peers.insert(uint64(ed+1)<<32 | uint64(src)) {
		e.peers++
	}
	if ed != es {
		if f.Rejected {
			e.rejected++
		}
		if late {
			e.late++
		}
	}
	if a.Full() {
		sig |= Full
	}
	return sig, nil
}

// Full reports whether a limit of the open partial is reached, so the caller should Cut.
func (a *Accumulator) Full() bool {
	return len(a.windows) >= a.cfg.MaxOpenWindows || len(a.entries) >= a.cfg.MaxTrackedIPs ||
		a.peers.n >= a.cfg.MaxTrackedPeers
}

func (a *Accumulator) window(start int64) uint32 {
	if a.last < len(a.windows) && a.windows[a.last] == start {
		return uint32(a.last)
	}
	i := slices.Index(a.windows, start)
	if i < 0 {
		i = len(a.windows)
		a.windows = append(a.windows, start)
	}
	a.last = i
	return uint32(i)
}

func (a *Accumulator) entry(slot, addr uint32) uint32 {
	n := uint32(len(a.entries))
	e, added := a.index.getOrPut(uint64(slot+1)<<32|uint64(addr), n)
	if added {
		a.entries = append(a.entries, entry{window: slot, addr: addr, firstSeen: maxTime, lastSeen: -1})
	}
	return e
}

// Stats returns the accumulator's counters and the size of its open partial.
func (a *Accumulator) Stats() Stats {
	s := a.stats
	s.OpenWindows = len(a.windows)
	s.TrackedIPs = len(a.entries)
	s.TrackedPeers = a.peers.n
	s.TrackedPorts = a.ports.n
	s.Bytes = a.index.bytes() + a.peers.bytes() + a.ports.bytes() + a.in.index.bytes() +
		cap(a.in.addrs)*int(unsafe.Sizeof(addrKey{})) + cap(a.entries)*int(unsafe.Sizeof(entry{})) + cap(a.windows)*8 + a.scratch.bytes()
	return s
}

// Cut returns what the open partial holds, one Partial per (window, ip) ordered by window start then ip, and
// empties the accumulator (limits, watermark and counters stay). shardID and firstSeq name the first record the
// partial covers: together with window and ip they make the partial's id, so a replay from the checkpoint before
// firstSeq, cut at the same checkpoint, rewrites the same documents. lastSeq names the last record it covers, so a
// partial a replay superseded can be told apart (DropSuperseded). The partials own their memory. A peer set larger
// than Config.MaxExactPeers becomes a sketch here.
func (a *Accumulator) Cut(shardID, firstSeq, lastSeq string) []Partial {
	defer a.reset()
	if len(a.entries) == 0 {
		return nil
	}
	sc := &a.scratch
	addrs := a.in.addrs
	a.rankAddresses()
	// Order the entries by (window start, address rank); partOf maps an entry to its partial.
	sc.sorted = resize(sc.sorted, len(a.entries))
	for i, e := range a.entries {
		sc.sorted[i] = sortKey{start: a.windows[e.window], rank: sc.rank[e.addr], entry: uint32(i)}
	}
	slices.SortFunc(sc.sorted, func(x, y sortKey) int {
		return cmp.Or(cmp.Compare(x.start, y.start), cmp.Compare(x.rank, y.rank))
	})
	sc.partOf = resize(sc.partOf, len(a.entries))
	limit := uint32(a.cfg.MaxExactPeers)
	var nPeers, nPorts uint32
	for i, k := range sc.sorted {
		sc.partOf[k.entry] = uint32(i)
		if e := &a.entries[k.entry]; e.peers <= limit {
			nPeers += e.peers
		}
		nPorts += a.entries[k.entry].ports
	}
	// Each exact set gets a window of one backing array (peer ranks while filling, addresses in the partial): three
	// allocations per cut, not one per set.
	parts := make([]Partial, len(a.entries))
	peers := make([]netip.Addr, nPeers)
	ports := make([]uint16, nPorts)
	sc.peerRanks = resize(sc.peerRanks, int(nPeers))
	sc.fill = resize(sc.fill, len(a.entries)) // next free position of each partial's ranks
	var off uint32
	for i, k := range sc.sorted {
		e, p := &a.entries[k.entry], &parts[i]
		p.ShardID, p.FirstSequence, p.LastSequence = shardID, firstSeq, lastSeq
		p.WindowStart, p.WindowEnd = k.start, k.start+a.width
		p.IP = sc.byRank[k.rank]
		p.FlowsSent, p.FlowsReceived, p.FlowsRejected, p.FlowsLate = e.flowsSent, e.flowsRecv, e.rejected, e.late
		p.BytesSent, p.BytesReceived = e.bytesSent, e.bytesRecv
		p.PacketsSent, p.PacketsReceived = e.packetsSent, e.packetsRecv
		p.FirstSeen, p.LastSeen = e.firstSeen, e.lastSeen
		if e.peers > limit {
			p.PeersEstimated, p.sketch = true, newSketch()
		} else {
			p.PeersCount = uint64(e.peers)
			p.Peers, peers = peers[:e.peers:e.peers], peers[e.peers:]
			sc.fill[i], off = off, off+e.peers
		}
		if e.ports > 0 {
			p.DstPorts, ports = ports[:0:e.ports], ports[e.ports:]
		}
	}
	for _, k := range a.peers.keys {
		if k == 0 {
			continue
		}
		i, peer := sc.partOf[k>>32-1], uint32(k)
		if sk := parts[i].sketch; sk != nil {
			b := addrs[peer].bytes()
			sk.Insert(b[:])
		} else {
			sc.peerRanks[sc.fill[i]] = sc.rank[peer]
			sc.fill[i]++
		}
	}
	for _, k := range a.ports.keys {
		if k != 0 {
			p := &parts[sc.partOf[k>>32-1]]
			p.DstPorts = append(p.DstPorts, uint16(k))
		}
	}
	ranks := sc.peerRanks
	for i := range parts {
		p := &parts[i]
		if p.PeersEstimated {
			p.PeersCount = p.sketch.Estimate()
		} else {
			rs := ranks[:len(p.Peers)]
			ranks = ranks[len(p.Peers):]
			slices.Sort(rs)
			for j, r := range rs {
				p.Peers[j] = sc.byRank[r]
			}
		}
		slices.Sort(p.DstPorts)
	}
	clear(sc.byRank) // drop the addresses' zone handles until the next cut
	return parts
}

// CutBlocks is Blocks(Cut(shardID, firstSeq, lastSeq), maxBytes), byte for byte, without a ConnSet per IP: each set
// is encoded straight from the accumulator's tables, so a cut of many IPs costs its encoding (some 30 bytes a set of
// a few peers) rather than a Partial and its copy in a block (some 400). The blocks carry their heads and encodings
// (for AppendJSON) but no Sets. It empties the accumulator as Cut does.
func (a *Accumulator) CutBlocks(shardID, firstSeq, lastSeq string, maxBytes int) []Block {
	defer a.reset()
	if len(a.entries) == 0 {
		return nil
	}
	sc := &a.scratch
	addrs := a.in.addrs
	a.rankAddresses() // peers are encoded in address order
	sc.hashes = resize(sc.hashes, len(addrs))
	for i, k := range addrs {
		b := k.bytes()
		sc.hashes[i] = uint32(xxh3.Hash(b[:]) >> 32)
	}
	sc.blockOrder = resize(sc.blockOrder, len(a.entries))
	for i, e := range a.entries {
		sc.blockOrder[i] = blockKey{start: a.windows[e.window], hash: sc.hashes[e.addr], rank: sc.rank[e.addr], entry: uint32(i)}
	}
	slices.SortFunc(sc.blockOrder, func(x, y blockKey) int {
		return cmp.Or(cmp.Compare(x.start, y.start), cmp.Compare(x.hash, y.hash), cmp.Compare(x.rank, y.rank))
	})
	// Each entry's peers (as ranks) and ports get a window of one array, in block order.
	sc.partOf = resize(sc.partOf, len(a.entries))
	sc.fill = resize(sc.fill, len(a.entries))
	sc.portFill = resize(sc.portFill, len(a.entries))
	var nPeers, nPorts uint32
	for i, k := range sc.blockOrder {
		e := &a.entries[k.entry]
		sc.partOf[k.entry] = uint32(i)
		sc.fill[i], sc.portFill[i] = nPeers, nPorts
		nPeers += e.peers
		nPorts += e.ports
	}
	sc.peerRanks = resize(sc.peerRanks, int(nPeers))
	sc.ports = resize(sc.ports, int(nPorts))
	for _, k := range a.peers.keys {
		if k != 0 {
			i := sc.partOf[k>>32-1]
			sc.peerRanks[sc.fill[i]] = sc.rank[uint32(k)]
			sc.fill[i]++
		}
	}
	for _, k := range a.ports.keys {
		if k != 0 {
			i := sc.partOf[k>>32-1]
			sc.ports[sc.portFill[i]] = uint16(k)
			sc.portFill[i]++
		}
	}
	limit := uint32(a.cfg.MaxExactPeers)
	pk := packer{maxBytes: maxBytes, cut: BlockHead{ShardID: shardID, FirstSequence: firstSeq, LastSequence: lastSeq}}
	var peers []netip.Addr // one set's peers, reused
	var peerOff, portOff uint32
	for _, k := range sc.blockOrder {
		e := &a.entries[k.entry]
		c := ConnSet{WindowStart: k.start, WindowEnd: k.start + a.width, IP: sc.byRank[k.rank],
			FlowsSent: e.flowsSent, FlowsReceived: e.flowsRecv, FlowsRejected: e.rejected, FlowsLate: e.late,
			BytesSent: e.bytesSent, BytesReceived: e.bytesRecv, PacketsSent: e.packetsSent, PacketsReceived: e.packetsRecv,
			FirstSeen: e.firstSeen, LastSeen: e.lastSeen}
		ranks := sc.peerRanks[peerOff : peerOff+e.peers]
		peerOff += e.peers
		c.DstPorts = sc.ports[portOff : portOff+e.ports]
		portOff += e.ports
		slices.Sort(c.DstPorts)
		if e.peers > limit {
			c.PeersEstimated, c.sketch = true, newSketch()
			for _, r := range ranks { // each peer's 16-byte form, as Cut inserts it
				a16 := sc.byRank[r].As16()
				c.sketch.Insert(a16[:])
			}
		} else {
			slices.Sort(ranks)
			peers = peers[:0]
			for _, r := range ranks {
				peers = append(peers, sc.byRank[r])
			}
			c.Peers = peers
		}
		pk.add(&c, k.hash, false)
	}
	blocks := pk.finish()
	clear(sc.byRank) // drop the addresses' zone handles until the next cut
	return blocks
}

// blockKey orders the entries of a cut as blocks hold them.
type blockKey struct {
	start      int64
	hash, rank uint32
	entry      uint32
}

// rankAddresses ranks the distinct addresses once (scratch.rank by number, scratch.byRank by rank), so that each set
// sorts small integers and each address is made once.
func (a *Accumulator) rankAddresses() {
	sc, addrs := &a.scratch, a.in.addrs
	sc.order = resize(sc.order, len(addrs))
	for i := range sc.order {
		sc.order[i] = uint32(i)
	}
	slices.SortFunc(sc.order, func(x, y uint32) int { return addrs[x].compare(addrs[y]) })
	sc.rank = resize(sc.rank, len(addrs))
	sc.byRank = resize(sc.byRank, len(addrs))
	for r, i := range sc.order {
		sc.rank[i], sc.byRank[r] = uint32(r), addrs[i].addr()
	}
}

type sortKey struct {
	start       int64
	rank, entry uint32
}

// scratch is Cut's working memory, kept for the next cut.
type scratch struct {
	order, rank, partOf, fill, peerRanks []uint32
	byRank                               []netip.Addr
	sorted                               []sortKey
	// CutBlocks' own
	hashes, portFill []uint32
	ports            []uint16
	blockOrder       []blockKey
}

func (s *scratch) bytes() int {
	return 4*(cap(s.order)+cap(s.rank)+cap(s.partOf)+cap(s.fill)+cap(s.peerRanks)+cap(s.hashes)+cap(s.portFill)) +
		int(unsafe.Sizeof(netip.Addr{}))*cap(s.byRank) + int(unsafe.Sizeof(sortKey{}))*cap(s.sorted) +
		2*cap(s.ports) + int(unsafe.Sizeof(blockKey{}))*cap(s.blockOrder)
}

// resize returns s with length n, reallocating only when its capacity is short.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

func (a *Accumulator) reset() {
	a.windows = a.windows[:0]
	a.last = 0
	a.in.reset()
	a.index.reset()
	if cap(a.entries) > 1<<minTableBits && len(a.entries) < cap(a.entries)/16 {
		a.entries = nil
	}
	a.entries = a.entries[:0]
	a.peers.reset()
	a.ports.reset()
}

// sketchPrecision 14: 2^14 one-byte registers (16 KiB dense), standard error 1.04/sqrt(2^14) = 0.81%. Sketches are
// always dense, so their registers, estimate and encoding depend only on the set inserted, never on the order of
// inserts and merges: merging is exactly associative and commutative.
const sketchPrecision = 14

func newSketch() *hyperloglog.Sketch {
	sk, _ := hyperloglog.NewSketch(sketchPrecision, false) // cannot fail: the precision is a valid constant
	return sk
}
