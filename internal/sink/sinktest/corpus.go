// Package sinktest holds the integration suite every sink backend runs against its real cluster (templates,
// queries, aggregations, idempotence, faults through internal/faultproxy, the benchmark), and the corpus it writes:
// flowgen lines encoded as ECS documents by a small stand-in for internal/vpcflow's encoder.
package sinktest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/flowgen"
	"github.com/kinflow/kinflow/internal/sink"
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
	cfg := flowgen.DefaultConfig()
	cfg.Seed = seed
	cfg.Start = time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC)
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
			f.Doc.Source = []byte(strings.Replace(string(f.Doc.Source), `"network":{"bytes":`, `"network":{"bytes":"lots-`, 1))
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

var transports = map[string]string{"6": "tcp", "17": "udp", "1": "icmp"}

// encode turns a version 2 line into an ECS document, as internal/vpcflow's encoder will.
func encode(ix sink.Indices, group, stream string, e flowgen.Event) Flow {
	f := strings.Fields(e.Message)
	start, _ := strconv.ParseInt(f[10], 10, 64)
	end, _ := strconv.ParseInt(f[11], 10, 64)
	ts := time.Unix(start, 0).UTC()
	b := make([]byte, 0, 768)
	b = append(b, `{"@timestamp":"`...)
	b = ts.AppendFormat(b, time.RFC3339)
	b = append(b, `","event":{"start":"`...)
	b = ts.AppendFormat(b, time.RFC3339)
	b = append(b, `","end":"`...)
	b = time.Unix(end, 0).UTC().AppendFormat(b, time.RFC3339)
	b = fmt.Appendf(b, `","id":%q,"kind":"event","category":["network"]`, e.ID)
	out := Flow{Valid: true, EventID: e.ID}
	if f[13] == "OK" {
		action, outcome, typ := "accept", "success", "allowed"
		if f[12] == "REJECT" {
			action, outcome, typ = "reject", "failure", "denied"
			out.Reject = true
		}
		out.Src, out.Dst = netip.MustParseAddr(f[3]), netip.MustParseAddr(f[4])
		out.Bytes, _ = strconv.ParseInt(f[9], 10, 64)
		netType := "ipv4"
		if out.Src.Is6() {
			netType = "ipv6"
		}
		b = fmt.Appendf(b, `,"action":%q,"outcome":%q,"type":["connection",%q]}`, action, outcome, typ)
		b = fmt.Appendf(b, `,"source":{"ip":%q,"port":%s},"destination":{"ip":%q,"port":%s}`, f[3], f[5], f[4], f[6])
		b = fmt.Appendf(b, `,"network":{"bytes":%s,"packets":%s,"iana_number":%q,"transport":%q,"type":%q}`, f[9], f[8], f[7], transports[f[7]], netType)
		b = fmt.Appendf(b, `,"related":{"ip":[%q,%q]}`, f[3], f[4])
	} else {
		b = append(b, '}')
	}
	b = fmt.Appendf(b, `,"cloud":{"provider":"aws","account":{"id":%q}}`, f[1])
	b = fmt.Appendf(b, `,"aws":{"cloudwatch":{"log_group":%q,"log_stream":%q},"vpcflow":{"version":%q,"interface_id":%q,"log_status":%q}}}`, group, stream, f[0], f[2], f[13])
	out.Doc = sink.Doc{
		Index:  ix.Flows(ts),
		ID:     docid.Flow(group, stream, e.ID, e.Timestamp, []byte(e.Message)),
		Op:     sink.OpCreate,
		Source: b,
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
