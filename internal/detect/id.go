package detect

import (
	"encoding/base64"
	"encoding/binary"

	"github.com/zeebo/xxh3"
)

// alertKind starts the hashed fields of an alert id. internal/docid numbers its kinds from 1 (flow, partial, final,
// dead letter); 0x80 lies far outside that sequence, so an alert id never shares its encoding with another
// document's, even if docid gains kinds.
const alertKind = 0x80

// ID is the alert's document id, deterministic from (rule, ip, window start): a redo of the window after a crash, or
// its correction by a later revision, rewrites the same document rather than adding one. It is built the way
// internal/docid builds ids, which exports no composer for new kinds: the 128-bit XXH3 hash of a kind byte and the
// length-prefixed rule name, the window start as a varint and the IP as 16 bytes (IPv4 mapped into IPv6, so
// 10.0.0.1 and ::ffff:10.0.0.1 share an id), written as 22 characters of unpadded base64url.
func (a Alert) ID() string {
	var buf [1 + 1 + 32 + binary.MaxVarintLen64 + 16]byte
	b := append(buf[:0], alertKind)
	name := a.Rule.String()
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendVarint(b, a.Window.Start)
	ip := a.IP.Unmap().As16()
	b = append(b, ip[:]...)
	h := xxh3.Hash128(b).Bytes()
	return base64.RawURLEncoding.EncodeToString(h[:])
}
