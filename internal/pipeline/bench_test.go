package pipeline_test

import (
	"context"
	"testing"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
)

// nopSink accepts every write: Prepare never writes, so the benchmark measures decoding, parsing and encoding only.
type nopSink struct{}

func (nopSink) Write(context.Context, []sink.Doc) error { return nil }
func (nopSink) Close(context.Context) error             { return nil }

// BenchmarkPrepare is the hot path every record takes before the sink: gunzip, envelope, one parse and one document
// per line, poison records dead-lettered. It pays for the views into the envelope's strings (shard.go, bytesOf):
// the copies they save are one allocation per log event.
func BenchmarkPrepare(b *testing.B) {
	c := makeCorpus(b, 200)
	resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeline.New(pipeline.DefaultConfig(), resolver, nopSink{}, pipeline.Options{})
	if err != nil {
		b.Fatal(err)
	}
	sh, err := p.Shard("shardId-000000000000")
	if err != nil {
		b.Fatal(err)
	}
	bytes := 0
	for _, r := range c.records {
		bytes += len(r.Data)
	}
	const chunk = 100
	b.ReportAllocs()
	b.SetBytes(int64(bytes))
	b.ResetTimer()
	for range b.N {
		for start := 0; start < len(c.records); start += chunk {
			if _, err := sh.Prepare(b.Context(), c.records[start:min(start+chunk, len(c.records))]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
