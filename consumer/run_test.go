package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// TestRunEndToEnd runs `consumer run` as a KCL worker against kinesalite (stream) and dynalite (leases) into the
// real Elasticsearch: every valid flow is indexed once, every poison record is a dead letter, each shard is
// checkpointed at its last record on shutdown, and a second run from those checkpoints adds nothing.
func TestRunEndToEnd(t *testing.T) {
	kin, ddb, es := testenv.URL(t, testenv.Kinesalite), testenv.URL(t, testenv.Dynalite), testenv.URL(t, testenv.Elasticsearch)
	t.Setenv("AWS_ACCESS_KEY_ID", "kinflow-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kinflow-test")
	ctx := testenv.Context(t, 3*time.Minute)
	name := testenv.UniqueName(t, "kfrun")
	testenv.DropPrefix(t, es, name)

	client := kinesis.NewFromConfig(testenv.AWSConfig(kin))
	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteStream(client, name) })
	if err := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).
		Wait(ctx, &kinesis.DescribeStreamInput{StreamName: &name}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// Three days old: a backlog, finalized by event time (the wall clock closes nothing here).
	cfg := flowgen.DefaultConfig(testenv.Now(t).UTC().Add(-72 * time.Hour).Truncate(time.Hour))
	cfg.Seed = 5
	g := flowgen.New(cfg)
	lastSeq := map[string]string{}
	valid, poison := 0, 0
	put := func(data []byte, key string) {
		out, err := client.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: &name, PartitionKey: &key, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		lastSeq[aws.ToString(out.ShardId)] = aws.ToString(out.SequenceNumber)
	}
	for i, b := range g.Batches(30, 20, 60) {
		put(g.Envelope("/vpc/flow-logs/run", "kinflow", b), strconv.Itoa(i))
		valid += len(b.Events)
		if i%8 == 3 {
			put([]byte("garbage that is not gzip "+strconv.Itoa(i)), "poison"+strconv.Itoa(i))
			poison++
		}
	}

	hook := newWebhookRecorder(t)
	common := []string{"-application-name", name, "-kinesis-endpoint", kin, "-dynamodb-endpoint", ddb,
		"-sink-url", es, "-index-prefix", name, "-aws-region", testenv.Region, "-log-level", "warn",
		"-webhook-url", hook.srv.URL + "/connection_sets/{bucket_time}", "-finalizer-interval", "1s",
		// A quiet stream closes its last windows once its shards are idle: within seconds here, not minutes.
		"-idle-after", "2s"}
	args := append([]string{"run", "-stream-name", name, "-metrics-addr", "127.0.0.1:0"}, common...)
	run := func(waitFinals bool) {
		runCtx, stop := context.WithCancel(ctx)
		errc := make(chan error, 1)
		var out, errs strings.Builder
		go func() { errc <- dispatch(runCtx, args, nil, &out, &errs) }()
		deadline := time.Now().Add(90 * time.Second)
		// Once both shards have reported their whole hour, the watermark passes the first windows' ends plus the
		// allowed lateness: the running worker finalizes them on its own.
		for (testenv.Count(t, es, name+"-flows-*") < valid || waitFinals && testenv.Count(t, es, name+"-conns-2*") == 0) &&
			time.Now().Before(deadline) {
			time.Sleep(time.Second)
		}
		stop()
		if err := <-errc; err != nil {
			t.Fatalf("consumer run: %v\n%s", err, errs.String())
		}
		// Nothing here is an error: not the garbage (dead letters, warnings), and not a worker's first start,
		// whose finalizer must not look for the lease table before the worker made it.
		for _, line := range strings.Split(errs.String(), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Errorf("consumer run logged an error: %s", line)
			}
		}
	}
	run(true)
	if got := testenv.Count(t, es, name+"-conns-2*"); got == 0 {
		t.Error("the running worker's finalizer wrote no final connection sets")
	}
	if got := testenv.Count(t, es, name+"-flows-*"); got != valid {
		t.Fatalf("flow documents = %d, want %d", got, valid)
	}
	if got := testenv.Count(t, es, name+"-deadletter"); got != poison {
		t.Errorf("dead letters = %d, want %d", got, poison)
	}
	partials := testenv.Count(t, es, name+"-conns-partial-*")
	if partials == 0 {
		t.Error("no partial connection sets were written")
	}

	// Each shard's checkpoint is its last record: shutdown cut and checkpointed what was durable.
	db := dynamodb.NewFromConfig(testenv.AWSConfig(ddb))
	leases, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: &name})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, item := range leases.Items {
		got[attr(item["ShardID"])] = attr(item["Checkpoint"])
	}
	t.Logf("%d flows, %d dead letters, %d partials; checkpoints %v", valid, poison, partials, got)
	if fmt.Sprint(got) != fmt.Sprint(lastSeq) {
		t.Errorf("checkpoints = %v, want the last sequence number of each shard %v", got, lastSeq)
	}

	// A second worker life starts from the checkpoints: nothing is written again.
	run(false)
	if n, p := testenv.Count(t, es, name+"-flows-*"), testenv.Count(t, es, name+"-conns-partial-*"); n != valid || p != partials {
		t.Errorf("after a restart: %d flows and %d partials, want %d and %d", n, p, valid, partials)
	}

	// More passes after the shutdown cuts, until the stream has been quiet for -idle-after and every window is
	// closed: the finals are exactly the merged partials, and the webhook got each.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var out, errs strings.Builder
		if err := dispatch(ctx, append([]string{"finalize"}, common...), nil, &out, &errs); err != nil {
			t.Fatalf("consumer finalize: %v\n%s", err, errs.String())
		}
		var rep finalize.Report
		if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
			t.Fatalf("consumer finalize printed %q: %v", out.String(), err)
		}
		if rep.Open == 0 || time.Now().After(deadline) {
			t.Logf("finalize: %s", out.String())
			break
		}
	}
	want, finals := map[string]uint64{}, map[string]uint64{}
	for k, set := range mergedPartials(t, es, name) {
		want[k] = set.PeersCount
	}
	for k, set := range finalSets(t, es, name) {
		finals[k] = set.PeersCount
	}
	if fmt.Sprint(finals) != fmt.Sprint(want) {
		t.Errorf("finals (%d) differ from the merged partials (%d)", len(finals), len(want))
	}
	if got := hook.latest(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the webhook's latest revisions hold %d connection sets, want %d", len(got), len(want))
	}
}

// webhookRecorder is a connection-set receiver keeping, per window, the body of its highest revision.
type webhookRecorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	revs map[string]int
	sets map[string]map[string]uint64 // window start -> ip -> peers, of the highest revision
}

func newWebhookRecorder(t *testing.T) *webhookRecorder {
	r := &webhookRecorder{revs: map[string]int{}, sets: map[string]map[string]uint64{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body map[string]uint64
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		window := strings.TrimPrefix(req.URL.Path, "/connection_sets/")
		rev, _ := strconv.Atoi(req.Header.Get("X-Kinflow-Revision"))
		r.mu.Lock()
		defer r.mu.Unlock()
		if rev > r.revs[window] {
			r.revs[window], r.sets[window] = rev, map[string]uint64{}
		}
		if rev == r.revs[window] {
			for ip, n := range body {
				r.sets[window][ip] = n
			}
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// latest returns (window start, ip) -> peers over the highest revision of each window.
func (r *webhookRecorder) latest() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]uint64{}
	for w, sets := range r.sets {
		for ip, n := range sets {
			out[w+" "+ip] = n
		}
	}
	return out
}

// attr returns a string attribute's value ("" when it is absent or not a string).
func attr(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
