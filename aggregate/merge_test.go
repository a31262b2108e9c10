package aggregate

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// The property tests draw connection sets of one window and IP from a small universe of peers, so sets overlap,
// and use a cap of 20 peers, so merges cross from exact to estimated and sketches meet exact sets.
const propertyCap = 20

func randomSet(rng *rand.Rand) ConnSet {
	c := ConnSet{WindowStart: t0, WindowEnd: t0 + 600, IP: ipA,
		FlowsSent: rng.Uint64N(100), FlowsReceived: rng.Uint64N(100), FlowsRejected: rng.Uint64N(10),
		FlowsLate: rng.Uint64N(3), BytesSent: rng.Uint64N(1 << 30), BytesReceived: rng.Uint64N(1 << 30),
		PacketsSent: rng.Uint64N(1 << 20), PacketsReceived: rng.Uint64N(1 << 20),
		FirstSeen: t0 + rng.Int64N(600), LastSeen: t0 + 600 + rng.Int64N(60)}
	peers := map[netip.Addr]bool{}
	for range rng.IntN(30) {
		i := rng.IntN(60)
		if i%5 == 0 {
			peers[netip.AddrFrom16([16]byte{0x26, 0, 15: byte(i)})] = true
		} else {
			peers[netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})] = true
		}
	}
	ports := map[uint16]bool{}
	for range rng.IntN(5) {
		ports[uint16(rng.IntN(8))*1000] = true
	}
	for p := range peers {
		c.Peers = append(c.Peers, p)
	}
	slices.SortFunc(c.Peers, netip.Addr.Compare)
	for p := range ports {
		c.DstPorts = append(c.DstPorts, p)
	}
	slices.Sort(c.DstPorts)
	c.PeersCount = uint64(len(c.Peers))
	if len(c.Peers) > propertyCap { // as Cut makes it
		c.PeersEstimated, c.sketch, c.Peers = true, newSketch(), nil
		for p := range peers {
			b := p.As16()
			c.sketch.Insert(b[:])
		}
		c.PeersCount = c.sketch.Estimate()
	}
	return c
}

// encoded is the canonical form the properties compare: the final document, sketch bytes included.
func encoded(tb testing.TB, c ConnSet) string {
	tb.Helper()
	f := Final{ConnSet: c}
	b, err := f.AppendJSON(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func mustMerge(tb testing.TB, a, b ConnSet) ConnSet {
	tb.Helper()
	m, err := Merge(a, b, propertyCap)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestMergeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var crossed, estimated int
	for i := range 500 {
		a, b, c := randomSet(rng), randomSet(rng), randomSet(rng)
		before := encoded(t, a) + encoded(t, b) + encoded(t, c)
		ab := mustMerge(t, a, b)
		if got, want := encoded(t, ab), encoded(t, mustMerge(t, b, a)); got != want {
			t.Fatalf("case %d: not commutative:\n a+b %s\n b+a %s", i, got, want)
		}
		left, right := mustMerge(t, ab, c), mustMerge(t, a, mustMerge(t, b, c))
		if got, want := encoded(t, left), encoded(t, right); got != want {
			t.Fatalf("case %d: not associative:\n(a+b)+c %s\na+(b+c) %s", i, got, want)
		}
		if got, want := encoded(t, mustMerge(t, ConnSet{}, a)), encoded(t, a); got != want {
			t.Fatalf("case %d: the zero set is no identity:\n%s\n%s", i, got, want)
		}
		if after := encoded(t, a) + encoded(t, b) + encoded(t, c); after != before {
			t.Fatalf("case %d: Merge modified its operands", i)
		}
		if !a.PeersEstimated && !b.PeersEstimated && ab.PeersEstimated {
			crossed++
		}
		if left.PeersEstimated {
			estimated++
		}
	}
	if crossed == 0 || estimated == 0 || estimated == 500 {
		t.Errorf("%d merges crossed the cap, %d of 500 ended estimated: the draw misses a path", crossed, estimated)
	}
}

func TestFinalizeBlocksCountsABlockOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	var blocks []Block
	for i := range 6 {
		seq := fmt.Sprint(i)
		p := Partial{ShardID: fmt.Sprintf("shardId-%d", i%2), FirstSequence: seq, LastSequence: seq, ConnSet: randomSet(rng)}
		blocks = append(blocks, Blocks([]Partial{p}, BlockBytes)...)
	}
	once, err := FinalizeBlocks(blocks, propertyCap, 3)
	if err != nil {
		t.Fatal(err)
	}
	// The same documents read twice, in another order, and a rewrite of one id (a replay) with identical content.
	twice := append(slices.Clone(blocks), blocks...)
	rng.Shuffle(len(twice), func(i, j int) { twice[i], twice[j] = twice[j], twice[i] })
	again, err := FinalizeBlocks(twice, propertyCap, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(once) != 1 || len(again) != 1 {
		t.Fatalf("%d and %d finals, want 1", len(once), len(again))
	}
	if got, want := encoded(t, again[0].ConnSet), encoded(t, once[0].ConnSet); got != want {
		t.Errorf("duplicates changed the final:\n%s\n%s", got, want)
	}
	if once[0].Revision != 3 || once[0].ID() != again[0].ID() {
		t.Errorf("revision %d, ids %s %s", once[0].Revision, once[0].ID(), again[0].ID())
	}
}

func TestMergeMismatch(t *testing.T) {
	a := ConnSet{WindowStart: t0, WindowEnd: t0 + 600, IP: ipA, Peers: []netip.Addr{ipB}, PeersCount: 1}
	tests := []struct {
		name string
		edit func(*ConnSet)
	}{
		{"other ip", func(c *ConnSet) { c.IP = ipB }},
		{"other window", func(c *ConnSet) { c.WindowStart, c.WindowEnd = t0+600, t0+1200 }},
		{"other width", func(c *ConnSet) { c.WindowEnd = t0 + 300 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a
			tt.edit(&b)
			if _, err := Merge(a, b, 10); !errors.Is(err, ErrMerge) {
				t.Errorf("Merge = %v, want ErrMerge", err)
			}
		})
	}
}

func TestMergeSketchesEqualSketchOfUnion(t *testing.T) {
	// Two exact halves that together pass the cap, and the same peers split differently with one half estimated:
	// every route must give the sketch of the union, byte for byte.
	var peers []netip.Addr
	for i := range 50 {
		peers = append(peers, netip.AddrFrom4([4]byte{10, 2, 0, byte(i)}))
	}
	set := func(ps []netip.Addr) ConnSet {
		c := ConnSet{WindowStart: t0, WindowEnd: t0 + 600, IP: ipA}
		m, err := Merge(ConnSet{}, c, propertyCap)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			one := c
			one.Peers, one.PeersCount = []netip.Addr{p}, 1
			if m, err = Merge(m, one, propertyCap); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	want := newSketch()
	insertAll(want, peers)
	for _, split := range []int{0, 10, 25, 40, 50} {
		m := mustMerge(t, set(peers[:split]), set(peers[split:]))
		if !m.PeersEstimated || !bytes.Equal(sketchBytes(t, m.sketch), sketchBytes(t, want)) {
			t.Errorf("split at %d: estimated %v, sketch differs from the union's", split, m.PeersEstimated)
		}
	}
}
