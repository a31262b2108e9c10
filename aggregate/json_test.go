package aggregate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/jsonw"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenPartials are cut from a few flows: an exact set with ports and an IPv6 peer, and (with a cap of 2) an
// estimated one.
func goldenPartials(tb testing.TB) []Partial {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.MaxExactPeers = 2
	a := mustAccumulator(tb, cfg)
	a.SetWatermark(t0 + 3600)
	for _, f := range []Flow{
		{Start: t0 + 10, End: t0 + 70, Src: ipA, Dst: ipB, SrcPort: 49152, DstPort: 443, Protocol: 6, Bytes: 5000, Packets: 12},
		{Start: t0 + 20, End: t0 + 80, Src: ipA, Dst: ipC, SrcPort: 49153, DstPort: 53, Protocol: 17, Bytes: 120, Packets: 2},
		{Start: t0 + 30, End: t0 + 31, Src: ipA, Dst: netip.MustParseAddr("198.18.0.1"), DstPort: 22, Protocol: 6, Bytes: 44, Packets: 1, Rejected: true},
	} {
		if _, err := a.Add(f); err != nil {
			tb.Fatal(err)
		}
	}
	return a.Cut("shardId-000000000003", "49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136599010")
}

// goldenBlocks packs the golden partials into blocks: the exact sets alone, so the golden file stays readable, and
// all of them (the hub's sketch is 16 KiB).
func goldenBlocks(tb testing.TB) (exact, all Block) {
	tb.Helper()
	parts := goldenPartials(tb)
	var exactParts []Partial
	for _, p := range parts {
		if !p.PeersEstimated {
			exactParts = append(exactParts, p)
		}
	}
	e, a := Blocks(exactParts, BlockBytes), Blocks(parts, BlockBytes)
	if len(e) != 1 || len(a) != 1 {
		tb.Fatalf("got %d and %d blocks, want one each", len(e), len(a))
	}
	return e[0], a[0]
}

func TestGolden(t *testing.T) {
	exact, all := goldenBlocks(t)
	finals, err := FinalizeBlocks([]Block{all}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		doc  func([]byte) ([]byte, error)
	}{
		{"block", func(dst []byte) ([]byte, error) { return exact.AppendJSON(dst), nil }},
		{"final-exact", finals[len(finals)-1].AppendJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.doc([]byte("prefix:"))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := bytes.CutPrefix(got, []byte("prefix:"))
			if !ok {
				t.Fatal("AppendJSON did not append")
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			golden.File(t, *update, filepath.Join("testdata", tt.name+".json"), append(got, '\n'))
		})
	}
}

func TestRoundTrip(t *testing.T) {
	_, all := goldenBlocks(t)
	opts := cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreUnexported(ConnSet{}, Block{})}
	src := all.AppendJSON(nil)
	back, err := DecodeBlock(src)
	if err != nil {
		t.Fatalf("DecodeBlock(%s): %v", src, err)
	}
	if diff := cmp.Diff(all, back, opts); diff != "" {
		t.Errorf("round trip (-packed +decoded):\n%s", diff)
	}
	if again := back.AppendJSON(nil); !bytes.Equal(again, src) {
		t.Errorf("re-encoded differently:\n%s\n%s", src, again)
	}
	if back.ID() != all.ID() {
		t.Errorf("id %s, want %s", back.ID(), all.ID())
	}
	for i := range back.Sets {
		if got, want := back.Sets[i].PeersEstimated, all.Sets[i].PeersEstimated; got != want || (got && !bytes.Equal(
			sketchBytes(t, back.Sets[i].sketch), sketchBytes(t, all.Sets[i].sketch))) {
			t.Errorf("set %v: sketch not carried over", back.Sets[i].IP)
		}
		f := Final{Revision: 4, ConnSet: back.Sets[i]}
		fsrc, err := f.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		fback, err := DecodeFinal(fsrc)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(f, fback, opts); diff != "" {
			t.Errorf("final round trip (-want +decoded):\n%s", diff)
		}
	}
}

func TestBlocksSplit(t *testing.T) {
	a := mustAccumulator(t, DefaultConfig())
	for _, f := range ordinaryFlows(t, 7, 20) {
		if _, err := a.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	parts := a.Cut("shardId-000000000001", "100", "200")
	const maxBytes = 2000
	blocks := Blocks(parts, maxBytes)
	windows := map[int64]int{} // blocks per window
	var sets int
	for i := range blocks {
		b := &blocks[i]
		if b.Number != windows[b.WindowStart] {
			t.Errorf("block %d of window %d is numbered %d", windows[b.WindowStart], b.WindowStart, b.Number)
		}
		windows[b.WindowStart]++
		if n := len(b.encode()); n > maxBytes+8 && len(b.Sets) > 1 {
			t.Errorf("block %d of window %d: %d bytes for %d sets, over %d", b.Number, b.WindowStart, n, len(b.Sets), maxBytes)
		}
		if i > 0 && blocks[i-1].WindowStart == b.WindowStart && blocks[i-1].HashLast > b.HashFirst {
			t.Errorf("block %d of window %d starts at hash %d, before the previous block's end %d", b.Number, b.WindowStart, b.HashFirst, blocks[i-1].HashLast)
		}
		back, err := DecodeBlock(b.AppendJSON(nil))
		if err != nil {
			t.Fatal(err)
		}
		if back.BlockHead != b.BlockHead {
			t.Errorf("head %+v decoded as %+v", b.BlockHead, back.BlockHead)
		}
		sets += len(b.Sets)
	}
	if sets != len(parts) || len(blocks) <= len(windows) {
		t.Errorf("%d partials in %d windows packed into %d blocks holding %d sets: want every partial once, in more blocks than windows",
			len(parts), len(windows), len(blocks), sets)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "block.json"))
	if err != nil {
		t.Fatal(err)
	}
	exact, _ := goldenBlocks(t)
	data := base64.StdEncoding.EncodeToString(exact.encode())
	tests := []struct {
		name, from, to, want string
	}{
		{"not json", `{`, `[`, "invalid character"},
		{"bad date", `"@timestamp":"`, `"@timestamp":"yesterday`, "@timestamp"},
		{"timestamp", `"@timestamp":"2026-11-23T12:00:00Z"`, `"@timestamp":"2026-11-23T12:10:00Z"`, "@timestamp"},
		{"inverted window", `"end":"2026-11-23T12:10:00Z"`, `"end":"2026-11-23T11:10:00Z"`, "want an end 1s to 24h"},
		{"no shard", `"shard_id"`, `"shard"`, "shard_id, first_sequence"},
		{"ips", `"ips":3`, `"ips":4`, "does not match its sets"},
		{"sums", `"flows":{"sent":0`, `"flows":{"sent":4`, "does not match its sets"},
		{"hash", `"hash_first":`, `"hash_first":1`, "does not match its sets"},
		{"not base64", `"data":"`, `"data":"!`, "illegal base64"},
		{"truncated", data, data[:len(data)-8], "beyond the"},
		{"version", `"data":"A`, `"data":"C`, "version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(string(good), tt.from, tt.to, 1)
			if src == string(good) {
				t.Fatalf("%q not in the golden block", tt.from)
			}
			_, err := DecodeBlock([]byte(src))
			if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("DecodeBlock = %v, want ErrDecode mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := DecodeFinal(good); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("DecodeFinal of a block = %v, want a field missing", err)
	}
}

// TestDecodeSetsErrors breaks the encoding of sets in the ways a reader must refuse: each would let a set be
// counted twice or a garbage value reach a final.
func TestDecodeSetsErrors(t *testing.T) {
	set := func(ip string, peers ...string) ConnSet {
		c := ConnSet{WindowStart: t0, WindowEnd: t0 + 600, IP: netip.MustParseAddr(ip), FirstSeen: t0, LastSeen: t0 + 60, FlowsSent: 1}
		for _, p := range peers {
			c.Peers = append(c.Peers, netip.MustParseAddr(p))
		}
		c.PeersCount = uint64(len(c.Peers))
		return c
	}
	encode := func(sets ...ConnSet) []byte { return (&Block{Sets: sets}).encode() }
	a, b := set("10.0.0.1", "10.0.0.2"), set("10.0.0.2", "10.0.0.1")
	if HashOf(a.IP) > HashOf(b.IP) {
		a, b = b, a
	}
	ports := set("10.0.0.3")
	ports.DstPorts = []uint16{80, 80}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"out of order", encode(b, a), "out of order"},
		{"twice", encode(a, a), "out of order"},
		{"ports not ascending", encode(ports), "ports not ascending"},
		{"peers not ascending", encode(set("10.0.0.4", "10.0.0.9", "10.0.0.9")), "peers not ascending"},
		{"mapped address", append([]byte{1, 1, 16}, netip.MustParseAddr("::ffff:10.0.0.1").AsSlice()...), "IPv4-mapped"},
		{"trailing bytes", append(encode(a), 0), "after the last set"},
		{"huge count", []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}, "beyond"},
		{"empty", nil, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeSets(tt.data, t0, t0+600); !errors.Is(err, ErrBlock) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decodeSets = %v, want ErrBlock mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := decodeSets(encode(a, b), t0, t0+600); err != nil {
		t.Errorf("the sets in order: %v", err)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"shardId-000000000001", `a"b\c`, "tab\tnul\x00", "ünï", "bad \xff utf8"} {
		b := jsonw.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q -> %s: %v", s, b, err)
		} else if want := strings.ToValidUTF8(s, "\ufffd"); back != want {
			t.Errorf("%q -> %s -> %q", s, b, back)
		}
	}
}

// A per-IP partial of a version before blocks (testdata/per-ip-partial.json, written by one) reads as a block of its
// one set, named by its old id, and merges with blocks.
func TestDecodePerIPPartial(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "per-ip-partial.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodePerIPPartial(src)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("2600:1f18::c")
	if b.IPs != 1 || b.PerIP != ip || b.Sets[0].IP != ip || b.HashFirst != HashOf(ip) || b.HashLast != b.HashFirst {
		t.Errorf("head %+v, sets %v: want one set of %v", b.BlockHead, b.Sets, ip)
	}
	if want := docid.Partial(b.WindowStart, ip, b.ShardID, b.FirstSequence); b.ID() != want {
		t.Errorf("id %s, want the per-IP partial's %s", b.ID(), want)
	}
	exact, _ := goldenBlocks(t)
	other := exact
	other.ShardID = "shardId-000000000004" // another shard's block of the same window
	finals, err := FinalizeBlocks([]Block{b, other}, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range finals {
		if f.IP == ip && (f.FlowsReceived != 2 || f.PeersCount != 1) {
			t.Errorf("%v merged with a block of another shard: %+v", ip, f.ConnSet)
		}
	}
	if _, err := DecodePerIPPartial([]byte(strings.Replace(string(src), `"shard_id"`, `"shard"`, 1))); !errors.Is(err, ErrDecode) {
		t.Errorf("without partial.shard_id: %v, want ErrDecode", err)
	}
}

// FuzzDecodePerIPPartial: whatever decodes is a block of one set whose head matches it.
func FuzzDecodePerIPPartial(f *testing.F) {
	for _, name := range []string{"per-ip-partial", "final-exact"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		b, err := DecodePerIPPartial(src)
		if err != nil {
			return
		}
		if len(b.Sets) != 1 || b.IPs != 1 || b.PerIP != b.Sets[0].IP || b.HashFirst != HashOf(b.PerIP) {
			t.Fatalf("decoded %s as %+v", src, b.BlockHead)
		}
	})
}

// FuzzDecodeBlock: whatever decodes must encode, and decode again to the same document.
func FuzzDecodeBlock(f *testing.F) {
	for _, name := range []string{"block", "final-exact"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		b, err := DecodeBlock(src)
		if err != nil {
			return
		}
		once := b.AppendJSON(nil)
		c, err := DecodeBlock(once)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", once, err)
		}
		if twice := c.AppendJSON(nil); !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%s\n%s", once, twice)
		}
	})
}

// FuzzDecodeSets: the binary encoding of sets, which DecodeBlock reaches only through valid base64 and a head that
// matches: whatever decodes encodes, and decodes again to the same sets.
func FuzzDecodeSets(f *testing.F) {
	exact, all := goldenBlocks(f)
	f.Add(exact.encode())
	f.Add(all.encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		sets, err := decodeSets(data, t0, t0+600)
		if err != nil {
			return
		}
		b := Block{Sets: sets}
		once := b.encode()
		again, err := decodeSets(once, t0, t0+600)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if twice := (&Block{Sets: again}).encode(); !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%x\n%x", once, twice)
		}
	})
}

// CutBlocks encodes straight from the accumulator what Blocks packs from Cut's partials: the same documents, byte
// for byte, over ordinary traffic, a fan-out past the exact cap (sketches) and small blocks.
func TestCutBlocksIsBlocksOfCut(t *testing.T) {
	small := DefaultConfig()
	small.MaxExactPeers = 8
	for _, tt := range []struct {
		name     string
		cfg      Config
		maxBytes int
	}{{"defaults", DefaultConfig(), BlockBytes}, {"small cap, small blocks", small, 300}} {
		t.Run(tt.name, func(t *testing.T) {
			flows := append(ordinaryFlows(t, 5, 40), attackFlows(t, 300)...)
			a, b := mustAccumulator(t, tt.cfg), mustAccumulator(t, tt.cfg)
			for round := range 2 { // a second cut reuses the scratch of the first
				for _, f := range flows[round*len(flows)/2 : (round+1)*len(flows)/2] {
					if _, err := a.Add(f); err != nil {
						t.Fatal(err)
					}
					b.Add(f)
				}
				seq := fmt.Sprint(round)
				want := Blocks(a.Cut("shardId-000000000001", seq, seq), tt.maxBytes)
				got := b.CutBlocks("shardId-000000000001", seq, seq, tt.maxBytes)
				if len(got) != len(want) || len(want) < 2 {
					t.Fatalf("round %d: %d blocks, want %d (at least 2)", round, len(got), len(want))
				}
				for i := range want {
					if g, w := got[i].AppendJSON(nil), want[i].AppendJSON(nil); !bytes.Equal(g, w) {
						t.Fatalf("round %d, block %d:\n%s\nwant\n%s", round, i, g, w)
					}
				}
			}
		})
	}
}
