// Package geoip owns where a public address is and which network announces it: country, continent, region, city
// and location from a MaxMind City or Country database (GeoLite2, GeoIP2 or any database of the same shape), and the
// autonomous system number and organization from an ASN database (GeoLite2-ASN, GeoIP2-ISP). The databases are the
// user's: a file, or bytes the caller fetches itself (from S3, say) through a LoadFunc, so this package imports no
// AWS SDK.
//
// DB.Lookup is the hot path. It answers false at once for an address that is not globally reachable (private,
// loopback, link-local, CGNAT, documentation, multicast, ...), without touching a database, and otherwise first asks
// a bounded, lock-free cache keyed by address in front of each database, because walking an mmdb search tree and
// decoding its record costs far more than the rest of enriching a flow. A hit allocates nothing and takes a few
// tens of nanoseconds; see BenchmarkLookup and Config.CacheEntries for the memory bound.
//
// Each database is a Source: DB.Run checks every Config.ReloadInterval whether its file changed (size or
// modification time) or its loader has a new version, opens the new one beside the old and swaps it in with one
// atomic store, together with an empty cache, so lookups never wait for a reload. A reload that fails (a truncated
// download, a file that is not an mmdb, a database of the wrong type) keeps the database in use, is logged once and
// counted in Source.Stats.
//
// What this package does not own: which document fields the answers fill (internal/enrich and the pipeline), and
// fetching databases from MaxMind or S3.
package geoip
