package elb

import (
	"flag"
	"net/netip"
	"testing"

	"github.com/kinflow/kinflow/internal/format/lbtoken"
	"github.com/kinflow/kinflow/internal/schema"
	"github.com/kinflow/kinflow/internal/testing/lbtest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestWritersFollowRegistry: every ELB row of the registry has a writer, and every writer a row.
func TestWritersFollowRegistry(t *testing.T) {
	if docErr != nil {
		t.Fatal(docErr)
	}
}

var suite = lbtest.Suite[Record]{
	Format: "elb", Rows: schema.LoadBalancerFields(schema.LBFormatELB), Names: FieldNames(),
	Parse: Parse, Append: new(Encoder).AppendDocument, Extra: func(r *Record) [][]byte { return r.Extra },
}

// TestGolden: every line of every case against its document (or error) in testdata/cases/*.golden.ndjson, every
// field an ELB row of the registry, and every ELB row in some document.
func TestGolden(t *testing.T) { suite.Golden(t, *update) }

// TestDocumentedExamples checks values of AWS's example entries (testdata/cases/aws-examples.txt, from
// https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/access-log-collection.html#access-log-entry-examples)
// against what the documentation says of them.
func TestDocumentedExamples(t *testing.T) {
	lines := lbtest.CaseLines(t, "aws-examples")
	tests := []struct {
		name           string
		line           int
		status         int
		method, scheme string
		tls            string
		received, sent int64
	}{
		{"http", 0, 200, "GET", "http", "", 0, 29},
		{"https", 1, 200, "GET", "https", "1.2", 0, 57},
		{"tcp", 2, 0, "", "", "", 82, 305},
		{"ssl", 3, 0, "", "", "1.2", 57, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := Parse([]byte(lines[tt.line]), &r); err != nil {
				t.Fatal(err)
			}
			if r.ELBStatusCode != tt.status || r.BackendStatusCode != tt.status || string(r.Req.Method) != tt.method ||
				string(r.Req.Scheme) != tt.scheme || r.TLSVersion != tt.tls || r.ReceivedBytes != tt.received ||
				r.SentBytes != tt.sent || r.Fields != 15 || len(r.Extra) != 0 {
				t.Errorf("got %+v", r)
			}
			if r.Timestamp != 1431560383945958000 || r.Backend != netip.MustParseAddrPort("10.0.0.1:80") || string(r.ELB) != "my-loadbalancer" {
				t.Errorf("timestamp %d, backend %v, elb %q", r.Timestamp, r.Backend, r.ELB)
			}
		})
	}
}

// TestBadLines: each reason a line is refused, with the field and column at fault.
func TestBadLines(t *testing.T) {
	const good = `2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29`
	swap := func(col int, v string) string { return lbtest.Swap(good, col, v) }
	suite.BadLines(t, []lbtest.BadLine{
		{Name: "empty", Line: "", Reason: lbtoken.ReasonEmptyLine},
		{Name: "too few fields", Line: "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80", Reason: lbtoken.ReasonFieldCount, Column: 4},
		{Name: "timestamp", Line: swap(1, "2015-05-13T23:39:43.Z"), Reason: lbtoken.ReasonBadTime, Field: "timestamp", Column: 1},
		{Name: "year before the epoch", Line: swap(1, "1969-12-31T23:59:59Z"), Reason: lbtoken.ReasonBadTime, Field: "timestamp", Column: 1},
		{Name: "client", Line: swap(3, "-"), Reason: lbtoken.ReasonBadAddress, Field: "client:port", Column: 3},
		{Name: "backend", Line: swap(4, "host:80"), Reason: lbtoken.ReasonBadAddress, Field: "backend:port", Column: 4},
		{Name: "backend time", Line: swap(6, "0.001048s"), Reason: lbtoken.ReasonBadNumber, Field: "backend_processing_time", Column: 6},
		{Name: "backend status", Line: swap(9, "OK"), Reason: lbtoken.ReasonBadNumber, Field: "backend_status_code", Column: 9},
		{Name: "open quote", Line: good + ` "- - - `, Reason: lbtoken.ReasonBadQuote, Column: 12},
	})
}

// TestUnknownTrailingFields: fields after the last known one are kept, in order, and written as aws.elb.extra.
func TestUnknownTrailingFields(t *testing.T) {
	base := `2015-05-13T23:39:43.945958Z lb 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -`
	suite.UnknownTrailingFields(t, base, []lbtest.Trailing{
		{Name: "none"},
		{Name: "one", Tail: " 42", Want: []string{"42"}, Doc: `"extra":["42"]`},
		{Name: "quoted, a dash", Tail: ` "a b" -`, Want: []string{"a b", "-"}, Doc: `"extra":["a b","-"]`},
	})
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
