package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/state"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

var finalizeIPs = flag.Int("finalize-ips", 1_000_000, "IPs in the window BenchmarkFinalizeWindow finalizes")

// BenchmarkFinalizeWindow finalizes one window of many IPs with `consumer finalize`, a process of its own, posting
// the connection-set sizes to a webhook in this process, and reports its wall time and peak RSS. The window's blocks of partial sets come from 4 shards, each cut every 100,000
// flows as checkpoints cut them: N IPs in 10.0.0.0/8, each the source of one flow and the destination of one
// (a fixed permutation), plus N/2 flows between random pairs; so every IP is in the sets of 1 to 4 shards, with 2
// to 4 peers. The finals are checked against the flows: one per IP, flows.sent and flows.received summing to the
// flows.
//
//	go test -run '^$' -bench FinalizeWindow -benchtime 1x ./consumer                           # 1,000,000 IPs
//	go test -run '^$' -bench FinalizeWindow -benchtime 1x ./consumer -args -finalize-ips 100000
func BenchmarkFinalizeWindow(b *testing.B) {
	ips := *finalizeIPs
	if ips < 10 {
		b.Fatalf("-finalize-ips %d: want at least 10", ips)
	}
	es, ddb := testenv.URL(b, testenv.Elasticsearch), testenv.URL(b, testenv.Dynalite)
	bin := filepath.Join(b.TempDir(), "consumer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	for b.Loop() {
		ctx := testenv.Context(b, 20*time.Minute)
		name := testenv.UniqueName(b, "kffin")
		testenv.DropPrefix(b, es, name)
		// A window two hours back, closed by every shard's progress.
		start := testenv.Now(b).Add(-2 * time.Hour).Truncate(time.Hour).Unix()
		flows, blocks := writeWindow(b, ctx, es, name, start, ips)

		b.Setenv("AWS_ACCESS_KEY_ID", "kinflow-test")
		b.Setenv("AWS_SECRET_ACCESS_KEY", "kinflow-test")
		store, err := state.New(dynamodb.NewFromConfig(testenv.AWSConfig(ddb)), name+"-state")
		if err != nil {
			b.Fatal(err)
		}
		if err := store.EnsureTable(ctx); err != nil {
			b.Fatal(err)
		}
		now := time.Unix(start+3600, 0)
		for s := range 4 {
			p := state.Progress{ShardID: fmt.Sprintf("shardId-%012d", s), Watermark: start + 3000, CaughtUp: true,
				LastDataAt: now, UpdatedAt: testenv.Now(b)}
			if err := store.PutProgress(ctx, p); err != nil {
				b.Fatal(err)
			}
		}

		// The webhook: a receiver that counts the IPs it is sent.
		var posted atomic.Int64
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var sets map[string]uint64
			if err := json.NewDecoder(r.Body).Decode(&sets); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			posted.Add(int64(len(sets)))
		}))
		defer hook.Close()
		cmd := exec.CommandContext(ctx, bin, "finalize", "-application-name", name, "-dynamodb-endpoint", ddb,
			"-sink-url", es, "-index-prefix", name, "-aws-region", testenv.Region, "-log-level", "warn",
			"-webhook-url", hook.URL+"/connection_sets/{bucket_time}")
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=kinflow-test", "AWS_SECRET_ACCESS_KEY=kinflow-test")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		rss := watchRSS(cmd.Process.Pid)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("consumer finalize: %v", err)
		}
		took := time.Since(began)
		var rep finalize.Report
		if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
			b.Fatalf("consumer finalize printed %q: %v", out.String(), err)
		}
		if rep.Finalized != 1 || rep.Finals != ips || rep.DeadLettered != 0 {
			b.Fatalf("report %+v: want 1 window finalized with %d finals, all delivered", rep, ips)
		}
		if n := posted.Load(); n != int64(ips) {
			b.Errorf("the webhook received %d IPs, want %d", n, ips)
		}
		checkFinals(b, es, name, ips, flows)
		b.ReportMetric(took.Seconds(), "s/window")
		b.ReportMetric(float64(rss())/(1<<20), "finalizer-peak-RSS-MiB")
		b.ReportMetric(float64((cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()).Nanoseconds())/float64(ips), "finalizer-cpu-ns/ip")
		b.ReportMetric(float64(ips)/took.Seconds(), "ips/s")
		b.ReportMetric(float64(blocks), "blocks")
	}
}

// writeWindow writes the blocks of partial sets of one window of n IPs, as 4 shards cut every 100,000 flows would,
// and returns how many flows they hold and how many blocks.
func writeWindow(tb testing.TB, ctx context.Context, es, prefix string, start int64, n int) (flows, blocks int) {
	cfg := elastic.DefaultConfig()
	cfg.Addresses = []string{es}
	cfg.Templates.Prefix, cfg.Templates.Replicas = prefix, 0
	cfg.Sink.Prefix = prefix
	cfg.SetupOnStart = true
	s, err := elastic.New(ctx, cfg, sink.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close(context.WithoutCancel(ctx))
	ix := sink.Indices{Prefix: prefix}
	accs := make([]*aggregate.Accumulator, 4)
	added, first := make([]int, 4), make([]int, 4)
	acfg := aggregate.DefaultConfig()
	acfg.MaxTrackedIPs, acfg.MaxTrackedPeers = 1<<24, 1<<26
	for i := range accs {
		if accs[i], err = aggregate.NewAccumulator(acfg); err != nil {
			tb.Fatal(err)
		}
	}
	cut := func(sh int) {
		shard := fmt.Sprintf("shardId-%012d", sh)
		bs := accs[sh].CutBlocks(shard, strconv.Itoa(first[sh]+1), strconv.Itoa(added[sh]), aggregate.BlockBytes)
		docs := make([]sink.Doc, len(bs))
		for i := range bs {
			docs[i] = sink.Doc{Index: ix.ConnsPartial(time.Unix(start, 0)), ID: bs[i].ID(), Op: sink.OpIndex, Source: bs[i].AppendJSON(nil)}
		}
		if err := s.Write(ctx, docs); err != nil {
			tb.Fatal(err)
		}
		blocks += len(bs)
		first[sh] = added[sh]
	}
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	total := n + n/2
	for k := range total {
		src, dst := k, (k*7919+13)%n // 7919 is prime, and n is no multiple of it in any run here
		if k >= n {
			src, dst = rng.IntN(n), rng.IntN(n)
		}
		f := aggregate.Flow{Start: start + int64(k%600), End: start + int64(k%600) + 5, Src: ip(src), Dst: ip(dst),
			SrcPort: 40000, DstPort: uint16(443 + k%4), Protocol: 6, Bytes: 100, Packets: 2}
		sh := k % 4
		if _, err := accs[sh].Add(f); err != nil {
			tb.Fatal(err)
		}
		if added[sh]++; added[sh]-first[sh] == 100_000 {
			cut(sh)
		}
	}
	for sh := range accs {
		if added[sh] > first[sh] {
			cut(sh)
		}
	}
	return total, blocks
}

// checkFinals asserts that the window's finals are one per IP and that their flows add up to the flows written.
func checkFinals(tb testing.TB, es, prefix string, ips, flows int) {
	if n := testenv.Count(tb, es, prefix+"-conns-2*"); n != ips {
		tb.Errorf("%d finals, want %d", n, ips)
	}
	var res struct {
		Aggregations struct {
			Sent, Received struct{ Value float64 }
		}
	}
	body := `{"size":0,"aggs":{"sent":{"sum":{"field":"flows.sent"}},"received":{"sum":{"field":"flows.received"}}}}`
	testenv.Search(tb, es, prefix+"-conns-2*", body, &res)
	if int(res.Aggregations.Sent.Value) != flows || int(res.Aggregations.Received.Value) != flows {
		tb.Errorf("finals count %v flows sent and %v received, want %d each", res.Aggregations.Sent.Value, res.Aggregations.Received.Value, flows)
	}
}

// watchRSS samples the peak resident set size (VmHWM) of process pid every 20 ms until it exits, and returns a
// function that gives the last sample, in bytes. The child's own rusage cannot say: Go starts a child with vfork, and
// Linux counts the parent's resident pages at the exec in the child's ru_maxrss (the test's corpus, here). VmHWM is a
// high-water mark, so only growth in the last 20 ms before exit can be missed.
func watchRSS(pid int) func() int64 {
	var mu sync.Mutex
	var peak int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				return
			}
			for line := range strings.Lines(string(status)) {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					mu.Lock()
					peak = max(peak, kb<<10)
					mu.Unlock()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() int64 {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
