package aggregate

import (
	"cmp"
	"slices"
	"strings"
)

// DropSuperseded removes, from the heads of one window's blocks, those a replay superseded, and returns the rest
// (reordered; the slice is reused). Each cut rewrites its blocks by id (window, shard, first sequence, number), but
// an attempt that crashed before its checkpoint may leave blocks that the replay's rewrite did not reach:
//
//   - A replay that cut earlier than the lost run (a smaller Lambda batch, a limit reached sooner) wrote fewer or
//     other blocks from the same first sequence; the lost run's remaining blocks cover records that the replay's
//     later cuts cover again. Such a block is recognisable: its range [first, last] contains the first sequence of
//     another block of the same shard, and it is dropped. The later block is in the same window: the stale block
//     differs from the replay's only by flows of this window read after the replay's cut.
//   - A replay that cut later (a redelivered batch) covers more records but may pack them into fewer blocks (sets
//     grow, yet a set that turns into a sketch shrinks). Of the blocks left with one first sequence, only those of
//     the largest last sequence are kept: the replay's.
//
// Blocks of one attempt share shard, first and last sequence, so they never supersede one another. Per-IP partials
// of a version before blocks (BlockHead.PerIP) follow the same rules, and where a replay after the upgrade wrote
// blocks over the same records (same first and last sequence), the blocks are kept and the per-IP partials dropped.
func DropSuperseded(heads []BlockHead) []BlockHead {
	if len(heads) < 2 {
		return heads
	}
	slices.SortFunc(heads, func(a, b BlockHead) int {
		return cmp.Or(strings.Compare(a.ShardID, b.ShardID), compareSequence(a.FirstSequence, b.FirstSequence),
			compareSequence(b.LastSequence, a.LastSequence), cmp.Compare(perIP(a), perIP(b)),
			cmp.Compare(a.Number, b.Number), a.PerIP.Compare(b.PerIP))
	})
	kept := heads[:0]
	for i := 0; i < len(heads); {
		// heads[i:j] share shard and first sequence, largest last first; heads[j] is the next first of the shard.
		j := i + 1
		for j < len(heads) && heads[j].ShardID == heads[i].ShardID && heads[j].FirstSequence == heads[i].FirstSequence {
			j++
		}
		nextFirst := ""
		if j < len(heads) && heads[j].ShardID == heads[i].ShardID {
			nextFirst = heads[j].FirstSequence
		}
		var first *BlockHead // the first head kept: its attempt is the one kept
		for _, h := range heads[i:j] {
			if nextFirst != "" && compareSequence(nextFirst, h.LastSequence) <= 0 {
				continue // contains a later cut's start
			}
			if first == nil {
				first = &h
			}
			if h.LastSequence == first.LastSequence && perIP(h) == perIP(*first) {
				kept = append(kept, h)
			}
		}
		i = j
	}
	clear(heads[len(kept):])
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

// perIP is 1 for a per-IP partial of a version before blocks, 0 for a block: blocks sort first.
func perIP(h BlockHead) int {
	if h.PerIP.IsValid() {
		return 1
	}
	return 0
}
