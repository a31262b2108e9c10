package nlb

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

// TestWritersFollowRegistry: every NLB row of the registry has a writer, and every writer a row.
func TestWritersFollowRegistry(t *testing.T) {
	if docErr != nil {
		t.Fatal(docErr)
	}
}

// TestGolden parses every line of every case and writes its document (or its error) as one NDJSON line; every
// field of every document must be an NLB row of the registry, and every NLB row must be in some document.
func TestGolden(t *testing.T) {
	rows := schema.LoadBalancerFields(schema.LBFormatNLB)
	seen := map[string]bool{}
	for _, c := range lbtest.ReadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			var out []byte
			var rec Record
			var enc Encoder
			for i, l := range c.Lines {
				if err := Parse([]byte(l), &rec); err != nil {
					var le *LineError
					if !errors.As(err, &le) || !le.Permanent() || le.Line != l || le.Format != "nlb" {
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
// https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html#access-log-entry-examples)
// against what the documentation says of them.
func TestDocumentedExamples(t *testing.T) {
	var lines []string
	for _, c := range lbtest.ReadCases(t) {
		if c.Name == "aws-examples" {
			lines = c.Lines
		}
	}
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
		{"too few fields", "tls 2.0 2018-12-20T02:59:40 net/nlb/c6e7 g3d4 72.21.218.154:51341 172.100.100.185:443 5 2 98 246", lbtoken.ReasonFieldCount, lbtoken.ErrFieldCount, "", 11},
		{"an ALB line", "http 2018-07-02T22:23:00.186641Z app/lb/50dc 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366", lbtoken.ReasonFieldCount, lbtoken.ErrFieldCount, "", 12},
		{"time", swap(3, "2018-12-20T02:59"), lbtoken.ReasonBadTime, lbtoken.ErrBadTime, "time", 3},
		{"creation time", good + " - - - 2018-13-20T02:59:40", lbtoken.ReasonBadTime, lbtoken.ErrBadTime, "tls_connection_creation_time", 22},
		{"client", swap(6, "72.21.218.154:port"), lbtoken.ReasonBadAddress, lbtoken.ErrBadAddress, "client:port", 6},
		{"destination", swap(7, "[2001:db8::1:443"), lbtoken.ReasonBadAddress, lbtoken.ErrBadAddress, "destination:port", 7},
		{"connection time", swap(8, "5.0"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "connection_time", 8},
		{"handshake -1", swap(9, "-1"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "tls_handshake_time", 9},
		{"bytes", swap(10, "x"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "received_bytes", 10},
		{"open quote", good + ` - - "h2","http/1.1`, lbtoken.ReasonBadQuote, lbtoken.ErrBadQuote, "", 21},
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
			if !strings.HasPrefix(err.Error(), "nlb: ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// TestUnknownTrailingFields: fields after the last known one are kept, in order, and written as aws.elb.extra.
func TestUnknownTrailingFields(t *testing.T) {
	base := `tls 2.0 2018-12-20T02:59:40 net/nlb/c6e7 g3d4 72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - - - - tlsv12 - - h2 h2 "h2" 2018-12-20T02:59:30`
	for _, tt := range []struct {
		name, tail string
		want       []string
		doc        string
	}{
		{"none", "", nil, ""},
		{"one", " X25519MLKEM768", []string{"X25519MLKEM768"}, `"extra":["X25519MLKEM768"]`},
		{"quoted, a dash", ` "a b" -`, []string{"a b", "-"}, `"extra":["a b","-"]`},
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
	rows := schema.LoadBalancerFields(schema.LBFormatNLB)
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
