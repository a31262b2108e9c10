package console

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/elastic"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
	"github.com/kinflow/kinflow/internal/testing/sinktest"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// The corpus: sinktest's flowgen lines encoded by the real ECS encoder (a day boundary crossed, a rejected burst at
// 10.0.0.7:22), and final connection sets computed from them here, as the finalizer would, per 10-minute window.
const corpusFlows = 3000

// SeedQuery is the query, typed exactly as the blog post types it.
const SeedQuery = "source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:*"

var corpusFrom, corpusTo = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// flow is what the brute force reads of a corpus document.
type flow struct {
	id       string
	t        time.Time
	src, dst netip.Addr
	dport    int64
	proto    string
	bytes    int64
	reject   bool
}

// cluster is a loaded cluster: its client, the prefix and what was written.
type cluster struct {
	name   string
	client sink.Client
	prefix string
	flows  []flow
	// noAddress counts the documents of NODATA and SKIPDATA lines: flows of the totals, in no top list.
	noAddress int64
	raw       []sinktest.Flow
	sets      map[int64]map[netip.Addr]*connSet // window start (Unix) -> ip -> set
}

type connSet struct {
	peers, ports             map[string]bool
	sent, received, rejected int64
	bytesSent, bytesReceived int64
}

func esClient(tb testing.TB, u string) sink.Client {
	cfg := elastic.DefaultConfig()
	cfg.Addresses = []string{u}
	c, err := elastic.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func osClient(tb testing.TB, u string) sink.Client {
	cfg := opensearch.DefaultConfig()
	cfg.Addresses = []string{u}
	c, err := opensearch.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// engines load the corpus into each cluster (a fresh prefix per test, dropped when it ends).
func engines(t *testing.T) []func(t *testing.T) *cluster {
	return []func(t *testing.T) *cluster{
		func(t *testing.T) *cluster {
			return load(t, "elasticsearch", esClient(t, testenv.URL(t, testenv.Elasticsearch)))
		},
		func(t *testing.T) *cluster {
			return load(t, "opensearch", osClient(t, testenv.URL(t, testenv.OpenSearch)))
		},
	}
}

// forEach runs f against each engine loaded with the corpus.
func forEach(t *testing.T, f func(t *testing.T, c *cluster)) {
	for i, name := range []string{"elasticsearch", "opensearch"} {
		t.Run(name, func(t *testing.T) { f(t, engines(t)[i](t)) })
	}
}

// load writes the corpus and its connection sets under a fresh prefix (strict templates: a document that does not
// fit the mapping fails the load), and a partial with an absurd peer count that no panel may show.
func load(t testing.TB, name string, c sink.Client) *cluster { return loadN(t, name, c, corpusFlows) }

func loadN(t testing.TB, name string, c sink.Client, n int) *cluster {
	t.Helper()
	prefix := sinktest.Setup(t, c)
	raw := sinktest.Corpus(prefix, n, 0, 42)
	cl := &cluster{name: name, client: c, prefix: prefix, raw: raw, sets: map[int64]map[netip.Addr]*connSet{}}
	for _, f := range raw {
		var d struct {
			Timestamp time.Time `json:"@timestamp"`
			Event     struct{ Action string }
			Source    struct{ IP string }
			Dest      struct {
				IP   string
				Port int64
			} `json:"destination"`
			Network struct {
				Transport string
				Bytes     int64
			}
		}
		if err := json.Unmarshal(f.Doc.Source, &d); err != nil {
			t.Fatal(err)
		}
		if !f.Valid {
			continue
		}
		if !f.Src.IsValid() {
			cl.noAddress++
			continue
		}
		fl := flow{id: f.Doc.ID, t: d.Timestamp, src: f.Src, dst: f.Dst, dport: d.Dest.Port, proto: d.Network.Transport,
			bytes: f.Bytes, reject: f.Reject}
		cl.flows = append(cl.flows, fl)
		w := fl.t.Truncate(10 * time.Minute).Unix()
		if cl.sets[w] == nil {
			cl.sets[w] = map[netip.Addr]*connSet{}
		}
		get := func(ip netip.Addr) *connSet {
			s := cl.sets[w][ip]
			if s == nil {
				s = &connSet{peers: map[string]bool{}, ports: map[string]bool{}}
				cl.sets[w][ip] = s
			}
			return s
		}
		s, r := get(fl.src), get(fl.dst)
		s.peers[fl.dst.String()], r.peers[fl.src.String()] = true, true
		if fl.proto == "tcp" || fl.proto == "udp" {
			s.ports[strconv.FormatInt(fl.dport, 10)] = true
		}
		s.sent++
		r.received++
		s.bytesSent += fl.bytes
		r.bytesReceived += fl.bytes
		if fl.reject {
			s.rejected++
			r.rejected++
		}
	}
	docs := sinktest.Docs(raw)
	ix := sink.Indices{Prefix: prefix}
	for w, ips := range cl.sets {
		start := time.Unix(w, 0).UTC()
		for ip, s := range ips {
			src, _ := json.Marshal(map[string]any{
				"@timestamp": start, "window": map[string]any{"start": start, "end": start.Add(10 * time.Minute)}, "ip": ip.String(),
				"peers": slices.Sorted(maps.Keys(s.peers)), "peers_count": len(s.peers), "peers_estimated": false,
				"dst_ports_count": len(s.ports),
				"flows":           map[string]any{"sent": s.sent, "received": s.received, "rejected": s.rejected, "late": 0},
				"bytes":           map[string]any{"sent": s.bytesSent, "received": s.bytesReceived}, "revision": 1,
			})
			docs = append(docs, sink.Doc{Index: ix.Conns(start), ID: docid.Final(w, ip), Op: sink.OpIndex, Source: src})
		}
	}
	// A partial is an intermediate: were the console to read partials, this IP would top every list.
	w := slices.Max(slices.Collect(maps.Keys(cl.sets)))
	ws := time.Unix(w, 0).UTC()
	partial, _ := json.Marshal(map[string]any{"@timestamp": ws, "window": map[string]any{"start": ws, "end": ws.Add(10 * time.Minute)},
		"ip": "192.0.2.99", "peers_count": 999999, "dst_ports_count": 999999, "flows": map[string]any{"sent": 1, "received": 0, "rejected": 999999, "late": 0},
		"partial": map[string]any{"shard_id": "shardId-000000000000", "first_sequence": "1"}})
	docs = append(docs, sink.Doc{Index: ix.ConnsPartial(ws), ID: "partial-decoy", Op: sink.OpIndex, Source: partial})

	writeDocs(t, c, name, prefix, docs)
	return cl
}

// writeDocs writes docs through the sink under prefix and refreshes, so that the next search sees them.
func writeDocs(t testing.TB, c sink.Client, name, prefix string, docs []sink.Doc) {
	t.Helper()
	sc := sink.DefaultConfig()
	sc.Name, sc.Prefix, sc.FlushDocs = name, prefix, 1000
	s, err := sink.New(c, sc, sink.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 2*time.Minute)
	if err := s.Write(ctx, docs); err != nil {
		t.Fatalf("writing %d documents: %v", len(docs), err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if status, body, err := c.Do(ctx, "POST", "/"+prefix+"-*/_refresh", nil, 1<<20); err != nil || status != 200 {
		t.Fatalf("refresh: %d %s %v", status, body, err)
	}
}

// recorder remembers every request the console sends, to prove it only reads.
type recorder struct {
	sink.Doer
	mu   sync.Mutex
	sent []string
}

func (r *recorder) Do(ctx context.Context, method, path string, body []byte, maxBody int64) (int, []byte, error) {
	r.mu.Lock()
	r.sent = append(r.sent, method+" "+path)
	r.mu.Unlock()
	return r.Doer.Do(ctx, method, path, body, maxBody)
}

// serve starts the console over c; the returned get decodes an API answer and fails on a non-200.
func serve(t *testing.T, c sink.Doer, prefix string) (*httptest.Server, func(path string, q url.Values, out any)) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Prefix = prefix
	srv, err := New(cfg, c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, func(path string, q url.Values, out any) {
		t.Helper()
		status, body := get(t, ts.URL+path+"?"+q.Encode())
		if status != 200 {
			t.Fatalf("GET %s?%s: %d %s", path, q.Encode(), status, body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
}

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b json.RawMessage
	_ = json.NewDecoder(res.Body).Decode(&b)
	return res.StatusCode, b
}

func corpusScope(q string) url.Values {
	v := url.Values{"from": {corpusFrom.Format(time.RFC3339)}, "to": {corpusTo.Format(time.RFC3339)}}
	if q != "" {
		v.Set("q", q)
	}
	return v
}

// overviewAnswer is /api/overview decoded.
type overviewAnswer struct {
	Panels struct {
		Totals     struct{ Data Totals }
		Top        struct{ Data map[string]Top }
		Breakdowns struct{ Data map[string][]Row }
		Timeline   struct {
			Data struct{ Points []Point }
		}
		Pairs struct {
			Data struct {
				Pairs    []Pair
				Distinct int
				Complete bool
			}
		}
	}
}

// bruteTop ranks key(f) over flows by flows or bytes, ties by key in the index's order (addresses, numbers, text).
func bruteTop(flows []flow, key func(flow) string, byBytes bool, n int) []Row {
	m := map[string]*Row{}
	for _, f := range flows {
		k := key(f)
		r := m[k]
		if r == nil {
			r = &Row{Key: k}
			m[k] = r
		}
		r.Flows++
		r.Bytes += f.bytes
		if f.reject {
			r.Rejected++
		}
	}
	rows := make([]Row, 0, len(m))
	for _, r := range m {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b Row) int {
		c := cmp.Compare(b.Flows, a.Flows)
		if byBytes {
			c = cmp.Compare(b.Bytes, a.Bytes)
		}
		if c != 0 {
			return c
		}
		x, y := a.Key, b.Key
		if ax, err := netip.ParseAddr(x); err == nil {
			return ax.Compare(netip.MustParseAddr(y))
		}
		if nx, err := strconv.Atoi(x); err == nil {
			ny, _ := strconv.Atoi(y)
			return cmp.Compare(nx, ny)
		}
		return cmp.Compare(x, y)
	})
	return rows[:min(n, len(rows))]
}

var topKeys = map[string]func(flow) string{
	"source.ip":         func(f flow) string { return f.src.String() },
	"destination.ip":    func(f flow) string { return f.dst.String() },
	"destination.port":  func(f flow) string { return strconv.FormatInt(f.dport, 10) },
	"network.transport": func(f flow) string { return f.proto },
}

func seedMatch(f flow) bool {
	return netip.MustParsePrefix("10.0.0.0/8").Contains(f.src) && f.reject && f.dst.IsValid()
}

func TestOverviewMatchesBruteForce(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		rec := &recorder{Doer: c.client}
		_, api := serve(t, rec, c.prefix)
		for _, q := range []string{"", SeedQuery} {
			flows := c.flows
			if q != "" {
				flows = slices.DeleteFunc(slices.Clone(flows), func(f flow) bool { return !seedMatch(f) })
			}
			var got overviewAnswer
			api("/api/overview", corpusScope(q), &got)
			want := Totals{Flows: int64(len(flows))}
			if q == "" {
				want.Flows += c.noAddress
			}
			for _, f := range flows {
				want.Bytes += f.bytes
				if f.reject {
					want.Rejected++
					want.RejectedBytes += f.bytes
				} else {
					want.Accepted++
				}
			}
			want.RejectedShare = float64(want.Rejected) / float64(want.Accepted+want.Rejected)
			tot := got.Panels.Totals.Data
			tot.Packets = 0
			if d := gocmp.Diff(want, tot); d != "" {
				t.Errorf("q=%q totals (-brute force +console):\n%s", q, d)
			}
			for field, key := range topKeys {
				for _, byBytes := range []bool{false, true} {
					w := bruteTop(flows, key, byBytes, TopN)
					g := got.Panels.Top.Data[field].ByFlows
					if byBytes {
						g = got.Panels.Top.Data[field].ByBytes
					}
					if d := gocmp.Diff(w, g); d != "" {
						t.Errorf("q=%q top %s (by bytes: %v) (-brute force +console):\n%s", q, field, byBytes, d)
					}
				}
			}
			wantPairs := bruteTopPairs(flows, PairsN)
			if d := gocmp.Diff(wantPairs, got.Panels.Pairs.Data.Pairs); d != "" || !got.Panels.Pairs.Data.Complete {
				t.Errorf("q=%q top pairs (-brute force +console), complete=%v:\n%s", q, got.Panels.Pairs.Data.Complete, d)
			}
			var sum int64
			for _, p := range got.Panels.Timeline.Data.Points {
				sum += p.Accepted + p.Rejected
			}
			if sum != want.Accepted+want.Rejected {
				t.Errorf("q=%q timeline sums to %d accepted and rejected flows, want %d", q, sum, want.Accepted+want.Rejected)
			}
			if q == "" {
				t.Logf("%s: %d flows, %d bytes, %d rejected (%.4f); top pair %s->%s %d bytes; top source %s (%d flows)",
					c.name, tot.Flows, tot.Bytes, tot.Rejected, tot.RejectedShare, wantPairs[0].Src, wantPairs[0].Dst, wantPairs[0].Bytes,
					got.Panels.Top.Data["source.ip"].ByFlows[0].Key, got.Panels.Top.Data["source.ip"].ByFlows[0].Flows)
			} else {
				t.Logf("%s: the seed query: %d flows", c.name, tot.Flows)
			}
		}
		for _, r := range rec.sent {
			method, path, _ := cutSpace(r)
			if !AllowedRead(method, path) {
				t.Errorf("the console sent %s", r)
			}
		}
	})
}

func cutSpace(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func bruteTopPairs(flows []flow, n int) []Pair {
	m := map[[2]netip.Addr]*Pair{}
	for _, f := range flows {
		k := [2]netip.Addr{f.src, f.dst}
		p := m[k]
		if p == nil {
			p = &Pair{Src: f.src.String(), Dst: f.dst.String()}
			m[k] = p
		}
		p.Bytes += f.bytes
		p.Flows++
	}
	out := make([]Pair, 0, len(m))
	for _, p := range m {
		out = append(out, *p)
	}
	slices.SortFunc(out, ComparePairs)
	return out[:min(n, len(out))]
}

// The seed query returns exactly the expected flows, page after page (search_after), none twice.
func TestSeedQueryFlows(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		_, api := serve(t, c.client, c.prefix)
		want := map[string]bool{}
		for _, f := range c.flows {
			if seedMatch(f) {
				want[f.id] = true
			}
		}
		got := map[string]bool{}
		after, pages := "", 0
		for {
			q := corpusScope(SeedQuery)
			q.Set("size", "37")
			if after != "" {
				q.Set("after", after)
			}
			var page FlowPage
			api("/api/flows", q, &page)
			pages++
			if page.Total != int64(len(want)) {
				t.Fatalf("total %d, want %d", page.Total, len(want))
			}
			for _, f := range page.Flows {
				if got[f.ID] {
					t.Errorf("flow %s on two pages", f.ID)
				}
				got[f.ID] = true
			}
			if after = page.Next; after == "" {
				break
			}
		}
		if d := gocmp.Diff(want, got); d != "" {
			t.Errorf("seed query flows (-want +got):\n%s", d)
		}
		var doc FlowHit
		for id := range want {
			api("/api/flow", url.Values{"id": {id}}, &doc)
			break
		}
		if doc.ID == "" || len(doc.Source) == 0 {
			t.Errorf("the flow's document: %+v", doc)
		}
		t.Logf("%s: %s: %d flows in %d pages of 37", c.name, SeedQuery, len(got), pages)
	})
}

// The IP page's numbers, for the busiest source and for the target of the rejected burst.
func TestIPPage(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		_, api := serve(t, c.client, c.prefix)
		top := bruteTop(c.flows, topKeys["source.ip"], false, 1)[0].Key
		for _, ip := range []string{top, "10.0.0.7"} {
			addr := netip.MustParseAddr(ip)
			var want IPReport
			outPeers, inPeers := map[netip.Addr]bool{}, map[netip.Addr]bool{}
			for _, f := range c.flows {
				if f.src == addr {
					want.Out.Flows++
					want.Out.Bytes += f.bytes
					outPeers[f.dst] = true
					if f.reject {
						want.Out.Rejected++
					}
				}
				if f.dst == addr {
					want.In.Flows++
					want.In.Bytes += f.bytes
					inPeers[f.src] = true
					if f.reject {
						want.In.Rejected++
					}
				}
			}
			want.Out.Peers, want.In.Peers = int64(len(outPeers)), int64(len(inPeers))
			var got IPReport
			q := corpusScope("")
			q.Set("ip", ip)
			api("/api/ip", q, &got)
			for _, d := range []struct {
				name      string
				want, got Direction
			}{{"out", want.Out, got.Out}, {"in", want.In, got.In}} {
				d.got.TopPeers, d.got.TopPorts = nil, nil
				if diff := gocmp.Diff(d.want, d.got); diff != "" {
					t.Errorf("%s %s (-brute force +console):\n%s", ip, d.name, diff)
				}
			}
			// Its peer count per window is its connection set's.
			var wantWindows []int64
			for _, w := range slices.Sorted(maps.Keys(c.sets)) {
				if s := c.sets[w][addr]; s != nil {
					wantWindows = append(wantWindows, int64(len(s.peers)))
				}
			}
			var gotWindows []int64
			for _, w := range got.Windows {
				gotWindows = append(gotWindows, w.Peers)
			}
			if d := gocmp.Diff(wantWindows, gotWindows); d != "" {
				t.Errorf("%s peers per window (-brute force +console):\n%s", ip, d)
			}
			if got.Flows.Total != want.Out.Flows+want.In.Flows {
				t.Errorf("%s: %d flows listed, want %d", ip, got.Flows.Total, want.Out.Flows+want.In.Flows)
			}
			t.Logf("%s: %s out %d flows to %d peers, in %d flows from %d peers (%d rejected), %d windows",
				c.name, ip, got.Out.Flows, got.Out.Peers, got.In.Flows, got.In.Peers, got.In.Rejected, len(got.Windows))
		}
	})
}

// The connection-set panels of the latest closed window equal the sets computed from the corpus; the partial decoy
// never shows.
func TestConnsPanels(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		_, api := serve(t, c.client, c.prefix)
		var got struct {
			Windows                []WindowSummary
			Peers, Ports, Rejected []ConnSet
		}
		api("/api/conns", corpusScope(""), &got)
		starts := slices.Sorted(maps.Keys(c.sets))
		slices.Reverse(starts)
		if len(got.Windows) != min(WindowsN, len(starts)) {
			t.Fatalf("%d windows, want %d", len(got.Windows), min(WindowsN, len(starts)))
		}
		for i, w := range got.Windows {
			sets := c.sets[starts[i]]
			var maxPeers int64
			for _, s := range sets {
				maxPeers = max(maxPeers, int64(len(s.peers)))
			}
			if w.Start.Unix() != starts[i] || w.IPs != int64(len(sets)) || w.MaxPeers != maxPeers {
				t.Errorf("window %d: %+v, want start %d, %d IPs, max peers %d", i, w, starts[i], len(sets), maxPeers)
			}
		}
		latest := c.sets[starts[0]]
		rank := func(by func(*connSet) int64) []string {
			ips := slices.Collect(func(yield func(netip.Addr) bool) {
				for ip := range latest {
					if !yield(ip) {
						return
					}
				}
			})
			slices.SortFunc(ips, func(a, b netip.Addr) int { return cmp.Or(cmp.Compare(by(latest[b]), by(latest[a])), a.Compare(b)) })
			out := []string{}
			for _, ip := range ips[:min(20, len(ips))] {
				out = append(out, fmt.Sprintf("%s=%d", ip, by(latest[ip])))
			}
			return out
		}
		show := func(sets []ConnSet, by func(ConnSet) int64) []string {
			out := []string{}
			for _, s := range sets {
				out = append(out, fmt.Sprintf("%s=%d", s.IP, by(s)))
			}
			return out
		}
		for _, x := range []struct {
			name string
			want []string
			got  []string
		}{
			{"peers", rank(func(s *connSet) int64 { return int64(len(s.peers)) }), show(got.Peers, func(s ConnSet) int64 { return s.Peers })},
			{"ports", rank(func(s *connSet) int64 { return int64(len(s.ports)) }), show(got.Ports, func(s ConnSet) int64 { return s.Ports })},
			{"rejected", rank(func(s *connSet) int64 { return s.rejected }), show(got.Rejected, func(s ConnSet) int64 { return s.Rejected })},
		} {
			if d := gocmp.Diff(x.want, x.got); d != "" {
				t.Errorf("most %s in %s (-brute force +console):\n%s", x.name, time.Unix(starts[0], 0).UTC(), d)
			}
		}
		t.Logf("%s: %d windows; latest %s: most peers %v", c.name, len(starts), time.Unix(starts[0], 0).UTC().Format(time.RFC3339), show(got.Peers, func(s ConnSet) int64 { return s.Peers })[:3])
	})
}

// A cluster that does not answer is an error answer (502 with a message), not an empty page, and so is each panel.
func TestClusterDownIsAnError(t *testing.T) {
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for name, c := range map[string]sink.Client{"elasticsearch": esClient(t, "http://"+addr), "opensearch": osClient(t, "http://"+addr)} {
		t.Run(name, func(t *testing.T) {
			ts, _ := serve(t, c, "kinflow")
			for _, path := range []string{"/api/overview", "/api/flows", "/api/conns", "/api/ip?ip=10.0.0.7", "/api/health", "/api/alerts", "/api/alert?id=x",
				"/api/lb", "/api/lb?dataset=nlb&lb=net/x/1"} {
				status, body := get(t, ts.URL+path)
				var e struct {
					Status int
					Error  string
				}
				_ = json.Unmarshal(body, &e)
				if status != http.StatusBadGateway || e.Status != status || e.Error == "" {
					t.Errorf("%s: %d %s; want 502 with an error message", path, status, body)
				}
			}
		})
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func netListenAll() (net.Listener, error) { return net.Listen("tcp", "0.0.0.0:0") }
