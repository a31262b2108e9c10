package console

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/sinktest"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// The enrichment fixture: flows encoded by the real encoder with an enrichment context, as the pipeline writes
// them when enrichment is configured. An address on the internet (on a threat list) scans an instance; the
// instance talks to another public address; an internal address no source knows talks to the instance.
const (
	publicIP   = "203.0.113.9"  // NL, AS64500, on the blocklist in its first five flows only
	instanceIP = "10.0.1.10"    // web-1, renamed from web-old
	cloudIP    = "198.51.100.7" // US, AS64501
	plainIP    = "10.0.2.20"    // nothing known
)

var (
	webRes = &enrich.Resource{InterfaceID: "eni-0a1b2c3d4e5f60718", InterfaceType: "interface", InstanceID: "i-0123456789abcdef0",
		InstanceName: "web-1", SecurityGroups: []string{"sg-0aaa", "sg-0bbb"}, SubnetID: "subnet-01", VPCID: "vpc-01",
		AccountID: "123456789012", Region: "us-east-1", FlowLogged: true}
	// webOld is the same interface an hour before, under its old Name tag: the panel reads the newest flow.
	webOld = &enrich.Resource{InterfaceID: "eni-0a1b2c3d4e5f60718", InterfaceType: "interface", InstanceID: "i-0123456789abcdef0",
		InstanceName: "web-old", SecurityGroups: []string{"sg-0old"}, SubnetID: "subnet-01", VPCID: "vpc-01", AccountID: "123456789012"}
	nlGeo = enrich.Geo{CountryISO: "NL", CountryName: "Netherlands", ContinentCode: "EU", Region: "North Holland", City: "Amsterdam",
		ASNumber: 64500, ASOrg: "Example Transit"}
	usGeo     = enrich.Geo{CountryISO: "US", CountryName: "United States", ContinentCode: "NA", ASNumber: 64501, ASOrg: "Example Cloud"}
	blocklist = enrich.Indicator{List: "blocklist", Value: "203.0.113.0/24", Description: "SSH brute force"}
)

// enrichedWindow is the fixture's 10-minute window with final connection sets.
var enrichedWindow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type enrichedFlow struct {
	at           time.Time
	src, dst     string
	sport, dport int
	action       string
	x            *enrich.Context // nil: not enriched
	n            int             // flows, a minute apart
}

func enrichedFlows() []enrichedFlow {
	w := enrichedWindow
	return []enrichedFlow{
		{at: w, src: publicIP, dst: instanceIP, sport: 51515, dport: 22, action: "REJECT", n: 5, x: &enrich.Context{
			Source: enrich.End{Geo: nlGeo, Threat: blocklist}, Destination: enrich.End{Resource: webRes}, Interface: webRes}},
		// The list no longer holds it: its newest flow has no match, the range still has five.
		{at: w.Add(5 * time.Minute), src: publicIP, dst: instanceIP, sport: 51516, dport: 22, action: "REJECT", n: 1, x: &enrich.Context{
			Source: enrich.End{Geo: nlGeo}, Destination: enrich.End{Resource: webRes}, Interface: webRes}},
		{at: w.Add(-time.Hour), src: plainIP, dst: instanceIP, sport: 40000, dport: 5432, action: "ACCEPT", n: 1, x: &enrich.Context{
			Destination: enrich.End{Resource: webOld}, Interface: webOld}},
		{at: w.Add(6 * time.Minute), src: instanceIP, dst: cloudIP, sport: 43000, dport: 443, action: "ACCEPT", n: 3, x: &enrich.Context{
			Source: enrich.End{Resource: webRes}, Destination: enrich.End{Geo: usGeo}, Interface: webRes}},
		// The instance's newest flows carry nothing of its end: the panel reads the flow before them.
		{at: w.Add(9 * time.Minute), src: plainIP, dst: instanceIP, sport: 40001, dport: 5432, action: "ACCEPT", n: 2},
	}
}

// loadEnriched writes the fixture under a fresh prefix: the flows, and the final connection sets of the window.
func loadEnriched(t testing.TB, name string, c sink.Client) *cluster {
	t.Helper()
	prefix := sinktest.Setup(t, c)
	p, err := vpcflow.NewParser(vpcflow.DefaultFormat())
	if err != nil {
		t.Fatal(err)
	}
	ix := sink.Indices{Prefix: prefix}
	const group, stream = "/vpc/flows", "eni-0a1b2c3d4e5f60718-all"
	var docs []sink.Doc
	type set struct {
		peers             map[string]bool
		sent, recv, rejct int64
	}
	sets := map[string]*set{}
	get := func(ip string) *set {
		if sets[ip] == nil {
			sets[ip] = &set{peers: map[string]bool{}}
		}
		return sets[ip]
	}
	var enc vpcflow.Encoder
	for i, ef := range enrichedFlows() {
		for k := range ef.n {
			at := ef.at.Add(time.Duration(k) * time.Minute)
			line := fmt.Sprintf("2 123456789012 eni-0a1b2c3d4e5f60718 %s %s %d %d 6 3 180 %d %d %s OK",
				ef.src, ef.dst, ef.sport+k, ef.dport, at.Unix(), at.Unix()+60, ef.action)
			id := fmt.Sprintf("%d-%d", i, k)
			src := &vpcflow.Source{LogGroup: group, LogStream: stream, EventID: id, Timestamp: at.Add(time.Minute).UnixMilli()}
			var f vpcflow.Flow
			if err := p.Parse(&f, src, line); err != nil {
				t.Fatal(err)
			}
			docs = append(docs, sink.Doc{Index: ix.Flows(at), ID: docid.Flow(group, stream, id, src.Timestamp, []byte(line)), Op: sink.OpCreate,
				Source: enc.AppendDocumentWith(nil, &f, src, ef.x)})
			if at.Truncate(10*time.Minute) == enrichedWindow {
				s, r := get(ef.src), get(ef.dst)
				s.peers[ef.dst], r.peers[ef.src] = true, true
				s.sent++
				r.recv++
				if ef.action == "REJECT" {
					s.rejct++
					r.rejct++
				}
			}
		}
	}
	for ip, s := range sets {
		w := enrichedWindow
		src, _ := json.Marshal(map[string]any{
			"@timestamp": w, "window": map[string]any{"start": w, "end": w.Add(10 * time.Minute)}, "ip": ip,
			"peers": slices.Sorted(maps.Keys(s.peers)), "peers_count": len(s.peers), "peers_estimated": false, "dst_ports_count": 1,
			"flows": map[string]any{"sent": s.sent, "received": s.recv, "rejected": s.rejct, "late": 0},
			"bytes": map[string]any{"sent": 180 * s.sent, "received": 180 * s.recv}, "revision": 1,
		})
		docs = append(docs, sink.Doc{Index: ix.Conns(w), ID: docid.Final(w.Unix(), netip.MustParseAddr(ip)), Op: sink.OpIndex, Source: src})
	}
	writeDocs(t, c, name, prefix, docs)
	return &cluster{name: name, client: c, prefix: prefix}
}

// forEachEnriched runs f against each engine loaded with the enrichment fixture.
func forEachEnriched(t *testing.T, f func(t *testing.T, c *cluster)) {
	for _, e := range []struct {
		name   string
		client func(t *testing.T) sink.Client
	}{
		{"elasticsearch", func(t *testing.T) sink.Client { return esClient(t, testenv.URL(t, testenv.Elasticsearch)) }},
		{"opensearch", func(t *testing.T) sink.Client { return osClient(t, testenv.URL(t, testenv.OpenSearch)) }},
	} {
		t.Run(e.name, func(t *testing.T) { f(t, loadEnriched(t, e.name, e.client(t))) })
	}
}

func seenAt(t time.Time) *time.Time { return &t }

// The IP page's "what it is", the labels of every IP list, and the query bar's fields, over enriched flows.
func TestEnrichment(t *testing.T) {
	forEachEnriched(t, func(t *testing.T, c *cluster) {
		rec := &recorder{Doer: c.client}
		_, api := serve(t, rec, c.prefix)
		w := enrichedWindow
		for _, tc := range []struct {
			ip   string
			want Identity
		}{
			{publicIP, Identity{Known: true, End: "source", Seen: seenAt(w.Add(5 * time.Minute)), CountryISO: "NL", CountryName: "Netherlands",
				City: "Amsterdam", ASNumber: 64500, ASOrg: "Example Transit",
				Threats: []Threat{{List: "blocklist", Description: "203.0.113.0/24: SSH brute force"}}, ThreatFlows: 5}},
			// Its newest flows (from plainIP) say nothing of it; the newest that does has it as the source.
			{instanceIP, Identity{Known: true, End: "source", Seen: seenAt(w.Add(8 * time.Minute)), InterfaceID: "eni-0a1b2c3d4e5f60718",
				InterfaceType: "interface", InstanceID: "i-0123456789abcdef0", InstanceName: "web-1", SecurityGroups: []string{"sg-0aaa", "sg-0bbb"},
				SubnetID: "subnet-01", VPCID: "vpc-01", AccountID: "123456789012"}},
			{cloudIP, Identity{Known: true, End: "destination", Seen: seenAt(w.Add(8 * time.Minute)), CountryISO: "US",
				CountryName: "United States", ASNumber: 64501, ASOrg: "Example Cloud"}},
			{plainIP, Identity{}},
		} {
			var got IPReport
			q := corpusScope("")
			q.Set("ip", tc.ip)
			api("/api/ip", q, &got)
			if d := gocmp.Diff(tc.want, got.Identity); d != "" {
				t.Errorf("%s identity (-want +got):\n%s", tc.ip, d)
			}
			// The query bar narrows the flows, not what the address is.
			q.Set("q", "destination.port:5432")
			api("/api/ip", q, &got)
			if d := gocmp.Diff(tc.want, got.Identity); d != "" {
				t.Errorf("%s identity under a query (-want +got):\n%s", tc.ip, d)
			}
		}
		// Before the instance was renamed: the range holds only its old name.
		var old IPReport
		api("/api/ip", url.Values{"ip": {instanceIP}, "from": {w.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {w.Format(time.RFC3339)}}, &old)
		if id := old.Identity; id.InstanceName != "web-old" || !slices.Equal(id.SecurityGroups, []string{"sg-0old"}) || id.End != "destination" {
			t.Errorf("identity an hour before: %+v, want web-old with sg-0old, as the destination", id)
		}

		label := func(r Row) string { return r.Key + "=" + r.Name + "/" + r.Country }
		labels := func(rows []Row) []string {
			out := []string{}
			for _, r := range rows {
				out = append(out, label(r))
			}
			return out
		}
		var ov overviewAnswer
		api("/api/overview", corpusScope(""), &ov)
		for field, want := range map[string][]string{
			"source.ip":      {publicIP + "=/NL", instanceIP + "=web-1/", plainIP + "=/"},
			"destination.ip": {instanceIP + "=web-1/", cloudIP + "=/US"},
		} {
			top := ov.Panels.Top.Data[field]
			if d := gocmp.Diff(want, labels(top.ByFlows)); d != "" {
				t.Errorf("overview top %s by flows (-want +got):\n%s", field, d)
			}
			byBytes := labels(top.ByBytes)
			slices.Sort(byBytes)
			slices.Sort(want)
			if d := gocmp.Diff(want, byBytes); d != "" {
				t.Errorf("overview top %s by bytes (-want +got):\n%s", field, d)
			}
		}
		if ports := ov.Panels.Top.Data["destination.port"].ByFlows; len(ports) == 0 || ports[0].Name != "" || ports[0].Country != "" {
			t.Errorf("a port row is labelled: %+v", ports)
		}

		var ip IPReport
		q := corpusScope("")
		q.Set("ip", instanceIP)
		api("/api/ip", q, &ip)
		if d := gocmp.Diff([]string{cloudIP + "=/US"}, labels(ip.Out.TopPeers)); d != "" {
			t.Errorf("%s top destinations (-want +got):\n%s", instanceIP, d)
		}
		if d := gocmp.Diff([]string{publicIP + "=/NL", plainIP + "=/"}, labels(ip.In.TopPeers)); d != "" {
			t.Errorf("%s top sources (-want +got):\n%s", instanceIP, d)
		}

		var conns struct{ Peers, Ports, Rejected []ConnSet }
		api("/api/conns", corpusScope(""), &conns)
		got := map[string]string{}
		for _, s := range slices.Concat(conns.Peers, conns.Ports, conns.Rejected) {
			got[s.IP] = s.Name + "/" + s.Country
		}
		want := map[string]string{publicIP: "/NL", instanceIP: "web-1/", cloudIP: "/US", plainIP: "/"}
		if d := gocmp.Diff(want, got); d != "" {
			t.Errorf("connection-set lists' labels (-want +got):\n%s", d)
		}

		var meta struct{ Fields []string }
		api("/api/meta", nil, &meta)
		for _, f := range []string{"aws.source.instance.name", "aws.destination.security_groups", "source.geo.country_iso_code",
			"destination.as.organization.name", "cloud.instance.name", "threat.enrichments.indicator.provider", "threat.enrichments.matched.atomic"} {
			if !slices.Contains(meta.Fields, f) {
				t.Errorf("the query bar does not suggest %s", f)
			}
		}
		// And they are queried by their type: an ip field takes a CIDR, a long one a range.
		var page FlowPage
		api("/api/flows", corpusScope("threat.enrichments.matched.atomic:203.0.113.0/24 AND source.as.number >= 64500"), &page)
		if page.Total != 5 {
			t.Errorf("flows matching the list and the AS: %d, want 5", page.Total)
		}
		for _, r := range rec.sent {
			method, path, _ := cutSpace(r)
			if !AllowedRead(method, path) {
				t.Errorf("the console sent %s", r)
			}
		}
		t.Logf("%s: %s is %s, %s is %s", c.name, publicIP, label(ov.Panels.Top.Data["source.ip"].ByFlows[0]), instanceIP,
			label(ov.Panels.Top.Data["destination.ip"].ByFlows[0]))
	})
}

// The IP page's "what it is" and the overview's labels in a real browser, on both engines.
func TestBrowserEnrichment(t *testing.T) {
	forEachEnriched(t, func(t *testing.T, c *cluster) {
		p, base := consoleOf(t, c)
		scope := url.Values{"from": {corpusFrom.Format(time.RFC3339)}, "to": {corpusTo.Format(time.RFC3339)}}
		contains := func(sel string, want ...string) {
			t.Helper()
			got := p.Text(sel)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%s: %q, want %q in it", sel, got, w)
				}
			}
		}

		p.Go(base + "/#/ip/" + publicIP + "?" + scope.Encode())
		waitText(p, "#ip-title", publicIP)
		p.WaitVisible("#ip-what")
		contains("#ip-threat", "threat list", "5 flows", "blocklist", "203.0.113.0/24: SSH brute force")
		contains("#what-country", "🇳🇱", "NL", "Netherlands")
		contains("#what-city", "Amsterdam")
		contains("#what-as", "AS64500", "Example Transit")
		p.Screenshot("ip-public")

		p.Go(base + "/#/ip/" + instanceIP + "?" + scope.Encode())
		waitText(p, "#ip-title", instanceIP)
		p.WaitVisible("#what-instance")
		contains("#what-instance", "i-0123456789abcdef0", "web-1")
		contains("#what-interface", "eni-0a1b2c3d4e5f60718", "interface")
		contains("#what-sgs", "sg-0aaa, sg-0bbb")
		contains("#what-subnet", "subnet-01")
		contains("#what-vpc", "vpc-01")
		contains("#what-account", "123456789012")
		var threat int
		p.Eval(`document.querySelectorAll("#ip-threat").length`, &threat)
		if threat != 0 {
			t.Errorf("%s is on no list, but the page marks it", instanceIP)
		}
		// Its peers are labelled too.
		contains("#ip-out", cloudIP, "US")
		p.Screenshot("ip-instance")

		p.Go(base + "/#/ip/" + plainIP + "?" + scope.Encode())
		waitText(p, "#ip-title", plainIP)
		waitText(p, "#ip-what-none", "no enrichment configured or known for this address")

		p.Go(base + "/#/overview?" + scope.Encode())
		p.WaitVisible("#top-source-ip .by_flows td.key a.ip")
		rows := p.Texts("#top-source-ip .by_flows td.key")
		if want := []string{publicIP + " 🇳🇱 NL", instanceIP + " web-1", plainIP}; strings.Join(rows, "|") != strings.Join(want, "|") {
			t.Errorf("top sources %q, want %q", rows, want)
		}
		if got := p.Text("#top-destination-ip .by_flows td.key .tag.name"); got != "web-1" {
			t.Errorf("top destination's name %q, want web-1", got)
		}
		p.Screenshot("overview-enriched")

		p.Go(base + "/#/conns?" + scope.Encode())
		p.WaitVisible("#most-peers")
		contains("#most-peers", instanceIP+" web-1", publicIP+" 🇳🇱 NL")
		if errs := p.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("console errors: %v", errs)
		}
	})
}
