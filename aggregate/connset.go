package aggregate

import (
	"cmp"
	"errors"
	"fmt"
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
// ConnSet. LastSequence lets the finalizer recognise a partial that a replay superseded (see DropSuperseded); it is
// empty in partials written before kinflow recorded it.
type Partial struct {
	ShardID, FirstSequence, LastSequence string
	ConnSet
}

// ID is the partial's document id: docid.Partial(window start, ip, shard, first sequence number).
func (p *Partial) ID() string { return docid.Partial(p.WindowStart, p.IP, p.ShardID, p.FirstSequence) }

// A Final is the merged ConnSet of a window closed by the watermark. Revision counts how often it was written:
// the finalizer bumps it when late partials make it rewrite a window.
type Final struct {
	Revision int64
	ConnSet
}

// ID is the final's document id: docid.Final(window start, ip).
func (f *Final) ID() string { return docid.Final(f.WindowStart, f.IP) }

// ErrMerge is wrapped by the errors of Merge and Fold: connection sets of different windows or IPs, or a sketch
// of another precision.
var ErrMerge = errors.New("aggregate: cannot merge")

// Merge returns the union of a and b, which must share window and IP: peer sets united (exact while the union has
// at most maxExactPeers peers, otherwise a sketch holding both), destination ports united, counters summed, first
// and last seen widened. Merge is associative and commutative; the zero ConnSet is its identity. It is not
// idempotent (counters add up), which is why Fold drops a partial id it has already folded. a and b are not
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

// A Fold merges the partials of one window and IP into their final ConnSet, counting each partial id once (a
// partial written twice by a replay, or read twice by an overlapping query, does not add up twice) and leaving out
// partials a replay superseded (DropSuperseded). It holds the partials until Final, so its memory is that of one
// (window, ip)'s partials.
type Fold struct {
	maxExactPeers int
	ids           map[string]struct{}
	partials      []Partial
	dropped       int
}

// NewFold returns an empty fold whose result is exact up to maxExactPeers peers.
func NewFold(maxExactPeers int) *Fold {
	return &Fold{maxExactPeers: maxExactPeers, ids: map[string]struct{}{}}
}

// Add takes p unless a partial with its id was already added, and reports whether it took it. A partial of
// another window or IP than the first is an error wrapping ErrMerge.
func (f *Fold) Add(p *Partial) (bool, error) {
	id := p.ID()
	if _, dup := f.ids[id]; dup {
		return false, nil
	}
	if len(f.partials) > 0 {
		if first := &f.partials[0]; first.WindowStart != p.WindowStart || first.WindowEnd != p.WindowEnd || first.IP != p.IP {
			return false, fmt.Errorf("partial %s: %w: window [%d, %d) ip %v after [%d, %d) ip %v", id, ErrMerge,
				p.WindowStart, p.WindowEnd, p.IP, first.WindowStart, first.WindowEnd, first.IP)
		}
	}
	f.ids[id] = struct{}{}
	f.partials = append(f.partials, *p)
	return true, nil
}

// Dropped is how many superseded partials the last Final left out.
func (f *Fold) Dropped() int { return f.dropped }

// Final merges the partials taken, less the superseded ones, into a Final of the given revision, and empties the
// fold for the next (window, ip).
func (f *Fold) Final(revision int64) (Final, error) {
	kept := DropSuperseded(f.partials)
	f.dropped = len(f.partials) - len(kept)
	var set ConnSet
	for i := range kept {
		m, err := Merge(set, kept[i].ConnSet, f.maxExactPeers)
		if err != nil {
			return Final{}, fmt.Errorf("partial %s: %w", kept[i].ID(), err)
		}
		set = m
	}
	clear(f.ids)
	clear(f.partials)
	f.partials = f.partials[:0]
	return Final{Revision: revision, ConnSet: set}, nil
}

// Finalize folds partials of any windows and IPs into one Final per (window, ip), ordered by window start then ip,
// all of the given revision. Partials with the same id count once; superseded ones (DropSuperseded) not at all.
func Finalize(partials []Partial, maxExactPeers int, revision int64) ([]Final, error) {
	type key struct {
		start int64
		ip    netip.Addr
	}
	folds := map[key]*Fold{}
	for i := range partials {
		p := &partials[i]
		k := key{p.WindowStart, p.IP}
		f := folds[k]
		if f == nil {
			f = NewFold(maxExactPeers)
			folds[k] = f
		}
		if _, err := f.Add(p); err != nil {
			return nil, err
		}
	}
	finals := make([]Final, 0, len(folds))
	for _, f := range folds {
		fin, err := f.Final(revision)
		if err != nil {
			return nil, err
		}
		finals = append(finals, fin)
	}
	slices.SortFunc(finals, func(x, y Final) int {
		return cmp.Or(cmp.Compare(x.WindowStart, y.WindowStart), x.IP.Compare(y.IP))
	})
	return finals, nil
}
