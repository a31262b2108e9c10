package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// Flags of BenchmarkLambdaCost.
var (
	costFlows = flag.Int("lambda-cost-flows", 1_000_000,
		"flow-log lines BenchmarkLambdaCost feeds the function after its cold invocation")
	costBatch = flag.Int("lambda-cost-batch", 100,
		"records per invocation: the CDK's batchSize default (cdk/kinflowstack/props.go)")
	costMinEvents = flag.Int("lambda-cost-min-events", 50, "fewest log events in a record")
	costMaxEvents = flag.Int("lambda-cost-max-events", 500, "most log events in a record")
	costDelay     = flag.Duration("lambda-cost-delay", 20*time.Millisecond,
		"the fake cluster's time per _bulk request, from its body read to its answer")
	costMemLimit = flag.String("lambda-cost-gomemlimit", "",
		"GOMEMLIMIT of the function (neither Lambda nor the CDK sets one); empty: none")
	costQuotaMB = flag.Int("lambda-cost-quota-mb", 0,
		"run the function under a CPU quota of this memory size's vCPU share (mb/1769 of a CPU, cgroup v1, root) to "+
			"check the model; 0: no quota")
)

// Lambda's CPU allocation (AWS documentation): CPU in proportion to memory, one vCPU at 1,769 MB, six at 10,240 MB.
const (
	mbPerVCPU = 1769
	maxVCPUs  = 6
)

// costSizes are the memory sizes (MB) the model is evaluated at.
var costSizes = []int{128, 256, 512, 1024, 1769, 3008}

// costHeadroom: a size fits when it is at least this many times the function's measured peak RSS. The rest is room
// for records larger than the corpus's, and for the Go heap, which grows to twice its live size (GOGC=100) with
// no memory limit (nothing sets GOMEMLIMIT in the function).
const costHeadroom = 1.5

// BenchmarkLambdaCost measures what the batch function costs per million flows. It builds the bootstrap as `make
// lambda` does (for this machine's architecture) and runs it as a process of its own against a local Runtime API
// that hands it Kinesis events of flowgen's CloudWatch Logs records back to back, -lambda-cost-batch records each
// (the CDK's event source mapping), until -lambda-cost-flows lines have been processed after one cold invocation.
// The cluster is a fake _bulk endpoint that answers every item created after a fixed -lambda-cost-delay (other
// requests, the index templates' setup at the cold start, go to the local Elasticsearch); shard progress goes to
// the local DynamoDB emulator through a proxy that times it, as the CDK sets a state table.
//
// Per invocation (Runtime API next to the next next: Lambda's invoke phase ends when the runtime asks for the next
// event; the response comes about a millisecond before) it measures the wall time, the process's CPU time (its threads' schedstat), its peak RSS (VmHWM, reset
// at each mark) and the time spent waiting on the fake cluster or DynamoDB (the union of their requests' times).
// From these it models the billed duration at each memory size M of costSizes: the CPU time stretched to the vCPU
// share M/1769, plus the waits (serial model: an upper bound; waits fully overlapped with CPU: the lower bound),
// never shorter than measured here with two cores, rounded up to the millisecond; and reports GB-seconds per
// million flows, M/1024 x billed seconds. With -lambda-cost-quota-mb the process runs under a real CPU quota
// instead, and the benchmark compares its wall time with the model's for that size.
//
//	go test -run '^$' -bench LambdaCost -benchtime 1x ./lambda
//	go test -run '^$' -bench LambdaCost -benchtime 1x ./lambda -args -lambda-cost-quota-mb 512 -lambda-cost-flows 200000
func BenchmarkLambdaCost(b *testing.B) {
	if *costFlows < 1 || *costBatch < 1 || *costMinEvents < 1 || *costMaxEvents < *costMinEvents || *costDelay < 0 ||
		*costQuotaMB < 0 {
		b.Fatal("-lambda-cost-*: want positive counts, min events at most max events, and no negative delay or quota")
	}
	es, ddb := testenv.URL(b, testenv.Elasticsearch), testenv.URL(b, testenv.Dynalite)
	bin := buildShipped(b)
	corpus := costCorpus(b, testenv.Now(b), *costBatch, *costMinEvents, *costMaxEvents, *costFlows)
	b.ReportAllocs() // the benchmark's own process (corpus, Runtime API, fake cluster), not the function's
	var runs []costRun
	for b.Loop() {
		runs = append(runs, runFunction(b, bin, es, ddb, corpus.events))
	}
	reportCost(b, runs, corpus)
}

// buildShipped builds the function as `make lambda` does, for this machine's architecture.
func buildShipped(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

const (
	costShard    = "shardId-000000000000"
	costLogGroup = "/kinflow/bench/vpc-flow-logs"
)

// A corpus is the Kinesis events the function is given: the cold invocation's, then the measured ones.
type corpus struct {
	events [][]byte
	// Of the measured events: flow-log lines, the records' data (gzip'd CloudWatch Logs envelopes, what a shard's
	// write limit counts), the events' JSON (what the invocation payload limit counts) and the largest event.
	lines, dataBytes, eventBytes, maxEvent int
}

// costCorpus returns the Kinesis events: the cold invocation's, then as many as it takes for flows lines, each of
// batch CloudWatch Logs records of minEvents to maxEvents flowgen lines (its defaults, a seed per event). The events
// follow each other in time as a stream's do: each one's flows start in a 10-minute span, the spans moving forward
// over the hour before now.
func costCorpus(tb testing.TB, now time.Time, batch, minEvents, maxEvents, flows int) corpus {
	tb.Helper()
	var c corpus
	perEvent := batch * (minEvents + maxEvents) / 2
	n := 1 + (flows+perEvent-1)/perEvent
	base := now.Add(-time.Hour).Truncate(time.Minute)
	step := 50 * time.Minute / time.Duration(n)
	seq := 0
	for k := 0; k == 0 || c.lines < flows; k++ {
		cfg := flowgen.DefaultConfig(base.Add(time.Duration(k) * step))
		cfg.Seed, cfg.Span = uint64(1+k), 10*time.Minute
		g := flowgen.New(cfg)
		var ev events.KinesisEvent
		for _, bt := range g.Batches(batch, minEvents, maxEvents) {
			data := g.Envelope(costLogGroup, "kinflow", bt)
			if k > 0 {
				c.lines += len(bt.Events)
				c.dataBytes += len(data)
			}
			seq++
			sn := fmt.Sprintf("49%054d", seq) // 56 digits, as Kinesis numbers records
			ev.Records = append(ev.Records, events.KinesisEventRecord{
				AwsRegion:         testenv.Region,
				EventID:           costShard + ":" + sn,
				EventName:         "aws:kinesis:record",
				EventSource:       "aws:kinesis",
				EventSourceArn:    "arn:aws:kinesis:" + testenv.Region + ":123456789012:stream/kinflow",
				EventVersion:      "1.0",
				InvokeIdentityArn: "arn:aws:iam::123456789012:role/kinflow-lambda",
				Kinesis: events.KinesisRecord{
					ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: now},
					Data:                        data,
					PartitionKey:                bt.LogStream,
					SequenceNumber:              sn,
					KinesisSchemaVersion:        "1.0",
				},
			})
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		if k > 0 {
			c.eventBytes += len(raw)
			c.maxEvent = max(c.maxEvent, len(raw))
		}
		c.events = append(c.events, raw)
	}
	return c
}

// An invocation is what one Runtime API invocation cost the function.
type invocation struct {
	wall       time.Duration // next -> next: the billed span
	toResponse time.Duration // next -> response
	cpu        time.Duration // the process's CPU time in the span, every thread, user and system
	wait       time.Duration // time in the span with a request to the cluster or DynamoDB outstanding
	peakRSS    int64         // bytes
	emf        emfCounts
}

// emfCounts are the counts of the function's metric line for an invocation.
type emfCounts struct {
	LogEvents, Flows, DeadLetters float64
}

func emfCountsOf(lines []map[string]any) []emfCounts {
	out := make([]emfCounts, len(lines))
	for i, m := range lines {
		v := func(k string) float64 { f, _ := m[k].(float64); return f }
		out[i] = emfCounts{LogEvents: v("LogEvents"), Flows: v("Flows"), DeadLetters: v("DeadLetters")}
	}
	return out
}

// costRun is one run of the function: its cold invocation, then the warm ones.
type costRun struct {
	init       time.Duration // CPU from the process's start to its first next
	cold       invocation
	warm       []invocation
	bulk       int             // _bulk requests
	items      map[string]int  // bulk items by index family
	ddbWaits   []time.Duration // each DynamoDB request's time
	cpuRusage  time.Duration   // the process's whole CPU time, from its rusage
	cpuMarks   time.Duration   // the same from the marks (schedstat), init to the last next
	quotaMB    int             // the CPU quota it ran under, 0 for none
	quotaShare float64         // vCPUs of that quota
}

// runFunction runs the bootstrap over evs and measures every invocation.
func runFunction(b *testing.B, bin, es, ddb string, evs [][]byte) costRun {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	prefix := testenv.UniqueName(b, "kfcost")
	testenv.DropPrefix(b, es, prefix)
	waits := &waitLog{}

	cluster := newFakeCluster(b, es, prefix, *costDelay, waits)
	clusterSrv := httptest.NewServer(cluster)
	defer clusterSrv.Close()
	store := newStore(b)
	dynamo := httptest.NewServer(timedProxy(b, ddb, waits))
	defer dynamo.Close()

	api := &runtimeAPI{queue: slices.Clone(evs), results: make(chan runtimeResult, len(evs)+4)}
	rt := &costRuntime{api: api, ready: make(chan struct{}), nexts: make(chan mark, len(evs)+4),
		posts: make(chan mark, len(evs)+4)}
	rtSrv := httptest.NewServer(rt)
	defer rtSrv.Close()

	memory := 512 // the CDK's lambdaMemoryMb; the function does not read it
	if *costQuotaMB > 0 {
		memory = *costQuotaMB
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(rtSrv.URL, "http://"),
		"AWS_LAMBDA_FUNCTION_NAME=kinflow-batch",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memory),
		"AWS_REGION=" + testenv.Region,
		"AWS_ACCESS_KEY_ID=kinflow-test", "AWS_SECRET_ACCESS_KEY=kinflow-test",
		"KINFLOW_SINK_URL=" + clusterSrv.URL,
		"KINFLOW_INDEX_PREFIX=" + prefix,
		"KINFLOW_LAMBDA_HANDLER=batch",
		"KINFLOW_STATE_TABLE=" + store.Table(),
		"KINFLOW_DYNAMODB_ENDPOINT=" + dynamo.URL,
	}
	if *costMemLimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+*costMemLimit)
	}
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	var run costRun
	var removeQuota func()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			cmd.Process.Kill()
			<-exited
			if removeQuota != nil {
				removeQuota()
			}
		})
	}
	defer stop()
	rt.pid = cmd.Process.Pid
	if *costQuotaMB > 0 {
		run.quotaMB = *costQuotaMB
		run.quotaShare, removeQuota = cpuQuota(b, rt.pid, *costQuotaMB)
	}
	close(rt.ready)

	recv := func(c <-chan mark, what string) mark {
		select {
		case m := <-c:
			if m.err != nil {
				b.Fatalf("measuring the function at its %s: %v", what, m.err)
			}
			return m
		case <-exited:
			b.Fatalf("the function exited (%v) before its %s\nstderr:\n%s", waitErr, what, stderr.String())
		case <-ctx.Done():
			b.Fatalf("no %s from the function\nstderr:\n%s", what, stderr.String())
		}
		return mark{}
	}
	type span struct{ start, resp, end mark }
	spans := make([]span, len(evs))
	first := recv(rt.nexts, "first next")
	run.init = first.cpu
	prev := first
	for i := range evs {
		spans[i].start = prev
		spans[i].resp = recv(rt.posts, fmt.Sprintf("answer to event %d", i))
		res := <-api.results // the Runtime API queued it before answering the post recv took
		if res.kind != "response" {
			b.Fatalf("event %d: runtime API got %s: %s\nstderr:\n%s", i, res.kind, res.body, stderr.String())
		}
		var resp events.KinesisEventResponse
		if err := json.Unmarshal(res.body, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
			b.Fatalf("event %d: answer %s (%v), want no BatchItemFailures\nstderr:\n%s", i, res.body, err, stderr.String())
		}
		spans[i].end = recv(rt.nexts, fmt.Sprintf("next after event %d", i))
		prev = spans[i].end
	}
	run.cpuMarks = prev.cpu
	stop()
	if st := cmd.ProcessState; st != nil {
		run.cpuRusage = st.UserTime() + st.SystemTime()
	}

	counts := emfCountsOf(emfLines(b, &stdout))
	if len(counts) != len(evs) {
		b.Fatalf("%d metric lines for %d invocations:\n%s", len(counts), len(evs), stdout.String())
	}
	intervals := waits.sorted()
	for i, s := range spans {
		inv := invocation{
			wall:       s.end.at.Sub(s.start.at),
			toResponse: s.resp.at.Sub(s.start.at),
			cpu:        s.end.cpu - s.start.cpu,
			wait:       unionWithin(intervals, s.start.at, s.end.at),
			peakRSS:    max(s.resp.hwm, s.end.hwm),
			emf:        counts[i],
		}
		if i == 0 {
			run.cold = inv
		} else {
			run.warm = append(run.warm, inv)
		}
	}
	run.bulk, run.items = cluster.stats()
	for _, iv := range intervals {
		if iv.kind == "dynamodb" {
			run.ddbWaits = append(run.ddbWaits, iv.end.Sub(iv.start))
		}
	}
	// Everything the function was given was written: one flow document per line, the dead letters, the partials.
	var flows, dead float64
	for _, c := range counts {
		flows += c.Flows
		dead += c.DeadLetters
	}
	if run.items["flows"] != int(flows) || run.items["deadletter"] != int(dead) || run.items["conns-partial"] == 0 {
		b.Fatalf("the fake cluster got %v, the function reports %v flows and %v dead letters", run.items, flows, dead)
	}
	return run
}

// A mark is the function's state at a Runtime API request: when, its CPU time so far, and its peak RSS since
// the previous mark.
type mark struct {
	at  time.Time
	cpu time.Duration
	hwm int64
	err error
}

// costRuntime is the Runtime API with a mark taken as each request arrives: a next ends the previous invocation
// (the function is then blocked on the request, its CPU idle) and starts the next one; a post is its response.
type costRuntime struct {
	api   *runtimeAPI
	ready chan struct{} // closed once pid is set and the process in its cgroup
	pid   int
	nexts chan mark
	posts chan mark
}

func (rt *costRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	<-rt.ready
	m := takeMark(rt.pid)
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/invocation/next"):
		rt.nexts <- m
	case r.Method == http.MethodPost:
		rt.posts <- m
	}
	rt.api.ServeHTTP(w, r)
}

// takeMark reads the process's CPU time and peak RSS, then resets the peak (clear_refs 5) for the next mark.
func takeMark(pid int) mark {
	m := mark{at: time.Now()}
	if m.cpu, m.err = processCPU(pid); m.err != nil {
		return m
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		m.err = err
		return m
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				m.err = fmt.Errorf("VmHWM %q: %w", v, err)
				return m
			}
			m.hwm = kb << 10
		}
	}
	m.err = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	return m
}

// processCPU is the CPU time of every thread of process pid (the first field of each thread's schedstat: time on
// a CPU, in nanoseconds). The Go runtime does not end its threads, so the sum only grows.
func processCPU(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("schedstat %q", b)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("schedstat %q: %w", b, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// cpuQuota puts process pid in a new cgroup (v1 cpu controller) limited to mb/1769 of a CPU per 100 ms period, and
// returns the share and a function that removes the cgroup once the process has exited.
func cpuQuota(tb testing.TB, pid, mb int) (float64, func()) {
	tb.Helper()
	const root, period = "/sys/fs/cgroup/cpu", 100_000 // µs
	if _, err := os.Stat(filepath.Join(root, "cpu.cfs_quota_us")); err != nil {
		tb.Fatalf("-lambda-cost-quota-mb needs the cgroup v1 cpu controller at %s (and root): %v", root, err)
	}
	dir := filepath.Join(root, fmt.Sprintf("kinflow-lambda-cost-%d", pid))
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatalf("cannot enforce a CPU quota here: %v", err)
	}
	quota := max(1000, int(math.Round(period*float64(mb)/mbPerVCPU))) // the kernel's least quota is 1 ms
	for _, w := range []struct{ file, value string }{
		{"cpu.cfs_period_us", strconv.Itoa(period)},
		{"cpu.cfs_quota_us", strconv.Itoa(quota)},
		{"cgroup.procs", strconv.Itoa(pid)},
	} {
		if err := os.WriteFile(filepath.Join(dir, w.file), []byte(w.value), 0); err != nil {
			os.Remove(dir)
			tb.Fatalf("cannot enforce a CPU quota here: %s: %v", w.file, err)
		}
	}
	return float64(quota) / period, func() {
		if err := os.Remove(dir); err != nil {
			tb.Logf("removing cgroup %s: %v", dir, err)
		}
	}
}

// An interval is one request to the cluster or DynamoDB, from its body's arrival to its answer.
type interval struct {
	start, end time.Time
	kind       string // "bulk" or "dynamodb"
}

// waitLog collects intervals from concurrent handlers.
type waitLog struct {
	mu  sync.Mutex
	ivs []interval
}

func (l *waitLog) add(start, end time.Time, kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ivs = append(l.ivs, interval{start, end, kind})
}

func (l *waitLog) sorted() []interval {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.ivs)
	slices.SortFunc(out, func(a, b interval) int { return a.start.Compare(b.start) })
	return out
}

// unionWithin is how long within [from, to) at least one of ivs (sorted by start) was outstanding.
func unionWithin(ivs []interval, from, to time.Time) time.Duration {
	var total time.Duration
	var curStart, curEnd time.Time
	open := false
	for _, iv := range ivs {
		s, e := later(iv.start, from), earlier(iv.end, to)
		if !e.After(s) {
			continue
		}
		switch {
		case !open:
			curStart, curEnd, open = s, e, true
		case s.After(curEnd):
			total += curEnd.Sub(curStart)
			curStart, curEnd = s, e
		default:
			curEnd = later(curEnd, e)
		}
	}
	if open {
		total += curEnd.Sub(curStart)
	}
	return total
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// fakeCluster stands in for the cluster's _bulk endpoint: it answers every item of a request as created (201) a
// fixed delay after the request's body has arrived, so the function's wait on the cluster is a controlled
// constant, and counts the items by index family. Every other request (the templates' setup at the cold start)
// goes to the real local Elasticsearch.
type fakeCluster struct {
	delay  time.Duration
	prefix string
	es     *httputil.ReverseProxy
	waits  *waitLog

	mu    sync.Mutex
	bulk  int
	items map[string]int
	bad   error
}

func newFakeCluster(tb testing.TB, es, prefix string, delay time.Duration, waits *waitLog) *fakeCluster {
	u, err := url.Parse(es)
	if err != nil {
		tb.Fatal(err)
	}
	return &fakeCluster{delay: delay, prefix: prefix, es: httputil.NewSingleHostReverseProxy(u), waits: waits,
		items: map[string]int{}}
}

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_bulk") {
		f.es.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	began := time.Now()
	var resp []byte
	var families map[string]int
	if err == nil {
		resp, families, err = bulkAnswer(body, f.prefix)
	}
	f.mu.Lock()
	f.bulk++
	for k, v := range families {
		f.items[k] += v
	}
	if err != nil && f.bad == nil {
		f.bad = err
	}
	f.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(time.Until(began.Add(f.delay)))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Write(resp)
	f.waits.add(began, time.Now(), "bulk")
}

func (f *fakeCluster) stats() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bad != nil {
		panic(fmt.Sprintf("fake cluster: a bulk request it could not read: %v", f.bad))
	}
	return f.bulk, f.items
}

// bulkAnswer answers an NDJSON bulk body with every item created, and counts its items by index family (the index
// name without the prefix and the date: flows, conns-partial, deadletter). It reads the action lines by hand, as
// the sink writes them ({"<op>":{"_index":"<name>",...}}): decoding each as JSON costs the fake more than its delay
// on a busy machine.
func bulkAnswer(body []byte, prefix string) ([]byte, map[string]int, error) {
	families := map[string]int{}
	resp := append(make([]byte, 0, 64+len(body)/32), `{"errors":false,"items":[`...)
	for n := 0; len(body) > 0; n++ {
		action, rest, ok := bytes.Cut(body, []byte{'\n'})
		if !ok {
			return nil, nil, errors.New("bulk body does not end with a newline")
		}
		body = rest
		op, index, ok := actionOf(action)
		if !ok {
			return nil, nil, fmt.Errorf("bulk action line %.200q", action)
		}
		if op != "delete" {
			if _, body, ok = bytes.Cut(body, []byte{'\n'}); !ok {
				return nil, nil, errors.New("bulk source line without a newline")
			}
		}
		family := strings.TrimPrefix(index, prefix+"-")
		if i := strings.LastIndexByte(family, '-'); i > 0 && i+1 < len(family) && family[i+1] >= '0' && family[i+1] <= '9' {
			family = family[:i]
		}
		families[family]++
		if n > 0 {
			resp = append(resp, ',')
		}
		resp = append(resp, `{"`...)
		resp = append(resp, op...)
		resp = append(resp, `":{"status":201}}`...)
	}
	return append(resp, "]}"...), families, nil
}

// actionOf reads the operation and the index of a bulk action line.
func actionOf(line []byte) (op, index string, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"`))
	if !ok {
		return "", "", false
	}
	o, rest, ok := bytes.Cut(rest, []byte{'"'})
	if !ok {
		return "", "", false
	}
	_, rest, ok = bytes.Cut(rest, []byte(`"_index":"`))
	if !ok {
		return "", "", false
	}
	ix, _, ok := bytes.Cut(rest, []byte{'"'})
	return string(o), string(ix), ok && len(o) > 0 && len(ix) > 0
}

// timedProxy forwards to target (DynamoDB) and logs each request's time, from its body's arrival to its answer.
func timedProxy(tb testing.TB, target string, waits *waitLog) http.Handler {
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		began := time.Now()
		rp.ServeHTTP(w, r)
		waits.add(began, time.Now(), "dynamodb")
	})
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// share is the vCPUs Lambda gives a function of mb megabytes.
func share(mb int) float64 { return min(float64(mb)/mbPerVCPU, maxVCPUs) }

// modelMs is the billed duration of inv at mb megabytes, in whole milliseconds. The CPU time takes cpu/share at
// the size's vCPU share, and never less than the time the function was busy here (with two cores); the waits on
// the cluster and DynamoDB take as long at any size. serial adds them (an upper bound: nothing overlaps); otherwise
// they hide under the CPU time as far as it goes (the lower bound).
func modelMs(inv invocation, mb int, serial bool) int64 {
	atShare := time.Duration(float64(inv.cpu) / share(mb))
	d := max(atShare, inv.wall)
	if serial {
		d = inv.wait + max(atShare, inv.wall-inv.wait)
	}
	return (int64(d) + int64(time.Millisecond) - 1) / int64(time.Millisecond)
}

// gbSecondsPerMillion is mb/1024 x the billed seconds of invs, per million of flows.
func gbSecondsPerMillion(invs []invocation, mb int, serial bool, flows int) float64 {
	var ms int64
	for _, inv := range invs {
		ms += modelMs(inv, mb, serial)
	}
	return float64(mb) / 1024 * float64(ms) / 1000 * 1e6 / float64(flows)
}

// reportCost reports the runs' measurements and the model's figures.
// The report is printed, not logged: a benchmark's log is cut to 10 lines.
func reportCost(b *testing.B, runs []costRun, c corpus) {
	var out strings.Builder
	logf := func(format string, args ...any) { fmt.Fprintf(&out, "    "+format+"\n", args...) }
	defer func() { fmt.Fprintf(os.Stdout, "%s:\n%s", b.Name(), out.String()) }()
	var warm, cold []invocation
	var peak, coldPeak int64
	var init, rusage, marks time.Duration
	var bulk int
	var ddb []time.Duration
	for _, r := range runs {
		warm = append(warm, r.warm...)
		cold = append(cold, r.cold)
		coldPeak = max(coldPeak, r.cold.peakRSS)
		for _, inv := range r.warm {
			peak = max(peak, inv.peakRSS)
		}
		init += r.init
		rusage += r.cpuRusage
		marks += r.cpuMarks
		bulk += r.bulk
		ddb = append(ddb, r.ddbWaits...)
	}
	flows := 0
	var sum invocation
	for _, inv := range warm {
		flows += int(inv.emf.LogEvents)
		sum.wall += inv.wall
		sum.toResponse += inv.toResponse
		sum.cpu += inv.cpu
		sum.wait += inv.wait
	}
	if flows != c.lines*len(runs) {
		b.Fatalf("the function counted %d log events, the corpus has %d", flows, c.lines*len(runs))
	}
	n := float64(len(warm))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	b.ReportMetric(float64(flows)/n, "flows/invocation")
	b.ReportMetric(ms(sum.cpu), "cpu-ms/invocation")
	b.ReportMetric(ms(sum.wall), "wall-ms/invocation")
	b.ReportMetric(ms(sum.wait), "wait-ms/invocation")
	b.ReportMetric(float64(sum.cpu)/float64(flows), "cpu-ns/flow")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(coldPeak)/(1<<20), "cold-peak-RSS-MiB")
	slices.Sort(ddb)

	cpus := make([]time.Duration, len(warm))
	for i, inv := range warm {
		cpus[i] = inv.cpu
	}
	slices.Sort(cpus)
	logf("%d runs: %d warm invocations of %d records, %.0f flows each (%d flows), after a cold one each; "+
		"fake cluster %v per _bulk request, %d requests",
		len(runs), len(warm), *costBatch, float64(flows)/n, flows, *costDelay, bulk)
	logf("per warm invocation: CPU %.1f ms (min %.1f, median %.1f, max %.1f), wall %.1f ms (to the response %.1f), "+
		"waiting on cluster and DynamoDB %.1f ms; CPU %.0f ns per flow; peak RSS %.1f MiB",
		ms(sum.cpu), msOf(cpus[0]), msOf(cpus[len(cpus)/2]), msOf(cpus[len(cpus)-1]), ms(sum.wall), ms(sum.toResponse),
		ms(sum.wait), float64(sum.cpu)/float64(flows), float64(peak)/(1<<20))
	if len(ddb) > 0 {
		logf("DynamoDB (local emulator) requests: %d, median %.1f ms, max %.1f ms", len(ddb), msOf(ddb[len(ddb)/2]),
			msOf(ddb[len(ddb)-1]))
	}
	logf("cold invocation: CPU %.1f ms, wall %.1f ms, peak RSS %.1f MiB; init (start to first next) CPU %.1f ms",
		msOf(cold[0].cpu), msOf(cold[0].wall), float64(coldPeak)/(1<<20), msOf(init/time.Duration(len(runs))))
	logf("CPU of the whole process: %.0f ms by its rusage, %.0f ms by the marks (init to the last next)",
		msOf(rusage), msOf(marks))

	if q := runs[0].quotaMB; q > 0 {
		// Under a real quota: compare the measured wall time with what the model predicts from the CPU time and
		// the waits of the same invocations.
		sh := runs[0].quotaShare
		var serial, lower time.Duration
		for _, inv := range warm {
			atShare := time.Duration(float64(inv.cpu) / sh)
			serial += inv.wait + atShare
			lower += max(inv.wait, atShare)
		}
		b.ReportMetric(ms(serial), "model-serial-ms/invocation")
		b.ReportMetric(ms(lower), "model-lower-ms/invocation")
		logf("under a CPU quota of %.4f CPU (%d MB): wall %.1f ms per invocation; the model from the same CPU "+
			"and waits: %.1f ms serial, %.1f ms lower bound (measured/serial %.2f)",
			sh, q, ms(sum.wall), ms(serial), ms(lower), float64(sum.wall)/float64(serial))
		return
	}

	// A size fits when it holds the peak RSS with the headroom; the least that does is evaluated too.
	need := int(math.Ceil(float64(max(peak, coldPeak)) * costHeadroom / (1 << 20)))
	sizes := costSizes
	if !slices.Contains(sizes, need) {
		sizes = append(slices.Clone(sizes), need)
		slices.Sort(sizes)
	}
	// A shard takes at most 1 MB/s (taken as 1 MiB) and 1,000 records/s of writes (AWS documentation): the flows a
	// function must keep up with when the shard is full.
	perRecord := float64(c.lines) / float64(len(c.events)-1) / float64(*costBatch)
	shardMax := min(float64(1<<20)/(float64(c.dataBytes)/float64(c.lines)), 1000*perRecord)
	logf("records: %.1f gzip'd bytes per flow, %.0f flows each; a full shard carries %.0f flows/s; events of %.2f "+
		"MiB on average, %.2f MiB at most (Lambda's payload limit: 6 MB)", float64(c.dataBytes)/float64(c.lines),
		perRecord, shardMax, float64(c.eventBytes)/float64(len(c.events)-1)/(1<<20), float64(c.maxEvent)/(1<<20))
	logf("fits: %.1fx the peak RSS, %d MB or more", costHeadroom, need)
	logf("| memory (MB) | vCPU | ms/invocation (serial) | GB-s per million flows (serial) | (overlap bound) | flows/s per shard | fits |")
	best := 0
	var bestCost float64
	for _, mb := range sizes {
		var total int64
		for _, inv := range warm {
			total += modelMs(inv, mb, true)
		}
		hi := gbSecondsPerMillion(warm, mb, true, flows)
		lo := gbSecondsPerMillion(warm, mb, false, flows)
		rate := float64(flows) / (float64(total) / 1000)
		fits := mb >= need
		logf("| %d | %.3f | %.0f | %.2f | %.2f | %.0f%s | %v |", mb, share(mb), float64(total)/n, hi, lo, rate,
			map[bool]string{true: "", false: " (behind a full shard)"}[rate >= shardMax], fits)
		if slices.Contains(costSizes, mb) {
			b.ReportMetric(hi, fmt.Sprintf("GB-s/Mflows@%dMB", mb))
		}
		if fits && (best == 0 || hi < bestCost) {
			best, bestCost = mb, hi
		}
	}
	b.ReportMetric(float64(need), "least-fitting-MB")
	b.ReportMetric(bestCost, "GB-s/Mflows@cheapest")
	logf("cheapest size that fits: %d MB, %.2f GB-s per million flows (serial model)", best, bestCost)
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
