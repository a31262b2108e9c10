package schema

// Conns returns the family of final connection sets: one per window and IP, written by the finalizer. The partial
// sets it merges are the Partials family.
func Conns() Family { return conns.clone() }

var conns = Family{
	Name:  "conns",
	Title: "connection sets",
	// conns-* also matches the partials' conns-partial-* indices: their template takes precedence.
	Indices: []string{"conns-*"},
	Fields: []Field{
		{Name: "@timestamp", Type: Date, Source: "window.start"},
		{Name: "window.start", Type: Date, Source: "the start of the flows, rounded down to a multiple of the window length (10 minutes) since the epoch",
			Description: "the window is [start, end)"},
		{Name: "window.end", Type: Date, Source: "window.start plus the window length"},
		{Name: "ip", Type: IP, Source: "srcaddr or dstaddr of an accepted or rejected flow (IPv4-mapped IPv6 addresses count as IPv4)",
			Description: "the IP this set describes"},
		{Name: "peers", Type: IP, Array: true, Source: "the other address of each of its flows",
			Description: "its distinct peers, sorted, when there are at most `KINFLOW_MAX_EXACT_PEERS` (10,000); absent when estimated"},
		{Name: "peers_count", Type: Long, Source: "peers, or the sketch's estimate", Description: "how many distinct peers"},
		{Name: "peers_estimated", Type: Boolean, Source: "more peers than `KINFLOW_MAX_EXACT_PEERS`",
			Description: "true when the set became a HyperLogLog sketch (precision 14: standard error 0.81%)"},
		{Name: "peers_sketch", Type: Binary, Source: "the HyperLogLog sketch (axiomhq/hyperloglog, dense), base64",
			Description: "about 22 KB, present only when estimated, so sets still merge"},
		{Name: "dst_ports", Type: Long, Array: true, Source: "dstport of the TCP, UDP and SCTP flows it sent",
			Description: "its distinct destination ports, sorted"},
		{Name: "dst_ports_count", Type: Long, Source: "dst_ports"},
		{Name: "flows.sent", Type: Long, Source: "the flows it sent (the IP is their srcaddr)"},
		{Name: "flows.received", Type: Long, Source: "the flows it received (the IP is their dstaddr)"},
		{Name: "flows.rejected", Type: Long, Source: "its flows with action REJECT"},
		{Name: "flows.late", Type: Long, Source: "its flows read after the window had closed",
			Description: "they correct the window as a new revision"},
		{Name: "bytes.sent", Type: Long, Source: "bytes of the flows it sent"},
		{Name: "bytes.received", Type: Long, Source: "bytes of the flows it received"},
		{Name: "packets.sent", Type: Long, Source: "packets of the flows it sent"},
		{Name: "packets.received", Type: Long, Source: "packets of the flows it received"},
		{Name: "first_seen", Type: Date, Source: "the earliest start of its flows"},
		{Name: "last_seen", Type: Date, Source: "the latest end of its flows"},
		{Name: "revision", Type: Long, Source: "the finalizer: 1, then +1 for each correction by late data"},
	},
}
