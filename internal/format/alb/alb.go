// Package alb owns the access-log lines of Application Load Balancers: Parse reads one into a reused Record, and
// an Encoder writes the Record as one ECS document of the registry's load-balancer family (internal/schema,
// LoadBalancers), whose rows for ALB are exactly the fields it writes.
//
// The fields, in order, are those of AWS's documentation
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-syntax),
// the three that AWS appended in 2025 for request transforms included. AWS appends fields without notice and asks
// readers to ignore those they do not expect: Parse keeps them in Record.Extra instead, and the document carries
// them as aws.elb.extra, so nothing a line says is lost before kinflow learns its name.
package alb

import (
	"net/netip"

	"github.com/kinflow/kinflow/internal/format/lbtoken"
)

// LineError is the error of a line that cannot be parsed: permanent, with the field, its column and a reason
// (field_count, bad_time, bad_address, bad_number, bad_quote, empty_line).
type LineError = lbtoken.LineError

// Dataset is the event.dataset of the documents.
const Dataset = "aws.alb"

// A Record is one line. Its byte slices point into the Record's own copy of the line, so the caller may reuse the
// line at once; they are valid until the next Parse into the Record. A value the line does not have ("-", or a
// field an older line lacks) is nil, lbtoken.NoTime, lbtoken.NoCount, lbtoken.NoDuration, 0 for a status code,
// or an invalid netip.AddrPort.
type Record struct {
	Type                   []byte // http, https, h2, grpcs, ws, wss
	Time                   int64  // when the response was sent (WebSockets: the connection closed), ns since the epoch
	ELB                    []byte // app/name/id
	Client                 netip.AddrPort
	Target                 netip.AddrPort
	RequestProcessingTime  lbtoken.Duration // lbtoken.Unanswered for AWS's -1
	TargetProcessingTime   lbtoken.Duration
	ResponseProcessingTime lbtoken.Duration
	ELBStatusCode          int
	TargetStatusCode       int
	ReceivedBytes          int64
	SentBytes              int64
	Request                []byte // "GET https://host:443/path HTTP/1.1", unquoted
	UserAgent              []byte
	SSLCipher              []byte
	SSLProtocol            []byte
	TargetGroupARN         []byte
	TraceID                []byte
	DomainName             []byte
	ChosenCertARN          []byte
	MatchedRulePriority    int64
	RequestCreationTime    int64
	ActionsExecuted        []byte // comma-separated
	RedirectURL            []byte
	ErrorReason            []byte
	TargetPortList         []byte // space-separated ip:port
	TargetStatusCodeList   []byte // space-separated
	Classification         []byte
	ClassificationReason   []byte
	ConnTraceID            []byte
	TransformedHost        []byte
	TransformedURI         []byte
	RequestTransformStatus []byte
	// Extra holds the fields after the last one above, in order: fields AWS added after this package was written.
	Extra [][]byte
	// Fields is how many fields the line has.
	Fields int

	// Derived from the fields above by Parse.
	Req         lbtoken.Request // Request's parts
	Actions     [][]byte        // ActionsExecuted split at commas
	Targets     [][]byte        // TargetPortList split at spaces
	TargetCodes [][]byte        // TargetStatusCodeList split at spaces
	TLSProtocol string          // tls or ssl, of SSLProtocol
	TLSVersion  string          // 1.2, of SSLProtocol
	buf         []byte
}

// MinFields is how many fields every ALB line has: type to sent_bytes. The fields after them were added over the
// years; an older line lacks the later ones, which are then absent.
const MinFields = 12

var line = lbtoken.Line[Record]{Format: "alb", MinFields: MinFields, Fields: []lbtoken.Field[Record]{
	lbtoken.TextField("type", func(r *Record) *[]byte { return &r.Type }),
	lbtoken.TimeField("time", true, func(r *Record) *int64 { return &r.Time }),
	lbtoken.TextField("elb", func(r *Record) *[]byte { return &r.ELB }),
	lbtoken.AddrField("client:port", true, func(r *Record) *netip.AddrPort { return &r.Client }),
	lbtoken.AddrField("target:port", false, func(r *Record) *netip.AddrPort { return &r.Target }),
	lbtoken.SecondsField("request_processing_time", func(r *Record) *lbtoken.Duration { return &r.RequestProcessingTime }),
	lbtoken.SecondsField("target_processing_time", func(r *Record) *lbtoken.Duration { return &r.TargetProcessingTime }),
	lbtoken.SecondsField("response_processing_time", func(r *Record) *lbtoken.Duration { return &r.ResponseProcessingTime }),
	lbtoken.StatusField("elb_status_code", func(r *Record) *int { return &r.ELBStatusCode }),
	lbtoken.StatusField("target_status_code", func(r *Record) *int { return &r.TargetStatusCode }),
	lbtoken.CountField("received_bytes", func(r *Record) *int64 { return &r.ReceivedBytes }),
	lbtoken.CountField("sent_bytes", func(r *Record) *int64 { return &r.SentBytes }),
	lbtoken.TextField("request", func(r *Record) *[]byte { return &r.Request }),
	lbtoken.TextField("user_agent", func(r *Record) *[]byte { return &r.UserAgent }),
	lbtoken.TextField("ssl_cipher", func(r *Record) *[]byte { return &r.SSLCipher }),
	lbtoken.TextField("ssl_protocol", func(r *Record) *[]byte { return &r.SSLProtocol }),
	lbtoken.TextField("target_group_arn", func(r *Record) *[]byte { return &r.TargetGroupARN }),
	lbtoken.TextField("trace_id", func(r *Record) *[]byte { return &r.TraceID }),
	lbtoken.TextField("domain_name", func(r *Record) *[]byte { return &r.DomainName }),
	lbtoken.TextField("chosen_cert_arn", func(r *Record) *[]byte { return &r.ChosenCertARN }),
	lbtoken.CountField("matched_rule_priority", func(r *Record) *int64 { return &r.MatchedRulePriority }),
	lbtoken.TimeField("request_creation_time", false, func(r *Record) *int64 { return &r.RequestCreationTime }),
	lbtoken.TextField("actions_executed", func(r *Record) *[]byte { return &r.ActionsExecuted }),
	lbtoken.TextField("redirect_url", func(r *Record) *[]byte { return &r.RedirectURL }),
	lbtoken.TextField("error_reason", func(r *Record) *[]byte { return &r.ErrorReason }),
	lbtoken.TextField("target:port_list", func(r *Record) *[]byte { return &r.TargetPortList }),
	lbtoken.TextField("target_status_code_list", func(r *Record) *[]byte { return &r.TargetStatusCodeList }),
	lbtoken.TextField("classification", func(r *Record) *[]byte { return &r.Classification }),
	lbtoken.TextField("classification_reason", func(r *Record) *[]byte { return &r.ClassificationReason }),
	lbtoken.TextField("conn_trace_id", func(r *Record) *[]byte { return &r.ConnTraceID }),
	lbtoken.TextField("transformed_host", func(r *Record) *[]byte { return &r.TransformedHost }),
	lbtoken.TextField("transformed_uri", func(r *Record) *[]byte { return &r.TransformedURI }),
	lbtoken.TextField("request_transform_status", func(r *Record) *[]byte { return &r.RequestTransformStatus }),
}}

// FieldNames returns the AWS names of the fields Parse knows, in line order.
func FieldNames() []string { return line.Names() }

// Parse reads one access-log line into rec, replacing what it held. It allocates nothing once rec's buffers have
// grown to the lines' size. The error is a *LineError.
func Parse(l []byte, rec *Record) error {
	*rec = Record{
		buf: rec.buf, Extra: rec.Extra[:0], Actions: rec.Actions[:0], Targets: rec.Targets[:0],
		TargetCodes: rec.TargetCodes[:0],
		Time:        lbtoken.NoTime, RequestCreationTime: lbtoken.NoTime,
		RequestProcessingTime: lbtoken.NoDuration, TargetProcessingTime: lbtoken.NoDuration,
		ResponseProcessingTime: lbtoken.NoDuration,
		ReceivedBytes:          lbtoken.NoCount, SentBytes: lbtoken.NoCount, MatchedRulePriority: lbtoken.NoCount,
	}
	n, err := line.ParseLine(l, rec, &rec.buf, &rec.Extra)
	rec.Fields = n
	if err != nil {
		return err
	}
	lbtoken.ParseRequest(rec.Request, &rec.Req)
	rec.Actions = lbtoken.Split(rec.Actions, rec.ActionsExecuted, ',')
	rec.Targets = lbtoken.Split(rec.Targets, rec.TargetPortList, ' ')
	rec.TargetCodes = lbtoken.Split(rec.TargetCodes, rec.TargetStatusCodeList, ' ')
	rec.TLSProtocol, rec.TLSVersion, _ = lbtoken.TLSVersion(rec.SSLProtocol)
	return nil
}
