package nlb

import (
	"testing"

	"github.com/kinflow/kinflow/internal/testing/lbtest"
)

// BenchmarkParse parses the lines of the cases that parse into one reused Record.
func BenchmarkParse(b *testing.B) {
	lines := allLines(b)
	var r Record
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := Parse(lines[i%len(lines)], &r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseReference parses the same lines the plain way (lbtest.ReferenceParse: a regular expression,
// time.Parse, netip and strconv into a map), the yardstick of BenchmarkParse.
func BenchmarkParseReference(b *testing.B) {
	lines := allLines(b)
	names := FieldNames()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := lbtest.ReferenceParse(string(lines[i%len(lines)]), names); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendDocument encodes parsed records into one reused buffer.
func BenchmarkAppendDocument(b *testing.B) {
	lines := allLines(b)
	recs := make([]Record, len(lines))
	for i, l := range lines {
		if err := Parse(l, &recs[i]); err != nil {
			b.Fatal(err)
		}
	}
	var enc Encoder
	buf := make([]byte, 0, 8192)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = enc.AppendDocument(buf[:0], &recs[i%len(recs)])
	}
}
