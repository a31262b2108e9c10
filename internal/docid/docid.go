// Package docid computes the deterministic document ids that make every write idempotent: a replayed record, a
// retried bulk request or a re-run finalizer produces the same _id, so the index keeps one copy.
//
// An id is the 128-bit XXH3 hash of the identifying fields (each length-prefixed, so no two field lists share an
// encoding), written as 22 characters of unpadded base64url. 128 bits keep the chance of any collision among 10^12
// documents below 10^-14; XXH3 is a fixed, published algorithm, so ids stay stable across versions and machines.
package docid

import (
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"sync"

	"github.com/zeebo/xxh3"
)

// Len is the length of every id in bytes.
const Len = 22

// Kinds keep ids of different document types apart even when their fields happen to coincide.
const (
	kindFlow    byte = iota + 1
	kindPartial      // one document per (window, ip, cut), before blocks: kept so the kinds after it keep their values
	kindFinal
	kindDeadLetter
	kindObjectLine
	kindBlock
)

// Kinds of the detections' documents, far outside the sequence above, so an alert's id never shares its encoding
// with another document's even as that sequence grows. A signal and the episode it starts have the same rule, IP
// and window: only their kinds tell their ids apart, and they share an index.
const (
	kindSignal  byte = 0x80
	kindEpisode byte = 0x81
)

type builder struct{ buf []byte }

var builders = sync.Pool{New: func() any { return &builder{buf: make([]byte, 0, 512)} }}

func (b *builder) str(s string) {
	b.buf = binary.AppendUvarint(b.buf, uint64(len(s)))
	b.buf = append(b.buf, s...)
}

func (b *builder) bytes(p []byte) {
	b.buf = binary.AppendUvarint(b.buf, uint64(len(p)))
	b.buf = append(b.buf, p...)
}

func (b *builder) int(v int64) { b.buf = binary.AppendVarint(b.buf, v) }

func (b *builder) addr(a netip.Addr) {
	// As16 maps IPv4 into IPv6 space, so 10.0.0.1 and ::ffff:10.0.0.1 get one id: they are one host.
	a16 := a.Unmap().As16()
	b.buf = append(b.buf, a16[:]...)
}

func start(kind byte) *builder {
	b := builders.Get().(*builder)
	b.buf = append(b.buf[:0], kind)
	return b
}

// finish appends the id of the fields written so far to dst and returns the builder to its pool.
func (b *builder) finish(dst []byte) []byte {
	h := xxh3.Hash128(b.buf).Bytes()
	builders.Put(b)
	n := len(dst)
	dst = append(dst, make([]byte, Len)...)
	base64.RawURLEncoding.Encode(dst[n:], h[:])
	return dst
}

// AppendFlow appends the id of the raw flow document for one CloudWatch Logs event. The event id alone is unique
// in AWS; the log group, stream, timestamp and message are included because emulators (moto) number events per put
// call, and because a redelivered event repeats all of them exactly, so duplicates still collapse.
func AppendFlow(dst []byte, logGroup, logStream, eventID string, timestamp int64, message []byte) []byte {
	b := start(kindFlow)
	b.str(logGroup)
	b.str(logStream)
	b.str(eventID)
	b.int(timestamp)
	b.bytes(message)
	return b.finish(dst)
}

// AppendObjectLine appends the id of the document of line number line (from 1) of an S3 object, named by bucket,
// key and identity (its version id, else its ETag: s3obj.ObjectRef.Identity): a redelivered notification or a
// retried object rewrites the same documents, and a new version of the object writes new ones.
func AppendObjectLine(dst []byte, bucket, key, identity string, line int64) []byte {
	b := start(kindObjectLine)
	b.str(bucket)
	b.str(key)
	b.str(identity)
	b.int(line)
	return b.finish(dst)
}

// Flow returns AppendFlow as a string.
func Flow(logGroup, logStream, eventID string, timestamp int64, message []byte) string {
	return string(AppendFlow(make([]byte, 0, Len), logGroup, logStream, eventID, timestamp, message))
}

// Block returns the id of a block of partial connection sets: number counts the blocks that one shard's records
// from firstSeq up to a checkpoint contributed to the window starting at windowStart. Replaying from that checkpoint
// rewrites the same documents.
func Block(windowStart int64, shardID, firstSeq string, number int) string {
	b := start(kindBlock)
	b.int(windowStart)
	b.str(shardID)
	b.str(firstSeq)
	b.int(int64(number))
	return string(b.finish(make([]byte, 0, Len)))
}

// Partial returns the id of a per-IP partial rollup, as versions before blocks wrote them: what one shard
// contributed to (window, ip) from the record with sequence number firstSeq up to a checkpoint. The finalizer still
// reads such documents (aggregate.DecodePerIPPartial).
func Partial(windowStart int64, ip netip.Addr, shardID, firstSeq string) string {
	b := start(kindPartial)
	b.int(windowStart)
	b.addr(ip)
	b.str(shardID)
	b.str(firstSeq)
	return string(b.finish(make([]byte, 0, Len)))
}

// Final returns the id of the final connection set of ip in the window starting at windowStart (Unix seconds).
func Final(windowStart int64, ip netip.Addr) string {
	b := start(kindFinal)
	b.int(windowStart)
	b.addr(ip)
	return string(b.finish(make([]byte, 0, Len)))
}

// DeadLetter returns the id of a dead letter for the record (shardID, seq). item names the part of the record
// that failed (an event id, a line number, a bulk item); it is empty when the whole record failed.
func DeadLetter(shardID, seq, item string) string {
	b := start(kindDeadLetter)
	b.str(shardID)
	b.str(seq)
	b.str(item)
	return string(b.finish(make([]byte, 0, Len)))
}

// Signal returns the id of the signal of the detection rule named rule on ip in the window starting at windowStart
// (Unix seconds): a redo of the window after a crash, or its correction by a later revision, rewrites the same
// document rather than adding one.
func Signal(rule string, ip netip.Addr, windowStart int64) string {
	return detection(kindSignal, rule, ip, windowStart)
}

// Episode returns the id of the alert (the episode) of the detection rule named rule on ip that began in the window
// starting at windowStart.
func Episode(rule string, ip netip.Addr, windowStart int64) string {
	return detection(kindEpisode, rule, ip, windowStart)
}

func detection(kind byte, rule string, ip netip.Addr, windowStart int64) string {
	b := start(kind)
	b.str(rule)
	b.int(windowStart)
	b.addr(ip)
	return string(b.finish(make([]byte, 0, Len)))
}
