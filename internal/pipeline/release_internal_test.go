package pipeline

import (
	"io"
	"log/slog"
	"testing"
)

// Release hands a Shard's buffers to the next Shard the pipeline makes, once: the one after that starts afresh.
func TestReleaseHandsBuffersOver(t *testing.T) {
	p := &Pipeline{cfg: DefaultConfig(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	shard := func() *Shard {
		sh, err := p.Shard("shardId-000000000001")
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}
	first := shard()
	released := first.buffers
	first.Release()
	first.Release() // a second call is harmless
	if first.buffers != nil {
		t.Error("a released Shard keeps its buffers")
	}
	if next := shard(); next.buffers != released {
		t.Error("the next Shard did not take the released buffers")
	}
	if other := shard(); other.buffers == nil || other.buffers == released {
		t.Error("a Shard made with no buffers to spare must get its own")
	}
}
