package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// backends are the DynamoDB emulators every store test runs against. hasTTL says whether it implements TTL;
// atomic whether it evaluates a write's condition and applies the write as one step, as DynamoDB does. dynalite
// locks the item around an update; moto 5 (threaded server) reads the item, tests the condition and writes it
// back without a lock, so two racing conditional writes can both succeed there.
var backends = []struct {
	svc    testenv.Service
	hasTTL bool
	atomic bool
}{
	{testenv.Dynalite, false, true},
	{testenv.Moto, true, false},
}

// t0 is a fixed wall clock for stored times (whole milliseconds, as stored).
var t0 = time.UnixMilli(1_714_564_800_000)

func newClient(tb testing.TB, svc testenv.Service) *dynamodb.Client {
	tb.Helper()
	return dynamodb.NewFromConfig(testenv.AWSConfig(testenv.URL(tb, svc)))
}

// newStore returns a store over a fresh table made by EnsureTable, dropped when the test ends.
func newStore(tb testing.TB, ctx context.Context, svc testenv.Service) *Store {
	tb.Helper()
	client := newClient(tb, svc)
	s, err := New(client, testenv.UniqueName(tb, "kinflow-state"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.EnsureTable(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// ctx ends after this cleanup (testenv.Context registered its cancel first).
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.Table())}); err != nil {
			tb.Logf("dropping %s: %v", s.Table(), err)
		}
	})
	return s
}

// steppingClock makes s's own clock (Hold's renewals) advance by step per reading, whatever the real time, so a
// slow emulator cannot make a renewal late and a test of Hold does not depend on scheduling.
func steppingClock(s *Store, start time.Time, step time.Duration) {
	var mu sync.Mutex
	now := start
	s.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

func rawItem(tb testing.TB, ctx context.Context, s *Store, k string) map[string]types.AttributeValue {
	tb.Helper()
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(k), ConsistentRead: aws.Bool(true)})
	if err != nil {
		tb.Fatal(err)
	}
	return out.Item
}

func rawNum(tb testing.TB, item map[string]types.AttributeValue, name string) int64 {
	tb.Helper()
	n, ok := getNum(item, name)
	if !ok {
		tb.Fatalf("item has no number %s: %v", name, item)
	}
	return n
}

func progressOf(tb testing.TB, ctx context.Context, s *Store, shard string) Progress {
	tb.Helper()
	ps, err := s.Progress(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range ps {
		if p.ShardID == shard {
			return p
		}
	}
	tb.Fatalf("no progress for %s in %v", shard, ps)
	return Progress{}
}

func mustPut(tb testing.TB, ctx context.Context, s *Store, p Progress) {
	tb.Helper()
	if err := s.PutProgress(ctx, p); err != nil {
		tb.Fatal(err)
	}
}

// wantErr checks that err is a permanent *Error for op wrapping sentinel.
func wantErr(tb testing.TB, err error, sentinel error, prefix string) {
	tb.Helper()
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, sentinel) || !se.Permanent() || !strings.HasPrefix(err.Error(), prefix) {
		tb.Fatalf("error %v (%T): want a permanent *Error wrapping %v starting %q", err, err, sentinel, prefix)
	}
}

var storeTests = []struct {
	name        string
	needsAtomic bool // races writers against each other; see backends
	run         func(t *testing.T, ctx context.Context, s *Store)
}{
	{"progress/watermark never moves back", false, func(t *testing.T, ctx context.Context, s *Store) {
		steps := []struct {
			put  Progress
			want Progress
		}{
			{Progress{ShardID: "a", Watermark: 100, LastDataAt: t0, UpdatedAt: t0},
				Progress{ShardID: "a", Watermark: 100, LastDataAt: t0, UpdatedAt: t0}},
			// Older watermark and older data time: both stay, CaughtUp and UpdatedAt change.
			{Progress{ShardID: "a", Watermark: 50, CaughtUp: true, LastDataAt: t0.Add(-time.Minute), UpdatedAt: t0.Add(time.Second)},
				Progress{ShardID: "a", Watermark: 100, CaughtUp: true, LastDataAt: t0, UpdatedAt: t0.Add(time.Second)}},
			// No data time given: the stored one stays.
			{Progress{ShardID: "a", Watermark: 50, UpdatedAt: t0.Add(2 * time.Second)},
				Progress{ShardID: "a", Watermark: 100, LastDataAt: t0, UpdatedAt: t0.Add(2 * time.Second)}},
			// Older watermark, newer data time (a replay that carried flows).
			{Progress{ShardID: "a", Watermark: 60, LastDataAt: t0.Add(3 * time.Second), UpdatedAt: t0.Add(3 * time.Second)},
				Progress{ShardID: "a", Watermark: 100, LastDataAt: t0.Add(3 * time.Second), UpdatedAt: t0.Add(3 * time.Second)}},
			{Progress{ShardID: "a", Watermark: 150, CaughtUp: true, LastDataAt: t0.Add(4 * time.Second), UpdatedAt: t0.Add(4 * time.Second)},
				Progress{ShardID: "a", Watermark: 150, CaughtUp: true, LastDataAt: t0.Add(4 * time.Second), UpdatedAt: t0.Add(4 * time.Second)}},
		}
		for i, st := range steps {
			mustPut(t, ctx, s, st.put)
			if diff := cmp.Diff(st.want, progressOf(t, ctx, s, "a")); diff != "" {
				t.Fatalf("after step %d (-want +got):\n%s", i+1, diff)
			}
		}
	}},
	{"progress/ended is sticky and only ended shards expire", false, func(t *testing.T, ctx context.Context, s *Store) {
		mustPut(t, ctx, s, Progress{ShardID: "parent", Watermark: 10, Ended: true, UpdatedAt: t0})
		mustPut(t, ctx, s, Progress{ShardID: "parent", Watermark: 5, CaughtUp: true, UpdatedAt: t0.Add(time.Second)})
		mustPut(t, ctx, s, Progress{ShardID: "child", Watermark: 20, LastDataAt: t0, UpdatedAt: t0})
		want := []Progress{
			{ShardID: "child", Watermark: 20, LastDataAt: t0, UpdatedAt: t0},
			{ShardID: "parent", Watermark: 10, CaughtUp: true, Ended: true, UpdatedAt: t0.Add(time.Second)},
		}
		got, err := s.Progress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Progress (-want +got):\n%s", diff)
		}
		if exp, want := rawNum(t, rawItem(t, ctx, s, "progress#parent"), TTLAttribute), t0.Add(7*24*time.Hour).Unix(); exp != want {
			t.Fatalf("ended shard ExpiresAt = %d, want %d", exp, want)
		}
		if _, ok := rawItem(t, ctx, s, "progress#child")[TTLAttribute]; ok {
			t.Fatal("active shard has ExpiresAt")
		}
	}},
	{"progress/1200 shards over many pages", false, func(t *testing.T, ctx context.Context, s *Store) {
		const n = 1200
		s.pageLimit = 100
		// Other kinds of item in the table must not show up.
		if _, _, err := s.Acquire(ctx, "finalizer", "w1", time.Minute, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Claim(ctx, Window{Start: 600, Revision: 1}); err != nil {
			t.Fatal(err)
		}
		ids := make(chan int)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range ids {
					errs <- s.PutProgress(ctx, Progress{ShardID: fmt.Sprintf("shardId-%012d", i), Watermark: int64(1000 + i), UpdatedAt: t0})
				}
			})
		}
		for i := range n {
			ids <- i
		}
		close(ids)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Progress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("Progress returned %d shards, want %d", len(got), n)
		}
		for i, p := range got {
			if want := (Progress{ShardID: fmt.Sprintf("shardId-%012d", i), Watermark: int64(1000 + i), UpdatedAt: t0}); !cmp.Equal(p, want) {
				t.Fatalf("shard %d: %+v, want %+v", i, p, want)
			}
		}
	}},
	{"progress/racing writers of one shard keep the maximum", true, func(t *testing.T, ctx context.Context, s *Store) {
		// A lease steal leaves two processors writing one shard for a while; 4 here, each writing 50 watermarks
		// in a different order, so most writes find a stored value ahead of theirs.
		const writers, each = 4, 50
		errs := make(chan error, writers*each)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					v := int64((i*7+w*13)%each + w*each + 1) // 1..200, each once, interleaved across writers
					// LastDataAt races in the other direction, so every combination of "stored is ahead" occurs.
					errs <- s.PutProgress(ctx, Progress{ShardID: "a", Watermark: v, CaughtUp: v%2 == 0,
						LastDataAt: t0.Add(time.Duration(writers*each+1-v) * time.Second), UpdatedAt: t0})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got := progressOf(t, ctx, s, "a")
		if want := t0.Add(writers * each * time.Second); got.Watermark != writers*each || !got.LastDataAt.Equal(want) {
			t.Fatalf("Watermark, LastDataAt = %d, %v; want %d, %v", got.Watermark, got.LastDataAt, writers*each, want)
		}
	}},
	{"progress/register a shard that has not reported", false, func(t *testing.T, ctx context.Context, s *Store) {
		if err := s.Register(ctx, "b", t0); err != nil {
			t.Fatal(err)
		}
		want := Progress{ShardID: "b", UpdatedAt: t0, Registered: true}
		if got := progressOf(t, ctx, s, "b"); !cmp.Equal(got, want) {
			t.Fatalf("registered: %+v, want %+v", got, want)
		}
		// A second registration leaves the first: the shard's silence is counted from the first sight.
		if err := s.Register(ctx, "b", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := progressOf(t, ctx, s, "b"); !cmp.Equal(got, want) {
			t.Fatalf("registered twice: %+v, want %+v", got, want)
		}
		// A shard waiting for its parents has its registration renewed: its silence counts from then.
		if err := s.RenewRegistration(ctx, "b", t0.Add(30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		want.UpdatedAt = t0.Add(30 * time.Minute)
		if got := progressOf(t, ctx, s, "b"); !cmp.Equal(got, want) {
			t.Fatalf("renewed: %+v, want %+v", got, want)
		}
		// The shard's own progress ends the registration; registering or renewing it later changes nothing.
		mine := Progress{ShardID: "b", Watermark: 1_714_564_500, CaughtUp: true, LastDataAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)}
		mustPut(t, ctx, s, mine)
		if err := s.Register(ctx, "b", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.RenewRegistration(ctx, "b", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := progressOf(t, ctx, s, "b"); !cmp.Equal(got, mine) {
			t.Fatalf("after the shard's own progress and a registration: %+v, want %+v", got, mine)
		}
	}},
	{"leases/read a KCL lease table", false, func(t *testing.T, ctx context.Context, s *Store) {
		// vmware-go-kcl-v2's lease items, in a table keyed like the KCL's (this store's own, fresh).
		timeout := t0.Add(10 * time.Second).UTC()
		items := []map[string]types.AttributeValue{
			{"ShardID": str("shardId-000000000000"), "Checkpoint": str("SHARD_END")},
			{"ShardID": str("shardId-000000000001"), "AssignedTo": str("w1"), "LeaseTimeout": str(timeout.Format(time.RFC3339Nano)),
				"Checkpoint": str("49590000000000000000000000000000000000000000000000000001")},
			{"ShardID": str("shardId-000000000002"), "ParentShardId": str("shardId-000000000000")},
			{"ShardID": str("shardId-000000000003"), "AssignedTo": str("w2"), "LeaseTimeout": str("not a time")},
		}
		for _, it := range items {
			if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table()), Item: it}); err != nil {
				t.Fatal(err)
			}
		}
		lt, err := NewLeaseTable(s.client, s.Table())
		if err != nil {
			t.Fatal(err)
		}
		got, err := lt.Leases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []Lease{
			{ShardID: "shardId-000000000000", Ended: true},
			{ShardID: "shardId-000000000001", Owner: "w1", Timeout: timeout},
			{ShardID: "shardId-000000000002", Parents: []string{"shardId-000000000000"}},
			{ShardID: "shardId-000000000003", Owner: "w2"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("leases (-want +got):\n%s", diff)
		}
		held := []bool{got[0].Held(t0), got[1].Held(t0), got[1].Held(timeout), got[3].Held(t0)}
		if want := []bool{false, true, false, false}; !cmp.Equal(held, want) {
			t.Fatalf("held: %v, want %v (free, live, run out, unreadable timeout)", held, want)
		}
	}},
	{"lock/two owners race, exactly one holds", true, func(t *testing.T, ctx context.Context, s *Store) {
		for round := range 20 {
			name := "race-" + strconv.Itoa(round)
			owners := []string{"a", "b"}
			held := make([]bool, len(owners))
			errs := make([]error, len(owners))
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, o := range owners {
				wg.Go(func() {
					<-start
					held[i], _, errs[i] = s.Acquire(ctx, name, o, time.Minute, t0)
				})
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			if held[0] == held[1] {
				t.Fatalf("round %d: held = %v, want exactly one", round, held)
			}
			winner := owners[0]
			if held[1] {
				winner = owners[1]
			}
			if got := getStr(rawItem(t, ctx, s, lockPrefix+name), attrOwner); got != winner {
				t.Fatalf("round %d: stored owner %q, want %q", round, got, winner)
			}
		}
	}},
	{"lock/expiry, renewal and release", false, func(t *testing.T, ctx context.Context, s *Store) {
		const lease = 10 * time.Second
		steps := []struct {
			owner      string
			at         time.Duration
			release    bool
			wantHeld   bool
			wantExpiry time.Duration
		}{
			{owner: "a", at: 0, wantHeld: true, wantExpiry: 10 * time.Second},
			{owner: "b", at: 5 * time.Second, wantHeld: false},
			{owner: "a", at: 6 * time.Second, wantHeld: true, wantExpiry: 16 * time.Second}, // renewal extends
			{owner: "b", at: 15 * time.Second, wantHeld: false},                             // would have expired at 10 s
			{owner: "b", release: true},                                                     // not b's: nothing happens
			{owner: "b", at: 15*time.Second + time.Millisecond, wantHeld: false},
			{owner: "b", at: 16 * time.Second, wantHeld: true, wantExpiry: 26 * time.Second}, // expired: b takes it
			{owner: "a", at: 17 * time.Second, wantHeld: false},
			{owner: "a", release: true},
			{owner: "b", release: true, wantHeld: true},
			{owner: "a", at: 18 * time.Second, wantHeld: true, wantExpiry: 28 * time.Second}, // released: free
		}
		for i, st := range steps {
			if st.release {
				err := s.Release(ctx, "finalizer", st.owner)
				if st.wantHeld && err != nil {
					t.Fatalf("step %d: Release by holder %s: %v", i+1, st.owner, err)
				}
				if !st.wantHeld {
					wantErr(t, err, ErrNotHeld, "state: release lock finalizer: ")
				}
				continue
			}
			held, exp, err := s.Acquire(ctx, "finalizer", st.owner, lease, t0.Add(st.at))
			if err != nil {
				t.Fatalf("step %d: %v", i+1, err)
			}
			var wantExp time.Time
			if st.wantHeld {
				wantExp = t0.Add(st.wantExpiry)
			}
			if held != st.wantHeld || !exp.Equal(wantExp) {
				t.Fatalf("step %d: %s Acquire at +%v = %v, %v; want %v, %v", i+1, st.owner, st.at, held, exp, st.wantHeld, wantExp)
			}
		}
		if got := getStr(rawItem(t, ctx, s, "lock#finalizer"), attrOwner); got != "a" {
			t.Fatalf("owner %q, want a", got)
		}
	}},
	{"lock/hold renews in the background", false, func(t *testing.T, ctx context.Context, s *Store) {
		const lease = 600 * time.Millisecond
		steppingClock(s, t0, time.Millisecond)
		held, l, err := s.Hold(ctx, "finalizer", "a", lease)
		if err != nil {
			t.Fatal(err)
		}
		first := rawNum(t, rawItem(t, ctx, s, "lock#finalizer"), attrExpires)
		// Wait (bounded by the test's context, not by a guess) until a renewal moved the stored expiry on.
		for rawNum(t, rawItem(t, ctx, s, "lock#finalizer"), attrExpires) <= first {
			select {
			case <-ctx.Done():
				t.Fatal("no renewal before the test's deadline")
			case <-l.Lost():
				t.Fatal("lost the lock nobody else wanted")
			case <-time.After(50 * time.Millisecond):
			}
		}
		// At the first expiry the lock is still a's: it was renewed past it.
		if held, _, err := s.Acquire(ctx, "finalizer", "b", lease, time.UnixMilli(first)); held || err != nil {
			t.Fatalf("b Acquire at the first expiry = %v, %v; want false, nil", held, err)
		}
		_, _, err = s.Hold(ctx, "finalizer", "b", lease)
		wantErr(t, err, ErrNotHeld, "state: hold lock finalizer: ")
		if held.Err() != nil {
			t.Fatalf("the holder's context ended while the lock was held: %v", context.Cause(held))
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		// Released: the holder's licence to work ends, and not as a loss.
		if cause := context.Cause(held); !errors.Is(cause, context.Canceled) {
			t.Fatalf("holder's context after Release: cause %v, want context.Canceled", cause)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("second Release: %v", err)
		}
		if item := rawItem(t, ctx, s, "lock#finalizer"); len(item) != 0 {
			t.Fatalf("lock still stored after Release: %v", item)
		}
		select {
		case <-l.Lost():
			t.Fatal("Release closed Lost")
		default:
		}
	}},
	{"lock/hold lost to a thief", false, func(t *testing.T, ctx context.Context, s *Store) {
		const lease = 600 * time.Millisecond
		steppingClock(s, t0, time.Millisecond)
		work, l, err := s.Hold(ctx, "finalizer", "a", lease)
		if err != nil {
			t.Fatal(err)
		}
		// b's clock says a's lease ran out long ago, as after a renewer stalled: b takes the lock.
		held, _, err := s.Acquire(ctx, "finalizer", "b", time.Hour, t0.Add(time.Hour))
		if !held || err != nil {
			t.Fatalf("b Acquire = %v, %v; want true, nil", held, err)
		}
		select {
		case <-l.Lost():
		case <-ctx.Done():
			t.Fatal("Lost not closed before the test's deadline")
		}
		// The work running under the lock is told at once, and why.
		select {
		case <-work.Done():
		default:
			t.Fatal("the holder's context is not done once the lock is lost")
		}
		if cause := context.Cause(work); !errors.Is(cause, ErrLost) {
			t.Fatalf("holder's context cause %v, want ErrLost", cause)
		}
		wantErr(t, l.Release(ctx), ErrNotHeld, "state: release lock finalizer: ")
		if cause := context.Cause(work); !errors.Is(cause, ErrLost) {
			t.Fatalf("holder's context cause after Release %v, want still ErrLost", cause)
		}
		if got := getStr(rawItem(t, ctx, s, "lock#finalizer"), attrOwner); got != "b" {
			t.Fatalf("owner %q, want b (a's Release must not delete b's lock)", got)
		}
	}},
	{"lock/hold ends with its context", false, func(t *testing.T, ctx context.Context, s *Store) {
		steppingClock(s, t0, time.Millisecond)
		hctx, cancel := context.WithCancel(ctx)
		_, l, err := s.Hold(hctx, "finalizer", "a", 600*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case <-l.Lost():
		case <-ctx.Done():
			t.Fatal("Lost not closed after the context ended")
		}
		// The lease is still a's until it expires; Release frees it at once.
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if item := rawItem(t, ctx, s, "lock#finalizer"); len(item) != 0 {
			t.Fatalf("lock still stored after Release: %v", item)
		}
	}},
	{"windows/claim, redo, finish, correct", false, func(t *testing.T, ctx context.Context, s *Store) {
		const start = 1_714_564_200
		k := strconv.Itoa(start)
		if _, found, err := s.Window(ctx, start); found || err != nil {
			t.Fatalf("Window before any claim: found %v, err %v", found, err)
		}
		claim := func(rev int64, fp string, at time.Duration) error {
			return s.Claim(ctx, Window{Start: start, Revision: rev, Fingerprint: fp, UpdatedAt: t0.Add(at)})
		}
		want := func(step string, w Window) {
			t.Helper()
			got, found, err := s.Window(ctx, start)
			if err != nil || !found {
				t.Fatalf("%s: Window: found %v, err %v", step, found, err)
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Fatalf("%s (-want +got):\n%s", step, diff)
			}
		}
		conflict := func(step string, err error, op string) {
			t.Helper()
			wantErr(t, err, ErrConflict, "state: "+op+" "+k+": ")
		}
		if err := claim(1, "fp-a", 0); err != nil {
			t.Fatal(err)
		}
		want("claim r1", Window{Start: start, Revision: 1, Fingerprint: "fp-a", UpdatedAt: t0})
		conflict("claim r2 before r1 is done", claim(2, "fp-x", time.Second), "claim window")
		if err := claim(1, "fp-b", 2*time.Second); err != nil {
			t.Fatalf("redo r1: %v", err)
		}
		want("redo r1", Window{Start: start, Revision: 1, Fingerprint: "fp-b", UpdatedAt: t0.Add(2 * time.Second)})
		conflict("finish r2", s.Finish(ctx, start, 2, t0.Add(3*time.Second)), "finish window")
		if err := s.Finish(ctx, start, 1, t0.Add(4*time.Second)); err != nil {
			t.Fatal(err)
		}
		want("finish r1", Window{Start: start, Revision: 1, Fingerprint: "fp-b", Done: true, UpdatedAt: t0.Add(4 * time.Second)})
		conflict("claim r1 after it is done", claim(1, "fp-c", 5*time.Second), "claim window")
		conflict("claim r3 when r1 is done", claim(3, "fp-c", 5*time.Second), "claim window")
		want("after refused claims", Window{Start: start, Revision: 1, Fingerprint: "fp-b", Done: true, UpdatedAt: t0.Add(4 * time.Second)})
		if err := claim(2, "fp-d", 6*time.Second); err != nil {
			t.Fatalf("claim r2 after r1 done: %v", err)
		}
		want("claim r2", Window{Start: start, Revision: 2, Fingerprint: "fp-d", UpdatedAt: t0.Add(6 * time.Second)})
		conflict("finish r1 after r2 claimed", s.Finish(ctx, start, 1, t0.Add(7*time.Second)), "finish window")
		if err := s.Finish(ctx, start, 2, t0.Add(8*time.Second)); err != nil {
			t.Fatal(err)
		}
		want("finish r2", Window{Start: start, Revision: 2, Fingerprint: "fp-d", Done: true, UpdatedAt: t0.Add(8 * time.Second)})
		if exp, want := rawNum(t, rawItem(t, ctx, s, "window#"+k), TTLAttribute), int64(start+30*24*3600); exp != want {
			t.Fatalf("ExpiresAt = %d, want %d", exp, want)
		}

		// Without a record only revision 1 may be claimed, and nothing finished.
		wantErr(t, s.Claim(ctx, Window{Start: start + 600, Revision: 2}), ErrConflict, "state: claim window "+strconv.Itoa(start+600)+": ")
		wantErr(t, s.Finish(ctx, start+600, 1, t0), ErrConflict, "state: finish window "+strconv.Itoa(start+600)+": ")
		var se *Error
		if err := s.Claim(ctx, Window{Start: start, Revision: 0}); !errors.As(err, &se) || !se.Permanent() || errors.Is(err, ErrConflict) {
			t.Fatalf("claim r0: %v; want a permanent error that is not a conflict", err)
		}
	}},
	{"windows/range and order", false, func(t *testing.T, ctx context.Context, s *Store) {
		s.pageLimit = 2
		const s0 = 1_714_564_200
		for _, st := range []int64{s0 + 1200, s0, s0 + 600, s0 + 1800, s0 - 600} {
			if err := s.Claim(ctx, Window{Start: st, Revision: 1, Fingerprint: "fp-" + strconv.FormatInt(st, 10), UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		mustPut(t, ctx, s, Progress{ShardID: "s", Watermark: s0 + 600, UpdatedAt: t0})
		tests := []struct {
			from, to int64
			want     []int64
		}{
			{s0, s0 + 1800, []int64{s0, s0 + 600, s0 + 1200}},
			{s0 - 600, s0 + 1801, []int64{s0 - 600, s0, s0 + 600, s0 + 1200, s0 + 1800}},
			{s0 + 1800, s0 + 1801, []int64{s0 + 1800}},
			{0, s0 - 600, []int64{}},
		}
		for _, tc := range tests {
			ws, err := s.Windows(ctx, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			got := []int64{}
			for _, w := range ws {
				got = append(got, w.Start)
				if w.Fingerprint != "fp-"+strconv.FormatInt(w.Start, 10) || w.Revision != 1 || !w.UpdatedAt.Equal(t0) {
					t.Fatalf("window %+v", w)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Windows(%d, %d) starts (-want +got):\n%s", tc.from, tc.to, diff)
			}
		}
	}},
}

func TestStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.svc.Name, func(t *testing.T) {
			for _, tc := range storeTests {
				t.Run(tc.name, func(t *testing.T) {
					if tc.needsAtomic && !b.atomic {
						t.Skipf("%s does not apply conditional writes atomically", b.svc.Name)
					}
					t.Parallel()
					ctx := testenv.Context(t, 2*time.Minute)
					tc.run(t, ctx, newStore(t, ctx, b.svc))
				})
			}
		})
	}
}

func TestEnsureTable(t *testing.T) {
	for _, b := range backends {
		t.Run(b.svc.Name, func(t *testing.T) {
			ctx := testenv.Context(t, 2*time.Minute)
			client := newClient(t, b.svc)
			table := testenv.UniqueName(t, "kinflow-state")
			s, err := New(client, table)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}) })

			const callers = 4
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() { errs[i] = s.EnsureTable(ctx) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("concurrent EnsureTable: %v", err)
			}
			if err := s.EnsureTable(ctx); err != nil {
				t.Fatalf("EnsureTable on an existing table: %v", err)
			}
			out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			if out.Table.TableStatus != types.TableStatusActive {
				t.Fatalf("status %s, want ACTIVE", out.Table.TableStatus)
			}
			if err := checkKeySchema(out.Table); err != nil {
				t.Fatal(err)
			}
			if b.hasTTL {
				ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
				if err != nil {
					t.Fatal(err)
				}
				if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != TTLAttribute {
					t.Fatalf("TTL %s on %q, want ENABLED on %s", d.TimeToLiveStatus, aws.ToString(d.AttributeName), TTLAttribute)
				}
			}
			// The key is the item: a table keyed otherwise is refused, not written wrongly.
			other := table + "-other"
			if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
				TableName:            aws.String(other),
				BillingMode:          types.BillingModePayPerRequest,
				AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
				KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
			}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(other)}) })
			so, _ := New(client, other)
			err = so.EnsureTable(ctx)
			var se *Error
			if !errors.As(err, &se) || !se.Permanent() || err.Error() != "state: ensure table "+other+": want a single hash key ShardID, the table has id HASH" {
				t.Fatalf("EnsureTable on a table keyed by id: %v", err)
			}
		})
	}
}

// A missing table is permanent, and the error names the operation and the shard.
func TestMissingTable(t *testing.T) {
	for _, b := range backends {
		t.Run(b.svc.Name, func(t *testing.T) {
			ctx := testenv.Context(t, time.Minute)
			s, err := New(newClient(t, b.svc), testenv.UniqueName(t, "kinflow-missing"))
			if err != nil {
				t.Fatal(err)
			}
			err = s.PutProgress(ctx, Progress{ShardID: "shardId-0001", Watermark: 1})
			var se *Error
			if !errors.As(err, &se) || !se.Permanent() || !strings.HasPrefix(err.Error(), "state: put progress shardId-0001: ") {
				t.Fatalf("PutProgress on a missing table: %v", err)
			}
		})
	}
}
