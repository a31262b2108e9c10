// Package sinktest holds the integration suite every sink backend runs against its real cluster (templates,
// queries, aggregations, idempotence, faults through internal/testing/faultproxy, the benchmark), and the corpus it writes:
// flowgen lines encoded as ECS documents by internal/format/vpcflow's encoder.
package sinktest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// A Flow is one corpus line with what the tests compute from it.
type Flow struct {
	Doc     sink.Doc
	Valid   bool // false: the document breaks the mapping and must be dead-lettered
	Src     netip.Addr
	Dst     netip.Addr
	Bytes   int64
	Reject  bool
	EventID string
}

// Corpus makes n valid flows and invalid broken ones from flowgen (seeded), in the flow indices of prefix. The
// span crosses midnight UTC, so two daily indices are written.
func Corpus(prefix string, n, invalid int, seed uint64) []Flow {
	cfg := flowgen.DefaultConfig(time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC)) // no clock is read: a fixed day
	cfg.Seed = seed
	g := flowgen.New(cfg)
	ix := sink.Indices{Prefix: prefix}
	const group = "/vpc/flowlogs/kinflow-test"
	var out []Flow
	lines := make([]string, 0, n)
	for range n {
		lines = append(lines, g.Line())
	}
	// A scan and a rejected burst make the REJECT query and the top pairs less uniform.
	lines = append(lines[:n-100], g.RejectedBurst(netip.MustParseAddr("10.0.0.7"), 22, 100)...)
	batch := g.Batch(g.Interfaces()[0], lines)
	for i, e := range batch.Events {
		f := encode(ix, group, batch.LogStream, e)
		f.Doc.Origin.ShardID = "shardId-00000000000" + strconv.Itoa(i%4)
		f.Doc.Origin.SequenceNumber = strconv.Itoa(1_000_000 + i)
		out = append(out, f)
	}
	bad := g.Batch(g.Interfaces()[1], g.PortScan(netip.MustParseAddr("198.18.0.9"), netip.MustParseAddr("10.0.0.9"), ports(invalid)))
	for i, e := range bad.Events {
		f := encode(ix, group, bad.LogStream, e)
		f.Valid = false
		// Alternate the two ways a document breaks an explicit mapping: a non-address in an ip field, and a
		// non-number in a long field.
		if i%2 == 0 {
			f.Doc.Source = []byte(strings.Replace(string(f.Doc.Source), `"source":{"ip":"`, `"source":{"ip":"not-an-ip-`, 1))
		} else {
			f.Doc.Source = []byte(strings.Replace(string(f.Doc.Source), `"bytes":`, `"bytes":"lots-`, 1))
			f.Doc.Source = []byte(strings.Replace(string(f.Doc.Source), `,"packets":`, `","packets":`, 1))
		}
		f.Doc.Origin.ShardID = "shardId-000000000009"
		f.Doc.Origin.SequenceNumber = strconv.Itoa(2_000_000 + i)
		out = append(out, f)
	}
	return out
}

func ports(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = 1 + i
	}
	return p
}

// parser parses flowgen's lines (the default format); the corpus is encoded by the real ECS encoder, so the
// suite writes exactly what the pipeline writes.
var parser = func() *vpcflow.Parser {
	p, err := vpcflow.NewParser(vpcflow.DefaultFormat())
	if err != nil {
		panic(err) // the default format is a constant
	}
	return p
}()

// encode turns a flowgen event into its ECS document. A line that does not parse (none of flowgen's) is invalid.
func encode(ix sink.Indices, group, stream string, e flowgen.Event) Flow {
	var fl vpcflow.Flow
	var enc vpcflow.Encoder
	src := vpcflow.Source{LogGroup: group, LogStream: stream, EventID: e.ID, Timestamp: e.Timestamp}
	out := Flow{Valid: parser.Parse(&fl, &src, e.Message) == nil, EventID: e.ID}
	if fl.LogStatus == vpcflow.LogStatusOK {
		out.Src, out.Dst, out.Bytes = fl.SrcAddr, fl.DstAddr, int64(fl.Bytes)
		out.Reject = fl.Action == vpcflow.ActionReject
	}
	out.Doc = sink.Doc{
		Index:  ix.Flows(time.Unix(fl.EventTime(e.Timestamp), 0)),
		ID:     docid.Flow(group, stream, e.ID, e.Timestamp, []byte(e.Message)),
		Op:     sink.OpCreate,
		Source: enc.AppendDocument(nil, &fl, &src),
		Origin: sink.Origin{LogGroup: group, LogStream: stream, EventID: e.ID, Raw: []byte(e.Message)},
	}
	return out
}

// Docs returns the documents of flows.
func Docs(flows []Flow) []sink.Doc {
	d := make([]sink.Doc, len(flows))
	for i, f := range flows {
		d[i] = f.Doc
	}
	return d
}

// Rollups returns n final connection-set documents (op index) for windows in the corpus's span.
func Rollups(prefix string, n int) []sink.Doc {
	ix := sink.Indices{Prefix: prefix}
	w := time.Date(2026, 11, 23, 23, 50, 0, 0, time.UTC)
	out := make([]sink.Doc, n)
	for i := range out {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(1 + i%250)})
		src := fmt.Appendf(nil, `{"@timestamp":%q,"window":{"start":%q,"end":%q},"ip":%q,"peers":["198.18.0.1","10.0.0.2"],"peers_count":2,"peers_estimated":false,"dst_ports":[22,443],"dst_ports_count":2,"flows":{"sent":3,"received":4,"rejected":1,"late":0},"bytes":{"sent":100,"received":200},"packets":{"sent":2,"received":3},"revision":1}`,
			w.Format(time.RFC3339), w.Format(time.RFC3339), w.Add(10*time.Minute).Format(time.RFC3339), ip)
		out[i] = sink.Doc{Index: ix.Conns(w), ID: docid.Final(w.Unix(), ip), Op: sink.OpIndex, Source: src}
	}
	return out
}
