package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/testing/faultproxy"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// rig is a stream in kinesalite, a lease table in dynalite and an index prefix in Elasticsearch, for the guarantee
// tests of `consumer run`.
type rig struct {
	t       *testing.T
	ctx     context.Context
	name    string
	kin, es string
	ddb     string
	client  *kinesis.Client
	gen     *flowgen.Generator
	lines   []string // every line put, for the reference connection sets
}

func newRig(t *testing.T, shards int32) *rig {
	t.Helper()
	r := &rig{t: t, kin: testenv.URL(t, testenv.Kinesalite), ddb: testenv.URL(t, testenv.Dynalite), es: testenv.URL(t, testenv.Elasticsearch)}
	t.Setenv("AWS_ACCESS_KEY_ID", "kinflow-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kinflow-test")
	r.ctx = testenv.Context(t, 5*time.Minute)
	r.name = testenv.UniqueName(t, "kff")
	testenv.DropPrefix(t, r.es, r.name)
	r.client = kinesis.NewFromConfig(testenv.AWSConfig(r.kin))
	if _, err := r.client.CreateStream(r.ctx, &kinesis.CreateStreamInput{StreamName: &r.name, ShardCount: &shards}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteStream(r.client, r.name) })
	r.waitActive()
	cfg := flowgen.DefaultConfig(time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour))
	cfg.Seed = 17
	r.gen = flowgen.New(cfg)
	return r
}

func (r *rig) waitActive() {
	r.t.Helper()
	if err := kinesis.NewStreamExistsWaiter(r.client, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).
		Wait(r.ctx, &kinesis.DescribeStreamInput{StreamName: &r.name}, 30*time.Second); err != nil {
		r.t.Fatal(err)
	}
}

// put sends n deliveries, spread over the shards by partition key.
func (r *rig) put(n int) {
	r.t.Helper()
	for i, b := range r.gen.Batches(n, 10, 40) {
		key := strconv.Itoa(len(r.lines)) + "-" + strconv.Itoa(i)
		if _, err := r.client.PutRecord(r.ctx, &kinesis.PutRecordInput{StreamName: &r.name, PartitionKey: &key,
			Data: r.gen.Envelope("/vpc/flow-logs/faults", "kinflow", b)}); err != nil {
			r.t.Fatal(err)
		}
		for _, e := range b.Events {
			r.lines = append(r.lines, e.Message)
		}
	}
}

// worker starts `consumer run` against sinkURL, with extra flags; stop ends it gracefully and returns its error.
func (r *rig) worker(sinkURL, id string, extra ...string) (stop func() error) {
	ctx, cancel := context.WithCancel(r.ctx)
	errc := make(chan error, 1)
	args := []string{"run", "-stream-name", r.name, "-application-name", r.name, "-kinesis-endpoint", r.kin,
		"-dynamodb-endpoint", r.ddb, "-sink-url", sinkURL, "-index-prefix", r.name, "-metrics-addr", "127.0.0.1:0",
		"-aws-region", testenv.Region, "-worker-id", id, "-log-level", "error", "-shutdown-timeout", "20s"}
	args = append(args, extra...)
	go func() { errc <- dispatch(ctx, args, nil, io.Discard, io.Discard) }()
	return func() error { cancel(); return <-errc }
}

// waitFlows waits until the index holds a document for every line put.
func (r *rig) waitFlows(within time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for testenv.Count(r.t, r.es, r.name+"-flows-*") < len(r.lines) {
		if time.Now().After(deadline) {
			r.t.Fatalf("after %v: %d of %d flows indexed", within, testenv.Count(r.t, r.es, r.name+"-flows-*"), len(r.lines))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// check asserts exactly one document per line, and partial connection sets that merge to the brute-force ones.
func (r *rig) check() {
	r.t.Helper()
	if got := testenv.Count(r.t, r.es, r.name+"-flows-*"); got != len(r.lines) {
		r.t.Errorf("flow documents = %d, want %d (one per line put)", got, len(r.lines))
	}
	want := referenceSets(r.lines)
	if diff, n := diffSets(mergedPartials(r.t, r.es, r.name), want, 10); n > 0 {
		r.t.Errorf("merged partials: %d of %d connection sets differ from the brute force (a lost or double-counted partial):\n%s",
			n, len(want), strings.Join(diff, "\n"))
	}
}

// checkpoints returns each lease's checkpoint.
func (r *rig) checkpoints() map[string]string {
	r.t.Helper()
	got := map[string]string{}
	for _, l := range r.leases() {
		got[l.shard] = l.checkpoint
	}
	return got
}

// Split a shard and merge its children while the worker runs: every flow once, connection sets exact, the closed
// parents checkpointed at their end, and each child's first record processed only after every parent of it (both,
// for a merge) had reached its end and checkpointed it.
func TestRunResharding(t *testing.T) {
	r := newRig(t, 2)
	r.put(10)
	// The worker of r.worker, logging at debug level into logs: the per-batch and per-lease lines are the order in
	// which the shard processors ran (one slog handler, so one sequence).
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(r.ctx)
	errc := make(chan error, 1)
	go func() {
		errc <- dispatch(ctx, []string{"run", "-stream-name", r.name, "-application-name", r.name, "-kinesis-endpoint", r.kin,
			"-dynamodb-endpoint", r.ddb, "-sink-url", r.es, "-index-prefix", r.name, "-metrics-addr", "127.0.0.1:0",
			"-aws-region", testenv.Region, "-worker-id", "w1", "-log-level", "debug", "-shutdown-timeout", "20s"}, nil, io.Discard, logs)
	}()
	stop := func() error { cancel(); return <-errc }
	r.waitFlows(90 * time.Second)

	shards, err := r.client.ListShards(r.ctx, &kinesis.ListShardsInput{StreamName: &r.name})
	if err != nil {
		t.Fatal(err)
	}
	parent := shards.Shards[0]
	lo, _ := new(big.Int).SetString(aws.ToString(parent.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(parent.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
	if _, err := r.client.SplitShard(r.ctx, &kinesis.SplitShardInput{StreamName: &r.name, ShardToSplit: parent.ShardId,
		NewStartingHashKey: &mid}); err != nil {
		t.Fatal(err)
	}
	r.waitActive()
	r.put(10)
	r.waitFlows(90 * time.Second)

	if _, err := r.client.MergeShards(r.ctx, &kinesis.MergeShardsInput{StreamName: &r.name,
		ShardToMerge: aws.String("shardId-000000000002"), AdjacentShardToMerge: aws.String("shardId-000000000003")}); err != nil {
		t.Fatal(err)
	}
	r.waitActive()
	r.put(10)
	r.waitFlows(90 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r.check()
	cp := r.checkpoints()
	for _, closed := range []string{"shardId-000000000000", "shardId-000000000002", "shardId-000000000003"} {
		if cp[closed] != "SHARD_END" {
			t.Errorf("closed shard %s checkpointed at %q, want SHARD_END; all: %v", closed, cp[closed], cp)
		}
	}

	// Children after parents. Kinesis says who is whose parent; the log says when each parent's processor was shut
	// down at its end (released with TERMINATE after checkpointing SHARD_END, or a warning that it could not) and
	// when each shard's first batch was made durable.
	shards, err = r.client.ListShards(r.ctx, &kinesis.ListShardsInput{StreamName: &r.name})
	if err != nil {
		t.Fatal(err)
	}
	parents := map[string][]string{}
	for _, s := range shards.Shards {
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p != nil {
				parents[*s.ShardId] = append(parents[*s.ShardId], *p)
			}
		}
	}
	wantParents := map[string][]string{
		"shardId-000000000002": {"shardId-000000000000"},
		"shardId-000000000003": {"shardId-000000000000"},
		"shardId-000000000004": {"shardId-000000000002", "shardId-000000000003"},
	}
	if diff := cmp.Diff(wantParents, parents); diff != "" {
		t.Fatalf("shard lineage (-want +got):\n%s", diff)
	}
	lines := logs.lines(t)
	firstBatch, ended, records := map[string]int{}, map[string]int{}, map[string]int{}
	for i, l := range lines {
		switch {
		case l.Msg == "batch durable":
			if _, ok := firstBatch[l.Shard]; !ok {
				firstBatch[l.Shard] = i
			}
			records[l.Shard] += l.Records
		case l.Msg == "shard released" && l.Reason == "TERMINATE":
			ended[l.Shard] = i
		case strings.Contains(l.Msg, "shard end"):
			t.Errorf("log line %d: shard %s: %s: %s", i, l.Shard, l.Msg, l.Error)
		}
	}
	inShard := r.recordsPerShard(shards.Shards)
	for child, ps := range wantParents {
		// Children are processed at all: every record the split and the merge sent to a child went through it.
		if inShard[child] == 0 || records[child] != inShard[child] {
			t.Errorf("child %s: %d records processed, %d in the shard; want all of them, and some", child, records[child], inShard[child])
			continue
		}
		for _, p := range ps {
			end, ok := ended[p]
			switch {
			case !ok:
				t.Errorf("parent %s of %s never shut down at its end (TERMINATE)", p, child)
			case firstBatch[child] < end:
				t.Errorf("child %s: first batch (log line %d) before its parent %s reached its end and checkpointed it (line %d)",
					child, firstBatch[child], p, end)
			}
		}
	}
	// The parents' own records, all processed before they ended.
	for _, p := range []string{"shardId-000000000000", "shardId-000000000001"} {
		if records[p] != inShard[p] {
			t.Errorf("shard %s: %d records processed, %d in the shard", p, records[p], inShard[p])
		}
	}
	t.Logf("records per shard %v; log lines: first batch %v, ended %v", inShard, firstBatch, ended)
}

// recordsPerShard counts the records each shard holds, reading each from its start (kinesalite keeps them all).
func (r *rig) recordsPerShard(shards []kinesistypes.Shard) map[string]int {
	r.t.Helper()
	out := map[string]int{}
	for _, s := range shards {
		it, err := r.client.GetShardIterator(r.ctx, &kinesis.GetShardIteratorInput{StreamName: &r.name, ShardId: s.ShardId,
			ShardIteratorType: kinesistypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			r.t.Fatal(err)
		}
		for next := it.ShardIterator; next != nil; {
			res, err := r.client.GetRecords(r.ctx, &kinesis.GetRecordsInput{ShardIterator: next})
			if err != nil {
				r.t.Fatal(err)
			}
			out[*s.ShardId] += len(res.Records)
			if len(res.Records) == 0 && aws.ToInt64(res.MillisBehindLatest) == 0 {
				break // an open shard's tip
			}
			next = res.NextShardIterator // nil past a closed shard's end
		}
	}
	return out
}

// lockedBuffer collects a worker's log; the KCL goroutines may still write while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// logLine is what the tests read of the consumer's JSON log lines.
type logLine struct {
	Time    time.Time `json:"time"`
	Msg     string    `json:"msg"`
	Shard   string    `json:"shard"`
	Reason  string    `json:"reason"`
	Records int       `json:"records"`
	Error   string    `json:"error"`
}

func (l *lockedBuffer) lines(tb testing.TB) []logLine {
	tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logLine
	for _, raw := range bytes.Split(l.b.Bytes(), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var line logLine
		if err := json.Unmarshal(raw, &line); err != nil {
			tb.Fatalf("log line %q: %v", raw, err)
		}
		out = append(out, line)
	}
	return out
}

// The cluster goes dark for 30 seconds mid-run: the worker waits, resumes, and loses nothing.
func TestRunClusterOutage(t *testing.T) {
	r := newRig(t, 2)
	proxy, err := faultproxy.New(r.es)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	r.put(10)
	stop := r.worker(proxy.URL(), "w1")
	r.waitFlows(90 * time.Second)
	proxy.Down(30 * time.Second)
	r.put(15) // arrives while the cluster is unreachable
	time.Sleep(5 * time.Second)
	if got := testenv.Count(t, r.es, r.name+"-flows-*"); got >= len(r.lines) {
		t.Fatalf("all %d flows indexed during the outage: the proxy did not cut the worker off", got)
	}
	r.waitFlows(2 * time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r.check()
}

// A webhook that never answers: the finalizer's chunks time out and end as dead letters, while the shards keep
// indexing and checkpointing as if there were no webhook.
func TestRunWebhookHangs(t *testing.T) {
	r := newRig(t, 2)
	var posts atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		posts.Add(1)
		io.Copy(io.Discard, req.Body) // a read body lets the server notice the client hanging up
		<-req.Context().Done()
	}))
	defer hook.Close()
	r.put(10)
	stop := r.worker(r.es, "w1", "-webhook-url", hook.URL+"/connection_sets/{bucket_time}", "-webhook-timeout", "2s",
		"-webhook-attempts", "2", "-finalizer-interval", "1s")
	r.waitFlows(90 * time.Second)
	// The batches spread over the corpus's hour: once both shards reported them, the watermark is past the first
	// windows, which the finalizer closes and then gets stuck on the webhook.
	for deadline := time.Now().Add(time.Minute); posts.Load() == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the finalizer never called the webhook")
		}
	}
	r.put(15) // arrives while the finalizer waits on the webhook
	r.waitFlows(time.Minute)
	// The finalizer gives each chunk up after its attempts and dead-letters it.
	for deadline := time.Now().Add(time.Minute); testenv.Count(t, r.es, r.name+"-deadletter") == 0; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no webhook chunk dead-lettered within a minute (%d attempts)", posts.Load())
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r.check()
	var letters int
	for _, raw := range testenv.Sources(t, r.es, r.name+"-deadletter") {
		var dl struct{ Stage, Reason string }
		if err := json.Unmarshal(raw, &dl); err != nil {
			t.Fatal(err)
		}
		if dl.Stage != "webhook" || dl.Reason != "webhook_exhausted_timeout" {
			t.Errorf("dead letter %s: want stage webhook, reason webhook_exhausted_timeout", raw)
		}
		letters++
	}
	t.Logf("%d webhook attempts, %d chunks dead-lettered, %d flows indexed meanwhile", posts.Load(), letters, len(r.lines))
	if letters == 0 {
		t.Error("no webhook chunk was dead-lettered")
	}
}

// Two worker processes share a 4-shard stream; one is killed with SIGKILL mid-run. The other takes its leases over
// and the index ends with every flow once and connection sets equal to the brute-force ones.
func TestRunWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs worker processes")
	}
	r := newRig(t, 4)
	bin := filepath.Join(t.TempDir(), "consumer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	logs := map[string]*strings.Builder{}
	start := func(id string) (*exec.Cmd, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.CommandContext(r.ctx, bin, "run", "-stream-name", r.name, "-application-name", r.name,
			"-kinesis-endpoint", r.kin, "-dynamodb-endpoint", r.ddb, "-sink-url", r.es, "-index-prefix", r.name,
			"-metrics-addr", addr, "-aws-region", testenv.Region, "-worker-id", id, "-log-level", "error",
			"-finalizer-interval", "1s", "-finalizer-lock-lease", "5s")
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=kinflow-test", "AWS_SECRET_ACCESS_KEY=kinflow-test")
		logs[id] = &strings.Builder{}
		cmd.Stderr = logs[id]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, addr
	}
	leases := func(addr string) int { return int(scrape(addr, "kinflow_leases_held")) }

	r.put(20)
	w1, a1 := start("w1")
	w2, a2 := start("w2")
	deadline := time.Now().Add(2 * time.Minute)
	for leases(a1) < 1 || leases(a2) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("leases did not balance: w1 holds %d, w2 %d\nw1: %s\nw2: %s", leases(a1), leases(a2), logs["w1"], logs["w2"])
		}
		time.Sleep(time.Second)
	}
	t.Logf("leases balanced: w1 holds %d, w2 %d", leases(a1), leases(a2))
	r.put(20)
	// Kill the worker that holds the finalizer lock, so the test also proves the lock moves on.
	workers := map[string]*exec.Cmd{"w1": w1, "w2": w2}
	addrs := map[string]string{"w1": a1, "w2": a2}
	victim := r.lockOwner(time.Minute)
	survivor := map[string]string{"w1": "w2", "w2": "w1"}[victim]
	if err := workers[victim].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	workers[victim].Wait()
	r.put(20)
	r.waitFlows(3 * time.Minute)
	if got := leases(addrs[survivor]); got != 4 {
		t.Errorf("after the kill the survivor holds %d leases, want 4", got)
	}
	// The killed holder's 5 s lease runs out and the survivor's finalizer takes the lock.
	for deadline := time.Now().Add(time.Minute); r.lockOwner(time.Minute) != survivor; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the finalizer lock stayed with the killed worker %s", victim)
		}
	}
	// Stop the survivor as a deployment would: it checkpoints, releases its leases and exits 0.
	if err := workers[survivor].Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := workers[survivor].Wait(); err != nil {
		t.Errorf("the survivor did not exit cleanly on SIGTERM: %v", err)
	}
	t.Logf("killed %s (the finalizer lock holder); %s took the leases and the lock over", victim, survivor)
	r.check()
}

// lockOwner waits up to within for the finalizer lock to be held and returns its owner.
func (r *rig) lockOwner(within time.Duration) string {
	r.t.Helper()
	db := dynamodb.NewFromConfig(testenv.AWSConfig(r.ddb))
	table := r.name + "-state"
	for deadline := time.Now().Add(within); ; time.Sleep(500 * time.Millisecond) {
		out, err := db.GetItem(r.ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
			Key: map[string]ddbtypes.AttributeValue{"ShardID": &ddbtypes.AttributeValueMemberS{Value: "lock#" + finalize.LockName}}})
		if err == nil {
			if owner := attr(out.Item["Owner"]); owner != "" {
				return owner
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("nobody held the finalizer lock within %v (last error: %v)", within, err)
		}
	}
}

// deleteStream removes a test's stream, so that emulators that live across test runs do not fill up with shards.
func deleteStream(client *kinesis.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &name, EnforceConsumerDeletion: aws.Bool(true)})
}
