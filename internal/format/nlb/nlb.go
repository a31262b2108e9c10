// Package nlb owns the access-log lines of Network Load Balancers, which AWS writes for TLS listeners only: Parse
// reads one into a reused Record, and an Encoder writes the Record as one ECS document of the registry's
// load-balancer family (internal/schema, LoadBalancers), whose rows for NLB are exactly the fields it writes.
//
// The fields, in order, are those of AWS's documentation
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html#access-log-entry-format).
// Fields after the last of them are kept in Record.Extra and the document's aws.elb.extra, never refused: AWS
// appends fields without notice.
package nlb

import (
	"net/netip"

	"github.com/kinflow/kinflow/internal/format/lbtoken"
)

// LineError is the error of a line that cannot be parsed: permanent, with the field, its column and a reason
// (field_count, bad_time, bad_address, bad_number, bad_quote, empty_line).
type LineError = lbtoken.LineError

// Dataset is the event.dataset of the documents.
const Dataset = "aws.nlb"

// A Record is one line. Its byte slices point into the Record's own copy of the line, so the caller may reuse the
// line at once; they are valid until the next Parse into the Record. A value the line does not have ("-", or a
// field an older line lacks) is nil, lbtoken.NoTime, lbtoken.NoCount, lbtoken.NoDuration or an invalid
// netip.AddrPort.
type Record struct {
	Type                      []byte // tls
	Version                   []byte // of the log entry: 2.0
	Time                      int64  // when the TLS connection ended, ns since the epoch
	ELB                       []byte // net/name/id
	Listener                  []byte
	Client                    netip.AddrPort
	Destination               netip.AddrPort // the listener, or the VPC endpoint the client came through
	ConnectionTime            lbtoken.Duration
	TLSHandshakeTime          lbtoken.Duration // part of ConnectionTime; absent when there was no handshake
	ReceivedBytes             int64
	SentBytes                 int64
	IncomingTLSAlert          []byte
	ChosenCertARN             []byte
	ChosenCertSerial          []byte
	TLSCipher                 []byte
	TLSProtocolVersion        []byte // tlsv12
	TLSNamedGroup             []byte
	DomainName                []byte // SNI, URL-encoded
	ALPNFrontendProtocol      []byte
	ALPNBackendProtocol       []byte
	ALPNClientPreferenceList  []byte // "h2","http/1.1", as written
	TLSConnectionCreationTime int64
	// Extra holds the fields after the last one above, in order: fields AWS added after this package was written.
	Extra [][]byte
	// Fields is how many fields the line has.
	Fields int

	// Derived from the fields above by Parse.
	ALPNClientPreferences [][]byte // ALPNClientPreferenceList's protocols, unquoted
	TLSProtocol           string   // tls, of TLSProtocolVersion
	TLSVersion            string   // 1.2, of TLSProtocolVersion
	buf                   []byte
}

// MinFields is how many fields every NLB line has: type to domain_name. The ALPN fields and
// tls_connection_creation_time came later; an older line lacks them, and they are then absent.
const MinFields = 18

var line = lbtoken.Line[Record]{Format: "nlb", MinFields: MinFields, Fields: []lbtoken.Field[Record]{
	lbtoken.TextField("type", func(r *Record) *[]byte { return &r.Type }),
	lbtoken.TextField("version", func(r *Record) *[]byte { return &r.Version }),
	lbtoken.TimeField("time", true, func(r *Record) *int64 { return &r.Time }),
	lbtoken.TextField("elb", func(r *Record) *[]byte { return &r.ELB }),
	lbtoken.TextField("listener", func(r *Record) *[]byte { return &r.Listener }),
	lbtoken.AddrField("client:port", true, func(r *Record) *netip.AddrPort { return &r.Client }),
	lbtoken.AddrField("destination:port", false, func(r *Record) *netip.AddrPort { return &r.Destination }),
	lbtoken.MillisField("connection_time", func(r *Record) *lbtoken.Duration { return &r.ConnectionTime }),
	lbtoken.MillisField("tls_handshake_time", func(r *Record) *lbtoken.Duration { return &r.TLSHandshakeTime }),
	lbtoken.CountField("received_bytes", func(r *Record) *int64 { return &r.ReceivedBytes }),
	lbtoken.CountField("sent_bytes", func(r *Record) *int64 { return &r.SentBytes }),
	lbtoken.TextField("incoming_tls_alert", func(r *Record) *[]byte { return &r.IncomingTLSAlert }),
	lbtoken.TextField("chosen_cert_arn", func(r *Record) *[]byte { return &r.ChosenCertARN }),
	lbtoken.TextField("chosen_cert_serial", func(r *Record) *[]byte { return &r.ChosenCertSerial }),
	lbtoken.TextField("tls_cipher", func(r *Record) *[]byte { return &r.TLSCipher }),
	lbtoken.TextField("tls_protocol_version", func(r *Record) *[]byte { return &r.TLSProtocolVersion }),
	lbtoken.TextField("tls_named_group", func(r *Record) *[]byte { return &r.TLSNamedGroup }),
	lbtoken.TextField("domain_name", func(r *Record) *[]byte { return &r.DomainName }),
	lbtoken.TextField("alpn_fe_protocol", func(r *Record) *[]byte { return &r.ALPNFrontendProtocol }),
	lbtoken.TextField("alpn_be_protocol", func(r *Record) *[]byte { return &r.ALPNBackendProtocol }),
	lbtoken.TextField("alpn_client_preference_list", func(r *Record) *[]byte { return &r.ALPNClientPreferenceList }),
	lbtoken.TimeField("tls_connection_creation_time", false, func(r *Record) *int64 { return &r.TLSConnectionCreationTime }),
}}

// FieldNames returns the AWS names of the fields Parse knows, in line order.
func FieldNames() []string { return line.Names() }

// Parse reads one access-log line into rec, replacing what it held. It allocates nothing once rec's buffers have
// grown to the lines' size. The error is a *LineError.
func Parse(l []byte, rec *Record) error {
	*rec = Record{
		buf: rec.buf, Extra: rec.Extra[:0], ALPNClientPreferences: rec.ALPNClientPreferences[:0],
		Time: lbtoken.NoTime, TLSConnectionCreationTime: lbtoken.NoTime,
		ConnectionTime: lbtoken.NoDuration, TLSHandshakeTime: lbtoken.NoDuration,
		ReceivedBytes: lbtoken.NoCount, SentBytes: lbtoken.NoCount,
	}
	n, err := line.ParseLine(l, rec, &rec.buf, &rec.Extra)
	rec.Fields = n
	if err != nil {
		return err
	}
	// "h2","http/1.1": each protocol is quoted; the list as a whole is not. Unquoted in place (the usual filter).
	parts := lbtoken.Split(rec.ALPNClientPreferences, rec.ALPNClientPreferenceList, ',')
	out := parts[:0]
	for _, p := range parts {
		if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
			p = p[1 : len(p)-1]
		}
		if len(p) > 0 {
			out = append(out, p)
		}
	}
	rec.ALPNClientPreferences = out
	rec.TLSProtocol, rec.TLSVersion, _ = lbtoken.TLSVersion(rec.TLSProtocolVersion)
	return nil
}
