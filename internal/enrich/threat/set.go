// set.go owns the merged, read-only view of several lists and the lookup of an address in it.

package threat

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/gaissmai/bart"
)

// A Set is several lists merged for longest-prefix matching. It is read-only, so any number of goroutines may call
// Match at once; a Reloader replaces it whole rather than changing it.
type Set struct {
	// One table for every list: a lookup is one walk whatever the number of lists, and the longest prefix across
	// all lists falls out of it. Values point into the lists' Indicators rather than copying them, so a Set costs
	// the table alone on top of its lists (which the Reloader keeps anyway, to rebuild without re-reading).
	table bart.Table[*Indicator]
	lists []ListStats
}

// NewSet merges lists. Where lists hold the same prefix the list whose name sorts first wins; within a list the
// first occurrence wins. The others are counted in the lists' stats (Shadowed, Duplicates). Names must be unique
// and not empty. The Set refers to the lists' indicators: do not change them afterwards.
func NewSet(lists ...*List) (*Set, error) {
	sorted := slices.Clone(lists)
	sorted = slices.DeleteFunc(sorted, func(l *List) bool { return l == nil })
	// Inserting in name order makes "first inserted wins" the tie-break by name, whatever order the caller uses.
	slices.SortStableFunc(sorted, func(a, b *List) int { return cmp.Compare(a.Name, b.Name) })
	s := &Set{lists: make([]ListStats, len(sorted))}
	for i, l := range sorted {
		if l.Name == "" {
			return nil, &Error{Reason: ReasonDuplicateList, Detail: "a list without a name"}
		}
		if i > 0 && sorted[i-1].Name == l.Name {
			return nil, &Error{Reason: ReasonDuplicateList, List: l.Name, Detail: "two lists with this name"}
		}
		st := l.ListStats
		st.Duplicates, st.Shadowed = 0, 0
		for j := range l.Indicators {
			ind := &l.Indicators[j]
			var held *Indicator
			s.table.Modify(ind.Prefix, func(old *Indicator, ok bool) (*Indicator, bool) {
				if ok {
					held = old
					return old, false
				}
				return ind, false
			})
			switch {
			case held == nil:
			case held.List == l.Name:
				st.Duplicates++
			default:
				st.Shadowed++
			}
		}
		s.lists[i] = st
	}
	return s, nil
}

// Match returns the most specific indicator that holds ip: the longest prefix of any list. An IPv4-mapped IPv6
// address matches as the IPv4 address it carries (flow logs of dual-stack sockets write them). A nil Set and an
// invalid address match nothing. Match does not allocate.
func (s *Set) Match(ip netip.Addr) (Indicator, bool) {
	if s == nil {
		return Indicator{}, false
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	ind, ok := s.table.Lookup(ip)
	if !ok {
		return Indicator{}, false
	}
	return *ind, true
}

// Contains reports whether any indicator holds ip, for callers that need no more than yes or no.
func (s *Set) Contains(ip netip.Addr) bool {
	if s == nil {
		return false
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	return s.table.Contains(ip)
}

// Len returns the number of distinct prefixes in the Set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.table.Size()
}

// Lists returns the stats of the Set's lists, sorted by name.
func (s *Set) Lists() []ListStats {
	if s == nil {
		return nil
	}
	return slices.Clone(s.lists)
}
