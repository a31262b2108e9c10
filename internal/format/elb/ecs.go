package elb

import (
	"net/netip"

	"github.com/kinflow/kinflow/internal/format/lbtoken"
	"github.com/kinflow/kinflow/internal/schema"
)

// An Encoder appends ECS documents. The zero value is ready; it holds no state today, but keeps the door open
// for caches without changing callers.
type Encoder struct{}

// AppendDocument appends the document of rec (its _source: one JSON object, no newline) to dst. It allocates
// nothing when dst has room.
func (*Encoder) AppendDocument(dst []byte, rec *Record) []byte { return doc.Append(dst, rec) }

// doc is the registry's ELB rows with their writers, built once; docErr is what TestWritersFollowRegistry reports.
var doc, docErr = lbtoken.NewDoc(schema.LoadBalancerFields(schema.LBFormatELB), writers())

type (
	write = lbtoken.WriteFunc[Record]
	R     = Record
)

// writers returns the write function of every document field of a classic ELB line, by name.
func writers() map[string]write {
	str := lbtoken.String[R]
	return map[string]write{
		"@timestamp":                          lbtoken.Date(func(r *R) int64 { return r.Timestamp }),
		"event.kind":                          lbtoken.Const[R](`"event"`),
		"event.category":                      lbtoken.Const[R](`["web"]`),
		"event.dataset":                       lbtoken.Const[R](`"` + Dataset + `"`),
		"event.duration":                      lbtoken.TotalNanos(times),
		"event.outcome":                       lbtoken.Outcome(func(r *R) int { return r.ELBStatusCode }),
		"source.ip":                           lbtoken.IP(func(r *R) netip.AddrPort { return r.Client }),
		"source.port":                         lbtoken.Port(func(r *R) netip.AddrPort { return r.Client }),
		"destination.ip":                      lbtoken.IP(func(r *R) netip.AddrPort { return r.Backend }),
		"destination.port":                    lbtoken.Port(func(r *R) netip.AddrPort { return r.Backend }),
		"http.request.method":                 str(func(r *R) []byte { return r.Req.Method }),
		"http.version":                        str(func(r *R) []byte { return lbtoken.HTTPVersion(r.Req.Proto) }),
		"http.response.status_code":           lbtoken.Positive(func(r *R) int { return r.ELBStatusCode }),
		"url.original":                        str(func(r *R) []byte { return r.Req.URL }),
		"url.scheme":                          str(func(r *R) []byte { return r.Req.Scheme }),
		"url.domain":                          str(func(r *R) []byte { return r.Req.Domain }),
		"url.port":                            lbtoken.Positive(func(r *R) int { return r.Req.Port }),
		"url.path":                            str(func(r *R) []byte { return r.Req.Path }),
		"url.query":                           str(func(r *R) []byte { return r.Req.Query }),
		"user_agent.original":                 str(func(r *R) []byte { return r.UserAgent }),
		"tls.cipher":                          str(func(r *R) []byte { return r.SSLCipher }),
		"tls.version":                         lbtoken.Word(func(r *R) string { return r.TLSVersion }),
		"tls.version_protocol":                lbtoken.Word(func(r *R) string { return r.TLSProtocol }),
		"cloud.provider":                      lbtoken.Const[R](`"aws"`),
		"aws.elb.name":                        str(func(r *R) []byte { return r.ELB }),
		"aws.elb.target_status_code":          lbtoken.Positive(func(r *R) int { return r.BackendStatusCode }),
		"aws.elb.received_bytes":              lbtoken.Count(func(r *R) int64 { return r.ReceivedBytes }),
		"aws.elb.sent_bytes":                  lbtoken.Count(func(r *R) int64 { return r.SentBytes }),
		"aws.elb.request_processing_time_ns":  lbtoken.Nanos(func(r *R) lbtoken.Duration { return r.RequestProcessingTime }),
		"aws.elb.target_processing_time_ns":   lbtoken.Nanos(func(r *R) lbtoken.Duration { return r.BackendProcessingTime }),
		"aws.elb.response_processing_time_ns": lbtoken.Nanos(func(r *R) lbtoken.Duration { return r.ResponseProcessingTime }),
		"aws.elb.target_unanswered":           lbtoken.AnyUnanswered(times),
		"aws.elb.extra":                       lbtoken.Strings(func(r *R) [][]byte { return r.Extra }),
	}
}

// times is the line's processing times, request, backend and response, for event.duration and
// aws.elb.target_unanswered.
func times(r *Record) [3]lbtoken.Duration {
	return [3]lbtoken.Duration{r.RequestProcessingTime, r.BackendProcessingTime, r.ResponseProcessingTime}
}
