package state

import (
	"testing"
	"time"
)

func TestWatermark(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	const idle = 5 * time.Minute
	recent, old := now.Add(-time.Minute), now.Add(-idle)
	tests := []struct {
		name   string
		ps     []Progress
		want   int64
		wantOK bool
	}{
		{"empty", nil, 0, false},
		{"one active", []Progress{{ShardID: "a", Watermark: 700, LastDataAt: recent}}, 700, true},
		{"all active: minimum", []Progress{
			{ShardID: "a", Watermark: 900, LastDataAt: recent},
			{ShardID: "b", Watermark: 600, LastDataAt: recent},
			{ShardID: "c", Watermark: 800},
		}, 600, true},
		{"caught up but recently active holds back", []Progress{
			{ShardID: "a", Watermark: 900, LastDataAt: recent},
			{ShardID: "b", Watermark: 600, CaughtUp: true, LastDataAt: recent},
		}, 600, true},
		{"caught up and idle exactly idleAfter is excluded", []Progress{
			{ShardID: "a", Watermark: 900, LastDataAt: recent},
			{ShardID: "b", Watermark: 600, CaughtUp: true, LastDataAt: old},
		}, 900, true},
		{"caught up without any data is idle", []Progress{
			{ShardID: "a", Watermark: 900, LastDataAt: recent},
			{ShardID: "b", Watermark: 0, CaughtUp: true},
		}, 900, true},
		{"idle but not caught up holds back", []Progress{
			{ShardID: "a", Watermark: 900, LastDataAt: recent},
			{ShardID: "b", Watermark: 600, LastDataAt: old},
		}, 600, true},
		{"ended excluded", []Progress{
			{ShardID: "a", Watermark: 300, Ended: true, LastDataAt: recent},
			{ShardID: "b", Watermark: 900, LastDataAt: recent},
			{ShardID: "c", Watermark: 800, LastDataAt: recent},
		}, 800, true},
		{"all idle: maximum", []Progress{
			{ShardID: "a", Watermark: 300, CaughtUp: true, LastDataAt: old},
			{ShardID: "b", Watermark: 900, CaughtUp: true, LastDataAt: old.Add(-time.Hour)},
		}, 900, true},
		{"all ended or idle: maximum", []Progress{
			{ShardID: "a", Watermark: 1200, Ended: true},
			{ShardID: "b", Watermark: 900, CaughtUp: true, LastDataAt: old},
		}, 1200, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Watermark(tc.ps, now, idle)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("Watermark = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func BenchmarkWatermark(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	ps := make([]Progress, 64)
	for i := range ps {
		ps[i] = Progress{ShardID: "s", Watermark: int64(1_700_000_000 - i), CaughtUp: i%3 == 0, LastDataAt: now.Add(-time.Duration(i) * time.Second)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := Watermark(ps, now, 30*time.Second); !ok {
			b.Fatal("no watermark")
		}
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(nil, "x")
	if err == nil {
		t.Fatal("New(nil, \"x\") succeeded")
	}
	want := "state: a DynamoDB client is required\n" +
		`state: table name "x": want 3 to 255 characters of a-z, A-Z, 0-9, '_', '-', '.'`
	if err.Error() != want {
		t.Fatalf("error:\n%s\nwant:\n%s", err, want)
	}
}
