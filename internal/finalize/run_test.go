package finalize_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// hangingSearch is a cluster whose searches answer only when the request's context ends.
type hangingSearch struct {
	once    sync.Once
	started chan struct{} // closed at the first search
}

func (h *hangingSearch) Do(ctx context.Context, _, _ string, _ []byte, _ int64) (int, []byte, error) {
	h.once.Do(func() { close(h.started) })
	<-ctx.Done()
	return 0, nil, ctx.Err()
}

type nopSink struct{}

func (nopSink) Write(context.Context, []sink.Doc) error { return nil }
func (nopSink) Close(context.Context) error             { return nil }

// TestLockLostMidPassStopsIt: the pass runs under the lock's context, so another finalizer taking the lock (this
// one's lease looked expired to it) stops the pass at this one's next renewal, not at the pass's end.
func TestLockLostMidPassStopsIt(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	store, err := state.New(dynamodb.NewFromConfig(testenv.AWSConfig(testenv.URL(t, testenv.Dynalite))),
		testenv.UniqueName(t, "kff"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	search := &hangingSearch{started: make(chan struct{})}
	cfg := finalize.DefaultConfig()
	cfg.LockLease = 3 * time.Second // renewed every second
	f, err := finalize.New(cfg, finalize.Parts{Search: search, Sink: nopSink{}, State: store},
		finalize.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}

	stolen := make(chan error, 1)
	go func() {
		select {
		case <-search.started:
		case <-ctx.Done():
			stolen <- ctx.Err()
			return
		}
		// The thief's clock is an hour ahead: the owner's lease has run out for it, so it takes the lock.
		held, _, err := store.Acquire(ctx, finalize.LockName, "thief", time.Hour, time.Now().Add(time.Hour))
		if err == nil && !held {
			err = errors.New("the thief did not get the lock")
		}
		stolen <- err
	}()

	start := time.Now()
	_, err = f.RunOnceLocked(ctx, store, "owner")
	took := time.Since(start)
	if serr := <-stolen; serr != nil {
		t.Fatal(serr)
	}
	if !errors.Is(err, finalize.ErrLockLost) || !errors.Is(err, context.Canceled) {
		t.Fatalf("RunOnceLocked = %v, want the pass stopped by its context, wrapped in ErrLockLost", err)
	}
	if took >= cfg.LockLease {
		t.Errorf("the pass ran %v after the lock was taken, want it stopped at the next renewal (lease %v)", took, cfg.LockLease)
	}
	// The thief's lock is the thief's: the owner's release did not delete it.
	if held, _, err := store.Acquire(ctx, finalize.LockName, "probe", time.Minute, time.Now()); err != nil || held {
		t.Errorf("probe Acquire = %v, %v; want the thief still holding the lock", held, err)
	}
}
