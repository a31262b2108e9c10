package detect

import (
	"encoding/base64"
	"encoding/binary"
	"net/netip"

	"github.com/zeebo/xxh3"
)

// Kinds start the hashed fields of the ids. internal/docid numbers its kinds from 1 (flow, partial, final, dead
// letter); 0x80 and up lie far outside that sequence, so an alert's id never shares its encoding with another
// document's, even if docid gains kinds. A signal and the episode it starts have the same rule, IP and window, so
// only their kinds tell their ids apart: they share an index.
const (
	signalKind  = 0x80
	episodeKind = 0x81
)

// ID is the id of the signal a (the rule firing on its IP in its window): SignalID of its rule, IP and window.
func (a Alert) ID() string { return SignalID(a.Rule, a.IP, a.Window.Start) }

// SignalID is the document id of rule r firing on ip in the window starting at start (Unix seconds), deterministic
// from the three: a redo of the window after a crash, or its correction by a later revision, rewrites the same
// document rather than adding one. It is built the way internal/docid builds ids, which exports no composer for
// new kinds: the 128-bit XXH3 hash of a kind byte and the length-prefixed rule name, the window start as a varint
// and the IP as 16 bytes (IPv4 mapped into IPv6, so 10.0.0.1 and ::ffff:10.0.0.1 share an id), written as 22
// characters of unpadded base64url.
func SignalID(r Rule, ip netip.Addr, start int64) string { return id(signalKind, r, ip, start) }

// EpisodeID is the document id of the alert (the episode) of rule r on ip that began in the window starting at
// start.
func EpisodeID(r Rule, ip netip.Addr, start int64) string { return id(episodeKind, r, ip, start) }

func id(kind byte, r Rule, ip netip.Addr, start int64) string {
	var buf [1 + 1 + 32 + binary.MaxVarintLen64 + 16]byte
	b := append(buf[:0], kind)
	name := r.String()
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendVarint(b, start)
	a16 := ip.Unmap().As16()
	b = append(b, a16[:]...)
	h := xxh3.Hash128(b).Bytes()
	return base64.RawURLEncoding.EncodeToString(h[:])
}
