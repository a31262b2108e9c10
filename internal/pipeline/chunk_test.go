package pipeline_test

import (
	"testing"

	"github.com/kinflow/kinflow/internal/pipeline"
)

func TestChunkSize(t *testing.T) {
	sized := func(sizes ...int) []pipeline.Record {
		out := make([]pipeline.Record, len(sizes))
		for i, n := range sizes {
			out[i].Data = make([]byte, n)
		}
		return out
	}
	many := make([]int, 250)
	for i := range many {
		many[i] = 10
	}
	const kib = 1 << 10
	size := pipeline.ChunkSize{Records: 100, Bytes: 128 * kib}
	for _, c := range []struct {
		name    string
		records []pipeline.Record
		want    int
	}{
		{"none", nil, 0},
		{"one small", sized(10), 1},
		{"small records stop at the record cap", sized(many...), 100},
		{"bytes up to the cap are in", sized(64*kib, 64*kib, 1), 2},
		{"the record that passes the cap starts the next chunk", sized(100*kib, 28*kib+1, 1), 1},
		{"a first record over the cap is a chunk of its own", sized(1<<20, 1), 1},
		{"an empty record costs nothing", sized(128*kib, 0, 0, 1), 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := size.Len(c.records); got != c.want {
				t.Errorf("Len = %d, want %d", got, c.want)
			}
		})
	}
	// A zero ChunkSize still moves a loop on, one record at a time.
	if got := (pipeline.ChunkSize{}).Len(sized(1, 1)); got != 1 {
		t.Errorf("zero ChunkSize: Len = %d, want 1", got)
	}
}
