package aggregate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/kinflow/kinflow/internal/jsonw"
)

// A block's document: the registry's partials family (internal/schema, partials.go). Only the head is searchable;
// partial.data, the encoded sets, is binary (stored, not indexed).

// AppendJSON appends the block's document source to dst.
func (b *Block) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"@timestamp":`...)
	dst = jsonw.AppendDateSeconds(dst, b.WindowStart)
	dst = append(dst, `,"window":{"start":`...)
	dst = jsonw.AppendDateSeconds(dst, b.WindowStart)
	dst = append(dst, `,"end":`...)
	dst = jsonw.AppendDateSeconds(dst, b.WindowEnd)
	dst = appendPair(dst, `},"flows":{"sent":`, b.FlowsSent, `,"received":`, b.FlowsReceived)
	dst = append(dst, `},"bytes":{"sent":`...)
	dst = strconv.AppendUint(dst, b.BytesSent, 10)
	dst = append(dst, `},"partial":{"shard_id":`...)
	dst = jsonw.AppendString(dst, b.ShardID)
	dst = append(dst, `,"first_sequence":`...)
	dst = jsonw.AppendString(dst, b.FirstSequence)
	dst = append(dst, `,"last_sequence":`...)
	dst = jsonw.AppendString(dst, b.LastSequence)
	dst = append(dst, `,"block":`...)
	dst = strconv.AppendInt(dst, int64(b.Number), 10)
	dst = appendPair(dst, `,"hash_first":`, uint64(b.HashFirst), `,"hash_last":`, uint64(b.HashLast))
	dst = append(dst, `,"ips":`...)
	dst = strconv.AppendInt(dst, int64(b.IPs), 10)
	dst = append(dst, `,"data":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, b.encode())
	return append(dst, `"}}`...)
}

// blockDoc is a block's document as read back; off the hot path (the finalizer reads each block once or twice), so
// encoding/json.
type blockDoc struct {
	Timestamp *string `json:"@timestamp"`
	Window    *struct{ Start, End *string }
	Flows     struct{ Sent, Received uint64 }
	Bytes     struct{ Sent uint64 }
	Partial   *struct {
		ShardID       *string `json:"shard_id"`
		FirstSequence *string `json:"first_sequence"`
		LastSequence  *string `json:"last_sequence"`
		Block         *int    `json:"block"`
		HashFirst     *uint32 `json:"hash_first"`
		HashLast      *uint32 `json:"hash_last"`
		IPs           *int    `json:"ips"`
		Data          []byte  `json:"data"`
	} `json:"partial"`
}

// DecodeBlock reads a block back from its document source, and checks that its head tells the truth about its sets.
func DecodeBlock(src []byte) (Block, error) {
	var d blockDoc
	if err := json.Unmarshal(src, &d); err != nil {
		return Block{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var b Block
	b.WindowStart, b.WindowEnd = window(d.Timestamp, d.Window, bad)
	p := d.Partial
	if p == nil || p.ShardID == nil || p.FirstSequence == nil || p.LastSequence == nil || p.Block == nil ||
		p.HashFirst == nil || p.HashLast == nil || p.IPs == nil || p.Data == nil {
		bad("partial: shard_id, first_sequence, last_sequence, block, hash_first, hash_last, ips and data are required")
	}
	if err := errors.Join(errs...); err != nil {
		return Block{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	b.ShardID, b.FirstSequence, b.LastSequence, b.Number = *p.ShardID, *p.FirstSequence, *p.LastSequence, *p.Block
	sets, err := decodeSets(p.Data, b.WindowStart, b.WindowEnd)
	if err != nil {
		return Block{}, fmt.Errorf("%w: block %s: %w", ErrDecode, b.ID(), err)
	}
	if len(sets) == 0 {
		return Block{}, fmt.Errorf("%w: block %s holds no set", ErrDecode, b.ID())
	}
	b.Sets, b.hashes, b.IPs = sets, make([]uint32, len(sets)), len(sets)
	for i := range sets {
		b.hashes[i] = HashOf(sets[i].IP)
		b.FlowsSent += sets[i].FlowsSent
		b.FlowsReceived += sets[i].FlowsReceived
		b.BytesSent += sets[i].BytesSent
	}
	b.HashFirst, b.HashLast = b.hashes[0], b.hashes[len(sets)-1]
	if got := (BlockHead{WindowStart: b.WindowStart, WindowEnd: b.WindowEnd, ShardID: b.ShardID,
		FirstSequence: b.FirstSequence, LastSequence: b.LastSequence, Number: b.Number,
		HashFirst: *p.HashFirst, HashLast: *p.HashLast, IPs: *p.IPs,
		FlowsSent: d.Flows.Sent, FlowsReceived: d.Flows.Received, BytesSent: d.Bytes.Sent}); got != b.BlockHead {
		return Block{}, fmt.Errorf("%w: block %s: its head %+v does not match its sets %+v", ErrDecode, b.ID(), got, b.BlockHead)
	}
	return b, nil
}

// DecodePerIPPartial reads a partial document of a version before blocks, one per (window, ip, cut), as a block of
// that one set, so that a window whose partials were written across an upgrade merges whole. Its head names it by
// its IP (BlockHead.PerIP), and DropSuperseded prefers the blocks a replay wrote over it.
func DecodePerIPPartial(src []byte) (Block, error) {
	d, c, err := decode(src)
	if err != nil {
		return Block{}, err
	}
	if d.Partial == nil || d.Partial.ShardID == nil || d.Partial.FirstSequence == nil {
		return Block{}, fmt.Errorf("%w: partial.shard_id or partial.first_sequence missing", ErrDecode)
	}
	h := HashOf(c.IP)
	return Block{BlockHead: BlockHead{WindowStart: c.WindowStart, WindowEnd: c.WindowEnd, ShardID: *d.Partial.ShardID,
		FirstSequence: *d.Partial.FirstSequence, LastSequence: d.Partial.LastSequence, HashFirst: h, HashLast: h, IPs: 1,
		FlowsSent: c.FlowsSent, FlowsReceived: c.FlowsReceived, BytesSent: c.BytesSent, PerIP: c.IP},
		Sets: []ConnSet{c}, hashes: []uint32{h}}, nil
}
