package console

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/format/alb"
	"github.com/kinflow/kinflow/internal/format/elb"
	"github.com/kinflow/kinflow/internal/format/nlb"
	"github.com/kinflow/kinflow/internal/sink"
)

// The load-balancer fixture: lbFixtureN access-log lines made from AWS's example entries (the formats'
// testdata/cases/aws-examples.txt) by varying their time, client, load balancer, request (method and path), status,
// user agent, TLS version and target processing time; each line is parsed and encoded by its format's own encoder,
// as the pipeline does, and written to <prefix>-lb-<day>. The times span the corpus range across its day boundary;
// a few decoys lie the day before it. The brute force below reads the encoded documents.
const lbFixtureN = 900

// The target processing times of the fixture's requests are laid out so that the cluster's t-digest answers the
// three percentiles exactly: the sorted times have a plateau of one value around each percentile (48 ms over ranks
// 40-60%, 310 ms over 85-95%, 1.234 s over 98.5-99.5%), wider than the digest's centroids there (a few requests
// at the median, single requests at the tails, with the default compression of 100 and under a thousand
// values), so whatever centroid or interpolation the estimate lands on holds that value alone. Between plateaus the
// times vary. Over a filtered subset the plateaus are not guaranteed, and the test checks only the order and bounds.
func lbTargetMS(rank, n int) int {
	q := float64(rank) / float64(n)
	switch {
	case q < 0.40:
		return 1 + rank%37
	case q < 0.60:
		return 48
	case q < 0.85:
		return 60 + rank%241
	case q < 0.95:
		return 310
	case q < 0.985:
		return 400 + rank%501
	case q < 0.995:
		return 1234
	}
	return 2000 + rank%7*500
}

// markupPath and markupAgent are values a page must show as text.
const (
	markupPath  = `/<b>bold</b>&amp`
	markupAgent = `<script>alert(1)</script>`
)

var (
	lbPaths = []string{"/", "/api/v1/users", "/login", "/static/app.js", "/api/v1/orders", "/wp-login.php", "/.env", "/admin",
		"/health", markupPath, "/api/v2/search", "/favicon.ico", "/robots.txt", "/cgi-bin/luci", "/api/v1/cart"}
	lbAgents = []string{"curl/7.46.0", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "python-requests/2.31.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
		"sqlmap/1.7.2#stable (https://sqlmap.org)", markupAgent, "ELB-HealthChecker/2.0", "Go-http-client/1.1"}
	lbStatuses = []int{200, 200, 200, 200, 200, 201, 204, 301, 302, 304, 400, 403, 404, 404, 404, 500, 502, 503}
	lbALBs     = []string{"app/my-loadbalancer/50dc6c495c0c9188", "app/my-loadbalancer/50dc6c495c0c9188", "app/shop-frontend/7f3a9c2b1d4e5f60"}
	lbELBs     = []string{"my-loadbalancer", "legacy-api"}
)

// lbDoc is what the brute force reads of a fixture document.
type lbDoc struct {
	T     time.Time `json:"@timestamp"`
	Event struct{ Dataset string }
	Src   struct{ IP string } `json:"source"`
	HTTP  struct {
		Response struct {
			StatusCode int `json:"status_code"`
		}
	}
	URL       struct{ Path string }
	UserAgent struct{ Original string } `json:"user_agent"`
	TLS       struct {
		Version         string
		VersionProtocol string `json:"version_protocol"`
	}
	AWS struct {
		ELB struct {
			Name             string
			TargetNS         *int64 `json:"target_processing_time_ns"`
			TargetUnanswered bool   `json:"target_unanswered"`
		} `json:"elb"`
	}
}

func (d lbDoc) status() int { return d.HTTP.Response.StatusCode }
func (d lbDoc) ip() netip.Addr {
	a, _ := netip.ParseAddr(d.Src.IP)
	return a
}

// awsFields splits an access-log line into its fields: space-separated, a quoted field (with its spaces) one.
func awsFields(line string) []string {
	var out []string
	for line != "" {
		if line[0] == '"' {
			end := strings.Index(line[1:], `" `)
			if end < 0 {
				out = append(out, line)
				break
			}
			out = append(out, line[:end+2])
			line = line[end+3:]
			continue
		}
		f, rest, _ := strings.Cut(line, " ")
		out = append(out, f)
		line = rest
	}
	return out
}

// examples are the example lines of a format's testdata.
func examples(t testing.TB, format string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "format", format, "testdata", "cases", "aws-examples.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, awsFields(l))
		}
	}
	if err := sc.Err(); err != nil || len(out) == 0 {
		t.Fatalf("%s examples: %d lines, %v", format, len(out), err)
	}
	return out
}

// lbLine is one fixture line before its fields are written: its format, example and varied values.
type lbLine struct {
	format     string
	fields     []string
	names      []string // the format's field names, in line order
	t          time.Time
	unanswered bool
	targetMS   int // -1: none
}

func (l *lbLine) set(name, v string) {
	i := slices.Index(l.names, name)
	if i < 0 || i >= len(l.fields) {
		return // an older example without the field
	}
	l.fields[i] = v
}

func (l *lbLine) get(name string) string {
	if i := slices.Index(l.names, name); i >= 0 && i < len(l.fields) {
		return l.fields[i]
	}
	return ""
}

// loadLB writes the fixture into c's prefix and returns the documents of the corpus range (the decoys left out).
func loadLB(t testing.TB, c *cluster) []lbDoc {
	t.Helper()
	rng := rand.New(rand.NewPCG(17, 2026))
	ex := map[string][][]string{"alb": examples(t, "alb"), "nlb": examples(t, "nlb"), "elb": examples(t, "elb")}
	names := map[string][]string{"alb": alb.FieldNames(), "nlb": nlb.FieldNames(), "elb": elb.FieldNames()}
	skewed := func(n int) int { return int(float64(n) * math.Pow(rng.Float64(), 2.5)) }
	var lines []*lbLine
	for i := range lbFixtureN + 6 {
		format := "alb"
		switch u := rng.Float64(); {
		case u < 0.2:
			format = "nlb"
		case u < 0.45:
			format = "elb"
		}
		e := ex[format][rng.IntN(len(ex[format]))]
		l := &lbLine{format: format, fields: slices.Clone(e), names: names[format], targetMS: -1,
			t: corpusFrom.Add(2*time.Hour + time.Duration(rng.Int64N(int64(44*time.Hour)))).Truncate(time.Millisecond)}
		if i >= lbFixtureN {
			l.t = corpusFrom.Add(-12*time.Hour + time.Duration(i-lbFixtureN)*time.Minute) // decoys: the day before the range
		}
		l.unanswered = format == "alb" && rng.IntN(30) == 0
		lines = append(lines, l)
	}
	// The target times: a time for every ALB and ELB line the target answered, laid out by lbTargetMS, shuffled.
	var timed []*lbLine
	for _, l := range lines[:lbFixtureN] {
		if l.format != "nlb" && !l.unanswered {
			timed = append(timed, l)
		}
	}
	for i, j := range rng.Perm(len(timed)) {
		timed[j].targetMS = lbTargetMS(i, len(timed))
	}

	ix := sink.Indices{Prefix: c.prefix}
	var docs []sink.Doc
	var out []lbDoc
	for i, l := range lines {
		decoy := i >= lbFixtureN
		client := netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + skewed(40))})
		if rng.IntN(4) == 0 {
			client = netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + skewed(40))})
		}
		l.set("client:port", fmt.Sprintf("%s:%d", client, 1024+rng.IntN(60000)))
		ts := l.t.Format("2006-01-02T15:04:05.000000Z")
		switch l.format {
		case "alb":
			l.set("time", ts)
			l.set("request_creation_time", l.t.Add(-50*time.Millisecond).Format("2006-01-02T15:04:05.000000Z"))
			l.set("elb", lbALBs[rng.IntN(len(lbALBs))])
			if l.get("ssl_protocol") != "-" && rng.IntN(5) == 0 {
				l.set("ssl_protocol", "TLSv1.3")
				l.set("ssl_cipher", "TLS_AES_128_GCM_SHA256")
			}
		case "elb":
			l.set("timestamp", ts)
			l.set("elb", lbELBs[rng.IntN(len(lbELBs))])
		case "nlb":
			l.set("time", l.t.Format("2006-01-02T15:04:05"))
			l.set("tls_connection_creation_time", l.t.Add(-10*time.Second).Format("2006-01-02T15:04:05"))
			l.set("tls_protocol_version", []string{"tlsv12", "tlsv12", "tlsv12", "tlsv13", "tlsv11"}[rng.IntN(5)])
		}
		// The request of an HTTP line (a TCP or SSL listener's is "- - - "): method, path, status, agent.
		if req := strings.Trim(l.get("request"), `"`); req != "" && !strings.HasPrefix(req, "-") {
			method, rest, _ := strings.Cut(req, " ")
			u, proto, _ := strings.Cut(rest, " ")
			origin := u[:strings.Index(u[len("https://"):], "/")+len("https://")]
			path := lbPaths[skewed(len(lbPaths))]
			status := lbStatuses[rng.IntN(len(lbStatuses))]
			if path == markupPath || path == "/.env" || path == "/wp-login.php" {
				status = 404
			}
			method = []string{method, method, method, "POST", "HEAD"}[rng.IntN(5)]
			if decoy {
				path, status = "/decoy", 500
			}
			target := fmt.Sprint(status)
			if l.unanswered {
				status, target = 504, "-"
			}
			l.set("request", fmt.Sprintf(`"%s %s%s %s"`, method, origin, path, proto))
			l.set("elb_status_code", fmt.Sprint(status))
			l.set("target_status_code", target)
			l.set("backend_status_code", target)
			l.set("target_status_code_list", `"`+target+`"`)
			l.set("user_agent", `"`+lbAgents[skewed(len(lbAgents))]+`"`)
		}
		tt := "-1"
		switch {
		case decoy && l.format != "nlb":
			tt = "59.999"
		case l.targetMS >= 0:
			tt = fmt.Sprintf("%d.%03d", l.targetMS/1000, l.targetMS%1000)
		}
		l.set("target_processing_time", tt)
		l.set("backend_processing_time", tt)

		line := []byte(strings.Join(l.fields, " "))
		var src []byte
		var err error
		switch l.format {
		case "alb":
			var rec alb.Record
			if err = alb.Parse(line, &rec); err == nil {
				src = (&alb.Encoder{}).AppendDocument(nil, &rec)
			}
		case "nlb":
			var rec nlb.Record
			if err = nlb.Parse(line, &rec); err == nil {
				src = (&nlb.Encoder{}).AppendDocument(nil, &rec)
			}
		case "elb":
			var rec elb.Record
			if err = elb.Parse(line, &rec); err == nil {
				src = (&elb.Encoder{}).AppendDocument(nil, &rec)
			}
		}
		if err != nil {
			t.Fatalf("fixture line %d: %v\n%s", i, err, line)
		}
		var d lbDoc
		if err := json.Unmarshal(src, &d); err != nil {
			t.Fatal(err)
		}
		if !d.T.Equal(l.t) && l.format != "nlb" || l.format == "nlb" && !d.T.Equal(l.t.Truncate(time.Second)) {
			t.Fatalf("fixture line %d: @timestamp %s, want %s", i, d.T, l.t)
		}
		docs = append(docs, sink.Doc{Index: ix.LoadBalancers(d.T), ID: fmt.Sprintf("lb-%04d", i), Op: sink.OpIndex, Source: src})
		if !decoy {
			out = append(out, d)
		}
	}
	writeDocs(t, c.client, c.name, c.prefix, docs)
	return out
}

// lbAnswer is /api/lb decoded.
type lbAnswer struct {
	QueryApplied bool `json:"query_applied"`
	Panels       struct {
		Counts   struct{ Data LBCounts }
		Timeline struct {
			Data struct{ Points []LBPoint }
		}
		Top     struct{ Data map[string][]LBRow }
		Latency struct{ Data LBLatency }
	}
}

func classOf(d lbDoc, c *Classes) {
	switch s := d.status(); {
	case s >= 200 && s < 300:
		c.S2xx++
	case s >= 300 && s < 400:
		c.S3xx++
	case s >= 400 && s < 500:
		c.S4xx++
	case s >= 500 && s < 600:
		c.S5xx++
	default:
		c.Other++
	}
}

// bruteRows ranks key(d) over docs (key "" is no row) by requests, ties by key in the index's order.
func bruteRows(docs []lbDoc, key func(lbDoc) string, n int, addrs bool) []LBRow {
	m := map[string]*LBRow{}
	for _, d := range docs {
		k := key(d)
		if k == "" {
			continue
		}
		if m[k] == nil {
			m[k] = &LBRow{Key: k}
		}
		m[k].Requests++
		if d.status() >= 400 {
			m[k].Errors++
		}
	}
	rows := []LBRow{}
	for _, r := range m {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b LBRow) int {
		if addrs {
			return cmp.Or(cmp.Compare(b.Requests, a.Requests), netip.MustParseAddr(a.Key).Compare(netip.MustParseAddr(b.Key)))
		}
		return compareLBRows(a, b)
	})
	if n > 0 {
		rows = rows[:min(n, len(rows))]
	}
	return rows
}

// bruteLB is the answer the page must give for docs (in the range and matching the query) under the filters.
func bruteLB(docs []lbDoc, name, dataset string, from, to time.Time) lbAnswer {
	var a lbAnswer
	in := func(d lbDoc) bool { return !d.T.Before(from) && d.T.Before(to) }
	nameOK := func(d lbDoc) bool { return name == "" || d.AWS.ELB.Name == name }
	dsOK := func(d lbDoc) bool { return dataset == "" || d.Event.Dataset == "aws."+dataset }
	var matching, byName, byDataset []lbDoc
	c := &a.Panels.Counts.Data
	for _, d := range docs {
		if !in(d) {
			continue
		}
		c.Total++
		if nameOK(d) {
			byName = append(byName, d)
		}
		if dsOK(d) {
			byDataset = append(byDataset, d)
		}
		if nameOK(d) && dsOK(d) {
			matching = append(matching, d)
			classOf(d, &c.ByClass)
		}
	}
	c.Matching = int64(len(matching))
	c.ByDataset = []Count{}
	for _, ds := range lbDatasets {
		var n int64
		for _, d := range byName {
			if d.Event.Dataset == ds.dataset {
				n++
			}
		}
		c.ByDataset = append(c.ByDataset, Count{Key: ds.name, Name: ds.dataset, Count: n})
	}
	c.ByLB = []Count{}
	for _, r := range bruteRows(byDataset, func(d lbDoc) string { return d.AWS.ELB.Name }, LBNamesN, false) {
		c.ByLB = append(c.ByLB, Count{Key: r.Key, Count: r.Requests})
	}
	if name != "" && !slices.ContainsFunc(c.ByLB, func(x Count) bool { return x.Key == name }) {
		c.ByLB = append(c.ByLB, Count{Key: name})
	}

	step := interval(to.Sub(from))
	for b := from.Truncate(step); b.Before(to); b = b.Add(step) {
		p := LBPoint{T: b}
		for _, d := range matching {
			if !d.T.Before(b) && d.T.Before(b.Add(step)) {
				classOf(d, &p.Classes)
			}
		}
		a.Panels.Timeline.Data.Points = append(a.Panels.Timeline.Data.Points, p)
	}

	path := func(d lbDoc) string { return d.URL.Path }
	a.Panels.Top.Data = map[string][]LBRow{
		"clients": bruteRows(matching, func(d lbDoc) string { return d.Src.IP }, TopN, true),
		"paths":   bruteRows(matching, path, TopN, false),
		"not_found": bruteRows(slices.DeleteFunc(slices.Clone(matching), func(d lbDoc) bool { return d.status() != 404 }),
			path, TopN, false),
		"server_errors": bruteRows(slices.DeleteFunc(slices.Clone(matching), func(d lbDoc) bool { return d.status() < 500 || d.status() >= 600 }),
			path, TopN, false),
		"user_agents": bruteRows(matching, func(d lbDoc) string { return d.UserAgent.Original }, TopN, false),
		"tls_versions": bruteRows(matching, func(d lbDoc) string {
			if d.TLS.Version == "" {
				return ""
			}
			return d.TLS.VersionProtocol + " " + d.TLS.Version
		}, 0, false),
	}
	l := &a.Panels.Latency.Data
	l.Field = lbLatencyField
	var times []float64
	for _, d := range matching {
		if d.AWS.ELB.TargetNS != nil {
			times = append(times, float64(*d.AWS.ELB.TargetNS))
		}
		if d.AWS.ELB.TargetUnanswered {
			l.Unanswered++
		}
	}
	l.Measured = int64(len(times))
	slices.Sort(times)
	for _, p := range lbPercentiles {
		pc := Percentile{P: p}
		if len(times) > 0 {
			v := times[int(math.Ceil(p/100*float64(len(times))))-1] // nearest rank
			pc.NS = &v
		}
		l.Percentiles = append(l.Percentiles, pc)
	}
	return a
}

func lbDatasetOf(d lbDoc) string { return strings.TrimPrefix(d.Event.Dataset, "aws.") }

// The load-balancers page against the fixture on both engines: every panel equals the brute force over the
// encoded documents, under each filter and query; the percentiles exactly where the fixture makes the t-digest
// exact, in order and within the values elsewhere.
func TestLoadBalancersPage(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		docs := loadLB(t, c)
		rec := &recorder{Doer: c.client}
		_, api := serve(t, rec, c.prefix)
		otherNet := netip.MustParsePrefix("203.0.113.0/24")
		day2 := corpusFrom.Add(24 * time.Hour)
		for _, tc := range []struct {
			name          string
			q             url.Values
			match         func(lbDoc) bool // the query bar's; nil: all
			lb, dataset   string
			from, to      time.Time
			applied       bool
			exactQuantile bool
		}{
			{name: "all", q: corpusScope(""), applied: true, exactQuantile: true},
			{name: "alb", q: with(corpusScope(""), "dataset", "alb"), dataset: "alb", applied: true},
			{name: "nlb", q: with(corpusScope(""), "dataset", "nlb"), dataset: "nlb", applied: true},
			{name: "one classic elb", q: with(corpusScope(""), "lb", "my-loadbalancer"), lb: "my-loadbalancer", applied: true},
			{name: "alb and one of them", q: with(with(corpusScope(""), "dataset", "alb"), "lb", lbALBs[2]), dataset: "alb", lb: lbALBs[2], applied: true},
			{name: "a load balancer of another kind", q: with(with(corpusScope(""), "dataset", "nlb"), "lb", lbALBs[2]), dataset: "nlb", lb: lbALBs[2], applied: true},
			{name: "5xx", q: corpusScope("http.response.status_code >= 500"), match: func(d lbDoc) bool { return d.status() >= 500 }, applied: true},
			{name: "api paths from elsewhere", q: corpusScope("url.path:/api/* AND NOT source.ip:203.0.113.0/24"), applied: true,
				match: func(d lbDoc) bool { return strings.HasPrefix(d.URL.Path, "/api/") && !otherNet.Contains(d.ip()) }},
			{name: "tls 1.3", q: corpusScope("tls.version:1.3"), match: func(d lbDoc) bool { return d.TLS.Version == "1.3" }, applied: true},
			{name: "flow query not applied", q: corpusScope("event.action:reject"), applied: false},
			{name: "one morning", q: url.Values{"from": {day2.Format(time.RFC3339)}, "to": {day2.Add(6 * time.Hour).Format(time.RFC3339)}},
				from: day2, to: day2.Add(6 * time.Hour), applied: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				from, to := cmp.Or(tc.from, corpusFrom), cmp.Or(tc.to, corpusTo)
				subset := docs
				if tc.match != nil {
					subset = slices.DeleteFunc(slices.Clone(docs), func(d lbDoc) bool { return !tc.match(d) })
				}
				want := bruteLB(subset, tc.lb, tc.dataset, from, to)
				var got lbAnswer
				api("/api/lb", tc.q, &got)
				if got.QueryApplied != tc.applied {
					t.Errorf("query applied %v, want %v", got.QueryApplied, tc.applied)
				}
				for _, x := range []struct {
					name      string
					want, got any
				}{
					{"counts", want.Panels.Counts.Data, got.Panels.Counts.Data},
					{"timeline", want.Panels.Timeline.Data.Points, got.Panels.Timeline.Data.Points},
					{"top lists", want.Panels.Top.Data, got.Panels.Top.Data},
				} {
					if d := gocmp.Diff(x.want, x.got); d != "" {
						t.Errorf("%s (-brute force +console):\n%s", x.name, d)
					}
				}
				wl, gl := want.Panels.Latency.Data, got.Panels.Latency.Data
				if wl.Field != gl.Field || wl.Measured != gl.Measured || wl.Unanswered != gl.Unanswered || len(gl.Percentiles) != len(lbPercentiles) {
					t.Fatalf("latency %+v, want %+v", gl, wl)
				}
				if wl.Measured == 0 {
					for _, p := range gl.Percentiles {
						if p.NS != nil {
							t.Errorf("p%v %v with no time measured, want none", p.P, *p.NS)
						}
					}
					return
				}
				var lo, hi float64 = math.Inf(1), math.Inf(-1)
				for _, d := range subset {
					if !d.T.Before(from) && d.T.Before(to) && d.AWS.ELB.TargetNS != nil &&
						(tc.lb == "" || d.AWS.ELB.Name == tc.lb) && (tc.dataset == "" || lbDatasetOf(d) == tc.dataset) {
						lo, hi = min(lo, float64(*d.AWS.ELB.TargetNS)), max(hi, float64(*d.AWS.ELB.TargetNS))
					}
				}
				prev := lo
				for i, p := range gl.Percentiles {
					w := wl.Percentiles[i]
					if p.P != w.P || p.NS == nil {
						t.Fatalf("percentile %d: %+v, want p%v", i, p, w.P)
					}
					if tc.exactQuantile && math.Abs(*p.NS-*w.NS) > 0.5 {
						t.Errorf("p%v = %.0f ns, want %.0f (exact: the fixture's plateau)", p.P, *p.NS, *w.NS)
					}
					if *p.NS < prev || *p.NS > hi {
						t.Errorf("p%v = %.0f ns: want between the previous percentile %.0f and the largest time %.0f", p.P, *p.NS, prev, hi)
					}
					prev = *p.NS
				}
			})
		}
		for _, r := range rec.sent {
			method, path, _ := cutSpace(r)
			if !AllowedRead(method, path) {
				t.Errorf("the console sent %s", r)
			}
		}
		all := bruteLB(docs, "", "", corpusFrom, corpusTo)
		cn, lt := all.Panels.Counts.Data, all.Panels.Latency.Data
		t.Logf("%s: %d requests (%+v), %d timed, %d unanswered; p50 %.0f ns, p90 %.0f, p99 %.0f; top 404 path %q", c.name, cn.Total,
			cn.ByClass, lt.Measured, lt.Unanswered, *lt.Percentiles[0].NS, *lt.Percentiles[1].NS, *lt.Percentiles[2].NS,
			all.Panels.Top.Data["not_found"][0].Key)
	})
}
