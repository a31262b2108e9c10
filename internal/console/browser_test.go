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
		cfg := DefaultConfig()
		cfg.Prefix = c.prefix
		srv, err := New(cfg, c.client, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		defer ts.Close()
		p := browser.New(t)
		p.SetTimeout(30 * time.Second)

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
		p.Go(ts.URL + "/#/overview?" + scope.Encode())
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
			p.Go(ts.URL + "/#/" + page.hash + "?" + scope.Encode())
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
		cfg := DefaultConfig()
		cfg.Prefix = c.prefix
		srv, err := New(cfg, c.client, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		defer ts.Close()
		p := browser.New(t)
		p.SetTimeout(30 * time.Second)
		scope := url.Values{"from": {corpusFrom.Format(time.RFC3339)}, "to": {corpusTo.Format(time.RFC3339)}}
		rowsAre := func(n int) {
			t.Helper()
			p.WaitJS(fmt.Sprintf(`document.querySelectorAll("#alert-table .alert-row").length === %d`, n))
		}

		p.Go(ts.URL + "/#/alerts?" + scope.Encode())
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
		p.Go(ts.URL + "/#/alerts?" + with(url.Values{"alert": {fx["D"].episode.ID}}, "from", corpusFrom.Format(time.RFC3339)).Encode() + "&to=" + url.QueryEscape(corpusTo.Format(time.RFC3339)))
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
