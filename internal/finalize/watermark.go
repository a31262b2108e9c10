package finalize

import (
	"time"

	"github.com/kinflow/kinflow/internal/state"
)

// closeline is what the shards' progress says about event time at one pass.
type closeline struct {
	// watermark: no shard that still counts will deliver flows older than it (up to the allowed lateness).
	watermark int64
	ok        bool // false when no shard is known at all
	// strict is the watermark the stuck shards would allow: a window that closes by watermark but not by strict
	// closes only because a shard made no progress for MaxDelay (the safety net), and counts as forced.
	strict int64
	// newest is the newest flow start any shard has acknowledged: event time's "now", from which the correction
	// horizon is measured, so a backlog days old is finalized like live data.
	newest int64
	// stuck are the shards left out for making no progress for MaxDelay.
	stuck []string
}

// maxAhead is how far past the clock a shard's progress counts.
const maxAhead = time.Hour

// shardState is one shard's say in the watermark.
type shardState int

const (
	holds   shardState = iota // holds the watermark back at its own
	idle                      // has nothing older to deliver: caught up and quiet, or ended
	stuckAt                   // would hold it back, but has recorded no progress for MaxDelay
)

// computeCloseline applies the closing rules (README, "Closing windows") to every shard's progress and, in consumer
// mode, the KCL lease table (leases nil: Lambda mode, no inventory).
//
//   - A shard that ended (progress Ended, or SHARD_END in the lease table) does not hold.
//   - With a lease table: a shard whose lease no live worker holds holds at its last progress, caught up or not:
//     nobody reads it, so flows may still be waiting in it (a dead worker's shard, a child shard not started yet).
//     A shard without progress holds at 0 (the caller registers it, so it gets a row, and renews the row while
//     the shard waits for its parents).
//   - A shard the lease table does not list (Lambda mode has no lease table) no longer holds once it has recorded
//     no progress for StaleAfter (a closed parent shard, whose end the event source mapping never reports).
//   - A shard caught up and without flows for IdleAfter does not hold (it would stall every window).
//   - A holding shard that has recorded no progress for MaxDelay is stuck: it stops holding (the wall-clock
//     safety net), and windows that close only because of that count as forced.
//
// The watermark is the minimum over holding shards. When none holds, every shard has nothing older to deliver,
// and the watermark is the wall clock (or the newest flow, if that is later): the tail of a quiet stream closes
// after its allowed lateness, and a backlog read to its end closes entirely.
func (c Config) computeCloseline(ps []state.Progress, leases []state.Lease, now time.Time) closeline {
	var lease map[string]state.Lease
	if leases != nil {
		lease = make(map[string]state.Lease, len(leases))
		for _, l := range leases {
			lease[l.ShardID] = l
		}
	}
	var cl closeline
	minHold, minAll := int64(0), int64(0)
	holding, holdingAll := false, false
	// A flow stamped in the future (a bad clock, a corrupt line) would push a shard's never-decreasing watermark,
	// and with it the horizon, past every real window: progress counts up to maxAhead past the clock.
	ahead := now.Add(maxAhead).Unix()
	for _, p := range ps {
		cl.ok = true
		p.Watermark = min(p.Watermark, ahead)
		if !p.Registered {
			cl.newest = max(cl.newest, p.Watermark)
		}
		st := c.shardState(p, lease, now)
		if st == idle {
			continue
		}
		if !holdingAll || p.Watermark < minAll {
			minAll, holdingAll = p.Watermark, true
		}
		if st == stuckAt {
			cl.stuck = append(cl.stuck, p.ShardID)
			continue
		}
		if !holding || p.Watermark < minHold {
			minHold, holding = p.Watermark, true
		}
	}
	quiet := max(cl.newest, now.Unix())
	cl.watermark, cl.strict = quiet, quiet
	if holding {
		cl.watermark = minHold
	}
	if holdingAll {
		cl.strict = minAll
	}
	return cl
}

func (c Config) shardState(p state.Progress, lease map[string]state.Lease, now time.Time) shardState {
	l, leased := lease[p.ShardID]
	switch {
	case p.Ended || leased && l.Ended:
		return idle
	case !leased && now.Sub(p.UpdatedAt) >= c.StaleAfter:
		return idle
	case now.Sub(p.UpdatedAt) >= c.MaxDelay:
		return stuckAt
	case leased && !l.Held(now), p.Registered:
		return holds
	case p.CaughtUp && (p.LastDataAt.IsZero() || now.Sub(p.LastDataAt) >= c.IdleAfter):
		return idle
	}
	return holds
}
