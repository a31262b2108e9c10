package pipeline_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// vpcInventory is an enrich.Resources of the test's VPC: each internal host one flow-logged interface.
type vpcInventory map[string]*enrich.Resource

func (v vpcInventory) Address(ip netip.Addr) *enrich.Resource { return v[ip.String()] }
func (v vpcInventory) Interface(id string) *enrich.Resource   { return v[id] }

// doubleLogged is a corpus in which both interfaces of an internal connection log it, as VPC flow logs do: an
// internal connection is two lines (one in each interface's log stream), a connection with the internet one line
// (the internal side's). It returns the records, and the lines of the connections each once.
func doubleLogged(inv vpcInventory, seed uint64) ([]pipeline.Record, []string) {
	const hosts = 12
	r := rand.New(rand.NewPCG(seed, 1))
	internal := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 1, byte(10 + i)}) }
	eni := func(i int) string { return fmt.Sprintf("eni-%017d", i) }
	for i := range hosts {
		res := &enrich.Resource{InterfaceID: eni(i), InstanceID: fmt.Sprintf("i-%017d", i), FlowLogged: true}
		inv[eni(i)], inv[internal(i).String()] = res, res
	}
	external := []netip.Addr{netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("198.51.100.4")}
	start := flowgen.FixedStart.Unix()
	var once []string
	byStream := map[string][]string{}
	line := func(at string, src, dst netip.Addr, sport, dport, bytes int, t int64) string {
		return fmt.Sprintf("2 123456789012 %s %s %s %d %d 6 %d %d %d %d ACCEPT OK", at, src, dst, sport, dport, 1+bytes/500, bytes, t, t+30)
	}
	for range 400 {
		t := start + r.Int64N(3600)
		sport, dport, bytes := 32768+r.IntN(20000), []int{22, 443, 5432}[r.IntN(3)], 100+r.IntN(10000)
		a, b := r.IntN(hosts), r.IntN(hosts)
		switch r.IntN(3) {
		case 0: // internal to internal: both interfaces log it
			if a == b {
				b = (a + 1) % hosts
			}
			l := line(eni(a), internal(a), internal(b), sport, dport, bytes, t)
			once = append(once, l)
			byStream[eni(a)] = append(byStream[eni(a)], l)
			byStream[eni(b)] = append(byStream[eni(b)], line(eni(b), internal(a), internal(b), sport, dport, bytes, t))
		case 1: // internal to the internet
			l := line(eni(a), internal(a), external[r.IntN(2)], sport, dport, bytes, t)
			once = append(once, l)
			byStream[eni(a)] = append(byStream[eni(a)], l)
		default: // the internet to internal
			l := line(eni(b), external[r.IntN(2)], internal(b), sport, dport, bytes, t)
			once = append(once, l)
			byStream[eni(b)] = append(byStream[eni(b)], l)
		}
	}
	g := flowgen.New(flowgen.DefaultConfig(flowgen.FixedStart))
	var records []pipeline.Record
	for i := range hosts {
		lines := byStream[eni(i)]
		for len(lines) > 0 {
			n := min(len(lines), 25)
			b := flowgen.Batch{LogStream: eni(i) + "-all"}
			for _, l := range lines[:n] {
				b.Events = append(b.Events, flowgen.Event{ID: fmt.Sprintf("%056d", len(records)*100+len(b.Events)), Timestamp: (start + 3600) * 1000, Message: l})
			}
			records = append(records, pipeline.Record{SequenceNumber: fmt.Sprintf("4959%052d", len(records)+1), Data: g.Envelope(logGroup, "kinflow", b)})
			lines = lines[n:]
		}
	}
	return records, once
}

// TestDoubleLoggedConnectionsCountOnce feeds a corpus in which both interfaces of every internal connection log it:
// with the interfaces known (enrichment), the connection sets equal a brute force over each connection once, every
// line is still a document, and the receivers' copies are reported; replayed, nothing changes.
func TestDoubleLoggedConnectionsCountOnce(t *testing.T) {
	inv := vpcInventory{}
	records, once := doubleLogged(inv, 3)
	e := newEnvWith(t, func(o *pipeline.Options) { o.Enricher = enrich.New(inv, nil, nil) })
	res := e.run(t, "shardId-000000000001", records, 20)
	e.run(t, "shardId-000000000001", records, 20) // a replay
	if res.DoubleLogged == 0 || res.Flows != len(once)+res.DoubleLogged || res.Aggregated != len(once) {
		t.Errorf("%d flows, %d double-logged, %d aggregated; want %d connections aggregated, plus the double-logged copies indexed",
			res.Flows, res.DoubleLogged, res.Aggregated, len(once))
	}
	if n := len(e.search(t, e.prefix+"-flows-*")); n != res.Flows {
		t.Errorf("%d flow documents, want every line's (%d)", n, res.Flows)
	}
	e.checkPartials(t, once)
	t.Logf("%d lines of %d connections: %d receivers' copies left out of the connection sets", res.Flows, len(once), res.DoubleLogged)
}
