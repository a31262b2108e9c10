package aggregate

import (
	"cmp"
	"slices"
	"strings"
)

// DropSuperseded removes, from the partials of one (window, ip), those a replay superseded, and returns the rest
// (reordered; the slice is reused).
//
// A shard's partials normally cover disjoint record ranges: one per checkpoint interval. A replay from the last
// checkpoint that cuts earlier than the lost run did (a smaller Lambda batch, a limit reached sooner) rewrites the
// partials of IPs seen before its cut under the same ids, but the lost run's partial of an IP seen only after that
// cut stays, and the replay's next cut writes that IP again under a later first sequence: the same flows, twice.
// Such a stale partial is recognisable: its range [first, last] contains the first sequence of another partial of
// the same shard. It is the one dropped, because its flows lie in records the later partials cover (the IP was
// not in the records before their start, or the replay would have overwritten it).
//
// Partials without a LastSequence (written before kinflow recorded it) are kept as they are.
func DropSuperseded(partials []Partial) []Partial {
	if len(partials) < 2 {
		return partials
	}
	slices.SortFunc(partials, func(a, b Partial) int {
		return cmp.Or(strings.Compare(a.ShardID, b.ShardID), compareSequence(a.FirstSequence, b.FirstSequence))
	})
	kept := partials[:0]
	for i := range partials {
		p := partials[i]
		// The next partial of the same shard (sorted by first sequence) is the one that starts earliest after
		// p's start; p overlaps a later partial exactly when that one starts within p's range.
		superseded := p.LastSequence != "" && i+1 < len(partials) && partials[i+1].ShardID == p.ShardID &&
			compareSequence(partials[i+1].FirstSequence, p.FirstSequence) > 0 &&
			compareSequence(partials[i+1].FirstSequence, p.LastSequence) <= 0
		if !superseded {
			kept = append(kept, p)
		}
	}
	clear(partials[len(kept):])
	return kept
}

// compareSequence orders Kinesis sequence numbers: decimal strings of up to 128 digits, compared as numbers.
// Anything else falls back to string order.
func compareSequence(a, b string) int {
	if !decimal(a) || !decimal(b) {
		return strings.Compare(a, b)
	}
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

func decimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
