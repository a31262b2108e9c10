package nlb

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

// TestWritersFollowRegistry: every NLB row of the registry has a writer, and every writer a row.
func TestWritersFollowRegistry(t *testing.T) {
	if docErr != nil {
		t.Fatal(docErr)
	}
}

var suite = lbtest.Suite[Record]{
	Format: "nlb", Rows: schema.LoadBalancerFields(schema.LBFormatNLB), Names: FieldNames(),
	Parse: Parse, Append: new(Encoder).AppendDocument, Extra: func(r *Record) [][]byte { return r.Extra },
}

// TestGolden: every line of every case against its document (or error) in testdata/cases/*.golden.ndjson, every
// field an NLB row of the registry, and every NLB row in some document.
func TestGolden(t *testing.T) { suite.Golden(t, *update) }

// TestDocumentedExamples checks values of AWS's example entries (testdata/cases/aws-examples.txt, from
// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html#access-log-entry-examples)
// against what the documentation says of them.
func TestDocumentedExamples(t *testing.T) {
	lines := lbtest.CaseLines(t, "aws-examples")
	tests := []struct {
		name   string
		line   int
		fe, be string
		prefs  []string
		fields int
	}{
		{"without ALPN", 0, "", "", nil, 22},
		{"with ALPN", 1, "h2", "h2", []string{"h2", "http/1.1"}, 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if err := Parse([]byte(lines[tt.line]), &r); err != nil {
				t.Fatal(err)
			}
			var prefs []string
			for _, p := range r.ALPNClientPreferences {
				prefs = append(prefs, string(p))
			}
			if string(r.ALPNFrontendProtocol) != tt.fe || string(r.ALPNBackendProtocol) != tt.be ||
				strings.Join(prefs, ",") != strings.Join(tt.prefs, ",") || r.Fields != tt.fields || len(r.Extra) != 0 {
				t.Errorf("alpn %q %q %q, fields %d, extra %q", r.ALPNFrontendProtocol, r.ALPNBackendProtocol, prefs, r.Fields, r.Extra)
			}
			if r.Client != netip.MustParseAddrPort("72.21.218.154:51341") || r.ConnectionTime != 5e6 || r.TLSHandshakeTime != 2e6 ||
				r.ReceivedBytes != 98 || r.SentBytes != 246 || r.TLSVersion != "1.2" || string(r.Listener) != "g3d4b5e8bb8464cd" ||
				r.TLSConnectionCreationTime != r.Time-10e9 && tt.line == 0 {
				t.Errorf("got %+v", r)
			}
		})
	}
}

// TestBadLines: each reason a line is refused, with the field and column at fault.
func TestBadLines(t *testing.T) {
	const good = `tls 2.0 2018-12-20T02:59:40 net/nlb/c6e7 g3d4 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - - - - tlsv12 - -`
	swap := func(col int, v string) string { return lbtest.Swap(good, col, v) }
	suite.BadLines(t, []lbtest.BadLine{
		{Name: "empty", Line: "", Reason: lbtoken.ReasonEmptyLine},
		{Name: "too few fields", Line: "tls 2.0 2018-12-20T02:59:40 net/nlb/c6e7 g3d4 72.21.218.154:51341 172.100.100.185:443 5 2 98 246", Reason: lbtoken.ReasonFieldCount, Column: 11},
		{Name: "an ALB line", Line: "http 2018-07-02T22:23:00.186641Z app/lb/50dc 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366", Reason: lbtoken.ReasonFieldCount, Column: 12},
		{Name: "time", Line: swap(3, "2018-12-20T02:59"), Reason: lbtoken.ReasonBadTime, Field: "time", Column: 3},
		{Name: "creation time", Line: good + " - - - 2018-13-20T02:59:40", Reason: lbtoken.ReasonBadTime, Field: "tls_connection_creation_time", Column: 22},
		{Name: "client", Line: swap(6, "72.21.218.154:port"), Reason: lbtoken.ReasonBadAddress, Field: "client:port", Column: 6},
		{Name: "destination", Line: swap(7, "[2001:db8::1:443"), Reason: lbtoken.ReasonBadAddress, Field: "destination:port", Column: 7},
		{Name: "connection time", Line: swap(8, "5.0"), Reason: lbtoken.ReasonBadNumber, Field: "connection_time", Column: 8},
		{Name: "handshake -1", Line: swap(9, "-1"), Reason: lbtoken.ReasonBadNumber, Field: "tls_handshake_time", Column: 9},
		{Name: "bytes", Line: swap(10, "x"), Reason: lbtoken.ReasonBadNumber, Field: "received_bytes", Column: 10},
		{Name: "open quote", Line: good + ` - - "h2","http/1.1`, Reason: lbtoken.ReasonBadQuote, Column: 21},
	})
}

// TestUnknownTrailingFields: fields after the last known one are kept, in order, and written as aws.elb.extra.
func TestUnknownTrailingFields(t *testing.T) {
	base := `tls 2.0 2018-12-20T02:59:40 net/nlb/c6e7 g3d4 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - - - - tlsv12 - - h2 h2 "h2" 2018-12-20T02:59:30`
	suite.UnknownTrailingFields(t, base, []lbtest.Trailing{
		{Name: "none"},
		{Name: "one", Tail: " X25519MLKEM768", Want: []string{"X25519MLKEM768"}, Doc: `"extra":["X25519MLKEM768"]`},
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
