package finalize

import (
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/state"
)

// A shard nobody has recorded for StaleAfter stops holding the watermark back; a recent one still does.
func TestStaleShardsDoNotHoldTheWatermark(t *testing.T) {
	now := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	stale := 20 * time.Minute
	tests := []struct {
		name   string
		ps     []state.Progress
		want   int64
		wantOK bool
	}{
		{"a backlogged shard recorded a minute ago holds it back", []state.Progress{
			{ShardID: "a", Watermark: 1000, UpdatedAt: now.Add(-time.Minute)},
			{ShardID: "b", Watermark: 5000, CaughtUp: true, LastDataAt: now, UpdatedAt: now},
		}, 1000, true},
		{"the same shard silent for 20 minutes does not", []state.Progress{
			{ShardID: "a", Watermark: 1000, UpdatedAt: now.Add(-stale)},
			{ShardID: "b", Watermark: 5000, CaughtUp: true, LastDataAt: now, UpdatedAt: now},
		}, 5000, true},
		{"all stale: the newest watermark", []state.Progress{
			{ShardID: "a", Watermark: 1000, UpdatedAt: now.Add(-time.Hour)},
			{ShardID: "b", Watermark: 5000, UpdatedAt: now.Add(-time.Hour)},
		}, 5000, true},
		{"none", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := state.Watermark(unstale(tt.ps, now, stale), now, 2*time.Minute)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("watermark %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
