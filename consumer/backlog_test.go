package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// postLog records every webhook POST: window start -> the revision of each POST, in arrival order.
type postLog struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts map[string][]int
}

func newPostLog(t *testing.T) *postLog {
	l := &postLog{posts: map[string][]int{}}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		rev, _ := strconv.Atoi(req.Header.Get("X-Kinflow-Revision"))
		l.mu.Lock()
		defer l.mu.Unlock()
		window := strings.TrimPrefix(req.URL.Path, "/connection_sets/")
		l.posts[window] = append(l.posts[window], rev)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *postLog) windows() map[string][]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]int, len(l.posts))
	for w, revs := range l.posts {
		out[w] = append([]int(nil), revs...)
	}
	return out
}

// scrape returns the value of an unlabelled metric on a worker's /metrics (-1 when absent or unreachable).
func scrape(addr, metric string) float64 {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, metric+" "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	return -1
}

// A consumer started on a backlog three days old (TRIM_HORIZON after an outage): every window of it is finalized
// exactly once, as revision 1, the webhook gets each window once, and none is closed by the wall clock. The two
// shards are taken one after the other, so the first finalizer passes see one shard's whole backlog before the
// other has reported: the lease table must hold the watermark back for the second.
func TestRunBacklog(t *testing.T) {
	r := newRig(t, 2)
	start := testenv.Now(t).UTC().Add(-72 * time.Hour).Truncate(time.Hour)
	cfg := flowgen.DefaultConfig(start)
	cfg.Seed, cfg.Span = 23, 3*time.Hour
	g := flowgen.New(cfg)
	for i, b := range g.Timeline(90, 10, 30, 2*time.Minute) {
		key := strconv.Itoa(i)
		if _, err := r.client.PutRecord(r.ctx, &kinesis.PutRecordInput{StreamName: &r.name, PartitionKey: &key,
			Data: g.Envelope("/vpc/flow-logs/backlog", "kinflow", b)}); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Events {
			r.lines = append(r.lines, e.Message)
		}
	}
	const windows = 18 // three hours of 10-minute windows
	hook := newPostLog(t)
	metrics := closedAddr(t)
	stop := r.worker(r.es, "w1", "-metrics-addr", metrics, "-webhook-url", hook.srv.URL+"/connection_sets/{bucket_time}",
		"-finalizer-interval", "1s", "-idle-after", "2s")
	for deadline := time.Now().Add(3 * time.Minute); len(hook.windows()) < windows; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes the webhook got %d of %d windows", len(hook.windows()), windows)
		}
	}
	time.Sleep(3 * time.Second) // a few more finalizer passes: nothing may be finalized again
	forced := scrape(metrics, "kinflow_finalizer_forced_windows_total")
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	posts := hook.windows()
	var keys []string
	for w := range posts {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	for i, w := range keys {
		if want := strconv.FormatInt(start.Unix()+int64(i)*600, 10); w != want {
			t.Errorf("window %d: the webhook got %s, want %s", i, w, want)
		}
		if revs := posts[w]; len(revs) != 1 || revs[0] != 1 {
			t.Errorf("window %s: POSTs with revisions %v, want exactly one, revision 1", w, revs)
		}
	}
	if forced != 0 {
		t.Errorf("kinflow_finalizer_forced_windows_total = %v, want 0: the wall clock closed a window the consumer was reading", forced)
	}
	finals := finalSets(t, r.es, r.name)
	if diff, n := diffSets(finals, referenceSets(r.lines), 10); n > 0 {
		t.Errorf("finals: %d connection sets differ from the brute force:\n%s", n, strings.Join(diff, "\n"))
	}
	for _, raw := range testenv.Sources(t, r.es, r.name+"-conns-2*") {
		if !strings.Contains(string(raw), `"revision":1`) {
			t.Fatalf("a final of revision other than 1: %.200s", raw)
		}
	}
	t.Logf("%d lines, %d windows, one POST each, revision 1", len(r.lines), len(keys))
}
