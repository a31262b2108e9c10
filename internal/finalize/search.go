package finalize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/sink"
)

// ErrSearch is wrapped by the errors of reading partials back: the cluster unreachable or answering an error.
// They are transient for the finalizer: the pass stops and the next one redoes the window.
var ErrSearch = errors.New("finalize: searching partials")

// partialWindow is one window that has partials, with its fingerprint.
type partialWindow struct {
	start       int64
	fingerprint string
}

// partialWindows lists the windows starting at from or later that have blocks of partial sets, ascending, each
// with a fingerprint of what its blocks hold: their count and summed flow counters. A late block (a new document)
// or a rewrite that covers more records changes it; a replay that rewrites the same blocks does not.
func (f *Finalizer) partialWindows(ctx context.Context, from int64) ([]partialWindow, error) {
	pattern := f.indices.Prefix + "-conns-partial-*"
	if err := f.refresh(ctx, pattern); err != nil {
		return nil, err
	}
	var out []partialWindow
	var after json.RawMessage
	for {
		composite := map[string]any{
			"size":    1000,
			"sources": []any{map[string]any{"start": map[string]any{"terms": map[string]any{"field": "window.start"}}}},
		}
		if after != nil {
			composite["after"] = after
		}
		body, _ := json.Marshal(map[string]any{
			"size":             0,
			"track_total_hits": false,
			"query": map[string]any{"range": map[string]any{"window.start": map[string]any{
				"gte": from, "format": "epoch_second"}}},
			"aggs": map[string]any{"windows": map[string]any{
				"composite": composite,
				"aggs": map[string]any{
					"sent":     map[string]any{"sum": map[string]any{"field": "flows.sent"}},
					"received": map[string]any{"sum": map[string]any{"field": "flows.received"}},
					"bytes":    map[string]any{"sum": map[string]any{"field": "bytes.sent"}},
				},
			}},
		})
		var res struct {
			Aggregations struct {
				Windows struct {
					AfterKey json.RawMessage `json:"after_key"`
					Buckets  []struct {
						Key struct {
							Start json.Number `json:"start"`
						} `json:"key"`
						DocCount int64 `json:"doc_count"`
						Sent     struct {
							Value float64 `json:"value"`
						} `json:"sent"`
						Received struct {
							Value float64 `json:"value"`
						} `json:"received"`
						Bytes struct {
							Value float64 `json:"value"`
						} `json:"bytes"`
					} `json:"buckets"`
				} `json:"windows"`
			} `json:"aggregations"`
		}
		if err := f.do(ctx, "POST", "/"+pattern+"/_search?ignore_unavailable=true&allow_no_indices=true", body, &res); err != nil {
			return nil, err
		}
		w := &res.Aggregations.Windows
		for _, b := range w.Buckets {
			ms, err := b.Key.Start.Int64()
			if err != nil {
				return nil, fmt.Errorf("%w: window key %q: %v", ErrSearch, b.Key.Start, err)
			}
			out = append(out, partialWindow{
				start: ms / 1000,
				// Sums are doubles in the answer; printed exactly, they only have to change when the partials do.
				fingerprint: fmt.Sprintf("partials=%d flows=%s/%s bytes=%s", b.DocCount,
					strconv.FormatFloat(b.Sent.Value, 'f', -1, 64), strconv.FormatFloat(b.Received.Value, 'f', -1, 64),
					strconv.FormatFloat(b.Bytes.Value, 'f', -1, 64)),
			})
		}
		if len(w.Buckets) == 0 || w.AfterKey == nil {
			return out, nil
		}
		after = w.AfterKey
	}
}

// rangeSets is how many sets (one IP's contribution from one block) the finalizer merges at once: a window holding
// more is merged one range of IP hashes at a time, each range's blocks read and released before the next. At about
// 300 bytes a decoded set with a few peers, a range holds some 30 MB however large the window.
const rangeSets = 100_000

// fetchSets bounds the sets of one _mget of blocks (a block's JSON is about 40 bytes a set), so that no answer nears
// MaxResponseBytes.
const fetchSets = 25_000

// eachSet merges the window's blocks into one connection set per IP and calls fn with each, in the blocks' order
// (the hash of the IP, then the IP), range by range. It leaves out the blocks a replay superseded and reports how
// many. Blocks written while it runs may or may not be seen; the window's fingerprint, taken before, tells the
// next pass.
func (f *Finalizer) eachSet(ctx context.Context, start int64, fn func(aggregate.ConnSet) error) (superseded int, err error) {
	index := f.indices.ConnsPartial(time.Unix(start, 0))
	heads, err := f.blockHeads(ctx, index, start)
	if err != nil {
		return 0, err
	}
	listed := len(heads)
	heads = aggregate.DropSuperseded(heads)
	superseded = listed - len(heads)
	total := 0
	for _, h := range heads {
		total += h.IPs
	}
	ids := make([]string, len(heads))
	for i := range heads {
		ids[i] = heads[i].ID()
	}
	ranges := max(1, (total+rangeSets-1)/rangeSets)
	for r := range ranges {
		lo, hi := uint32(uint64(r)<<32/uint64(ranges)), uint32((uint64(r+1)<<32)/uint64(ranges)-1)
		var in []int // the blocks whose hashes reach into the range
		for i, h := range heads {
			if h.HashFirst <= hi && h.HashLast >= lo {
				in = append(in, i)
			}
		}
		blocks, err := f.readBlocks(ctx, index, in, heads, ids)
		if err != nil {
			return superseded, err
		}
		if err := aggregate.MergeBlocks(blocks, lo, hi, f.cfg.MaxExactPeers, fn); err != nil {
			return superseded, err
		}
	}
	return superseded, nil
}

// blockHeads lists the heads of the window's blocks from their doc values: the sets, most of a block, are not read.
// Per-IP partials of a version before blocks are listed too, each as a block of one set (README: upgrading).
func (f *Finalizer) blockHeads(ctx context.Context, index string, start int64) ([]aggregate.BlockHead, error) {
	inWindow := dateRange("window.start", start, start)
	hasBlock := map[string]any{"exists": map[string]any{"field": "partial.block"}}
	blocks, err := f.listHeads(ctx, index, start, map[string]any{"bool": map[string]any{"filter": []any{inWindow, hasBlock}}},
		"partial.block", "long")
	if err != nil {
		return nil, err
	}
	perIP, err := f.listHeads(ctx, index, start, map[string]any{"bool": map[string]any{"filter": []any{inWindow},
		"must_not": []any{hasBlock}}}, "ip", "ip")
	return append(blocks, perIP...), err
}

// listHeads lists the heads of the documents query matches, sorted by shard, first sequence and last, a field
// that makes the key unique (for search_after).
func (f *Finalizer) listHeads(ctx context.Context, index string, start int64, query map[string]any, last, lastType string) ([]aggregate.BlockHead, error) {
	width := int64(f.cfg.Window / time.Second)
	var heads []aggregate.BlockHead
	req := map[string]any{
		"_source": false, "query": query, "docvalue_fields": headFields,
		// unmapped_type: an index may map only blocks (no ip) or, made before blocks and not yet extended by setup,
		// only per-IP partials (no partial.block); it then has no such documents either.
		"sort": []any{map[string]any{"partial.shard_id": "asc"}, map[string]any{"partial.first_sequence": "asc"},
			map[string]any{last: map[string]any{"order": "asc", "unmapped_type": lastType}}},
	}
	err := f.eachHit(ctx, index, req, func(hit searchHit) error {
		var v headValues
		if err := json.Unmarshal(hit.Fields, &v); err != nil {
			return err
		}
		h, err := v.head(start, start+width)
		if err != nil {
			return err
		}
		if h.ID() != hit.ID {
			return fmt.Errorf("its fields make the id %s: not a partial kinflow wrote", h.ID())
		}
		heads = append(heads, h)
		return nil
	})
	return heads, err
}

var headFields = []string{"partial.shard_id", "partial.first_sequence", "partial.last_sequence", "partial.block",
	"partial.hash_first", "partial.hash_last", "partial.ips", "flows.sent", "flows.received", "bytes.sent", "ip"}

// headValues are a block's doc values as a search returns them: each an array of one value.
type headValues struct {
	ShardID       []string `json:"partial.shard_id"`
	FirstSequence []string `json:"partial.first_sequence"`
	LastSequence  []string `json:"partial.last_sequence"`
	Block         []int    `json:"partial.block"`
	HashFirst     []uint32 `json:"partial.hash_first"`
	HashLast      []uint32 `json:"partial.hash_last"`
	IPs           []int    `json:"partial.ips"`
	FlowsSent     []uint64 `json:"flows.sent"`
	FlowsReceived []uint64 `json:"flows.received"`
	BytesSent     []uint64 `json:"bytes.sent"`
	IP            []string `json:"ip"` // a per-IP partial's
}

func (v *headValues) head(start, end int64) (aggregate.BlockHead, error) {
	last := ""
	if len(v.LastSequence) == 1 {
		last = v.LastSequence[0]
	}
	if len(v.Block) == 0 && len(v.IP) == 1 && len(v.ShardID) == 1 && len(v.FirstSequence) == 1 && len(v.LastSequence) <= 1 &&
		len(v.FlowsSent) == 1 && len(v.FlowsReceived) == 1 && len(v.BytesSent) == 1 {
		ip, err := netip.ParseAddr(v.IP[0])
		if err != nil {
			return aggregate.BlockHead{}, fmt.Errorf("a per-IP partial's ip: %w", err)
		}
		ip = ip.Unmap()
		h := aggregate.HashOf(ip)
		return aggregate.BlockHead{WindowStart: start, WindowEnd: end, ShardID: v.ShardID[0], FirstSequence: v.FirstSequence[0],
			LastSequence: last, HashFirst: h, HashLast: h, IPs: 1, FlowsSent: v.FlowsSent[0], FlowsReceived: v.FlowsReceived[0],
			BytesSent: v.BytesSent[0], PerIP: ip}, nil
	}
	for _, n := range []int{len(v.ShardID), len(v.FirstSequence), len(v.LastSequence), len(v.Block), len(v.HashFirst),
		len(v.HashLast), len(v.IPs), len(v.FlowsSent), len(v.FlowsReceived), len(v.BytesSent)} {
		if n != 1 {
			return aggregate.BlockHead{}, fmt.Errorf("want a block (one value of each of %v) or a per-IP partial", headFields[:10])
		}
	}
	return aggregate.BlockHead{WindowStart: start, WindowEnd: end, ShardID: v.ShardID[0], FirstSequence: v.FirstSequence[0],
		LastSequence: last, Number: v.Block[0], HashFirst: v.HashFirst[0], HashLast: v.HashLast[0],
		IPs: v.IPs[0], FlowsSent: v.FlowsSent[0], FlowsReceived: v.FlowsReceived[0], BytesSent: v.BytesSent[0]}, nil
}

// readBlocks reads the blocks heads[i] for i in which (ids[i] is each one's id) with _mget, a few at a time, and
// checks each against its listed head. A block missing since it was listed is an error: the pass stops and the next
// one lists the window anew.
func (f *Finalizer) readBlocks(ctx context.Context, index string, which []int, heads []aggregate.BlockHead, ids []string) ([]aggregate.Block, error) {
	blocks := make([]aggregate.Block, 0, len(which))
	for len(which) > 0 {
		n, sets := 0, 0
		for n < len(which) && (n == 0 || sets+heads[which[n]].IPs <= fetchSets) {
			sets += heads[which[n]].IPs
			n++
		}
		want := make([]string, n)
		for j, i := range which[:n] {
			want[j] = ids[i]
		}
		body, _ := json.Marshal(map[string]any{"ids": want})
		var res struct {
			Docs []struct {
				ID     string          `json:"_id"`
				Found  bool            `json:"found"`
				Source json.RawMessage `json:"_source"`
			} `json:"docs"`
		}
		if err := f.do(ctx, "POST", "/"+index+"/_mget", body, &res); err != nil {
			return nil, err
		}
		if len(res.Docs) != n {
			return nil, fmt.Errorf("%w: %s: _mget of %d blocks answered %d", ErrSearch, index, n, len(res.Docs))
		}
		// _mget answers in the order of the ids asked for.
		for j, d := range res.Docs {
			h := &heads[which[j]]
			if !d.Found || d.ID != want[j] {
				return nil, fmt.Errorf("%w: %s block %s is gone since the window was listed", ErrSearch, index, want[j])
			}
			decode := aggregate.DecodeBlock
			if h.PerIP.IsValid() {
				decode = aggregate.DecodePerIPPartial
			}
			b, err := decode(d.Source)
			if err != nil {
				// A block kinflow wrote and cannot read back: a bug or a hand-edited index. Stop rather than
				// finalize a window without it; the error names the document.
				return nil, fmt.Errorf("finalize: %s document %s: %w", index, d.ID, err)
			}
			if *h != b.BlockHead {
				return nil, fmt.Errorf("%w: %s block %s changed since the window was listed", ErrSearch, index, d.ID)
			}
			blocks = append(blocks, b)
		}
		which = which[n:]
	}
	return blocks, nil
}

// do sends one request and decodes a 2xx answer into out (nil: discarded).
func (f *Finalizer) do(ctx context.Context, method, path string, body []byte, out any) error {
	if err := sink.DoJSON(ctx, f.search, method, path, body, f.cfg.MaxResponseBytes, out); err != nil {
		return fmt.Errorf("%w: %w", ErrSearch, err)
	}
	return nil
}
