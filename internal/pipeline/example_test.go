package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// memory is a sink that keeps what it is given: every document is durable at once.
type memory struct{ docs []sink.Doc }

func (m *memory) Write(_ context.Context, docs []sink.Doc) error {
	for _, d := range docs {
		d.Source = bytes.Clone(d.Source)
		m.docs = append(m.docs, d)
		if d.Outcome != nil {
			*d.Outcome = sink.OutcomeWritten
		}
	}
	return nil
}

func (m *memory) Close(context.Context) error { return nil }

// envelope is what a CloudWatch Logs subscription puts into Kinesis: a gzip'd JSON batch of one log stream's events.
func envelope(lines ...string) []byte {
	b := flowgen.Batch{LogStream: "eni-0a1b2c3d4e5f60001-all"}
	for i, l := range lines {
		b.Events = append(b.Events, flowgen.Event{ID: fmt.Sprintf("%056d", i), Timestamp: 1795440060000, Message: l})
	}
	return flowgen.New(flowgen.DefaultConfig(time.Unix(1795440000, 0))).Envelope("/vpc/flowlogs", "kinflow", b)
}

// A runtime hands a shard's records to Process, then Cut, and acknowledges them only after both returned nil:
// every flow is a document, every bad line a dead letter, and the flows are in the shard's partial connection sets.
func ExampleShard_Process() {
	out := &memory{}
	resolver, err := vpcflow.NewResolver(vpcflow.DefaultConfig(), nil)
	if err != nil {
		panic(err)
	}
	p, err := pipeline.New(pipeline.DefaultConfig(), resolver, out, pipeline.Options{})
	if err != nil {
		panic(err)
	}
	shard, err := p.Shard("shardId-000000000000")
	if err != nil {
		panic(err)
	}
	record := pipeline.Record{SequenceNumber: "49590338271490256608559692538361571095921575989136588898", Data: envelope(
		"2 123456789012 eni-0a1b2c3d4e5f60001 10.0.0.5 10.0.1.9 51000 443 6 10 840 1795440000 1795440060 ACCEPT OK",
		"2 123456789012 eni-0a1b2c3d4e5f60001 198.51.100.23 10.0.0.5 40000 22 6 1 40 1795440000 1795440060 REJECT OK",
		"not a flow-log line",
	)}
	res, err := shard.Process(context.Background(), []pipeline.Record{record})
	if err != nil {
		panic(err)
	}
	if err := shard.Cut(context.Background()); err != nil {
		panic(err)
	}
	fmt.Printf("%d record, %d events: %d flows, %d dead letter, %d flows aggregated\n",
		res.Records, res.Events, res.Flows, res.DeadLetters, res.Aggregated)
	perIndex := map[string]int{}
	for _, d := range out.docs {
		perIndex[d.Index]++
	}
	var indices []string
	for index, n := range perIndex {
		indices = append(indices, fmt.Sprintf("%s: %d", index, n))
	}
	sort.Strings(indices)
	fmt.Println(strings.Join(indices, "\n"))
	// Output:
	// 1 record, 3 events: 2 flows, 1 dead letter, 2 flows aggregated
	// kinflow-conns-partial-2026.11.23: 1
	// kinflow-deadletter: 1
	// kinflow-flows-2026.11.23: 2
}
