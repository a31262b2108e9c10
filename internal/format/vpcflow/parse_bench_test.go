package vpcflow

import (
	"testing"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// BenchmarkParse parses flowgen lines of the default format (the lines of BenchmarkSideBySide's corpus) into one
// reused Flow: the parse side of decode+parse alone, without the envelope.
func BenchmarkParse(b *testing.B) {
	g := flowgen.New(flowgen.DefaultConfig(flowgen.FixedStart))
	lines := make([]string, 4096)
	for i := range lines {
		lines[i] = g.Line()
	}
	p, err := NewParser(DefaultFormat())
	if err != nil {
		b.Fatal(err)
	}
	src := &Source{LogGroup: "/vpc/flowlogs/bench"}
	var f Flow
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := p.Parse(&f, src, lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}
