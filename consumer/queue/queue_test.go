package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kinflow/kinflow/consumer/queue"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/intake"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
	"github.com/kinflow/kinflow/internal/testing/testenv"
	"github.com/kinflow/kinflow/internal/transport/s3obj"
)

const account = "123456789012"

// env is moto's S3 and SQS, a bucket whose ObjectCreated notifications go to a queue (as S3 delivers them), and a
// pipeline writing to the local Elasticsearch under a fresh prefix with strict mappings.
type env struct {
	t      *testing.T
	nb     *testenv.NotifiedBucket
	s3     *s3.Client
	sqs    *sqs.Client
	bucket string
	queue  string
	esURL  string
	prefix string
	sink   sink.Sink
	intake *intake.Intake
	// lines are the valid flow-log lines put, for the brute force.
	lines []string
}

func newEnv(t *testing.T, opener func(s3obj.Opener) s3obj.Opener) *env {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	nb := testenv.NewNotifiedBucket(t)
	e := &env{t: t, nb: nb, s3: nb.S3, sqs: nb.SQS, bucket: nb.Bucket, queue: nb.QueueURL, esURL: testenv.URL(t, testenv.Elasticsearch)}
	var err error
	e.prefix = testenv.UniqueName(t, "kfq")
	testenv.DropPrefix(t, e.esURL, e.prefix)
	ecfg := elastic.DefaultConfig()
	ecfg.Addresses = []string{e.esURL}
	ecfg.Templates.Prefix, ecfg.Templates.Dynamic, ecfg.Templates.Replicas = e.prefix, "strict", 0
	ecfg.Sink.Prefix = e.prefix
	ecfg.SetupOnStart = true
	if e.sink, err = elastic.New(ctx, ecfg, sink.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sink.Close(context.Background()) })
	resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := pipeline.DefaultConfig()
	pcfg.Prefix = e.prefix
	pipe, err := pipeline.New(pcfg, resolver, e.sink, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var op s3obj.Opener
	if op, err = s3obj.NewS3Opener(e.s3, s3obj.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if opener != nil {
		op = opener(op)
	}
	if e.intake, err = intake.New(s3obj.DefaultConfig(), 4, intake.Parts{Pipeline: pipe, Opener: op, Sink: e.sink, Prefix: e.prefix}, intake.Options{}); err != nil {
		t.Fatal(err)
	}
	return e
}

// flowLog returns a gzip'd flow-log file of n deliveries from seed (every 10th line broken), remembering its valid
// lines.
func (e *env) flowLog(seed uint64, n int) []byte {
	cfg := flowgen.DefaultConfig(flowgen.FixedStart)
	cfg.Seed = seed
	file, whole, _ := flowgen.S3File(flowgen.New(cfg).Batches(n, 20, 60), 10)
	e.lines = append(e.lines, whole...)
	return file
}

func (e *env) put(key string, body []byte) { e.nb.Put(e.t, key, body) }

func flowKey(n int) string {
	return fmt.Sprintf("AWSLogs/%s/vpcflowlogs/us-east-1/2026/11/23/%s_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261123T1200Z_%08x.log.gz", account, account, n)
}

// run polls until the queue is empty and idle, or ctx ends.
func (e *env) run(ctx context.Context, cfg queue.Config, h queue.Handler) *progressLog {
	e.t.Helper()
	pl := &progressLog{}
	p, err := queue.New(e.sqs, cfg, h, queue.Options{OnProgress: pl.record})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := p.Run(ctx, ctx); err != nil {
		e.t.Fatal(err)
	}
	return pl
}

type progressLog struct {
	mu   sync.Mutex
	last queue.Progress
	n    int
}

func (p *progressLog) record(_ context.Context, pr queue.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last, p.n = pr, p.n+1
}

func testConfig(url string) queue.Config {
	c := queue.DefaultConfig()
	c.QueueURL, c.Wait, c.Visibility = url, time.Second, 4*time.Second
	c.RetryInitial, c.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	return c
}

// untilEmpty stops ctx once the queue holds no message, visible or in flight.
func (e *env) untilEmpty(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		for ctx.Err() == nil {
			time.Sleep(300 * time.Millisecond)
			a, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(e.queue),
				AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
			if err == nil && a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
				cancel()
			}
		}
	}()
	return ctx, cancel
}

// checkFlows holds the index to the valid lines: one document each, and partial connection sets that merge to the
// brute force.
func (e *env) checkFlows() {
	e.t.Helper()
	if n := testenv.Count(e.t, e.esURL, e.prefix+"-flows-*"); n != len(e.lines) {
		e.t.Errorf("%d flow documents, want %d", n, len(e.lines))
	}
	merged, _ := testenv.MergedPartials(e.t, e.esURL, e.prefix)
	type ref struct {
		peers      map[string]bool
		sent, recv uint64
	}
	want := map[string]*ref{}
	get := func(k string) *ref {
		if want[k] == nil {
			want[k] = &ref{peers: map[string]bool{}}
		}
		return want[k]
	}
	for _, l := range e.lines {
		f := strings.Fields(l)
		if f[13] != "OK" {
			continue
		}
		start, _ := strconv.ParseInt(f[10], 10, 64)
		w := start - start%600
		src, dst := netip.MustParseAddr(f[3]).String(), netip.MustParseAddr(f[4]).String()
		s, d := get(fmt.Sprint(w, " ", src)), get(fmt.Sprint(w, " ", dst))
		s.peers[dst], d.peers[src] = true, true
		s.sent++
		d.recv++
	}
	if len(merged) != len(want) {
		e.t.Errorf("%d (window, ip) pairs in partials, want %d", len(merged), len(want))
	}
	for k, f := range merged {
		w := want[k]
		if w == nil || int(f.PeersCount) != len(w.peers) || f.FlowsSent != w.sent || f.FlowsReceived != w.recv {
			e.t.Errorf("%s: peers %d sent %d received %d; want %+v", k, f.PeersCount, f.FlowsSent, f.FlowsReceived, w)
		}
	}
}

// TestQueueReadsNotifiedObjects puts flow-log files and a file of no known layout into a bucket whose notifications
// moto delivers to the queue, and sends one notification twice: the poller reads every object once in effect (the
// redelivery rewrites), the unknown one is dead-lettered, every message is deleted, and the progress says caught up.
func TestQueueReadsNotifiedObjects(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 4 {
		e.put(flowKey(i), e.flowLog(uint64(i+1), 10))
	}
	e.put("exports/2026/11/23/report.csv", []byte("a,b\n1,2\n"))
	ctx := testenv.Context(t, 2*time.Minute)
	// The notification of the first object, delivered a second time (at-least-once delivery).
	out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queue), MaxNumberOfMessages: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("peeking a notification: %v, %d messages", err, len(out.Messages))
	}
	if _, err := e.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(e.queue),
		ReceiptHandle: out.Messages[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.queue), MessageBody: out.Messages[0].Body}); err != nil {
		t.Fatal(err)
	}
	// And a message that is no notification at all: poison, dead-lettered and deleted, never in the way.
	if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(e.queue), MessageBody: aws.String("not a notification")}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := e.untilEmpty(ctx)
	defer cancel()
	pl := e.run(rctx, testConfig(e.queue), e.intake)
	e.checkFlows()
	var unknown, poison int
	for _, raw := range testenv.Sources(t, e.esURL, e.prefix+"-deadletter") {
		var m map[string]any
		json.Unmarshal(raw, &m)
		switch {
		case m["reason"] == "unknown_layout" && strings.HasSuffix(fmt.Sprint(m["shard_id"]), "/exports/2026/11/23/report.csv"):
			unknown++
		case m["shard_id"] == "sqs" && m["reason"] == "not_json" && m["original"] == "not a notification":
			poison++
		}
	}
	if unknown != 1 || poison != 1 {
		t.Errorf("%d dead letters for the object of no known layout and %d for the poison message, want 1 each", unknown, poison)
	}
	if pl.n == 0 || pl.last.Watermark == 0 {
		t.Errorf("progress %+v after %d reports: want a watermark", pl.last, pl.n)
	}
}

// TestKilledMidObject stops the poller in the middle of a large object: its body stops after 60% of its bytes (some
// batches of documents are durable by then) and the poller is killed there. The message comes back after its
// visibility timeout and a new poller reads the object again: nothing lost, nothing doubled.
func TestKilledMidObject(t *testing.T) {
	reached := make(chan struct{})
	e := newEnv(t, func(o s3obj.Opener) s3obj.Opener { return &stallingOpener{Opener: o, reached: reached} })
	file := e.flowLog(99, 300)
	e.put(flowKey(9), file)
	ctx := testenv.Context(t, 3*time.Minute)
	kctx, kill := context.WithCancel(ctx)
	go func() {
		<-reached
		kill()
	}()
	e.run(kctx, testConfig(e.queue), e.intake)
	if n := testenv.Count(t, e.esURL, e.prefix+"-flows-*"); n == 0 || n >= len(e.lines) {
		t.Fatalf("after the kill: %d of %d flow documents; want the kill in the middle of the object", n, len(e.lines))
	} else {
		t.Logf("killed after %d of %d flow documents", n, len(e.lines))
	}
	rctx, cancel := e.untilEmpty(ctx)
	defer cancel()
	e.run(rctx, testConfig(e.queue), e.intake)
	e.checkFlows()
}

// stallingOpener's first body stops after 60% of the object and waits for the reader's context to end, as a worker
// killed in the middle of an object does; later bodies are whole.
type stallingOpener struct {
	s3obj.Opener
	reached chan struct{}
	once    sync.Once
}

func (o *stallingOpener) Open(ctx context.Context, ref s3obj.ObjectRef) (io.ReadCloser, error) {
	rc, err := o.Opener.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	first := false
	o.once.Do(func() { first = true })
	if !first {
		return rc, nil
	}
	head, err := e2eHead(rc, ref.Size*6/10)
	if err != nil {
		return nil, err
	}
	return &stalledBody{head: bytes.NewReader(head), ctx: ctx, reached: o.reached, rc: rc}, nil
}

func e2eHead(r io.Reader, n int64) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

type stalledBody struct {
	head    *bytes.Reader
	ctx     context.Context
	reached chan struct{}
	rc      io.ReadCloser
	done    bool
}

func (b *stalledBody) Read(p []byte) (int, error) {
	if b.head.Len() > 0 {
		return b.head.Read(p)
	}
	if !b.done {
		b.done = true
		close(b.reached)
	}
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

func (b *stalledBody) Close() error { return b.rc.Close() }
