package elb

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

// TestWritersFollowRegistry: every ELB row of the registry has a writer, and every writer a row.
func TestWritersFollowRegistry(t *testing.T) {
	if docErr != nil {
		t.Fatal(docErr)
	}
}

// TestGolden parses every line of every case and writes its document (or its error) as one NDJSON line; every
// field of every document must be an ELB row of the registry, and every ELB row must be in some document.
func TestGolden(t *testing.T) {
	rows := schema.LoadBalancerFields(schema.LBFormatELB)
	seen := map[string]bool{}
	for _, c := range lbtest.ReadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			var out []byte
			var rec Record
			var enc Encoder
			for i, l := range c.Lines {
				if err := Parse([]byte(l), &rec); err != nil {
					var le *LineError
					if !errors.As(err, &le) || !le.Permanent() || le.Line != l || le.Format != "elb" {
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
// https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/access-log-collection.html#access-log-entry-examples)
// against what the documentation says of them.
func TestDocumentedExamples(t *testing.T) {
	var lines []string
	for _, c := range lbtest.ReadCases(t) {
		if c.Name == "aws-examples" {
			lines = c.Lines
		}
	}
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
		{"too few fields", "2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80", lbtoken.ReasonFieldCount, lbtoken.ErrFieldCount, "", 4},
		{"timestamp", swap(1, "2015-05-13T23:39:43.Z"), lbtoken.ReasonBadTime, lbtoken.ErrBadTime, "timestamp", 1},
		{"year before the epoch", swap(1, "1969-12-31T23:59:59Z"), lbtoken.ReasonBadTime, lbtoken.ErrBadTime, "timestamp", 1},
		{"client", swap(3, "-"), lbtoken.ReasonBadAddress, lbtoken.ErrBadAddress, "client:port", 3},
		{"backend", swap(4, "host:80"), lbtoken.ReasonBadAddress, lbtoken.ErrBadAddress, "backend:port", 4},
		{"backend time", swap(6, "0.001048s"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "backend_processing_time", 6},
		{"backend status", swap(9, "OK"), lbtoken.ReasonBadNumber, lbtoken.ErrBadNumber, "backend_status_code", 9},
		{"open quote", good + ` "- - - `, lbtoken.ReasonBadQuote, lbtoken.ErrBadQuote, "", 12},
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
			if !strings.HasPrefix(err.Error(), "elb: ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// TestUnknownTrailingFields: fields after the last known one are kept, in order, and written as aws.elb.extra.
func TestUnknownTrailingFields(t *testing.T) {
	base := `2015-05-13T23:39:43.945958Z lb 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -`
	for _, tt := range []struct {
		name, tail string
		want       []string
		doc        string
	}{
		{"none", "", nil, ""},
		{"one", " 42", []string{"42"}, `"extra":["42"]`},
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
	rows := schema.LoadBalancerFields(schema.LBFormatELB)
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
