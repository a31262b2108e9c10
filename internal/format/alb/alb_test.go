package alb

import (
	"flag"
	"net/netip"
	"strings"
	"testing"

	"github.com/kinflow/kinflow/internal/format/lbtoken"
	"github.com/kinflow/kinflow/internal/schema"
	"github.com/kinflow/kinflow/internal/testing/lbtest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestWritersFollowRegistry: every ALB row of the registry has a writer, and every writer a row.
func TestWritersFollowRegistry(t *testing.T) {
	if docErr != nil {
		t.Fatal(docErr)
	}
}

var suite = lbtest.Suite[Record]{
	Format: "alb", Rows: schema.LoadBalancerFields(schema.LBFormatALB), Names: FieldNames(),
	Parse: Parse, Append: new(Encoder).AppendDocument, Extra: func(r *Record) [][]byte { return r.Extra },
}

// TestGolden: every line of every case against its document (or error) in testdata/cases/*.golden.ndjson, every
// field an ALB row of the registry, and every ALB row in some document.
func TestGolden(t *testing.T) { suite.Golden(t, *update) }

// TestDocumentedExamples checks values of AWS's example entries (testdata/cases/aws-examples.txt, from
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-examples)
// against what the documentation says of them.
func TestDocumentedExamples(t *testing.T) {
	lines := lbtest.CaseLines(t, "aws-examples")
	tests := []struct {
		name                 string
		line                 int
		typ                  string
		target               string
		status, targetStatus int
		actions              []string
		errorReason          string
	}{
		{"http", 0, "http", "10.0.0.1:80", 200, 200, []string{"forward"}, ""},
		{"https", 1, "https", "10.0.0.1:80", 200, 200, []string{"authenticate", "forward"}, ""},
		{"http2", 2, "h2", "10.0.0.66:9000", 200, 200, []string{"redirect"}, ""},
		{"websockets", 3, "ws", "10.0.1.192:8010", 101, 101, []string{"forward"}, ""},
		{"secured websockets", 4, "wss", "10.0.0.171:8010", 101, 101, []string{"forward"}, ""},
		{"lambda succeeded", 5, "http", "invalid AddrPort", 200, 200, []string{"forward"}, ""},
		{"lambda failed", 6, "http", "invalid AddrPort", 502, 0, []string{"forward"}, "LambdaInvalidResponse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := Parse([]byte(lines[tt.line]), &r); err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, a := range r.Actions {
				actions = append(actions, string(a))
			}
			if string(r.Type) != tt.typ || r.Target.String() != tt.target || r.ELBStatusCode != tt.status ||
				r.TargetStatusCode != tt.targetStatus || strings.Join(actions, ",") != strings.Join(tt.actions, ",") ||
				string(r.ErrorReason) != tt.errorReason || r.Fields != 33 || len(r.Extra) != 0 {
				t.Errorf("got type %s target %s status %d/%d actions %q error %q fields %d extra %q", r.Type, r.Target,
					r.ELBStatusCode, r.TargetStatusCode, actions, r.ErrorReason, r.Fields, r.Extra)
			}
			if string(r.ConnTraceID) != "TID_1234abcd5678ef90" || r.TransformedHost != nil || r.RequestTransformStatus != nil {
				t.Errorf("conn_trace_id %q, transforms %q %q", r.ConnTraceID, r.TransformedHost, r.RequestTransformStatus)
			}
		})
	}
}

// TestValues: the values a document is made of, as read from one line.
func TestValues(t *testing.T) {
	line := `grpcs 2025-10-07T07:15:00.941321Z app/api/1a2b [2001:db8::7]:50123 10.0.0.1:8443 0.001 -1 0.000250 200 - 512 1024 "POST https://api.example.com:443/a/b?x=1 HTTP/2.0" "ua \"q\"" - - - "-" "-" "-" - - "-" "-" "-" "-" "-" "-" "-" - "-" "-" "-"`
	var r Record
	if err := Parse([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	if r.Time != 1759821300941321000 || r.RequestCreationTime != lbtoken.NoTime || r.MatchedRulePriority != lbtoken.NoCount {
		t.Errorf("times %d %d, priority %d", r.Time, r.RequestCreationTime, r.MatchedRulePriority)
	}
	if r.Client != netip.MustParseAddrPort("[2001:db8::7]:50123") || r.RequestProcessingTime != 1e6 ||
		r.TargetProcessingTime != lbtoken.Unanswered || r.ResponseProcessingTime != 250e3 {
		t.Errorf("client %v, times %d %d %d", r.Client, r.RequestProcessingTime, r.TargetProcessingTime, r.ResponseProcessingTime)
	}
	if string(r.UserAgent) != `ua "q"` || string(r.Req.Method) != "POST" || string(r.Req.Domain) != "api.example.com" ||
		r.Req.Port != 443 || string(r.Req.Path) != "/a/b" || string(r.Req.Query) != "x=1" || string(r.Req.Proto) != "HTTP/2.0" {
		t.Errorf("user agent %q, request %+v", r.UserAgent, r.Req)
	}
	var enc Encoder
	doc := string(enc.AppendDocument(nil, &r))
	for _, want := range []string{`"duration":1250000`, `"target_unanswered":true`, `"request_processing_time_ns":1000000`} {
		if !strings.Contains(doc, want) {
			t.Errorf("no %s in %s", want, doc)
		}
	}
	if strings.Contains(doc, "target_processing_time_ns") {
		t.Errorf("an unanswered time is written as a duration: %s", doc)
	}
}

// TestBadLines: each reason a line is refused, with the field and column at fault.
func TestBadLines(t *testing.T) {
	const good = `http 2018-07-02T22:23:00.186641Z app/lb/50dc 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366`
	swap := func(col int, v string) string { return lbtest.Swap(good, col, v) }
	suite.BadLines(t, []lbtest.BadLine{
		{Name: "empty", Line: "", Reason: lbtoken.ReasonEmptyLine},
		{Name: "spaces", Line: "  \t ", Reason: lbtoken.ReasonEmptyLine},
		{Name: "too few fields", Line: "http 2018-07-02T22:23:00Z app/lb/1 192.0.2.1:1", Reason: lbtoken.ReasonFieldCount, Column: 4},
		{Name: "too few fields, a bad value among them", Line: "http yesterday app/lb/1", Reason: lbtoken.ReasonFieldCount, Column: 3},
		{Name: "time", Line: swap(2, "2018-07-02T25:00:00Z"), Reason: lbtoken.ReasonBadTime, Field: "time", Column: 2},
		{Name: "time absent", Line: swap(2, "-"), Reason: lbtoken.ReasonBadTime, Field: "time", Column: 2},
		{Name: "leap day", Line: swap(2, "2019-02-29T00:00:00Z"), Reason: lbtoken.ReasonBadTime, Field: "time", Column: 2},
		{Name: "client", Line: swap(4, "192.168.131.39"), Reason: lbtoken.ReasonBadAddress, Field: "client:port", Column: 4},
		{Name: "client absent", Line: swap(4, "-"), Reason: lbtoken.ReasonBadAddress, Field: "client:port", Column: 4},
		{Name: "target port", Line: swap(5, "10.0.0.1:65536"), Reason: lbtoken.ReasonBadAddress, Field: "target:port", Column: 5},
		{Name: "zone", Line: swap(5, "[fe80::1%eth0]:80"), Reason: lbtoken.ReasonBadAddress, Field: "target:port", Column: 5},
		{Name: "processing time", Line: swap(7, "0.00l"), Reason: lbtoken.ReasonBadNumber, Field: "target_processing_time", Column: 7},
		{Name: "negative time", Line: swap(6, "-2"), Reason: lbtoken.ReasonBadNumber, Field: "request_processing_time", Column: 6},
		{Name: "status", Line: swap(9, "20"), Reason: lbtoken.ReasonBadNumber, Field: "elb_status_code", Column: 9},
		{Name: "bytes", Line: swap(12, "1e3"), Reason: lbtoken.ReasonBadNumber, Field: "sent_bytes", Column: 12},
		{Name: "open quote", Line: good + ` "GET / HTTP/1.1`, Reason: lbtoken.ReasonBadQuote, Column: 13},
		{Name: "rule priority", Line: good + ` "GET / HTTP/1.1" "-" - - - "-" "-" "-" first`, Reason: lbtoken.ReasonBadNumber, Field: "matched_rule_priority", Column: 21},
	})
}

// TestUnknownTrailingFields: fields after the last known one are kept, in order, and written as aws.elb.extra.
func TestUnknownTrailingFields(t *testing.T) {
	base := `http 2018-11-30T22:23:00.186641Z app/lb/50dc 192.168.131.39:2817 - 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - - "Root=1-5" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "-" "-" "-" "-" "-" TID_1 "-" "-" "-"`
	suite.UnknownTrailingFields(t, base, []lbtest.Trailing{
		{Name: "none"},
		{Name: "one address", Tail: " 100.51.96.60", Want: []string{"100.51.96.60"}, Doc: `"extra":["100.51.96.60"]`},
		{Name: "quoted with spaces and escapes", Tail: ` "a b" "-" "say \"hi\""`, Want: []string{"a b", "-", "say \"hi\""}, Doc: `"extra":["a b","-","say \"hi\""]`},
	})
}

// TestRecordOwnsItsBytes: the caller may reuse its line as soon as Parse returns.
func TestRecordOwnsItsBytes(t *testing.T) {
	line := []byte(`http 2018-11-30T22:23:00Z app/lb/50dc 192.168.131.39:2817 - 0 0 0 200 200 34 366 "GET http://a.example:80/ HTTP/1.1" "curl"`)
	var r Record
	if err := Parse(line, &r); err != nil {
		t.Fatal(err)
	}
	for i := range line {
		line[i] = 'x'
	}
	if string(r.ELB) != "app/lb/50dc" || string(r.UserAgent) != "curl" || string(r.Req.Domain) != "a.example" {
		t.Errorf("the record changed with the line: %q %q %q", r.ELB, r.UserAgent, r.Req.Domain)
	}
}

// TestNoAllocations: Parse and AppendDocument allocate nothing once the record and the buffer have grown.
func TestNoAllocations(t *testing.T) { suite.NoAllocations(t) }

// FuzzParse: no line makes Parse panic, every error is a *LineError with a reason, and a parsed record encodes to a
// valid document of registry rows. Seeded from testdata/cases.
func FuzzParse(f *testing.F) { suite.Fuzz(f) }

// BenchmarkParse parses the lines of the cases, kinflow/ with Parse into one reused Record, plain/ with
// lbtest.ReferenceParse, the yardstick.
func BenchmarkParse(b *testing.B) { suite.BenchParse(b) }

// BenchmarkAppendDocument encodes the parsed records of the cases into one reused buffer.
func BenchmarkAppendDocument(b *testing.B) { suite.BenchAppend(b) }
