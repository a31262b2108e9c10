package vpcflow

import (
	"testing"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// BenchmarkEncode encodes flowgen flows of the default format (the flows of BenchmarkSideBySide's corpus), parsed
// beforehand, with a Source as the pipeline gives one: the encode side of decode+parse+encode alone.
func BenchmarkEncode(b *testing.B) {
	g := flowgen.New(flowgen.DefaultConfig(flowgen.FixedStart))
	batch := g.Batch(g.Interfaces()[0], func() []string {
		lines := make([]string, 4096)
		for i := range lines {
			lines[i] = g.Line()
		}
		return lines
	}())
	p, err := NewParser(DefaultFormat())
	if err != nil {
		b.Fatal(err)
	}
	flows := make([]Flow, len(batch.Events))
	srcs := make([]Source, len(batch.Events))
	for i, ev := range batch.Events {
		srcs[i] = Source{LogGroup: "/vpc/flowlogs/bench", LogStream: batch.LogStream, EventID: ev.ID, Timestamp: ev.Timestamp,
			ShardID: "shardId-000000000000", SequenceNumber: "49590338271490256608559692538361571095921575989136588898"}
		if err := p.Parse(&flows[i], &srcs[i], ev.Message); err != nil {
			b.Fatal(err)
		}
	}
	var enc Encoder
	buf := make([]byte, 0, 4096)
	size := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % len(flows)
		buf = enc.AppendDocument(buf[:0], &flows[k], &srcs[k])
		size += len(buf)
	}
	b.ReportMetric(float64(size)/float64(b.N), "bytes/doc")
}
