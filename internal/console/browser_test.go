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
		for _, page := range []struct{ hash, sel string }{{"conns", "#most-peers"}, {"flows", "#flow-table .flow-row"}, {"health", "#health-flows"}} {
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
