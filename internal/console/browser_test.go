package console

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/browser"
)

// The console in a real browser (headless Chromium), on both engines loaded with the corpus: the overview shows the
// brute-force totals and top pair, typing the seed query updates the panels, clicking an IP opens its page with its
// numbers; screenshots are written as artifacts.
func TestBrowserConsole(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		p, base := consoleOf(t, c)

		var accepted, rejected int64
		for _, f := range c.flows {
			if f.reject {
				rejected++
			} else {
				accepted++
			}
		}
		total := int64(len(c.flows)) + c.noAddress
		scope := url.Values{"from": {corpusFrom.Format(time.RFC3339)}, "to": {corpusTo.Format(time.RFC3339)}}
		p.Go(base + "/#/overview?" + scope.Encode())
		waitText(p, "#total-flows", num(total))
		if got, want := p.Text("#rejected-share"), pct(float64(rejected)/float64(accepted+rejected)); got != want {
			t.Errorf("rejected share %q, want %q", got, want)
		}
		pairs := bruteTopPairs(c.flows, PairsN)
		p.WaitVisible("#pairs .pair-row")
		row := p.Texts("#pairs .pair-row")[0]
		if !strings.Contains(row, pairs[0].Src) || !strings.Contains(row, pairs[0].Dst) || p.Attr("#pairs .pair-row td[data-bytes]", "data-bytes") != strconv.FormatInt(pairs[0].Bytes, 10) {
			t.Errorf("top pair row %q (%s bytes), want %s -> %s, %d bytes", row, p.Attr("#pairs .pair-row td[data-bytes]", "data-bytes"), pairs[0].Src, pairs[0].Dst, pairs[0].Bytes)
		}
		if n := len(p.Texts("#pairs .pair-row")); n != PairsN {
			t.Errorf("%d pair rows, want %d", n, PairsN)
		}
		shot := p.Screenshot("overview")
		t.Logf("%s: overview %s flows; screenshot %s", c.name, num(total), shot)

		// The seed query, typed into the bar: every panel follows.
		var seed int64
		for _, f := range c.flows {
			if seedMatch(f) {
				seed++
			}
		}
		p.SetValue("#q", SeedQuery)
		p.Press("#q", "Enter")
		waitText(p, "#total-flows", num(seed))
		waitText(p, "#rejected-share", "100.0%")
		p.Screenshot("overview-seed-query")

		// Back to everything, then click the busiest source IP.
		p.SetValue("#q", "")
		p.Press("#q", "Enter")
		waitText(p, "#total-flows", num(total))
		top := bruteTop(c.flows, topKeys["source.ip"], false, 1)[0]
		p.Click("#top-source-ip .by_flows td.key a.ip")
		waitText(p, "#ip-title", top.Key)
		addr := netip.MustParseAddr(top.Key)
		var in int64
		for _, f := range c.flows {
			if f.dst == addr {
				in++
			}
		}
		waitText(p, "#ip-out-flows", num(top.Flows))
		waitText(p, "#ip-in-flows", num(in))
		p.Screenshot("ip")

		// The other pages draw without errors.
		for _, page := range []struct{ hash, sel string }{{"conns", "#most-peers"}, {"flows", "#flow-table .flow-row"}, {"alerts", "#alerts-empty"}, {"health", "#health-flows"}} {
			p.Go(base + "/#/" + page.hash + "?" + scope.Encode())
			p.WaitVisible(page.sel)
			if page.hash == "flows" {
				// A row opens its document.
				p.Click("#flow-table .flow-row td")
				p.WaitVisible("#doc-json")
			}
			p.Screenshot(page.hash)
		}
		if errs := p.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("console errors: %v", errs)
		}
	})
}

// The alerts page in a real browser over the alerts fixture, on both engines: the rows in their order with the
// ongoing, withdrawn and escaped ones as they should look, the counts, a row's evidence and signals, a baseline, the
// filters and the query bar.
func TestBrowserAlerts(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		fx, _ := loadAlerts(t, c)
		p, base := consoleOf(t, c)
		scope := url.Values{"from": {corpusFrom.Format(time.RFC3339)}, "to": {corpusTo.Format(time.RFC3339)}}
		rowsAre := func(n int) {
			t.Helper()
			p.WaitJS(fmt.Sprintf(`document.querySelectorAll("#alert-table .alert-row").length === %d`, n))
		}

		p.Go(base + "/#/alerts?" + scope.Encode())
		p.WaitVisible("#alert-table .alert-row")
		rowsAre(6)
		rows := p.Texts("#alert-table .alert-row")
		for i, want := range [][]string{
			{"high", "horizontal_scan", "T1046", "10.0.0.7", "ongoing · 3 windows", "6.50", escapeReason, "active"},
			{"critical", "unusual_egress", "T1048", "10.0.0.12", "1 window", "12.00"},
			{"low", "reject_storm", "10.0.1.5", "no active window", "withdrawn"},
			{"medium", "vertical_scan", "10.0.0.9", "2 windows"},
			{"medium", "horizontal_scan", "10.0.2.3", "1 window", "2.20"},
			{"high", "reject_storm", "10.0.3.3", "2026-11-22 23:40:00Z..2026-11-23 00:10:00Z", "3 windows"},
		} {
			for _, w := range want {
				if !strings.Contains(rows[i], w) {
					t.Errorf("row %d %q: want %q", i, rows[i], w)
				}
			}
		}
		if strings.Contains(rows[1], "ongoing") {
			t.Errorf("row 1 %q is not ongoing: its last window is not the latest closed one", rows[1])
		}
		var markup int
		p.Eval(`document.querySelectorAll("#alert-table td.reason *").length`, &markup)
		if got := p.Text("#alert-table .alert-row td.reason"); got != escapeReason || markup != 0 {
			t.Errorf("reason %q with %d elements in it, want the text %q and no markup", got, markup, escapeReason)
		}
		if got := p.Texts("#alert-table .alert-row.withdrawn"); len(got) != 1 || !strings.Contains(got[0], "10.0.1.5") {
			t.Errorf("withdrawn rows %q, want C's alone", got)
		}
		var decoration string
		p.Eval(`getComputedStyle(document.querySelector("#alert-table .alert-row.withdrawn td.rule")).textDecorationLine`, &decoration)
		if decoration != "line-through" {
			t.Errorf("a withdrawn alert's rule is drawn with text-decoration %q, want line-through", decoration)
		}
		if href := p.Attr("#alert-table .alert-row a.ip", "href"); href != "#/ip/10.0.0.7" {
			t.Errorf("the IP links to %q, want the IP page", href)
		}
		for sel, want := range map[string]string{
			"#alerts-total": "6", "#sev-count-99": "1", "#sev-count-73": "2", "#sev-count-47": "2", "#sev-count-21": "1",
			`#rule-filter button[data-rule="horizontal_scan"] b`: "2", `#rule-filter button[data-rule="reject_storm"] b`: "2",
			`#status-filter button[data-status="withdrawn"] b`: "1", `#status-filter button[data-status="active"] b`: "5",
		} {
			if got := p.Text(sel); got != want {
				t.Errorf("%s: %q, want %q", sel, got, want)
			}
		}

		// A's evidence (its latest signal's) and its three signals.
		p.Click("#alert-table .alert-row td.reason")
		p.WaitVisible("#alert-detail")
		waitText(p, "#ev-peers", "120")
		for sel, want := range map[string]string{"#ev-ports": "5", "#ev-service-ports": "4", "#ev-flows-sent": "402", "#ev-rejected": "302",
			"#ev-peer-sample": "10.0.9.1 10.0.9.2 10.0.9.12", "#ev-port-sample": "22 80 445", "#detail-rule": "horizontal_scan"} {
			if got := p.Text(sel); got != want {
				t.Errorf("%s: %q, want %q", sel, got, want)
			}
		}
		if got := p.Text("#ev-baseline"); !strings.HasPrefix(got, "none") {
			t.Errorf("a horizontal scan's baseline %q, want none", got)
		}
		sigs := p.Texts("#signals .signal-row")
		if len(sigs) != 3 || !strings.Contains(sigs[0], "3.00") || !strings.Contains(sigs[1], "6.50") || !strings.Contains(sigs[2], "5.00") {
			t.Errorf("signals %q, want A's three windows, oldest first", sigs)
		}
		p.Screenshot("alerts")

		// D has a baseline.
		p.Go(base + "/#/alerts?" + with(url.Values{"alert": {fx["D"].episode.ID}}, "from", corpusFrom.Format(time.RFC3339)).Encode() + "&to=" + url.QueryEscape(corpusTo.Format(time.RFC3339)))
		waitText(p, "#bl-rejected-mean", "1.5")
		if got := p.Text("#bl-windows"); !strings.Contains(got, "30 previous windows") {
			t.Errorf("baseline windows %q", got)
		}

		// The status filter, then a query typed into the bar: the filter stays.
		p.Click(`#status-filter button[data-status="withdrawn"]`)
		rowsAre(1)
		if got := p.Text("#alert-table .alert-row"); !strings.Contains(got, "10.0.1.5") {
			t.Errorf("withdrawn only: %q", got)
		}
		p.Click(`#status-filter button[data-status="active"]`)
		rowsAre(5)
		p.SetValue("#q", "rule.name:horizontal_scan")
		p.Press("#q", "Enter")
		rowsAre(2)
		if got := p.Text("#status-filter button.on"); !strings.HasPrefix(got, "active") {
			t.Errorf("after a search the status filter is %q, want active kept", got)
		}
		p.Screenshot("alerts-filtered")
		if errs := p.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("console errors: %v", errs)
		}
	})
}

// A cluster that is down shows an error the user can read, not a blank page.
func TestBrowserClusterDown(t *testing.T) {
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := DefaultConfig()
	srv, err := New(cfg, esClient(t, "http://"+addr), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	p := browser.New(t)
	p.Go(ts.URL + "/#/overview")
	p.WaitVisible("#error")
	if got := p.Text("#error"); !strings.Contains(got, "502") || !strings.Contains(got, addr) {
		t.Errorf("error banner %q: want the status and the cluster's address", got)
	}
	if got := p.Text("#total-flows"); got != "—" {
		t.Errorf("flows %q with the cluster down: want a dash, not a number", got)
	}
	p.Screenshot("cluster-down")
}

// waitText waits until the element's text is want, and says what it was when it never became so.
func waitText(p *browser.Page, sel, want string) {
	p.WaitJS(fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "") === %q`, sel, want))
}

// num and pct format as the page does (en-US grouping; one decimal of a percent).
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, parts...), ",")
}

func pct(x float64) string { return strconv.FormatFloat(x*100, 'f', 1, 64) + "%" }

// The load-balancers page in a real browser over the load-balancer fixture, on both engines: the counts by status
// class, the chart's layers, the percentiles, the top lists (markup in a path or an agent shown as text, a client
// linked to its IP page), the kind filter and the query bar under it.
func TestBrowserLoadBalancers(t *testing.T) {
	forEach(t, func(t *testing.T, c *cluster) {
		docs := loadLB(t, c)
		p, base := consoleOf(t, c)
		scope := url.Values{"from": {corpusFrom.Format(time.RFC3339)}, "to": {corpusTo.Format(time.RFC3339)}}
		want := bruteLB(docs, "", "", corpusFrom, corpusTo)
		cn := want.Panels.Counts.Data

		p.Go(base + "/#/lb?" + scope.Encode())
		waitText(p, "#lb-total", num(cn.Matching))
		for sel, n := range map[string]int64{"#lb-class-2xx": cn.ByClass.S2xx, "#lb-class-3xx": cn.ByClass.S3xx, "#lb-class-4xx": cn.ByClass.S4xx,
			"#lb-class-5xx": cn.ByClass.S5xx, "#lb-class-other": cn.ByClass.Other,
			`#dataset-filter button[data-dataset="alb"] b`: cn.ByDataset[0].Count, `#lb-filter button[data-lb="my-loadbalancer"] b`: countOf(cn.ByLB, "my-loadbalancer")} {
			if got := p.Text(sel); got != num(n) {
				t.Errorf("%s: %q, want %q", sel, got, num(n))
			}
		}
		// The chart: a bar per bucket, its layers the classes.
		var bars int
		p.Eval(`document.querySelectorAll("#lb-timeline svg g").length`, &bars)
		if bars != len(want.Panels.Timeline.Data.Points) {
			t.Errorf("%d bars in the chart, want %d", bars, len(want.Panels.Timeline.Data.Points))
		}
		for key, n := range map[string]int64{"2xx": cn.ByClass.S2xx, "5xx": cn.ByClass.S5xx, "other": cn.ByClass.Other} {
			var sum int64
			p.Eval(fmt.Sprintf(`[...document.querySelectorAll("#lb-timeline rect.layer-%s")].reduce((n, r) => n + Number(r.dataset.v), 0)`, key), &sum)
			if sum != n {
				t.Errorf("the chart's %s layers sum to %d, want %d", key, sum, n)
			}
		}
		for i, text := range []string{"48.0 ms", "310 ms", "1234 ms"} {
			pc := want.Panels.Latency.Data.Percentiles[i]
			sel := fmt.Sprintf("#lb-p%v", pc.P)
			if got, ns := p.Text(sel), p.Attr(sel, "data-ns"); got != text || ns != strconv.FormatFloat(*pc.NS, 'f', -1, 64) {
				t.Errorf("%s: %q (%s ns), want %q (%.0f ns)", sel, got, ns, text, *pc.NS)
			}
		}
		for list, id := range map[string]string{"not_found": "#lb-not-found", "server_errors": "#lb-server-errors", "clients": "#lb-clients",
			"paths": "#lb-paths", "user_agents": "#lb-user-agents", "tls_versions": "#lb-tls-versions"} {
			var keys []string
			for _, r := range want.Panels.Top.Data[list] {
				keys = append(keys, r.Key)
			}
			if got := p.Texts(id + " td.key"); strings.Join(got, "\n") != strings.Join(keys, "\n") {
				t.Errorf("%s: %q, want %q", id, got, keys)
			}
		}
		var markup int
		p.Eval(`document.querySelectorAll("#page td.key *:not(a.ip)").length`, &markup)
		if page := p.Text("#page"); markup != 0 || !strings.Contains(page, markupPath) || !strings.Contains(page, markupAgent) {
			t.Errorf("%d elements inside the lists' keys; want none, and %q and %q as text", markup, markupPath, markupAgent)
		}
		top := want.Panels.Top.Data["clients"][0].Key
		if href := p.Attr("#lb-clients a.ip", "href"); href != "#/ip/"+top {
			t.Errorf("the top client links to %q, want its IP page", href)
		}
		p.Screenshot("lb")

		// The kind filter, then a query typed into the bar: the filter stays.
		alb := bruteLB(docs, "", "alb", corpusFrom, corpusTo).Panels.Counts.Data
		p.Click(`#dataset-filter button[data-dataset="alb"]`)
		waitText(p, "#lb-total", num(alb.Matching))
		p.SetValue("#q", "http.response.status_code >= 500")
		p.Press("#q", "Enter")
		waitText(p, "#lb-total", num(alb.ByClass.S5xx))
		if got := p.Text("#dataset-filter button.on"); !strings.HasPrefix(got, "alb") {
			t.Errorf("after a search the kind filter is %q, want alb kept", got)
		}
		if got := p.Text("#lb-class-2xx"); got != "0" {
			t.Errorf("2xx under a query for 5xx: %q", got)
		}
		p.Screenshot("lb-alb-5xx")

		// NLBs: no HTTP status, no target time, TLS versions only.
		p.SetValue("#q", "")
		p.Press("#q", "Enter")
		p.Click(`#dataset-filter button[data-dataset="nlb"]`)
		nlbCounts := bruteLB(docs, "", "nlb", corpusFrom, corpusTo).Panels.Counts.Data
		waitText(p, "#lb-total", num(nlbCounts.Matching))
		if got := p.Text("#lb-p50"); got != "—" {
			t.Errorf("NLB p50 %q, want a dash", got)
		}
		p.WaitVisible("#lb-paths-empty")

		// A client opens its IP page.
		p.Go(base + "/#/lb?" + scope.Encode())
		p.WaitVisible("#lb-clients a.ip")
		p.Click("#lb-clients a.ip")
		waitText(p, "#ip-title", top)
		if errs := p.ConsoleErrors(); len(errs) > 0 {
			t.Errorf("console errors: %v", errs)
		}
	})
}

func countOf(cs []Count, key string) int64 {
	for _, c := range cs {
		if c.Key == key {
			return c.Count
		}
	}
	return -1
}

// consoleOf serves the console on c's indices and opens a page of a real browser (30 s per wait); both end with t.
// It returns the page and the console's address.
func consoleOf(t *testing.T, c *cluster) (*browser.Page, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Prefix = c.prefix
	srv, err := New(cfg, c.client, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	p := browser.New(t)
	p.SetTimeout(30 * time.Second)
	return p, ts.URL
}
