package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
)

// A Shard made after another was released takes over its buffers, grown by other records (poison among them):
// it writes exactly what a Shard of a fresh pipeline writes for the same records, ids, indices and bytes.
func TestReleasedBuffersChangeNothing(t *testing.T) {
	c := makeCorpus(t, 40)
	before, after := c.records[:25], c.records[25:]
	newPipeline := func() (*pipeline.Pipeline, *memory) {
		resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
		if err != nil {
			t.Fatal(err)
		}
		out := &memory{}
		clock := func() time.Time { return time.Unix(1795440000, 0) }
		p, err := pipeline.New(pipeline.DefaultConfig(), resolver, out,
			pipeline.Options{Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return p, out
	}
	// process runs records through a new Shard in chunks of 6, cuts, and releases it.
	process := func(p *pipeline.Pipeline, records []pipeline.Record) {
		ctx := context.Background()
		sh, err := p.Shard("shardId-000000000001")
		if err != nil {
			t.Fatal(err)
		}
		defer sh.Release()
		for len(records) > 0 {
			n := min(6, len(records))
			if _, err := sh.Process(ctx, records[:n]); err != nil {
				t.Fatal(err)
			}
			records = records[n:]
		}
		if err := sh.Cut(ctx); err != nil {
			t.Fatal(err)
		}
	}

	fresh, want := newPipeline()
	process(fresh, after)

	reused, got := newPipeline()
	process(reused, before)
	got.docs = got.docs[:0]
	process(reused, after)

	if len(got.docs) != len(want.docs) {
		t.Fatalf("after a release: %d documents, fresh: %d", len(got.docs), len(want.docs))
	}
	for i := range want.docs {
		if !sameDoc(got.docs[i], want.docs[i]) {
			t.Fatalf("document %d after a release:\n%s %s %s\nfresh:\n%s %s %s", i, got.docs[i].Index, got.docs[i].ID,
				got.docs[i].Source, want.docs[i].Index, want.docs[i].ID, want.docs[i].Source)
		}
	}
}

func sameDoc(a, b sink.Doc) bool {
	return a.Index == b.Index && a.ID == b.ID && a.Op == b.Op && bytes.Equal(a.Source, b.Source)
}
