package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"time"
)

// The IP page: one address's traffic in both directions, its peers and ports, its connection sets per window and
// its latest flows, all within the scope (the query bar narrows the flows too).

// Direction is an IP's traffic one way.
type Direction struct {
	Flows    int64 `json:"flows"`
	Bytes    int64 `json:"bytes"`
	Rejected int64 `json:"rejected"`
	Peers    int64 `json:"peers"` // distinct addresses on the other end (cardinality: exact below 40,000)
	TopPeers []Row `json:"top_peers"`
	TopPorts []Row `json:"top_ports"` // destination ports: those it connects to (out), those it is reached on (in)
}

// IPReport is the IP page's answer.
type IPReport struct {
	IP string `json:"ip"`
	// Identity is what the flows' enrichment says the IP is (enrichment.go).
	Identity Identity  `json:"identity"`
	Out      Direction `json:"out"` // the IP as source
	In       Direction `json:"in"`  // the IP as destination
	Timeline []Point   `json:"timeline"`
	Step     int64     `json:"step_seconds"`
	Windows  []ConnSet `json:"windows"`
	Flows    FlowPage  `json:"flows"`
}

func direction(self, peer string) map[string]any {
	return map[string]any{"filter": term(self, ""), "aggs": map[string]any{
		"bytes":     sum("network.bytes"),
		"rejected":  filterAgg(term("event.action", "reject")),
		"peers":     map[string]any{"cardinality": map[string]any{"field": peer, "precision_threshold": 40000}},
		"top_peers": labelled(termsBy(peer, TopN, false), endOf(peer)),
		"top_ports": termsBy("destination.port", TopN, false),
	}}
}

type directionResult struct {
	DocCount int64 `json:"doc_count"`
	Bytes    json.RawMessage
	Rejected struct {
		DocCount int64 `json:"doc_count"`
	}
	Peers    json.RawMessage
	TopPeers termBuckets `json:"top_peers"`
	TopPorts termBuckets `json:"top_ports"`
}

func (d directionResult) direction() Direction {
	return Direction{Flows: d.DocCount, Bytes: int64(value(d.Bytes)), Rejected: d.Rejected.DocCount,
		Peers: int64(value(d.Peers)), TopPeers: d.TopPeers.rows(), TopPorts: d.TopPorts.rows()}
}

func (s *Server) handleIP(ctx context.Context, r *http.Request) (any, error) {
	sc, err := s.scopeOf(r, s.fields.flows)
	if err != nil {
		return nil, err
	}
	addr, err := netip.ParseAddr(r.URL.Query().Get("ip"))
	if err != nil {
		return nil, badRequest("ip %q: not an IP address", r.URL.Query().Get("ip"))
	}
	addr = addr.Unmap()
	ip := addr.String()
	// What the address is: its own search, beside the others.
	type identityResult struct {
		Identity
		err error
	}
	identity := make(chan identityResult, 1)
	go func() {
		id, err := s.identity(ctx, sc, addr)
		identity <- identityResult{id, err}
	}()
	either := map[string]any{"bool": map[string]any{"minimum_should_match": 1,
		"should": []any{term("source.ip", ip), term("destination.ip", ip)}}}

	out, in := direction("source.ip", "destination.ip"), direction("destination.ip", "source.ip")
	out["filter"], in["filter"] = term("source.ip", ip), term("destination.ip", ip)
	h, step := histogram(sc)
	var res struct {
		Aggregations struct {
			Out, In directionResult
			Over    histBuckets
		}
	}
	err = s.search(ctx, flowsFamily, sc, map[string]any{"size": 0, "query": either,
		"aggs": map[string]any{"out": out, "in": in, "over": h}}, &res)
	if err != nil {
		return nil, err
	}
	rep := IPReport{IP: ip, Out: res.Aggregations.Out.direction(), In: res.Aggregations.In.direction(),
		Timeline: res.Aggregations.Over.points(), Step: int64(step / time.Second)}
	id := <-identity
	if id.err != nil {
		return nil, id.err
	}
	rep.Identity = id.Identity
	if rep.Flows, err = s.flowPage(ctx, sc, either, 50, ""); err != nil {
		return nil, err
	}
	csc, _ := s.connQuery(scope{From: sc.From, To: sc.To})
	if rep.Windows, err = s.setsOf(ctx, csc, ip); err != nil {
		return nil, err
	}
	return rep, nil
}
