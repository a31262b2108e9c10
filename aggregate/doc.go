// Package aggregate owns kinflow's connection sets: event-time windows, per-(window, ip) peer sets and counters,
// the partial rollups one shard contributes between two checkpoints, their merge into final rollups, and the JSON
// documents of both. It is pure: no I/O, no clock (the caller passes the watermark), no AWS or Elasticsearch types.
//
// # Semantics
//
// A Flow belongs to the window of its start time: windows are Config.Window wide (10 minutes by default) and
// aligned to the Unix epoch. A flow src -> dst, accepted or rejected, makes dst a peer of src (src: flows, bytes and
// packets sent; the destination port, for TCP, UDP and SCTP, among src's distinct destination ports) and src a peer
// of dst (dst: received). A rejected flow counts in flows.rejected of both IPs, a late one in flows.late of both
// (once for a flow from an IP to itself). Addresses are normalised: IPv4-mapped IPv6 becomes IPv4, zones are
// dropped. first_seen is the earliest flow start, last_seen the latest flow end.
//
// A flow is late when its window's end plus Config.AllowedLateness (15 minutes by default) is at or before the
// watermark given to Accumulator.SetWatermark. Late flows are aggregated like any other and counted; nothing is
// dropped silently: a flow Add cannot take (an unset address, a start outside 1970..9999) is returned as an error
// wrapping ErrInvalidFlow and counted in Stats.Invalid, for the caller to dead-letter.
//
// # Partials, blocks, cuts and ids
//
// One Accumulator per shard adds the flows of each record. At a checkpoint the caller cuts it with the shard id and
// the sequence numbers of the first and last records since the previous checkpoint: Cut returns one Partial per
// (window, ip); CutBlocks returns the same sets packed into Blocks, the documents the pipeline writes: per window,
// the sets in the hash order of their IPs (HashOf), as few blocks of at most BlockBytes as they fill. A block's id is
// docid.Block(window start, shard, first sequence, number), so a replay from the same checkpoint, cut at the same
// record, rewrites the same documents instead of adding to them; DropSuperseded leaves out what a replay that cut
// elsewhere left behind. When Add reports Full (Config.MaxOpenWindows, MaxTrackedIPs or MaxTrackedPeers reached),
// the caller cuts and checkpoints at the end of the current record: limits are soft and never drop a flow.
// MergeBlocks merges the blocks of a window side by side, one range of hashes at a time if need be; FinalizeBlocks
// does it all in memory, for tests and small inputs.
//
// # Exact sets and sketches
//
// The accumulator keeps peers exactly (MaxTrackedPeers bounds them). A partial or final whose set exceeds
// Config.MaxExactPeers (10,000 by default) carries a HyperLogLog sketch (github.com/axiomhq/hyperloglog, precision
// 14: standard error 1.04/sqrt(2^14) = 0.81%; the tests hold estimates within 3 standard errors, 2.44%) with
// peers_estimated set. Sketches are always dense (16 KiB, about 22 KB of base64 in a document), so a sketch depends
// only on the set it holds: Merge is exactly associative and commutative, sketches included, and the merged
// sketch of a set is byte for byte the sketch built from the set directly. Destination ports stay exact: a sorted
// []uint16, 2 bytes a port.
//
// # Memory
//
// An open partial costs, per (window, ip, peer), one 8-byte key in a hash table kept 3/8 to 3/4 full: 10.7 to 21.3
// bytes; per (window, ip, destination port) the same; per (window, ip) a 96-byte entry plus 12 to 24 bytes of
// index; per distinct address 16 bytes plus 12 to 24. Over the benchmark corpus (169k peers, 5,400 (window, ip)
// pairs) the whole accumulator holds 19.6 bytes per tracked peer, 3.2 MB in all, against 9.9 MB for plain nested
// maps of the same sets (BenchmarkMemory). Cut's partials cost 24 bytes per exact peer (a netip.Addr), about 230
// bytes per (window, ip) and 16 KiB per sketch; CutBlocks' blocks cost their encoding, some 30 bytes per (window, ip)
// of a few peers. Both keep scratch for the next cut (4 bytes per exact peer, 24 to 32 per (window, ip), 36 per
// address). With the default limits an open partial stays under about 60 MB (2,000,000 peers
// at up to 21.3 bytes, 100,000 (window, ip) at up to 120, their addresses at up to 40), its cut under about 85 MB
// more.
package aggregate
