package finalize

import (
	"slices"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/state"
)

// The closing rules, shard by shard: which shards hold the watermark back, which are stuck, and what happens when
// none holds. now is arbitrary: the rules only compare it with the times in the rows.
func TestCloseline(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	cfg := DefaultConfig() // idle 2m, stale 20m, max delay 1h
	held := func(id string) state.Lease {
		return state.Lease{ShardID: id, Owner: "w1", Timeout: now.Add(5 * time.Second)}
	}
	dead := func(id string) state.Lease {
		return state.Lease{ShardID: id, Owner: "w1", Timeout: now.Add(-time.Second)}
	}
	busy := func(id string, wm int64) state.Progress {
		return state.Progress{ShardID: id, Watermark: wm, LastDataAt: now, UpdatedAt: now.Add(-5 * time.Second)}
	}
	quiet := func(id string, wm int64) state.Progress { // caught up, no flows for 3 minutes
		return state.Progress{ShardID: id, Watermark: wm, CaughtUp: true, LastDataAt: now.Add(-3 * time.Minute), UpdatedAt: now}
	}
	tests := []struct {
		name          string
		ps            []state.Progress
		leases        []state.Lease // nil: Lambda mode
		wm, strict    int64
		newest        int64
		stuck         []string
		ok            bool
		wantWallClock bool // wm and strict are the wall clock
	}{
		{name: "none", ok: false},
		{name: "the slowest busy shard holds it", ps: []state.Progress{busy("a", 1000), busy("b", 5000)},
			wm: 1000, strict: 1000, newest: 5000, ok: true},
		{name: "a quiet caught-up shard does not hold", ps: []state.Progress{quiet("a", 1000), busy("b", 5000)},
			wm: 5000, strict: 5000, newest: 5000, ok: true},
		{name: "every shard quiet: the wall clock", ps: []state.Progress{quiet("a", 1000), quiet("b", 5000)},
			leases: []state.Lease{held("a"), held("b")}, newest: 5000, ok: true, wantWallClock: true},
		{name: "an ended shard does not hold", ps: []state.Progress{{ShardID: "a", Watermark: 10, Ended: true, UpdatedAt: now}, busy("b", 5000)},
			wm: 5000, strict: 5000, newest: 5000, ok: true},
		{name: "SHARD_END in the lease table does not hold", ps: []state.Progress{busy("a", 10), busy("b", 5000)},
			leases: []state.Lease{{ShardID: "a", Ended: true}, held("b")}, wm: 5000, strict: 5000, newest: 5000, ok: true},
		{name: "Lambda: a shard silent for StaleAfter does not hold", ps: []state.Progress{
			{ShardID: "a", Watermark: 1000, UpdatedAt: now.Add(-20 * time.Minute)}, busy("b", 5000)},
			wm: 5000, strict: 5000, newest: 5000, ok: true},
		{name: "Lambda: one silent for MaxDelay is still only stale, not stuck", ps: []state.Progress{
			{ShardID: "a", Watermark: 1000, UpdatedAt: now.Add(-2 * time.Hour)}, busy("b", 5000)},
			wm: 5000, strict: 5000, newest: 5000, ok: true},
		{name: "consumer: a leased shard silent for StaleAfter still holds", ps: []state.Progress{
			{ShardID: "a", Watermark: 1000, UpdatedAt: now.Add(-20 * time.Minute)}, busy("b", 5000)},
			leases: []state.Lease{held("a"), held("b")}, wm: 1000, strict: 1000, newest: 5000, ok: true},
		{name: "a dead worker's caught-up, quiet shard holds at its last progress", ps: []state.Progress{quiet("a", 1000), busy("b", 5000)},
			leases: []state.Lease{dead("a"), held("b")}, wm: 1000, strict: 1000, newest: 5000, ok: true},
		{name: "a free lease holds too", ps: []state.Progress{quiet("a", 1000), busy("b", 5000)},
			leases: []state.Lease{{ShardID: "a"}, held("b")}, wm: 1000, strict: 1000, newest: 5000, ok: true},
		{name: "a registered shard that has not reported holds at 0", ps: []state.Progress{
			{ShardID: "a", UpdatedAt: now.Add(-time.Minute), Registered: true}, busy("b", 5000)},
			leases: []state.Lease{held("a"), held("b")}, wm: 0, strict: 0, newest: 5000, ok: true},
		{name: "a shard without progress for MaxDelay is stuck", ps: []state.Progress{
			{ShardID: "a", Watermark: 1000, UpdatedAt: now.Add(-time.Hour)}, busy("b", 5000)},
			leases: []state.Lease{dead("a"), held("b")}, wm: 5000, strict: 1000, newest: 5000, stuck: []string{"a"}, ok: true},
		{name: "a registered shard that never reports is stuck after MaxDelay", ps: []state.Progress{
			{ShardID: "a", UpdatedAt: now.Add(-time.Hour), Registered: true}, busy("b", 5000)},
			leases: []state.Lease{held("a"), held("b")}, wm: 5000, strict: 0, newest: 5000, stuck: []string{"a"}, ok: true},
		{name: "a flow from the future counts up to an hour past the clock", ps: []state.Progress{busy("a", now.Unix()+86400), busy("b", 5000)},
			wm: 5000, strict: 5000, newest: now.Unix() + 3600, ok: true},
		{name: "every shard stuck: the wall clock, strict at the slowest", ps: []state.Progress{
			{ShardID: "a", Watermark: 1000, UpdatedAt: now.Add(-time.Hour)}},
			leases: []state.Lease{held("a")}, strict: 1000, newest: 1000, stuck: []string{"a"}, ok: true, wantWallClock: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cfg.computeCloseline(slices.Clone(tt.ps), tt.leases, now)
			want := closeline{watermark: tt.wm, strict: tt.strict, newest: tt.newest, stuck: tt.stuck, ok: tt.ok}
			if tt.wantWallClock {
				want.watermark = now.Unix()
				if tt.stuck == nil {
					want.strict = now.Unix()
				}
			}
			if !tt.ok {
				want.watermark, want.strict = now.Unix(), now.Unix()
			}
			if got.watermark != want.watermark || got.strict != want.strict || got.newest != want.newest ||
				got.ok != want.ok || !slices.Equal(got.stuck, want.stuck) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// The closing rules over 64 shards' progress and leases, as a consumer pass computes them.
func BenchmarkCloseline(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	cfg := DefaultConfig()
	ps := make([]state.Progress, 64)
	leases := make([]state.Lease, 64)
	for i := range ps {
		id := "shardId-" + time.Duration(i).String()
		ps[i] = state.Progress{ShardID: id, Watermark: int64(1_700_000_000 - i), CaughtUp: i%3 == 0,
			LastDataAt: now.Add(-time.Duration(i) * time.Second), UpdatedAt: now.Add(-5 * time.Second)}
		leases[i] = state.Lease{ShardID: id, Owner: "w1", Timeout: now.Add(time.Duration(i%2*20-10) * time.Second)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if cl := cfg.computeCloseline(ps, leases, now); !cl.ok {
			b.Fatal("no watermark")
		}
	}
}
