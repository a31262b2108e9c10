package schema

// LoadBalancers returns the family of load-balancer access-log documents: one per line of an Application Load
// Balancer (ALB), a Network Load Balancer's TLS listener (NLB) or a Classic Load Balancer (ELB), written by
// internal/format/alb, nlb and elb. The three share one family, and so one index pattern and one mapping: a
// field the formats have in common (client, target, status, TLS, bytes) has one name and one type whatever
// wrote it, so a search across load balancers needs no per-format query.
func LoadBalancers() Family { return loadBalancers.clone() }

// An LBFormat is one of the load-balancer access-log formats, as a set so that a row can name several.
type LBFormat uint8

const (
	LBFormatALB LBFormat = 1 << iota
	LBFormatNLB
	LBFormatELB

	lbAll = LBFormatALB | LBFormatNLB | LBFormatELB
)

// LoadBalancerFields returns the rows of the load-balancer family that the documents of format can hold, in
// document order: what that format's encoder must write, no more and no less.
func LoadBalancerFields(format LBFormat) []Field {
	all := loadBalancers.clone()
	var out []Field
	for i, r := range all.Fields {
		if lbFormats[i]&format != 0 {
			out = append(out, r)
		}
	}
	return out
}

// lbRow is a row with the formats whose documents carry it.
type lbRow struct {
	formats LBFormat
	Field
}

// lbRows is in document order: the encoders write the members of each object in the order their rows come here.
// A field without an ECS home lands under aws.elb.<its AWS name>, where Elastic's AWS integration puts it too;
// durations carry their unit in the name, since the registry has no float type to hold AWS's seconds.
// Sources name the AWS fields as AWS's documentation does (client:port); a row of several formats says which
// field of each when they differ.
var lbRows = []lbRow{
	{lbAll, Field{Name: "@timestamp", Type: Date, Source: "time (ALB: the response was sent; NLB: the connection ended), timestamp (ELB: the request arrived)"}},
	{lbAll, Field{Name: "event.kind", Type: Keyword, Source: `"event"`}},
	{lbAll, Field{Name: "event.category", Type: Keyword, Array: true, Source: `["web"] (ALB, ELB), ["network"] (NLB)`}},
	{lbAll, Field{Name: "event.dataset", Type: Keyword, Source: "aws.alb, aws.nlb or aws.elb"}},
	{lbAll, Field{Name: "event.duration", Type: Long, Source: "the sum of the processing times that were measured (ALB, ELB), connection_time (NLB)",
		Description: "nanoseconds; absent when no time was measured"}},
	{lbAll, Field{Name: "event.outcome", Type: Keyword, Source: "elb_status_code: success below 400, failure from 400 (ALB, ELB); tls_protocol_version: success when TLS was negotiated (NLB)"}},
	{LBFormatALB | LBFormatNLB, Field{Name: "event.start", Type: Date, Source: "request_creation_time (ALB), tls_connection_creation_time (NLB)"}},
	{LBFormatALB | LBFormatNLB, Field{Name: "event.end", Type: Date, Source: "time"}},
	{lbAll, Field{Name: "source.ip", Type: IP, Source: "client:port", Description: "a proxy in front of the load balancer, when there is one"}},
	{lbAll, Field{Name: "source.port", Type: Long, Source: "client:port"}},
	{lbAll, Field{Name: "destination.ip", Type: IP, Source: "target:port (ALB), destination:port (NLB: the listener or VPC endpoint), backend:port (ELB)"}},
	{lbAll, Field{Name: "destination.port", Type: Long, Source: "target:port, destination:port, backend:port"}},
	{LBFormatALB | LBFormatELB, Field{Name: "http.request.method", Type: Keyword, Source: `"request": its method`}},
	{LBFormatALB | LBFormatELB, Field{Name: "http.version", Type: Keyword, Source: `"request": its protocol's version (1.1 of HTTP/1.1)`}},
	{LBFormatALB | LBFormatELB, Field{Name: "http.response.status_code", Type: Long, Source: "elb_status_code", Description: "the load balancer's answer to the client"}},
	{LBFormatALB | LBFormatELB, Field{Name: "url.original", Type: Keyword, Source: `"request": its URL`}},
	{LBFormatALB | LBFormatELB, Field{Name: "url.scheme", Type: Keyword, Source: `"request": the URL's scheme`}},
	{LBFormatALB | LBFormatELB, Field{Name: "url.domain", Type: Keyword, Source: `"request": the URL's host`}},
	{LBFormatALB | LBFormatELB, Field{Name: "url.port", Type: Long, Source: `"request": the URL's port`}},
	{LBFormatALB | LBFormatELB, Field{Name: "url.path", Type: Keyword, Source: `"request": the URL's path`}},
	{LBFormatALB | LBFormatELB, Field{Name: "url.query", Type: Keyword, Source: `"request": the URL's query, without '?'`}},
	{LBFormatALB | LBFormatELB, Field{Name: "user_agent.original", Type: Keyword, Source: `"user_agent"`}},
	{lbAll, Field{Name: "tls.cipher", Type: Keyword, Source: "ssl_cipher (ALB, ELB), tls_cipher (NLB)", Description: "OpenSSL's name"}},
	{lbAll, Field{Name: "tls.version", Type: Keyword, Source: "ssl_protocol (ALB, ELB), tls_protocol_version (NLB): 1.2 of TLSv1.2 or tlsv12"}},
	{lbAll, Field{Name: "tls.version_protocol", Type: Keyword, Source: "ssl_protocol, tls_protocol_version: tls or ssl"}},
	{LBFormatNLB, Field{Name: "tls.established", Type: Boolean, Source: "tls_protocol_version: whether TLS was negotiated"}},
	{LBFormatALB | LBFormatNLB, Field{Name: "tls.client.server_name", Type: Keyword, Source: `"domain_name" (ALB), domain_name (NLB)`,
		Description: "the SNI the client sent (URL-encoded by the NLB)"}},
	{LBFormatNLB, Field{Name: "tls.next_protocol", Type: Keyword, Source: "alpn_fe_protocol", Description: "the ALPN protocol agreed with the client"}},
	{lbAll, Field{Name: "cloud.provider", Type: Keyword, Source: `"aws"`}},
	{lbAll, Field{Name: "aws.elb.name", Type: Keyword, Source: "elb", Description: "the load balancer's resource id (app/name/id, net/name/id) or name (ELB)"}},
	{LBFormatALB | LBFormatNLB, Field{Name: "aws.elb.type", Type: Keyword, Source: "type: http, https, h2, grpcs, ws, wss (ALB); tls (NLB)"}},
	{LBFormatNLB, Field{Name: "aws.elb.version", Type: Keyword, Source: "version", Description: "of the log entry's format"}},
	{LBFormatNLB, Field{Name: "aws.elb.listener", Type: Keyword, Source: "listener"}},
	{LBFormatALB, Field{Name: "aws.elb.target_group_arn", Type: Keyword, Source: "target_group_arn"}},
	{LBFormatALB, Field{Name: "aws.elb.trace_id", Type: Keyword, Source: `"trace_id"`, Description: "the X-Amzn-Trace-Id header"}},
	{LBFormatALB | LBFormatNLB, Field{Name: "aws.elb.chosen_cert_arn", Type: Keyword, Source: `"chosen_cert_arn" (ALB), chosen_cert_arn (NLB)`,
		Description: "ALB: session-reused when the session was resumed; invalid-session when it was not"}},
	{LBFormatNLB, Field{Name: "aws.elb.chosen_cert_serial", Type: Keyword, Source: "chosen_cert_serial", Description: "reserved by AWS"}},
	{LBFormatALB, Field{Name: "aws.elb.matched_rule_priority", Type: Long, Source: "matched_rule_priority", Description: "0 for the default rule"}},
	{LBFormatALB, Field{Name: "aws.elb.actions_executed", Type: Keyword, Array: true, Source: `"actions_executed", split at commas`}},
	{LBFormatALB, Field{Name: "aws.elb.redirect_url", Type: Keyword, Source: `"redirect_url"`}},
	{LBFormatALB, Field{Name: "aws.elb.error_reason", Type: Keyword, Source: `"error_reason"`}},
	{LBFormatALB, Field{Name: "aws.elb.target_port_list", Type: Keyword, Array: true, Source: `"target:port_list", split at spaces`}},
	{LBFormatALB, Field{Name: "aws.elb.target_status_code_list", Type: Keyword, Array: true, Source: `"target_status_code_list", split at spaces`}},
	{LBFormatALB, Field{Name: "aws.elb.classification", Type: Keyword, Source: `"classification"`, Description: "desync mitigation: Acceptable, Ambiguous or Severe"}},
	{LBFormatALB, Field{Name: "aws.elb.classification_reason", Type: Keyword, Source: `"classification_reason"`}},
	{LBFormatALB, Field{Name: "aws.elb.conn_trace_id", Type: Keyword, Source: "conn_trace_id", Description: "joins the line to the connection log"}},
	{LBFormatALB, Field{Name: "aws.elb.transformed_host", Type: Keyword, Source: `"transformed_host"`, Description: "the host header after a host header rewrite"}},
	{LBFormatALB, Field{Name: "aws.elb.transformed_uri", Type: Keyword, Source: `"transformed_uri"`, Description: "the URI after a URL rewrite"}},
	{LBFormatALB, Field{Name: "aws.elb.request_transform_status", Type: Keyword, Source: `"request_transform_status"`}},
	{LBFormatALB | LBFormatELB, Field{Name: "aws.elb.target_status_code", Type: Long, Source: "target_status_code (ALB), backend_status_code (ELB)",
		Description: "the target's answer to the load balancer"}},
	{lbAll, Field{Name: "aws.elb.received_bytes", Type: Long, Source: "received_bytes", Description: "from the client (NLB: after decryption)"}},
	{lbAll, Field{Name: "aws.elb.sent_bytes", Type: Long, Source: "sent_bytes", Description: "to the client (NLB: before encryption)"}},
	{LBFormatALB | LBFormatELB, Field{Name: "aws.elb.request_processing_time_ns", Type: Long, Source: "request_processing_time, in nanoseconds"}},
	{LBFormatALB | LBFormatELB, Field{Name: "aws.elb.target_processing_time_ns", Type: Long, Source: "target_processing_time (ALB), backend_processing_time (ELB), in nanoseconds"}},
	{LBFormatALB | LBFormatELB, Field{Name: "aws.elb.response_processing_time_ns", Type: Long, Source: "response_processing_time, in nanoseconds"}},
	{LBFormatALB | LBFormatELB, Field{Name: "aws.elb.target_unanswered", Type: Boolean, Source: "a processing time of -1",
		Description: "true when the load balancer could not dispatch the request or the target did not answer; absent otherwise"}},
	{LBFormatNLB, Field{Name: "aws.elb.tls_handshake_time_ns", Type: Long, Source: "tls_handshake_time (milliseconds), in nanoseconds"}},
	{LBFormatNLB, Field{Name: "aws.elb.incoming_tls_alert", Type: Keyword, Source: "incoming_tls_alert", Description: "the TLS alert the client sent"}},
	{LBFormatNLB, Field{Name: "aws.elb.tls_named_group", Type: Keyword, Source: "tls_named_group (tls_keyexchange in AWS's newer documentation)"}},
	{LBFormatNLB, Field{Name: "aws.elb.alpn_be_protocol", Type: Keyword, Source: "alpn_be_protocol", Description: "the ALPN protocol agreed with the target"}},
	{LBFormatNLB, Field{Name: "aws.elb.alpn_client_preference_list", Type: Keyword, Array: true, Source: `alpn_client_preference_list ("h2","http/1.1"): the protocols, unquoted`}},
	{lbAll, Field{Name: "aws.elb.extra", Type: Keyword, Array: true, Source: "the fields after the last one kinflow knows, in order",
		Description: "what AWS appends before kinflow knows it: kept, never an error"}},
}

var loadBalancers, lbFormats = func() (Family, []LBFormat) {
	f := Family{Name: "lb", Title: "load-balancer access logs", Indices: []string{"lb-*"}}
	var formats []LBFormat
	for _, r := range lbRows {
		f.Fields = append(f.Fields, r.Field)
		formats = append(formats, r.formats)
	}
	return f, formats
}()
