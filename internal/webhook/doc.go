// Package webhook delivers closed windows' connection sets to an HTTP endpoint: one signed, idempotent POST per
// chunk of a window's finals, retried with jittered backoff on answers that may succeed later, and reported as a
// *DeliveryError (for the caller to dead-letter) when it cannot be delivered.
//
// # Bodies
//
// FormatCompat is what the original connection-set receivers accept, POST .../connection_sets/{bucket_time} with
// the distinct peer count of each IP of the chunk, in ascending IP order and without whitespace:
//
//	{"10.0.0.1":12,"10.0.0.2":3}
//
// FormatRich carries the window, the revision, the chunk's place and every connection set with its counters
// (field names as in the aggregate package's documents; dates RFC 3339 in UTC), plus, in the chunk the finalizer
// fills it in, the window's top IPs by distinct peers:
//
//	{"window":{"start":"2023-11-14T22:20:00Z","end":"2023-11-14T22:30:00Z"},"revision":1,
//	 "chunk":{"index":0,"last":true},"connection_sets":[{"ip":"10.0.0.1","peers":["10.0.0.2"],"peers_count":1,
//	 "peers_estimated":false,"dst_ports":[443],"dst_ports_count":1,"flows":{"sent":1,"received":0,"rejected":0,
//	 "late":0},"bytes":{"sent":60,"received":0},"packets":{"sent":1,"received":0},
//	 "first_seen":"2023-11-14T22:21:00Z","last_seen":"2023-11-14T22:21:05Z"}],"top":[{"ip":"10.0.0.1","peers_count":1}]}
//
// peers is left out when peers_estimated is true (the count is then a HyperLogLog estimate); top only when the
// chunk has one.
//
// # Requests
//
// Every attempt of a chunk sends the same bytes with these same headers: Content-Type: application/json,
// User-Agent: kinflow, Idempotency-Key (IdempotencyKey: window start, revision and chunk index, so a receiver can
// drop a chunk it already has, whichever process or retry sent it), X-Kinflow-Window-Start, X-Kinflow-Revision,
// X-Kinflow-Chunk ("<index>", or "<index>; last") and, when a secret is configured, X-Kinflow-Signature:
// sha256=<lowercase hex HMAC-SHA256(secret, body)>.
//
// The Standard Webhooks headers (https://www.standardwebhooks.com) come with them, so that receivers can use that
// specification's verifier libraries and refuse replays: webhook-id, the Idempotency-Key, the same on every attempt;
// webhook-timestamp, the attempt's time in Unix seconds, so each retry is signed anew; and, when a secret is
// configured, webhook-signature: v1,<padded base64 HMAC-SHA256(key, id.timestamp.body)>, where the key is the
// secret's bytes or, for a secret "whsec_<base64>", the decoded bytes (StandardKey, SignStandard).
//
// Redirects are not followed: a signed POST goes only where it was configured to, and net/http would turn it into a
// GET on 301, 302 and 303.
//
// # Outcomes
//
// A 2xx answer delivers the chunk. 429, 5xx, a transport error or no answer within Config.Timeout are retried
// after the answer's Retry-After (seconds or an HTTP date, capped at Config.MaxRetryAfter) or else a jittered
// exponential backoff, up to Config.MaxAttempts attempts in all; then Deliver returns a *DeliveryError wrapping
// ErrExhausted. Any other answer (3xx, 4xx but 429) is final at once: a *DeliveryError wrapping ErrRejected. When
// the caller's context ends first, Deliver returns an error wrapping ctx.Err() and no DeliveryError: the window
// was neither delivered nor refused, and is to be delivered again later rather than dead-lettered.
package webhook
