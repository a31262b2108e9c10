package pipeline

import (
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/sink"
)

// TestDailyIndex: the cached name of every second is the name the sink computes for it, across day boundaries,
// before the epoch and past the cache's bound of 64 days.
func TestDailyIndex(t *testing.T) {
	ix := sink.Indices{Prefix: "kinflow"}
	d := newDailyIndex(ix.Flows)
	for _, sec := range []int64{0, -1, 86399, 86400, -86400, -86401, 1795435199, 1795435200, 1795435200 + 3600} {
		if got, want := d.at(sec), ix.Flows(time.Unix(sec, 0)); got != want {
			t.Errorf("second %d: %s, want %s", sec, got, want)
		}
	}
	for day := range int64(200) {
		for _, sec := range []int64{day * 86400, day*86400 + 86399, -day*86400 - 1} {
			if got, want := d.at(sec), ix.Flows(time.Unix(sec, 0)); got != want {
				t.Fatalf("second %d: %s, want %s", sec, got, want)
			}
		}
		if len(d.byDay) > 64 {
			t.Fatalf("%d days cached, want at most 64", len(d.byDay))
		}
	}
}

// BenchmarkDailyIndex: the index of each document of a day of flows, cached beside the sink's name computed per
// document (what an object's lines cost before the cache).
func BenchmarkDailyIndex(b *testing.B) {
	ix := sink.Indices{Prefix: "kinflow"}
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).Unix()
	b.Run("cached", func(b *testing.B) {
		d := newDailyIndex(ix.Flows)
		b.ReportAllocs()
		for i := range b.N {
			_ = d.at(start + int64(i%86400))
		}
	})
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			_ = ix.Flows(time.Unix(start+int64(i%86400), 0))
		}
	})
}
