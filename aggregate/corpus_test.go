package aggregate

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sketchTolerance is the relative error the tests accept of an estimated peer count: three standard errors of a
// precision 14 HyperLogLog, 3 * 1.04/sqrt(2^14) = 2.44%. Small sets (only with a cap far below the default) may also
// be off by the peers that share a register, so the tests accept whichever is larger of 2.44% and 2 peers.
var sketchTolerance = 3 * 1.04 / math.Sqrt(1<<sketchPrecision)

func withinSketchError(estimate uint64, exact int) bool {
	return math.Abs(float64(estimate)-float64(exact)) <= max(sketchTolerance*float64(exact), 2)
}

// A record is one Kinesis record of the simulated stream: a sequence number, the watermark the consumer had when
// it processed the record, and the record's flows.
type record struct {
	seq       string
	watermark int64
	flows     []Flow
}

type refKey struct {
	start int64
	ip    netip.Addr
}

// refSet is the brute-force connection set: plain maps, no limits, no sketches.
type refSet struct {
	ConnSet
	peers map[netip.Addr]struct{}
	ports map[uint16]struct{}
}

// reference computes, flow by flow and by the book, what the merged finals must hold.
func reference(shards [][]record, cfg Config) map[refKey]*refSet {
	width, lateness := int64(cfg.Window/time.Second), int64(cfg.AllowedLateness/time.Second)
	ref := map[refKey]*refSet{}
	get := func(start int64, ip netip.Addr) *refSet {
		k := refKey{start, ip}
		s := ref[k]
		if s == nil {
			s = &refSet{peers: map[netip.Addr]struct{}{}, ports: map[uint16]struct{}{}}
			s.WindowStart, s.WindowEnd, s.IP = start, start+width, ip
			s.FirstSeen, s.LastSeen = math.MaxInt64, math.MinInt64
			ref[k] = s
		}
		return s
	}
	for _, recs := range shards {
		for _, r := range recs {
			for _, f := range r.flows {
				start := f.Start / width * width
				late := start+width+lateness <= r.watermark
				src, dst := get(start, f.Src.Unmap()), get(start, f.Dst.Unmap())
				src.FlowsSent++
				src.BytesSent += f.Bytes
				src.PacketsSent += f.Packets
				src.peers[f.Dst.Unmap()] = struct{}{}
				if f.Protocol == 6 || f.Protocol == 17 || f.Protocol == 132 {
					src.ports[f.DstPort] = struct{}{}
				}
				dst.FlowsReceived++
				dst.BytesReceived += f.Bytes
				dst.PacketsReceived += f.Packets
				dst.peers[f.Src.Unmap()] = struct{}{}
				ends := []*refSet{src, dst}
				if src == dst {
					ends = ends[:1] // a flow from an IP to itself is rejected or late once
				}
				for _, s := range ends {
					s.FirstSeen, s.LastSeen = min(s.FirstSeen, f.Start), max(s.LastSeen, f.Start, f.End)
					if f.Rejected {
						s.FlowsRejected++
					}
					if late {
						s.FlowsLate++
					}
				}
			}
		}
	}
	for _, s := range ref {
		s.Peers = slices.SortedFunc(maps.Keys(s.peers), netip.Addr.Compare)
		s.PeersCount = uint64(len(s.Peers))
		if len(s.ports) > 0 {
			s.DstPorts = slices.Sorted(maps.Keys(s.ports))
		}
	}
	return ref
}

// splitShards shuffles flows and deals them to shards, in records of 1 to 40 flows. Each shard's watermark trails
// the latest start it has seen by 20 minutes, so shuffled flows are late now and then.
func splitShards(rng *rand.Rand, flows []Flow, shards int) [][]record {
	flows = slices.Clone(flows)
	rng.Shuffle(len(flows), func(i, j int) { flows[i], flows[j] = flows[j], flows[i] })
	out := make([][]record, shards)
	latest := make([]int64, shards)
	for len(flows) > 0 {
		s := rng.IntN(shards)
		n := min(len(flows), 1+rng.IntN(40))
		r := record{seq: fmt.Sprintf("4959%052d", len(out[s])*7+3), flows: flows[:n:n]}
		for _, f := range r.flows {
			latest[s] = max(latest[s], f.Start)
		}
		r.watermark = latest[s] - 20*60
		out[s] = append(out[s], r)
		flows = flows[n:]
	}
	return out
}

// consume runs one shard the way the pipeline does: records in batches, a cut (and a checkpoint) at the end of a
// batch or when Add reports a limit, partials written by id so a rewrite replaces. It crashes now and then: before
// writing, after an arbitrary prefix of the batch (the replay starts over from the checkpoint), and after writing
// but before checkpointing: then the replay covers at least the same records (a redelivered batch) or, when
// earlierCuts is set, may cut earlier (a smaller Lambda batch): either may leave stale blocks for DropSuperseded.
// blockBytes bounds the blocks: small, a cut makes many, and a replay's blocks differ from the lost run's in number.
func consume(tb testing.TB, rng *rand.Rand, cfg Config, blockBytes int, shardID string, recs []record, index map[string][]byte, earlierCuts bool) (crashes, cuts int) {
	tb.Helper()
	checkpoint, atLeast := 0, 0
	for checkpoint < len(recs) {
		acc := mustAccumulator(tb, cfg)
		end := min(len(recs), max(checkpoint+1+rng.IntN(25), atLeast))
		i := checkpoint
		for i < end {
			acc.SetWatermark(recs[i].watermark)
			full := false
			for _, f := range recs[i].flows {
				sig, err := acc.Add(f)
				if err != nil {
					tb.Fatalf("Add(%+v): %v", f, err)
				}
				full = full || sig.Full()
			}
			i++
			if full {
				break
			}
		}
		if rng.IntN(6) == 0 { // crash before the cut: the records since the checkpoint are replayed
			crashes++
			continue
		}
		for _, b := range Blocks(acc.Cut(shardID, recs[checkpoint].seq, recs[i-1].seq), blockBytes) {
			index[b.ID()] = b.AppendJSON(nil)
		}
		cuts++
		if rng.IntN(6) == 0 { // crash after writing, before the checkpoint
			crashes++
			if !earlierCuts || rng.IntN(2) == 0 {
				atLeast = i
			}
			continue
		}
		checkpoint, atLeast = i, 0
	}
	return crashes, cuts
}

func TestAgainstReference(t *testing.T) {
	small := DefaultConfig()
	small.Window, small.AllowedLateness = 5*time.Minute, 5*time.Minute
	small.MaxExactPeers, small.MaxOpenWindows, small.MaxTrackedIPs, small.MaxTrackedPeers = 8, 4, 300, 3000
	// Limits a batch never reaches, so a replay's cut falls where its batch ends, earlier than the lost run's now
	// and then.
	roomy := small
	roomy.MaxOpenWindows, roomy.MaxTrackedIPs, roomy.MaxTrackedPeers = 1024, 1_000_000, 10_000_000
	tests := []struct {
		name        string
		cfg         Config
		shards      int
		earlierCuts bool
		blockBytes  int
		flows       func(testing.TB) []Flow
	}{
		{"defaults, fan-out past the cap", DefaultConfig(), 4, false, BlockBytes, func(tb testing.TB) []Flow {
			batches := 300
			if testing.Short() {
				batches = 50
			}
			return append(ordinaryFlows(tb, 1, batches), attackFlows(tb, 12_000)...)
		}},
		{"small cap and limits", small, 3, false, 400, func(tb testing.TB) []Flow {
			return append(ordinaryFlows(tb, 2, 150), attackFlows(tb, 300)...)
		}},
		{"replays that cut earlier", roomy, 3, true, 300, func(tb testing.TB) []Flow {
			return append(ordinaryFlows(tb, 4, 150), attackFlows(tb, 300)...)
		}},
		{"one shard, one-minute windows", Config{Window: time.Minute, AllowedLateness: 0, MaxExactPeers: 100,
			MaxOpenWindows: 8, MaxTrackedIPs: 5000, MaxTrackedPeers: 50_000}, 1, false, 4000, func(tb testing.TB) []Flow {
			return ordinaryFlows(tb, 3, 100)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(len(tt.name)), 42))
			shards := splitShards(rng, tt.flows(t), tt.shards)
			index := map[string][]byte{}
			var crashes, cuts int
			for s, recs := range shards {
				c, n := consume(t, rng, tt.cfg, tt.blockBytes, fmt.Sprintf("shardId-%012d", s), recs, index, tt.earlierCuts)
				crashes, cuts = crashes+c, cuts+n
			}
			t.Logf("%d shards, %d cuts, %d crashes, %d blocks", tt.shards, cuts, crashes, len(index))
			if crashes == 0 {
				t.Fatal("the simulation never crashed; the replay path went untested")
			}

			// The finalizer reads blocks back from the index in no particular order, some of them twice.
			var blocks []Block
			for _, src := range index {
				b, err := DecodeBlock(src)
				if err != nil {
					t.Fatalf("DecodeBlock(%s): %v", src, err)
				}
				blocks = append(blocks, b)
				if rng.IntN(10) == 0 {
					blocks = append(blocks, b)
				}
			}
			rng.Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
			finals, err := FinalizeBlocks(blocks, tt.cfg.MaxExactPeers, 1)
			if err != nil {
				t.Fatal(err)
			}
			checkFinals(t, finals, reference(shards, tt.cfg), tt.cfg.MaxExactPeers)
		})
	}
}

func checkFinals(t *testing.T, finals []Final, ref map[refKey]*refSet, limit int) {
	t.Helper()
	if len(finals) != len(ref) {
		t.Errorf("%d finals, want %d", len(finals), len(ref))
	}
	var estimated, late int
	var worst float64 // relative error of the estimates
	for _, f := range finals {
		want := ref[refKey{f.WindowStart, f.IP}]
		if want == nil {
			t.Errorf("final for %v in window %d, which the reference has not", f.IP, f.WindowStart)
			continue
		}
		late += int(f.FlowsLate)
		got := f.ConnSet
		if len(want.Peers) > limit {
			estimated++
			if !got.PeersEstimated {
				t.Errorf("%v@%d: %d peers, more than the cap %d, yet exact", f.IP, f.WindowStart, len(want.Peers), limit)
			}
			worst = max(worst, math.Abs(float64(got.PeersCount)/float64(len(want.Peers))-1))
			if !withinSketchError(got.PeersCount, len(want.Peers)) {
				t.Errorf("%v@%d: estimated %d peers, want %d within %.2f%%", f.IP, f.WindowStart, got.PeersCount,
					len(want.Peers), 100*sketchTolerance)
			}
			// Dense sketches are canonical: the merged one must be the very sketch of the reference set.
			sk := newSketch()
			insertAll(sk, want.Peers)
			if a, b := sketchBytes(t, sk), sketchBytes(t, got.sketch); !bytes.Equal(a, b) {
				t.Errorf("%v@%d: merged sketch differs from the sketch of the reference set (estimate %d)", f.IP, f.WindowStart, sk.Estimate())
			}
			got.PeersCount, got.Peers = want.PeersCount, want.Peers
		}
		if diff := cmp.Diff(want.ConnSet, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreUnexported(ConnSet{}), cmpopts.IgnoreFields(ConnSet{}, "PeersEstimated")); diff != "" {
			t.Errorf("%v@%d (-reference +merged):\n%s", f.IP, f.WindowStart, diff)
		}
	}
	if late == 0 {
		t.Error("no flow was late; the late path went untested")
	}
	t.Logf("%d connection sets, %d estimated (worst error %.2f%%), %d late flow ends", len(finals), estimated, 100*worst, late)
}

func sketchBytes(tb testing.TB, sk *hyperloglog.Sketch) []byte {
	tb.Helper()
	b, err := sk.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
