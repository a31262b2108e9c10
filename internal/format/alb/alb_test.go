package alb

import (
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"path/filepath"
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

// TestGolden parses every line of every case and writes its document (or its error) as one NDJSON line; every
// field of every document must be an ALB row of the registry, and every ALB row must be in some document.
func TestGolden(t *testing.T) {
	rows := schema.LoadBalancerFields(schema.LBFormatALB)
	seen := map[string]bool{}
	for _, c := range lbtest.ReadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			var out []byte
			var rec Record
			var enc Encoder
			for i, l := range c.Lines {
				if err := Parse([]byte(l), &rec); err != nil {
					var le *LineError
					if !errors.As(err, &le) || !le.Permanent() || le.Line != l || le.Format != "alb" {
						t.Errorf("line %d: %v is not a *LineError with the line", i+1, err)
					}
					e, _ := json.Marshal(map[string]any{"error": err.Error(), "reason": le.Reason, "field": le.Field, "column": le.Column})
					out = append(append(out, e...), '\n')
					continue
				}
				doc := enc.AppendDocument(nil, &rec)
				lbtest.CheckDocument(t, doc, rows, seen)
				out = append(append(out, doc...), '\n')
			}
			lbtest.Golden(t, *update, filepath.Join("testdata", "cases", c.Name+".golden.ndjson"), out)
		})
	}
	lbtest.CheckCoverage(t, rows, seen)
}

// TestDocumentedExamples checks values of AWS's example entries (testdata/cases/aws-examples.txt, from
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-examples)
// against what the documentation says of them.
func TestDocumentedExamples(t *testing.T) {
	var lines []string
	for _, c := range lbtest.ReadCases(t) {
		if c.Name == "aws-examples" {
			lines = c.Lines
		}
	}
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
	swap := func(col int, v string) string {
		f := strings.Fields(good)
		f[col-1] = v
		return strings.Join(f, " ")
	}
	tests := []struct {
		name, line string
		reason     lbtoken.Reason
		sentinel   error
		field      string
		column     int
	}{
		{"empty", "", lbtoken.ReasonEmptyLine, lbtoken.ErrEmptyLine, "", 0},
		{"spaces", "  \t ", lbtoken.ReasonEmptyLine, lbtoken.ErrEmptyLine, "", 0},
		{"too few fields", "http 2018-07-02T22:23:00Z app/lb/1 192.0.2.1:1", lbtoken.ReasonFieldCount, lbtoken.ErrFieldCount, "", 4},
		{"too few fields, a bad value among them", "http yesterday app/lb/1", lbtoken.ReasonFieldCount, lbtoken.ErrFieldCount, "", 3},
		{"time", swap(2, "2018-07-02T25:00:00Z"), lbtoken.ReasonBadTime, lbtoken.ErrBadTime, "time", 2},
		{"time absent", swap(2, "-"), lbtoken.ReasonBadTime, lbtoken.ErrBadTime, "time", 2},
		{"leap day", swap(2, "2019-02-29T00:00:00Z"), lbtoken.ReasonBadTime, lbtoken.ErrBadTime, "time", 2},
		{"client", swap(4, "192.168.131.39"), lbtoken.ReasonBadAddress, lbtoken.ErrBadAddress, "client:port", 4},
		{"client absent", swap(4, "-"), lbtoken.ReasonBadAddress, lbtoken.ErrBadAddress, "client:port", 4},
		{"target port", swap(5, "10.0.0.1:65536"), lbtoken.ReasonBadAddress, lbtoken.ErrBadAddress, "target:port", 5},
		{"zone", swap(5, "[fe80::1%eth0]:80"), lbtoken.ReasonBadAddress, lbtoken.ErrBadAddress, "target:port", 5},
		{"processing time", swap(7, "0.00l"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "target_processing_time", 7},
		{"negative time", swap(6, "-2"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "request_processing_time", 6},
		{"status", swap(9, "20"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "elb_status_code", 9},
		{"bytes", swap(12, "1e3"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "sent_bytes", 12},
		{"open quote", good + ` "GET / HTTP/1.1`, lbtoken.ReasonBadQuote, lbtoken.ErrBadQuote, "", 13},
		{"rule priority", good + ` "GET / HTTP/1.1" "-" - - - "-" "-" "-" first`, lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "matched_rule_priority", 21},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			err := Parse([]byte(tt.line), &r)
			var le *LineError
			if !errors.As(err, &le) || !errors.Is(err, tt.sentinel) || le.Reason != tt.reason || le.Field != tt.field ||
				le.Column != tt.column || !le.Permanent() || le.Line != tt.line {
				t.Fatalf("got %#v (%v), want reason %s field %q column %d", le, err, tt.reason, tt.field, tt.column)
			}
			if !strings.HasPrefix(err.Error(), "alb: ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// TestUnknownTrailingFields: fields after the last known one are kept, in order, and written as aws.elb.extra.
func TestUnknownTrailingFields(t *testing.T) {
	base := `http 2018-11-30T22:23:00.186641Z app/lb/50dc 192.168.131.39:2817 - 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - - "Root=1-5" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "-" "-" "-" "-" "-" TID_1 "-" "-" "-"`
	for _, tt := range []struct {
		name, tail string
		want       []string
		doc        string
	}{
		{"none", "", nil, ""},
		{"one address", " 100.51.96.60", []string{"100.51.96.60"}, `"extra":["100.51.96.60"]`},
		{"quoted with spaces and escapes", ` "a b" "-" "say \"hi\""`, []string{"a b", "-", "say \"hi\""}, `"extra":["a b","-","say \"hi\""]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := Parse([]byte(base+tt.tail), &r); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range r.Extra {
				got = append(got, string(e))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("extra %q, want %q", got, tt.want)
			}
			var enc Encoder
			doc := string(enc.AppendDocument(nil, &r))
			if tt.doc == "" && strings.Contains(doc, `"extra"`) || !strings.Contains(doc, tt.doc) {
				t.Errorf("document %s, want %s", doc, tt.doc)
			}
		})
	}
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
func TestNoAllocations(t *testing.T) {
	lines := allLines(t)
	var r Record
	var enc Encoder
	buf := make([]byte, 0, 8192)
	for _, l := range lines {
		_ = Parse(l, &r)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			if Parse(l, &r) == nil {
				buf = enc.AppendDocument(buf[:0], &r)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run of %d lines", allocs, len(lines))
	}
}

// allLines returns the lines of the cases that parse.
func allLines(tb testing.TB) [][]byte {
	var out [][]byte
	var r Record
	for _, c := range lbtest.ReadCases(tb) {
		for _, l := range c.Lines {
			if Parse([]byte(l), &r) == nil {
				out = append(out, []byte(l))
			}
		}
	}
	return out
}

// FuzzParse: no line makes Parse panic, every error is a *LineError with a reason, and a parsed record encodes to a
// valid document of registry rows.
func FuzzParse(f *testing.F) {
	for _, c := range lbtest.ReadCases(f) {
		for _, l := range c.Lines {
			f.Add(l)
		}
	}
	rows := schema.LoadBalancerFields(schema.LBFormatALB)
	f.Fuzz(func(t *testing.T, line string) {
		var r Record
		if err := Parse([]byte(line), &r); err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Reason == "" || !le.Permanent() {
				t.Fatalf("error %v is not a *LineError with a reason", err)
			}
			_ = err.Error()
			return
		}
		var enc Encoder
		doc := enc.AppendDocument(nil, &r)
		if !json.Valid(doc) {
			t.Fatalf("invalid JSON %s", doc)
		}
		lbtest.CheckDocument(t, doc, rows, map[string]bool{})
	})
}
