// Package sink owns writing documents to Elasticsearch or Amazon OpenSearch Service: the Sink interface, the bulk
// engine (batching by bytes, count and interval; bounded concurrent requests; per-item results with retry of only
// the failed items; dead letters), the index templates and their installation, index names, and the metrics.
//
// The engine speaks the _bulk protocol over a small Client seam; internal/sink/elastic (go-elasticsearch) and
// internal/sink/opensearch (opensearch-go, with SigV4) provide the clients. The contract with the caller is
// DESIGN.md's first invariant: Write returns nil only when every document is durable or dead-lettered; transient
// failures are retried with capped, jittered backoff until the caller's context ends; nothing is ever dropped.
//
// The engine's concerns, one file each: engine.go is the BulkSink and its Write and Close; batch.go encodes a
// Write's documents into bulk lines and cuts them into requests; worker.go sends a request and reads its answer;
// retry.go classifies answers through internal/retry and drives the backoff; tracking.go settles every document of
// a Write exactly once; metrics.go counts it all. document.go, deadletter.go and indices.go hold the types callers
// build documents with, and templates.go the index templates.
package sink
