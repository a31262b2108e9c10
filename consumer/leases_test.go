package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/prometheus/client_golang/prometheus"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"

	"github.com/kinflow/kinflow/consumer/kcl"
	"github.com/kinflow/kinflow/internal/assemble"
	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// A worker holds all four leases of a stream when a second one joins and takes its share. Once the leases settle,
// the leases_held gauges agree with the lease table (in total and per worker) and the per-shard gauges exist only on
// each shard's owner; a worker that lost a lease did nothing on that shard afterwards; the index ends exact.
func TestRunLeaseSteal(t *testing.T) {
	r := newRig(t, 4)
	r.put(20)
	w1 := r.inProcess("w1")
	// Every lease checkpointed: the library balances only once each lease has an owner and a checkpoint.
	r.waitLeases(2*time.Minute, "w1 holds every lease, each checkpointed", allHeldBy("w1", 4))
	w2 := r.inProcess("w2")
	r.waitLeases(2*time.Minute, "two leases each", func(ls []lease) bool {
		held := heldBy(ls)
		return len(held["w1"]) == 2 && len(held["w2"]) == 2
	})
	r.put(20)
	workers := []*inProcessWorker{w1, w2}
	r.waitGaugesMatch(workers, time.Minute)
	r.waitFlows(2 * time.Minute)
	r.waitGaugesMatch(workers, time.Minute)

	lost := counterValue(t, w1.reg, "kinflow_leases_lost_total")
	t.Logf("leases lost: w1 %v, w2 %v", lost, counterValue(t, w2.reg, "kinflow_leases_lost_total"))
	for _, w := range workers {
		if err := w.stop(); err != nil {
			t.Errorf("%s: %v", w.id, err)
		}
	}
	r.check()
	if lost < 1 {
		t.Errorf("w1 lost %v leases, want at least 1: the steal went unnoticed", lost)
	}
	for _, w := range workers {
		for _, problem := range actsWithoutLease(w.logs.events()) {
			t.Errorf("%s: %s", w.id, problem)
		}
	}
}

// A worker that claimed another's lease (a steal in progress) dies before taking it: the owner gives the lease up
// at its next renewal, and the dead claimant's claim must not keep the shard unread for longer than a lease would.
// The claim is written by hand for a worker that never existed. The test logs how long the shard went unread; it
// asserts only that it is read again.
func TestRunDeadClaimant(t *testing.T) {
	r := newRig(t, 2)
	r.put(10)
	w := r.inProcess("w1")
	r.waitLeases(2*time.Minute, "w1 holds every lease, each checkpointed", allHeldBy("w1", 2))
	const shard = "shardId-000000000000"
	db := dynamodb.NewFromConfig(testenv.AWSConfig(r.ddb))
	if _, err := db.UpdateItem(r.ctx, &dynamodb.UpdateItemInput{TableName: &r.name,
		Key:                       map[string]ddbtypes.AttributeValue{chk.LeaseKeyKey: &ddbtypes.AttributeValueMemberS{Value: shard}},
		UpdateExpression:          aws.String("SET " + chk.ClaimRequestKey + " = :ghost"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":ghost": &ddbtypes.AttributeValueMemberS{Value: "ghost"}},
	}); err != nil {
		t.Fatal(err)
	}
	claimed := time.Now()
	shards, err := r.client.ListShards(r.ctx, &kinesis.ListShardsInput{StreamName: &r.name})
	if err != nil {
		t.Fatal(err)
	}
	r.putEach(shards.Shards)
	var released, read time.Duration
	for deadline := time.Now().Add(4 * time.Minute); read == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("4 minutes after the claim, %s was not read again (released after %v)", shard, released)
		}
		for _, e := range w.logs.events() {
			switch {
			case e.Shard != shard || e.Time.Before(claimed):
			case released == 0 && strings.HasPrefix(e.Msg, "shard lease lost"):
				released = e.Time.Sub(claimed)
			case released != 0 && e.Msg == "first records since the lease was taken":
				read = e.Time.Sub(claimed)
			}
		}
	}
	t.Logf("dead claimant: the owner gave %s up %v after the claim and read it again %v after the claim",
		shard, released.Round(100*time.Millisecond), read.Round(100*time.Millisecond))
	r.waitFlows(2 * time.Minute)
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	r.check()
}

// Two worker processes share a 4-shard stream and one is killed (SIGKILL): the survivor takes every one of its
// shards over. The test logs how long each of those shards went unread, from the kill to the survivor's first
// records on it (README, Guarantees); it asserts only that every shard is taken over, that the survivor's gauges
// agree with the lease table, and that the index ends exact.
func TestRunFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs worker processes")
	}
	bin := filepath.Join(t.TempDir(), "consumer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name     string
		balanced bool // kill one of two workers holding two leases each; else the only worker with leases
	}{
		{name: "victim holds every lease"},
		{name: "two leases each", balanced: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 4)
			shards, err := r.client.ListShards(r.ctx, &kinesis.ListShardsInput{StreamName: &r.name})
			if err != nil {
				t.Fatal(err)
			}
			r.put(20)
			victim := r.process(bin, "victim")
			var survivor *workerProcess
			if tc.balanced {
				survivor = r.process(bin, "survivor")
				r.waitLeases(2*time.Minute, "two leases each", func(ls []lease) bool {
					held := heldBy(ls)
					return len(held["victim"]) == 2 && len(held["survivor"]) == 2
				})
			} else {
				r.waitLeases(2*time.Minute, "the victim holds every lease", func(ls []lease) bool {
					return len(heldBy(ls)["victim"]) == 4
				})
				survivor = r.process(bin, "survivor")
				survivor.waitReady(t, time.Minute)
			}
			orphans := heldBy(r.leases())["victim"]
			killed := time.Now()
			if err := victim.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			victim.cmd.Wait()

			// New records in every shard: each has something to read as soon as its new owner starts. (Few: the
			// check reads at most 10,000 partial documents.)
			r.putEach(shards.Shards)
			taken, read := map[string]time.Duration{}, map[string]time.Duration{}
			for deadline := time.Now().Add(2 * time.Minute); len(read) < len(orphans); time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("2 minutes after the kill the survivor has read %v of the orphaned shards %v (taken: %v)\nsurvivor log:\n%s",
						read, orphans, taken, survivor.logs.String())
				}
				for _, e := range survivor.logs.events() {
					if e.Time.Before(killed) || !slices.Contains(orphans, e.Shard) {
						continue
					}
					switch e.Msg {
					case "shard lease taken":
						if _, ok := taken[e.Shard]; !ok {
							taken[e.Shard] = e.Time.Sub(killed)
						}
					case "first records since the lease was taken":
						if _, ok := read[e.Shard]; !ok {
							read[e.Shard] = e.Time.Sub(killed)
						}
					}
				}
			}
			slowest := slices.Max(slices.Collect(maps.Values(read)))
			t.Logf("failover: killed a worker holding %d of 4 leases; shard: lease taken, first records read "+
				"(after the kill): %s; every shard read within %v",
				len(orphans), failoverFigures(orphans, taken, read), slowest.Round(100*time.Millisecond))

			r.waitFlows(3 * time.Minute)
			r.waitLeases(time.Minute, "the survivor holds every lease", func(ls []lease) bool {
				return len(heldBy(ls)["survivor"]) == 4
			})
			if got := survivor.leasesHeld(); got != 4 {
				t.Errorf("the survivor's kinflow_leases_held = %v, want 4 (the lease table's)", got)
			}
			if err := survivor.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := survivor.cmd.Wait(); err != nil {
				t.Errorf("the survivor did not exit cleanly on SIGTERM: %v", err)
			}
			r.check()
		})
	}
}

func failoverFigures(shards []string, taken, read map[string]time.Duration) string {
	var b strings.Builder
	for i, s := range shards {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %v, %v", strings.TrimPrefix(s, "shardId-"), taken[s].Round(100*time.Millisecond),
			read[s].Round(100*time.Millisecond))
	}
	return b.String()
}

// lease is one item of the KCL lease table.
type lease struct {
	shard, owner, checkpoint, claim string
	timeout                         time.Time
}

// leases reads the lease table (strongly consistent).
func (r *rig) leases() []lease {
	r.t.Helper()
	db := dynamodb.NewFromConfig(testenv.AWSConfig(r.ddb))
	out, err := db.Scan(r.ctx, &dynamodb.ScanInput{TableName: &r.name, ConsistentRead: aws.Bool(true)})
	if _, ok := errors.AsType[*ddbtypes.ResourceNotFoundException](err); ok {
		return nil // no worker has created it yet
	}
	if err != nil {
		r.t.Fatal(err)
	}
	var ls []lease
	for _, item := range out.Items {
		l := lease{shard: attr(item[chk.LeaseKeyKey]), owner: attr(item[chk.LeaseOwnerKey]),
			checkpoint: attr(item[chk.SequenceNumberKey]), claim: attr(item[chk.ClaimRequestKey])}
		l.timeout, _ = time.Parse(time.RFC3339Nano, attr(item[chk.LeaseTimeoutKey]))
		ls = append(ls, l)
	}
	return ls
}

// allHeldBy says that worker holds all n leases, each checkpointed (the library balances only once every lease has
// an owner and a checkpoint).
func allHeldBy(worker string, n int) func([]lease) bool {
	return func(ls []lease) bool {
		for _, l := range ls {
			if l.checkpoint == "" {
				return false
			}
		}
		return len(heldBy(ls)[worker]) == n
	}
}

// heldBy returns the shards of the leases held now, by owner: an owner, a lease that has not run out, a shard not
// ended.
func heldBy(ls []lease) map[string][]string {
	now := time.Now()
	out := map[string][]string{}
	for _, l := range ls {
		if l.owner != "" && l.timeout.After(now) && l.checkpoint != chk.ShardEnd {
			out[l.owner] = append(out[l.owner], l.shard)
		}
	}
	for _, s := range out {
		sort.Strings(s)
	}
	return out
}

// waitLeases waits until the lease table satisfies ok.
func (r *rig) waitLeases(within time.Duration, what string, ok func([]lease) bool) {
	r.t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(500 * time.Millisecond) {
		ls := r.leases()
		if ok(ls) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after %v, not %s: leases held %v", within, what, heldBy(ls))
		}
	}
}

// putEach sends one delivery to each shard.
func (r *rig) putEach(shards []kinesistypes.Shard) {
	r.t.Helper()
	for i, b := range r.gen.Batches(len(shards), 10, 40) {
		if _, err := r.client.PutRecord(r.ctx, &kinesis.PutRecordInput{StreamName: &r.name, PartitionKey: aws.String("each"),
			ExplicitHashKey: shards[i].HashKeyRange.StartingHashKey, Data: r.gen.Envelope("/vpc/flow-logs/faults", "kinflow", b)}); err != nil {
			r.t.Fatal(err)
		}
		for _, e := range b.Events {
			r.lines = append(r.lines, e.Message)
		}
	}
}

// inProcessWorker is `consumer run` in the test's process, with its own metrics registry and a debug log.
type inProcessWorker struct {
	id   string
	reg  *prometheus.Registry
	logs *lockedBuffer
	stop func() error // ends the worker gracefully and returns its error
}

func (r *rig) inProcess(id string) *inProcessWorker {
	r.t.Helper()
	cfg, err := loadConfig("[run]", "", []string{"-stream-name", r.name, "-application-name", r.name, "-kinesis-endpoint", r.kin,
		"-dynamodb-endpoint", r.ddb, "-sink-url", r.es, "-index-prefix", r.name, "-metrics-addr", "127.0.0.1:0",
		"-aws-region", testenv.Region, "-worker-id", id, "-finalizer", "false", "-shutdown-timeout", "20s"},
		io.Discard, config.Config.ValidateConsumer)
	if err != nil {
		r.t.Fatal(err)
	}
	awsCfg, err := assemble.AWSConfig(r.ctx, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	w := &inProcessWorker{id: id, reg: prometheus.NewRegistry(), logs: &lockedBuffer{}}
	log := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(r.ctx)
	errc := make(chan error, 1)
	go func() { errc <- kcl.Run(ctx, cfg, awsCfg, w.reg, log) }()
	var once sync.Once
	var stopErr error
	w.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-errc })
		return stopErr
	}
	r.t.Cleanup(func() { w.stop() })
	return w
}

// waitGaugesMatch waits until the workers' lease gauges have agreed with an unchanging lease table for three reads
// in a row: kinflow_leases_held in total and per worker, and the per-shard gauges on the owner only.
func (r *rig) waitGaugesMatch(ws []*inProcessWorker, within time.Duration) {
	r.t.Helper()
	var problems []string
	for deadline, agreed := time.Now().Add(within), 0; agreed < 3; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the lease gauges did not agree with the lease table within %v:\n%s", within, strings.Join(problems, "\n"))
		}
		before := heldBy(r.leases())
		problems = nil
		var sum, leases float64
		for _, w := range ws {
			held, perShard := leaseGauges(r.t, w.reg)
			sum += held
			leases += float64(len(before[w.id]))
			if held != float64(len(before[w.id])) {
				problems = append(problems, fmt.Sprintf("%s: kinflow_leases_held = %v, the table gives it %v", w.id, held, before[w.id]))
			}
			if got := perShard["kinflow_millis_behind_latest"]; !slices.Equal(got, before[w.id]) {
				problems = append(problems, fmt.Sprintf("%s: kinflow_millis_behind_latest for shards %v, it holds %v", w.id, got, before[w.id]))
			}
			for _, s := range perShard["kinflow_last_checkpoint_timestamp_seconds"] {
				if !slices.Contains(before[w.id], s) {
					problems = append(problems, fmt.Sprintf(
						"%s: kinflow_last_checkpoint_timestamp_seconds for %s, which it does not hold (%v)", w.id, s, before[w.id]))
				}
			}
		}
		if sum != leases {
			problems = append(problems, fmt.Sprintf("kinflow_leases_held sums to %v over the workers, the table holds %v leases", sum, leases))
		}
		if after := heldBy(r.leases()); !maps.EqualFunc(before, after, slices.Equal) {
			problems = append(problems, fmt.Sprintf("the lease table changed while the gauges were read: %v, then %v", before, after))
		}
		if len(problems) == 0 {
			agreed++
		} else {
			agreed = 0
		}
	}
}

// leaseGauges returns kinflow_leases_held and, for each per-shard gauge, the shards it has a value for (sorted).
func leaseGauges(tb testing.TB, reg *prometheus.Registry) (held float64, perShard map[string][]string) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	perShard = map[string][]string{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "kinflow_leases_held":
			held = mf.GetMetric()[0].GetGauge().GetValue()
		case "kinflow_millis_behind_latest", "kinflow_last_checkpoint_timestamp_seconds":
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "shard" {
						perShard[mf.GetName()] = append(perShard[mf.GetName()], l.GetValue())
					}
				}
			}
			sort.Strings(perShard[mf.GetName()])
		}
	}
	return held, perShard
}

func counterValue(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// actsWithoutLease lists what a worker's processors did on a shard while the worker did not hold its lease: a batch
// made durable or a checkpoint after the lease was lost (or before it was taken).
func actsWithoutLease(events []logLine) []string {
	var problems []string
	holding := map[string]bool{}
	for i, e := range events {
		switch {
		case e.Msg == "shard lease taken":
			holding[e.Shard] = true
		case strings.HasPrefix(e.Msg, "shard lease lost"), strings.HasPrefix(e.Msg, "shard consumer ended"),
			e.Msg == "shard released":
			holding[e.Shard] = false
		case e.Msg == "batch durable", e.Msg == "checkpointed":
			if !holding[e.Shard] {
				problems = append(problems, fmt.Sprintf("log line %d: %s on %s without its lease", i, e.Msg, e.Shard))
			}
		}
	}
	return problems
}

// events parses the log; lines that are not JSON (a worker process may print a Go runtime message) are skipped.
func (l *lockedBuffer) events() []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logLine
	for _, raw := range strings.Split(l.b.String(), "\n") {
		var e logLine
		if json.Unmarshal([]byte(raw), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// workerProcess is `consumer run` in a process of its own, logging at info level.
type workerProcess struct {
	cmd  *exec.Cmd
	addr string // of /metrics and /readyz
	logs *lockedBuffer
}

func (r *rig) process(bin, id string) *workerProcess {
	r.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.t.Fatal(err)
	}
	w := &workerProcess{addr: ln.Addr().String(), logs: &lockedBuffer{}}
	ln.Close()
	w.cmd = exec.CommandContext(r.ctx, bin, "run", "-stream-name", r.name, "-application-name", r.name,
		"-kinesis-endpoint", r.kin, "-dynamodb-endpoint", r.ddb, "-sink-url", r.es, "-index-prefix", r.name,
		"-metrics-addr", w.addr, "-aws-region", testenv.Region, "-worker-id", id, "-log-level", "info", "-finalizer", "false")
	w.cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=kinflow-test", "AWS_SECRET_ACCESS_KEY=kinflow-test")
	w.cmd.Stderr = w.logs
	if err := w.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
	return w
}

func (w *workerProcess) waitReady(tb testing.TB, within time.Duration) {
	tb.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + w.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the worker was not ready within %v:\n%s", within, w.logs.String())
		}
	}
}

// leasesHeld reads kinflow_leases_held from the worker's /metrics (-1: unreadable).
func (w *workerProcess) leasesHeld() float64 {
	res, err := http.Get("http://" + w.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "kinflow_leases_held "); ok {
			var n float64
			fmt.Sscan(v, &n)
			return n
		}
	}
	return -1
}
