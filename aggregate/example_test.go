package aggregate_test

import (
	"fmt"
	"net/netip"

	"github.com/kinflow/kinflow/aggregate"
)

// A shard's accumulator cuts partial sets at a checkpoint, packed into blocks; the finalizer reads the blocks back
// from the index and merges them into final connection sets.
func Example() {
	cfg := aggregate.DefaultConfig()
	acc, err := aggregate.NewAccumulator(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	web, db := netip.MustParseAddr("10.0.0.10"), netip.MustParseAddr("10.0.0.20")
	start := int64(1795435200) // 2026-11-23T12:00:00Z
	acc.SetWatermark(start)
	for _, f := range []aggregate.Flow{
		{Start: start + 5, End: start + 65, Src: web, Dst: db, DstPort: 5432, Protocol: 6, Bytes: 4000, Packets: 20},
		{Start: start + 9, End: start + 60, Src: netip.MustParseAddr("198.18.0.7"), Dst: web, DstPort: 22, Protocol: 6, Bytes: 44, Packets: 1, Rejected: true},
	} {
		sig, err := acc.Add(f)
		if err != nil {
			fmt.Println("dead letter:", err)
			continue
		}
		if sig.Full() {
			fmt.Println("cut at the end of this record")
		}
	}

	// At the checkpoint: write each block under its id.
	seq := "49590338271490256608559692538361571095921575989136588898"
	var stored [][]byte
	for _, b := range aggregate.Blocks(acc.Cut("shardId-000000000000", seq, seq), aggregate.BlockBytes) {
		stored = append(stored, b.AppendJSON(nil))
	}

	// The finalizer, once the watermark has passed the window's end plus the allowed lateness.
	var blocks []aggregate.Block
	for _, doc := range stored {
		b, err := aggregate.DecodeBlock(doc)
		if err != nil {
			fmt.Println(err)
			return
		}
		blocks = append(blocks, b)
	}
	fmt.Printf("%d block of %d sets\n", len(blocks), blocks[0].IPs)
	finals, err := aggregate.FinalizeBlocks(blocks, cfg.MaxExactPeers, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range finals {
		fmt.Printf("%s peers=%d sent=%d received=%d rejected=%d ports=%v\n",
			f.IP, f.PeersCount, f.FlowsSent, f.FlowsReceived, f.FlowsRejected, f.DstPorts)
	}
	// Output:
	// 1 block of 3 sets
	// 10.0.0.10 peers=2 sent=1 received=1 rejected=1 ports=[5432]
	// 10.0.0.20 peers=1 sent=0 received=1 rejected=0 ports=[]
	// 198.18.0.7 peers=1 sent=1 received=0 rejected=1 ports=[22]
}
