package lbtest

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinflow/kinflow/internal/format/lbtoken"
	"github.com/kinflow/kinflow/internal/schema"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

// A Suite is the tests and benchmarks every load-balancer format has alike, driven by the format's own Parse and
// Encoder over its testdata/cases. A format's test file declares one Suite and calls its methods from its own
// Test, Fuzz and Benchmark functions (Go finds those per package), beside the tests only that format has.
type Suite[R any] struct {
	Format string                        // alb, nlb or elb: LineError.Format and the errors' prefix
	Rows   []schema.Field                // the registry's rows of the format
	Names  []string                      // the format's FieldNames, for ReferenceParse
	Parse  func(line []byte, r *R) error // the format's Parse
	Append func(dst []byte, r *R) []byte // an Encoder's AppendDocument
	Extra  func(r *R) [][]byte           // the record's unknown trailing fields (Record.Extra)
}

// Golden parses every line of every case and writes its document (or its error) as one NDJSON line to
// testdata/cases/<case>.golden.ndjson, or rewrites that file when update is set. Every field of every document
// must be a row of the format, and every row must be in some document.
func (s Suite[R]) Golden(t *testing.T, update bool) {
	seen := map[string]bool{}
	for _, c := range ReadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			var out []byte
			var rec R
			for i, l := range c.Lines {
				if err := s.Parse([]byte(l), &rec); err != nil {
					var le *lbtoken.LineError
					if !errors.As(err, &le) || !le.Permanent() || le.Line != l || le.Format != s.Format {
						t.Fatalf("line %d: %v is not a *LineError with the line", i+1, err)
					}
					e, _ := json.Marshal(map[string]any{"error": err.Error(), "reason": le.Reason, "field": le.Field, "column": le.Column})
					out = append(append(out, e...), '\n')
					continue
				}
				doc := s.Append(nil, &rec)
				CheckDocument(t, doc, s.Rows, seen)
				out = append(append(out, doc...), '\n')
			}
			golden.File(t, update, filepath.Join("testdata", "cases", c.Name+".golden.ndjson"), out)
		})
	}
	CheckCoverage(t, s.Rows, seen)
}

// A BadLine is a line the format refuses, and the error it must get: the reason, and the field (its AWS name) and
// column at fault, none for empty_line, field_count and bad_quote.
type BadLine struct {
	Name, Line string
	Reason     lbtoken.Reason
	Field      string
	Column     int
}

// sentinels is the sentinel each reason's error must match with errors.Is.
var sentinels = map[lbtoken.Reason]error{
	lbtoken.ReasonEmptyLine: lbtoken.ErrEmptyLine, lbtoken.ReasonFieldCount: lbtoken.ErrFieldCount,
	lbtoken.ReasonBadQuote: lbtoken.ErrBadQuote, lbtoken.ReasonBadTime: lbtoken.ErrBadTime,
	lbtoken.ReasonBadAddress: lbtoken.ErrBadAddress, lbtoken.ReasonBadNumber: lbtoken.ErrBadNumber,
}

// Swap returns line with its field at column col (from 1) replaced by v; line is split at spaces, so the fields
// up to col must be unquoted.
func Swap(line string, col int, v string) string {
	f := strings.Fields(line)
	f[col-1] = v
	return strings.Join(f, " ")
}

// BadLines parses each line and holds its error to the case: a permanent *LineError with the reason, its
// sentinel, the field and column at fault, the line, and a message that starts with the format's name.
func (s Suite[R]) BadLines(t *testing.T, tests []BadLine) {
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			var r R
			err := s.Parse([]byte(tt.Line), &r)
			var le *lbtoken.LineError
			if !errors.As(err, &le) || tt.Reason == "" || !errors.Is(err, sentinels[tt.Reason]) || le.Reason != tt.Reason || le.Field != tt.Field ||
				le.Column != tt.Column || !le.Permanent() || le.Line != tt.Line {
				t.Fatalf("got %#v (%v), want reason %s field %q column %d", le, err, tt.Reason, tt.Field, tt.Column)
			}
			if !strings.HasPrefix(err.Error(), s.Format+": ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

// A Trailing is a tail of unknown fields after a line's last known one: the values the record must keep, in
// order, and what the document must hold of them ("" for no aws.elb.extra at all).
type Trailing struct {
	Name, Tail string
	Want       []string
	Doc        string
}

// UnknownTrailingFields parses base followed by each tail: the record keeps the unknown fields, in order, and the
// document writes them as aws.elb.extra.
func (s Suite[R]) UnknownTrailingFields(t *testing.T, base string, tests []Trailing) {
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			var r R
			if err := s.Parse([]byte(base+tt.Tail), &r); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range s.Extra(&r) {
				got = append(got, string(e))
			}
			if strings.Join(got, "|") != strings.Join(tt.Want, "|") {
				t.Errorf("extra %q, want %q", got, tt.Want)
			}
			doc := string(s.Append(nil, &r))
			if tt.Doc == "" && strings.Contains(doc, `"extra"`) || !strings.Contains(doc, tt.Doc) {
				t.Errorf("document %s, want %s", doc, tt.Doc)
			}
		})
	}
}

// NoAllocations: Parse and Append allocate nothing once the record and the buffer have grown.
func (s Suite[R]) NoAllocations(t *testing.T) {
	lines := s.Lines(t)
	var r R
	buf := make([]byte, 0, 8192)
	for _, l := range lines {
		_ = s.Parse(l, &r)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			if s.Parse(l, &r) == nil {
				buf = s.Append(buf[:0], &r)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run of %d lines", allocs, len(lines))
	}
}

// Lines returns the lines of the cases that parse.
func (s Suite[R]) Lines(tb testing.TB) [][]byte {
	var out [][]byte
	var r R
	for _, c := range ReadCases(tb) {
		for _, l := range c.Lines {
			if s.Parse([]byte(l), &r) == nil {
				out = append(out, []byte(l))
			}
		}
	}
	return out
}

// Fuzz seeds f with every line of the cases and checks that no line makes Parse panic, that every error is a
// permanent *LineError with a reason, and that a parsed record encodes to a valid document of the format's rows.
func (s Suite[R]) Fuzz(f *testing.F) {
	for _, c := range ReadCases(f) {
		for _, l := range c.Lines {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		var r R
		if err := s.Parse([]byte(line), &r); err != nil {
			var le *lbtoken.LineError
			if !errors.As(err, &le) || le.Reason == "" || !le.Permanent() {
				t.Fatalf("error %v is not a *LineError with a reason", err)
			}
			_ = err.Error()
			return
		}
		doc := s.Append(nil, &r)
		if !json.Valid(doc) {
			t.Fatalf("invalid JSON %s", doc)
		}
		CheckDocument(t, doc, s.Rows, map[string]bool{})
	})
}

// BenchParse parses the lines of the cases that parse, in turn, into one reused record (kinflow), and the same
// lines the plain way (plain: ReferenceParse, a regular expression, time.Parse, netip and strconv into a map),
// the yardstick, in the same run.
func (s Suite[R]) BenchParse(b *testing.B) {
	lines := s.Lines(b)
	b.Run("kinflow", func(b *testing.B) {
		var r R
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := s.Parse(lines[i%len(lines)], &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := ReferenceParse(string(lines[i%len(lines)]), s.Names); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchAppend encodes the parsed records of the cases, in turn, into one reused buffer.
func (s Suite[R]) BenchAppend(b *testing.B) {
	lines := s.Lines(b)
	recs := make([]R, len(lines))
	for i, l := range lines {
		if err := s.Parse(l, &recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = s.Append(buf[:0], &recs[i%len(recs)])
	}
}
