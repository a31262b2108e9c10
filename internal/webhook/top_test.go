package webhook

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/aggregate"
)

type ranked struct {
	IP    string
	Count uint64
}

func rankedOf(sets []aggregate.Final) []ranked {
	out := make([]ranked, len(sets))
	for i := range sets {
		out[i] = ranked{sets[i].IP.String(), sets[i].PeersCount}
	}
	return out
}

func TestTop(t *testing.T) {
	pool := []ranked{
		{"10.0.0.5", 7}, {"10.0.0.1", 3}, {"10.0.0.9", 7}, {"10.0.0.2", 7}, {"10.0.0.3", 1},
		{"2001:db8::1", 7}, {"10.0.0.10", 9}, {"10.0.0.4", 3}, {"10.0.0.7", 0},
	}
	tests := []struct {
		name string
		n    int
		want []ranked
	}{
		// Five IPs have 7 peers; three fit after the 9: the lowest IPs, with 10.0.0.10 above 10.0.0.9 only by count.
		{"ties cut by IP", 4, []ranked{{"10.0.0.10", 9}, {"10.0.0.2", 7}, {"10.0.0.5", 7}, {"10.0.0.9", 7}}},
		{"IPv4 before IPv6 on a tie", 5, []ranked{{"10.0.0.10", 9}, {"10.0.0.2", 7}, {"10.0.0.5", 7}, {"10.0.0.9", 7},
			{"2001:db8::1", 7}}},
		{"one", 1, []ranked{{"10.0.0.10", 9}}},
		{"more room than sets", 20, []ranked{{"10.0.0.10", 9}, {"10.0.0.2", 7}, {"10.0.0.5", 7}, {"10.0.0.9", 7},
			{"2001:db8::1", 7}, {"10.0.0.1", 3}, {"10.0.0.4", 3}, {"10.0.0.3", 1}, {"10.0.0.7", 0}}},
		{"zero", 0, []ranked{}},
		{"negative", -3, []ranked{}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every insertion order gives the same answer: 50 shuffles of the pool.
			for round := range 50 {
				order := slices.Clone(pool)
				if round > 0 {
					rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				}
				top := NewTop(tt.n)
				for _, r := range order {
					f := aggregate.Final{ConnSet: aggregate.ConnSet{IP: netip.MustParseAddr(r.IP), PeersCount: r.Count}}
					top.Add(&f)
				}
				if diff := cmp.Diff(tt.want, rankedOf(top.Sets())); diff != "" {
					t.Fatalf("order %v: top %d (-want +got):\n%s", order, tt.n, diff)
				}
				if top.Len() != len(tt.want) {
					t.Fatalf("Len %d, want %d", top.Len(), len(tt.want))
				}
			}
		})
	}
}

// Against a full sort of 2000 sets with many ties, for several sizes.
func TestTopMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sets := make([]aggregate.Final, 2000)
	for i := range sets {
		sets[i].IP = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		sets[i].PeersCount = rng.Uint64N(40) // about 50 sets per count
	}
	sorted := slices.Clone(sets)
	slices.SortFunc(sorted, func(a, b aggregate.Final) int {
		if !ranks(&a, &b) {
			return 1
		}
		return -1
	})
	for _, n := range []int{1, 7, 20, 64, 1999, 2000} {
		top := NewTop(n)
		for i := range sets {
			top.Add(&sets[i])
		}
		if diff := cmp.Diff(rankedOf(sorted[:n]), rankedOf(top.Sets())); diff != "" {
			t.Errorf("top %d differs from the sorted prefix (-want +got):\n%s", n, diff)
		}
	}
}
