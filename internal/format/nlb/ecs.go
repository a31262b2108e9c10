package nlb

import (
	"net/netip"
	"strconv"

	"github.com/kinflow/kinflow/internal/format/lbtoken"
	"github.com/kinflow/kinflow/internal/schema"
)

// An Encoder appends ECS documents. The zero value is ready; it holds no state today, but keeps the door open
// for caches without changing callers.
type Encoder struct{}

// AppendDocument appends the document of rec (its _source: one JSON object, no newline) to dst. It allocates
// nothing when dst has room.
func (*Encoder) AppendDocument(dst []byte, rec *Record) []byte { return doc.Append(dst, rec) }

// doc is the registry's NLB rows with their writers, built once; docErr is what TestWritersFollowRegistry reports.
var doc, docErr = lbtoken.NewDoc(schema.LoadBalancerFields(schema.LBFormatNLB), writers())

type (
	write = lbtoken.WriteFunc[Record]
	R     = Record
)

// writers returns the write function of every document field of an NLB line, by name.
func writers() map[string]write {
	str := lbtoken.String[R]
	return map[string]write{
		"@timestamp":     lbtoken.Date(func(r *R) int64 { return r.Time }),
		"event.kind":     lbtoken.Const[R](`"event"`),
		"event.category": lbtoken.Const[R](`["network"]`),
		"event.dataset":  lbtoken.Const[R](`"` + Dataset + `"`),
		"event.duration": lbtoken.Nanos(func(r *R) lbtoken.Duration { return r.ConnectionTime }),
		// The line is written at the end of a TLS connection: it succeeded when TLS was negotiated.
		"event.outcome": func(dst []byte, r *R) ([]byte, bool) {
			if r.TLSProtocolVersion == nil {
				return append(dst, `"failure"`...), true
			}
			return append(dst, `"success"`...), true
		},
		"event.start":          lbtoken.Date(func(r *R) int64 { return r.TLSConnectionCreationTime }),
		"event.end":            lbtoken.Date(func(r *R) int64 { return r.Time }),
		"source.ip":            lbtoken.IP(func(r *R) netip.AddrPort { return r.Client }),
		"source.port":          lbtoken.Port(func(r *R) netip.AddrPort { return r.Client }),
		"destination.ip":       lbtoken.IP(func(r *R) netip.AddrPort { return r.Destination }),
		"destination.port":     lbtoken.Port(func(r *R) netip.AddrPort { return r.Destination }),
		"tls.cipher":           str(func(r *R) []byte { return r.TLSCipher }),
		"tls.version":          lbtoken.Word(func(r *R) string { return r.TLSVersion }),
		"tls.version_protocol": lbtoken.Word(func(r *R) string { return r.TLSProtocol }),
		"tls.established": func(dst []byte, r *R) ([]byte, bool) {
			return strconv.AppendBool(dst, r.TLSProtocolVersion != nil), true
		},
		"tls.client.server_name":              str(func(r *R) []byte { return r.DomainName }),
		"tls.next_protocol":                   str(func(r *R) []byte { return r.ALPNFrontendProtocol }),
		"cloud.provider":                      lbtoken.Const[R](`"aws"`),
		"aws.elb.name":                        str(func(r *R) []byte { return r.ELB }),
		"aws.elb.type":                        str(func(r *R) []byte { return r.Type }),
		"aws.elb.version":                     str(func(r *R) []byte { return r.Version }),
		"aws.elb.listener":                    str(func(r *R) []byte { return r.Listener }),
		"aws.elb.chosen_cert_arn":             str(func(r *R) []byte { return r.ChosenCertARN }),
		"aws.elb.chosen_cert_serial":          str(func(r *R) []byte { return r.ChosenCertSerial }),
		"aws.elb.received_bytes":              lbtoken.Count(func(r *R) int64 { return r.ReceivedBytes }),
		"aws.elb.sent_bytes":                  lbtoken.Count(func(r *R) int64 { return r.SentBytes }),
		"aws.elb.tls_handshake_time_ns":       lbtoken.Nanos(func(r *R) lbtoken.Duration { return r.TLSHandshakeTime }),
		"aws.elb.incoming_tls_alert":          str(func(r *R) []byte { return r.IncomingTLSAlert }),
		"aws.elb.tls_named_group":             str(func(r *R) []byte { return r.TLSNamedGroup }),
		"aws.elb.alpn_be_protocol":            str(func(r *R) []byte { return r.ALPNBackendProtocol }),
		"aws.elb.alpn_client_preference_list": lbtoken.Strings(func(r *R) [][]byte { return r.ALPNClientPreferences }),
		"aws.elb.extra":                       lbtoken.Strings(func(r *R) [][]byte { return r.Extra }),
	}
}
