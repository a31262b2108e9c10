package aggregate

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

func TestDropSuperseded(t *testing.T) {
	h := func(shard, first, last string, number int) BlockHead {
		return BlockHead{ShardID: shard, FirstSequence: first, LastSequence: last, Number: number}
	}
	ip := func(shard, first, last, addr string) BlockHead {
		return BlockHead{ShardID: shard, FirstSequence: first, LastSequence: last, PerIP: netip.MustParseAddr(addr)}
	}
	tests := []struct {
		name string
		in   []BlockHead
		want []string // shard/first#number of the blocks kept, in the returned order
	}{
		{"disjoint chain", []BlockHead{h("a", "6", "10", 0), h("a", "1", "5", 0)}, []string{"a/1#0", "a/6#0"}},
		{"stale range holds a later start", []BlockHead{h("a", "1", "10", 1), h("a", "6", "10", 0)}, []string{"a/6#0"}},
		{"later start at the stale end", []BlockHead{h("a", "1", "6", 0), h("a", "6", "9", 0)}, []string{"a/6#0"}},
		{"replay cut earlier, stale blocks left", []BlockHead{h("a", "1", "5", 0), h("a", "1", "8", 1), h("a", "6", "8", 0)},
			[]string{"a/1#0", "a/6#0"}},
		{"replay cut later in fewer blocks", []BlockHead{h("a", "1", "9", 0), h("a", "1", "5", 1), h("a", "1", "5", 2), h("a", "10", "12", 0)},
			[]string{"a/1#0", "a/10#0"}},
		{"one cut's blocks", []BlockHead{h("a", "1", "5", 2), h("a", "1", "5", 0), h("a", "1", "5", 1)}, []string{"a/1#0", "a/1#1", "a/1#2"}},
		{"other shards never supersede", []BlockHead{h("a", "1", "10", 0), h("b", "6", "10", 0)}, []string{"a/1#0", "b/6#0"}},
		{"numeric, not string, order", []BlockHead{h("a", "9", "100", 0), h("a", "10", "12", 0)}, []string{"a/10#0"}},
		{"one", []BlockHead{h("a", "1", "10", 0)}, []string{"a/1#0"}},
		{"per-IP partials alone", []BlockHead{ip("a", "1", "5", "10.0.0.2"), ip("a", "1", "5", "10.0.0.1"), ip("a", "6", "9", "10.0.0.1")},
			[]string{"a/1@10.0.0.1", "a/1@10.0.0.2", "a/6@10.0.0.1"}},
		{"blocks of a replay over per-IP partials of the same records", []BlockHead{ip("a", "1", "5", "10.0.0.1"), h("a", "1", "5", 0), ip("a", "1", "5", "10.0.0.2")},
			[]string{"a/1#0"}},
		{"per-IP partials of a run the replay cut later", []BlockHead{ip("a", "1", "5", "10.0.0.1"), h("a", "1", "9", 0)}, []string{"a/1#0"}},
		{"per-IP partials of a run the replay cut earlier", []BlockHead{ip("a", "1", "9", "10.0.0.1"), h("a", "1", "5", 0), h("a", "6", "9", 0)},
			[]string{"a/1#0", "a/6#0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, k := range DropSuperseded(slices.Clone(tt.in)) {
				if k.PerIP.IsValid() {
					got = append(got, fmt.Sprintf("%s/%s@%v", k.ShardID, k.FirstSequence, k.PerIP))
				} else {
					got = append(got, fmt.Sprintf("%s/%s#%d", k.ShardID, k.FirstSequence, k.Number))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompareSequence(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588899", -1},
		{"100", "99", 1},
		{"007", "7", 0},
		{"x", "y", -1}, // not decimal: string order
	}
	for _, tt := range tests {
		if got := compareSequence(tt.a, tt.b); got != tt.want {
			t.Errorf("compareSequence(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
