// Package elb owns the access-log lines of Classic Load Balancers: Parse reads one into a reused Record, and an
// Encoder writes the Record as one ECS document of the registry's load-balancer family (internal/schema,
// LoadBalancers), whose rows for ELB are exactly the fields it writes.
//
// The fields, in order, are those of AWS's documentation
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/access-log-collection.html#access-log-entry-format).
// A TCP listener has no request: its lines carry "- - - " and "-" there, which are absent values, not errors.
// Fields after ssl_protocol are kept in Record.Extra and the document's aws.elb.extra, never refused.
package elb

import (
	"net/netip"

	"github.com/kinflow/kinflow/internal/format/lbtoken"
)

// LineError is the error of a line that cannot be parsed: permanent, with the field, its column and a reason
// (field_count, bad_time, bad_address, bad_number, bad_quote, empty_line).
type LineError = lbtoken.LineError

// Dataset is the event.dataset of the documents.
const Dataset = "aws.elb"

// A Record is one line. Its byte slices point into the Record's own copy of the line, so the caller may reuse the
// line at once; they are valid until the next Parse into the Record. A value the line does not have ("-", or a
// field an older line lacks) is nil, lbtoken.NoCount, lbtoken.NoDuration, 0 for a status code, or an invalid
// netip.AddrPort.
type Record struct {
	Timestamp              int64 // when the load balancer received the request, ns since the epoch
	ELB                    []byte
	Client                 netip.AddrPort
	Backend                netip.AddrPort // absent when the request reached no instance
	RequestProcessingTime  lbtoken.Duration
	BackendProcessingTime  lbtoken.Duration // lbtoken.Unanswered for AWS's -1
	ResponseProcessingTime lbtoken.Duration
	ELBStatusCode          int
	BackendStatusCode      int
	ReceivedBytes          int64
	SentBytes              int64
	Request                []byte // "GET http://host:80/ HTTP/1.1", unquoted; nil on a TCP listener
	UserAgent              []byte
	SSLCipher              []byte
	SSLProtocol            []byte
	// Extra holds the fields after the last one above, in order: fields AWS added after this package was written.
	Extra [][]byte
	// Fields is how many fields the line has.
	Fields int

	// Derived from the fields above by Parse.
	Req         lbtoken.Request // Request's parts
	TLSProtocol string          // tls or ssl, of SSLProtocol
	TLSVersion  string          // 1.2, of SSLProtocol
	buf         []byte
}

// MinFields is how many fields a line must have to be one: timestamp to sent_bytes. A line without the later
// fields has them absent, as an ALB line has.
const MinFields = 11

var line = lbtoken.Line[Record]{Format: "elb", MinFields: MinFields, Fields: []lbtoken.Field[Record]{
	lbtoken.TimeField("timestamp", true, func(r *Record) *int64 { return &r.Timestamp }),
	lbtoken.TextField("elb", func(r *Record) *[]byte { return &r.ELB }),
	lbtoken.AddrField("client:port", true, func(r *Record) *netip.AddrPort { return &r.Client }),
	lbtoken.AddrField("backend:port", false, func(r *Record) *netip.AddrPort { return &r.Backend }),
	lbtoken.SecondsField("request_processing_time", func(r *Record) *lbtoken.Duration { return &r.RequestProcessingTime }),
	lbtoken.SecondsField("backend_processing_time", func(r *Record) *lbtoken.Duration { return &r.BackendProcessingTime }),
	lbtoken.SecondsField("response_processing_time", func(r *Record) *lbtoken.Duration { return &r.ResponseProcessingTime }),
	lbtoken.StatusField("elb_status_code", func(r *Record) *int { return &r.ELBStatusCode }),
	lbtoken.StatusField("backend_status_code", func(r *Record) *int { return &r.BackendStatusCode }),
	lbtoken.CountField("received_bytes", func(r *Record) *int64 { return &r.ReceivedBytes }),
	lbtoken.CountField("sent_bytes", func(r *Record) *int64 { return &r.SentBytes }),
	lbtoken.TextField("request", func(r *Record) *[]byte { return &r.Request }),
	lbtoken.TextField("user_agent", func(r *Record) *[]byte { return &r.UserAgent }),
	lbtoken.TextField("ssl_cipher", func(r *Record) *[]byte { return &r.SSLCipher }),
	lbtoken.TextField("ssl_protocol", func(r *Record) *[]byte { return &r.SSLProtocol }),
}}

// FieldNames returns the AWS names of the fields Parse knows, in line order.
func FieldNames() []string { return line.Names() }

// Parse reads one access-log line into rec, replacing what it held. It allocates nothing once rec's buffers have
// grown to the lines' size. The error is a *LineError.
func Parse(l []byte, rec *Record) error {
	*rec = Record{
		buf: rec.buf, Extra: rec.Extra[:0], Timestamp: lbtoken.NoTime,
		RequestProcessingTime: lbtoken.NoDuration, BackendProcessingTime: lbtoken.NoDuration,
		ResponseProcessingTime: lbtoken.NoDuration, ReceivedBytes: lbtoken.NoCount, SentBytes: lbtoken.NoCount,
	}
	n, err := line.ParseLine(l, rec, &rec.buf, &rec.Extra)
	rec.Fields = n
	if err != nil {
		return err
	}
	lbtoken.ParseRequest(rec.Request, &rec.Req)
	rec.TLSProtocol, rec.TLSVersion, _ = lbtoken.TLSVersion(rec.SSLProtocol)
	return nil
}
