package schema

// Partials returns the family of partial connection sets: blocks of many IPs' sets that one cut (a shard's records
// between two checkpoints, or a segment of an S3 object) contributed to one window, written by aggregate/ and read
// only by the finalizer. The sets themselves are one binary field; the rest is what the finalizer lists a window's
// blocks by.
func Partials() Family { return partials.clone() }

var partials = Family{
	Name:    "partials",
	Title:   "partial connection sets",
	Indices: []string{"conns-partial-*"},
	Fields: []Field{
		{Name: "@timestamp", Type: Date, Source: "window.start"},
		{Name: "window.start", Type: Date, Source: "the window of its sets"},
		{Name: "window.end", Type: Date, Source: "window.start plus the window length"},
		{Name: "flows.sent", Type: Long, Source: "the sum of its sets' flows.sent", Description: "with the two below, the finalizer's fingerprint of a window"},
		{Name: "flows.received", Type: Long, Source: "the sum of its sets' flows.received"},
		{Name: "bytes.sent", Type: Long, Source: "the sum of its sets' bytes.sent"},
		{Name: "partial.shard_id", Type: Keyword, Source: "the Kinesis shard of the records it covers, or an S3 object's bucket and key"},
		{Name: "partial.first_sequence", Type: Keyword, Source: "the sequence number of the first record it covers (an object's first line)",
			Description: "part of the block's id"},
		{Name: "partial.last_sequence", Type: Keyword, Source: "the sequence number of the last record it covers (an object's last line)",
			Description: "tells a block a replay superseded"},
		{Name: "partial.block", Type: Long, Source: "its place among the blocks of its cut and window, from 0",
			Description: "part of the block's id"},
		{Name: "partial.hash_first", Type: Long, Source: "the hash of its first set's IP (high 32 bits of XXH3-64 of the 16-byte address)",
			Description: "blocks hold their sets in hash order; the finalizer merges a window one range of hashes at a time"},
		{Name: "partial.hash_last", Type: Long, Source: "the hash of its last set's IP"},
		{Name: "partial.ips", Type: Long, Source: "how many sets it holds: one per IP"},
		{Name: "partial.data", Type: Binary, Source: "the sets, encoded (aggregate/block.go), base64",
			Description: "not searchable; at most 128 KiB before base64"},
	},
}
