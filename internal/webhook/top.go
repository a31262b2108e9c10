package webhook

import (
	"cmp"
	"slices"

	"github.com/kinflow/kinflow/aggregate"
)

// A Top keeps the n finals with the most distinct peers among those added, ties broken by IP ascending, so the
// result depends only on the set of finals added, not on their order. It holds n entries at most (a min-heap
// whose root is the weakest kept entry) while the finalizer streams a whole window through it.
//
// Each entry is a shallow copy of the added final: its peer and port slices are shared, not copied.
type Top struct {
	n    int
	heap []aggregate.Final
}

// NewTop returns an empty Top keeping n entries; n <= 0 keeps none.
func NewTop(n int) *Top {
	return &Top{n: max(n, 0), heap: make([]aggregate.Final, 0, max(n, 0))}
}

// ranks reports whether a ranks above b: more peers, or as many and a lower IP.
func ranks(a, b *aggregate.Final) bool {
	return cmp.Or(cmp.Compare(b.PeersCount, a.PeersCount), a.IP.Compare(b.IP)) < 0
}

// Add offers f; it is kept if it ranks among the n best so far.
func (t *Top) Add(f *aggregate.Final) {
	switch {
	case len(t.heap) < t.n:
		t.heap = append(t.heap, *f)
		t.up(len(t.heap) - 1)
	case t.n > 0 && ranks(f, &t.heap[0]):
		t.heap[0] = *f
		t.down(0)
	}
}

// Sets returns the kept finals, best first, in a new slice.
func (t *Top) Sets() []aggregate.Final {
	out := slices.Clone(t.heap)
	slices.SortFunc(out, func(a, b aggregate.Final) int {
		return cmp.Or(cmp.Compare(b.PeersCount, a.PeersCount), a.IP.Compare(b.IP))
	})
	return out
}

// Len is the number of finals kept.
func (t *Top) Len() int { return len(t.heap) }

// up and down keep the weakest entry at the root: a parent never ranks above its children.
func (t *Top) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !ranks(&t.heap[p], &t.heap[i]) {
			return
		}
		t.heap[p], t.heap[i] = t.heap[i], t.heap[p]
		i = p
	}
}

func (t *Top) down(i int) {
	for {
		weakest := i
		for c := 2*i + 1; c <= 2*i+2 && c < len(t.heap); c++ {
			if ranks(&t.heap[weakest], &t.heap[c]) {
				weakest = c
			}
		}
		if weakest == i {
			return
		}
		t.heap[i], t.heap[weakest] = t.heap[weakest], t.heap[i]
		i = weakest
	}
}
