package aggregate

import (
	"slices"
	"testing"
)

func TestDropSuperseded(t *testing.T) {
	p := func(shard, first, last string) Partial {
		return Partial{ShardID: shard, FirstSequence: first, LastSequence: last}
	}
	tests := []struct {
		name string
		in   []Partial
		want []string // shard/first of the partials kept, in the returned order
	}{
		{"disjoint chain", []Partial{p("a", "6", "10"), p("a", "1", "5")}, []string{"a/1", "a/6"}},
		{"stale range holds a later start", []Partial{p("a", "1", "10"), p("a", "6", "10")}, []string{"a/6"}},
		{"later start at the stale end", []Partial{p("a", "1", "6"), p("a", "6", "9")}, []string{"a/6"}},
		{"other shards never supersede", []Partial{p("a", "1", "10"), p("b", "6", "10")}, []string{"a/1", "b/6"}},
		{"unknown last sequence is kept", []Partial{p("a", "1", ""), p("a", "6", "10")}, []string{"a/1", "a/6"}},
		{"numeric, not string, order", []Partial{p("a", "9", "100"), p("a", "10", "12")}, []string{"a/10"}},
		{"one", []Partial{p("a", "1", "10")}, []string{"a/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, k := range DropSuperseded(slices.Clone(tt.in)) {
				got = append(got, k.ShardID+"/"+k.FirstSequence)
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
