package finalize

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// The pass prunes dead letters at most once per pruneEvery, and a failed prune is logged, never returned: it keeps
// letters longer and must not hold windows back.
func TestPruneOncePerInterval(t *testing.T) {
	calls, fail := 0, false
	f := &Finalizer{log: slog.New(slog.DiscardHandler), parts: Parts{Prune: func(context.Context) (int, error) {
		calls++
		if fail {
			return 0, errors.New("cluster down")
		}
		return 7, nil
	}}}
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		at        time.Duration
		fail      bool
		wantN     int
		wantCalls int
	}{
		{0, false, 7, 1},                // the first pass prunes
		{30 * time.Second, false, 0, 1}, // the next ones within the hour do not
		{pruneEvery - time.Second, false, 0, 1},
		{pruneEvery, true, 0, 2},                // an hour on it tries again; a failure counts nothing
		{pruneEvery + time.Minute, false, 0, 2}, // and waits its hour like a success
		{2 * pruneEvery, false, 7, 3},
	} {
		fail = step.fail
		if n := f.prune(context.Background(), t0.Add(step.at)); n != step.wantN || calls != step.wantCalls {
			t.Errorf("at +%v: pruned %d with %d calls, want %d with %d", step.at, n, calls, step.wantN, step.wantCalls)
		}
	}
	if n := (&Finalizer{}).prune(context.Background(), t0); n != 0 {
		t.Errorf("without Parts.Prune: pruned %d", n)
	}
}
