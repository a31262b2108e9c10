package aggregate

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"

	"github.com/axiomhq/hyperloglog"

	"github.com/kinflow/kinflow/internal/docid"
)

// A ConnSet is the connection set of one IP in one window: its distinct peers, exactly or as a sketch, and its
// counters. Partials and finals are both ConnSets; Merge combines two of the same window and IP.
type ConnSet struct {
	WindowStart, WindowEnd int64 // Unix seconds, [start, end)
	IP                     netip.Addr
	// Peers is the exact set of peers, sorted (netip.Addr.Compare) and distinct; nil when PeersEstimated.
	Peers []netip.Addr
	// PeersCount is len(Peers), or the sketch's estimate when PeersEstimated.
	PeersCount     uint64
	PeersEstimated bool
	sketch         *hyperloglog.Sketch // dense, precision 14; set exactly when PeersEstimated
	// DstPorts holds the distinct destination ports of flows the IP sent (TCP, UDP, SCTP), sorted: 2 bytes a port,
	// 128 KiB at most.
	DstPorts                     []uint16
	FlowsSent, FlowsReceived     uint64
	FlowsRejected, FlowsLate     uint64
	BytesSent, BytesReceived     uint64
	PacketsSent, PacketsReceived uint64
	FirstSeen, LastSeen          int64 // Unix seconds: earliest flow start, latest flow end
}

// A Partial is what one shard's records from FirstSequence to LastSequence (a checkpoint) contributed to a
// ConnSet: what Accumulator.Cut returns, and Blocks packs into documents.
type Partial struct {
	ShardID, FirstSequence, LastSequence string
	ConnSet
}

// A Final is the merged ConnSet of a window closed by the watermark. Revision counts how often it was written:
// the finalizer bumps it when late partials make it rewrite a window.
type Final struct {
	Revision int64
	ConnSet
}

// ID is the final's document id: docid.Final(window start, ip).
func (f *Final) ID() string { return docid.Final(f.WindowStart, f.IP) }

// ErrMerge is wrapped by the errors of Merge: connection sets of different windows or IPs, or a sketch
// of another precision.
var ErrMerge = errors.New("aggregate: cannot merge")

// Merge returns the union of a and b, which must share window and IP: peer sets united (exact while the union has
// at most maxExactPeers peers, otherwise a sketch holding both), destination ports united, counters summed, first
// and last seen widened. Merge is associative and commutative; the zero ConnSet is its identity. It is not
// idempotent (counters add up), which is why FinalizeBlocks counts a block id once. a and b are not
// modified and the result shares no memory with them.
func Merge(a, b ConnSet, maxExactPeers int) (ConnSet, error) {
	switch {
	case !a.IP.IsValid():
		return b.clone(), nil
	case !b.IP.IsValid():
		return a.clone(), nil
	case a.WindowStart != b.WindowStart || a.WindowEnd != b.WindowEnd || a.IP != b.IP:
		return ConnSet{}, fmt.Errorf("%w: window [%d, %d) of %v with window [%d, %d) of %v",
			ErrMerge, a.WindowStart, a.WindowEnd, a.IP, b.WindowStart, b.WindowEnd, b.IP)
	}
	m := ConnSet{
		WindowStart: a.WindowStart, WindowEnd: a.WindowEnd, IP: a.IP,
		DstPorts:        union(a.DstPorts, b.DstPorts, cmp.Compare[uint16]),
		FlowsSent:       a.FlowsSent + b.FlowsSent,
		FlowsReceived:   a.FlowsReceived + b.FlowsReceived,
		FlowsRejected:   a.FlowsRejected + b.FlowsRejected,
		FlowsLate:       a.FlowsLate + b.FlowsLate,
		BytesSent:       a.BytesSent + b.BytesSent,
		BytesReceived:   a.BytesReceived + b.BytesReceived,
		PacketsSent:     a.PacketsSent + b.PacketsSent,
		PacketsReceived: a.PacketsReceived + b.PacketsReceived,
		FirstSeen:       min(a.FirstSeen, b.FirstSeen),
		LastSeen:        max(a.LastSeen, b.LastSeen),
	}
	if !a.PeersEstimated && !b.PeersEstimated {
		if peers := union(a.Peers, b.Peers, netip.Addr.Compare); len(peers) <= maxExactPeers {
			m.Peers, m.PeersCount = peers, uint64(len(peers))
			return m, nil
		}
	}
	m.PeersEstimated, m.sketch = true, newSketch()
	for _, s := range []*ConnSet{&a, &b} {
		if !s.PeersEstimated {
			insertAll(m.sketch, s.Peers)
		} else if err := m.sketch.Merge(s.sketch); err != nil {
			return ConnSet{}, fmt.Errorf("%w: %w", ErrMerge, err)
		}
	}
	m.PeersCount = m.sketch.Estimate()
	return m, nil
}

func insertAll(sk *hyperloglog.Sketch, peers []netip.Addr) {
	for _, p := range peers {
		b := p.As16()
		sk.Insert(b[:])
	}
}

// union merges two sorted, distinct lists into a new one.
func union[T any](a, b []T, compare func(T, T) int) []T {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make([]T, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch c := compare(a[0], b[0]); {
		case c < 0:
			out, a = append(out, a[0]), a[1:]
		case c > 0:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

func (c ConnSet) clone() ConnSet {
	c.Peers = slices.Clone(c.Peers)
	c.DstPorts = slices.Clone(c.DstPorts)
	if c.sketch != nil {
		c.sketch = c.sketch.Clone()
	}
	return c
}

// MergeBlocks merges the sets of blocks of one window whose hash lies in [lo, hi]: it walks the blocks side by side
// in block order (hash, then ip) and calls fn with the union of each IP's sets, in that order. Its memory is the
// blocks' and one IP's union.
func MergeBlocks(blocks []Block, lo, hi uint32, maxExactPeers int, fn func(ConnSet) error) error {
	var h cursors
	for i := range blocks {
		b := &blocks[i]
		if j, _ := slices.BinarySearch(b.hashes, lo); j < len(b.hashes) && b.hashes[j] <= hi {
			h = append(h, cursor{b, j})
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		first := h[0].set()
		hash := h[0].hash()
		var m ConnSet
		for len(h) > 0 && h[0].hash() == hash && h[0].set().IP == first.IP {
			var err error
			if m, err = Merge(m, *h[0].set(), maxExactPeers); err != nil {
				return fmt.Errorf("block %s: %w", h[0].b.ID(), err)
			}
			if h[0].i++; h[0].i < len(h[0].b.Sets) && h[0].hash() <= hi {
				heap.Fix(&h, 0)
			} else {
				heap.Pop(&h)
			}
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// A cursor is a position in a block; cursors is a heap of them ordered by the set each points at.
type cursor struct {
	b *Block
	i int
}

func (c cursor) set() *ConnSet { return &c.b.Sets[c.i] }
func (c cursor) hash() uint32  { return c.b.hashes[c.i] }

type cursors []cursor

func (h cursors) Len() int { return len(h) }
func (h cursors) Less(i, j int) bool {
	return compareSets(h[i].set(), h[j].set(), h[i].hash(), h[j].hash()) < 0
}
func (h cursors) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursors) Push(x any)   { *h = append(*h, x.(cursor)) }
func (h *cursors) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// FinalizeBlocks merges blocks of any windows into one Final per (window, ip), ordered by window start then ip, all
// of the given revision: what the finalizer computes range by range, in one call over everything in memory. A block
// read twice counts once; superseded blocks (DropSuperseded) not at all.
func FinalizeBlocks(blocks []Block, maxExactPeers int, revision int64) ([]Final, error) {
	byID := map[string]*Block{}
	heads := map[int64][]BlockHead{}
	for i := range blocks {
		id := blocks[i].ID()
		if byID[id] == nil {
			byID[id] = &blocks[i]
			heads[blocks[i].WindowStart] = append(heads[blocks[i].WindowStart], blocks[i].BlockHead)
		}
	}
	var finals []Final
	for _, start := range slices.Sorted(maps.Keys(heads)) {
		var kept []Block
		for _, h := range DropSuperseded(heads[start]) {
			kept = append(kept, *byID[h.ID()])
		}
		err := MergeBlocks(kept, 0, math.MaxUint32, maxExactPeers, func(c ConnSet) error {
			finals = append(finals, Final{Revision: revision, ConnSet: c})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(finals, func(x, y Final) int {
		return cmp.Or(cmp.Compare(x.WindowStart, y.WindowStart), x.IP.Compare(y.IP))
	})
	return finals, nil
}
