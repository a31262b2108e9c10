package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeCluster answers every search with an empty result and counts what reached it.
type fakeCluster struct{ calls int }

func (f *fakeCluster) Do(_ context.Context, method, path string, _ []byte, _ int64) (int, []byte, error) {
	f.calls++
	return 200, []byte(`{"hits":{"total":{"value":0},"hits":[]},"aggregations":{}}`), nil
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	f := &fakeCluster{}
	ro := ReadOnly(f)
	for _, c := range []struct {
		method, path string
		ok           bool
	}{
		{"POST", "/kinflow-flows-*/_search?ignore_unavailable=true", true},
		{"GET", "/kinflow-flows-*/_count", true},
		{"POST", "/_mget", true},
		{"GET", "/kinflow-flows-*/_field_caps?fields=*", true},
		{"DELETE", "/kinflow-flows-*", false},
		{"PUT", "/kinflow-flows-x/_doc/1", false},
		{"POST", "/_bulk", false},
		{"POST", "/kinflow-flows-*/_delete_by_query", false},
		{"POST", "/kinflow-flows-*/_update_by_query?q=_search", false},
		{"DELETE", "/_search/scroll", false},
		{"POST", "/kinflow-*/_refresh", false},
	} {
		_, _, err := ro.Do(t.Context(), c.method, c.path, nil, 1)
		if (err == nil) != c.ok || (!c.ok && !errors.Is(err, ErrNotRead)) {
			t.Errorf("%s %s: %v, want allowed=%v", c.method, c.path, err, c.ok)
		}
	}
	if f.calls != 4 {
		t.Errorf("%d requests reached the cluster, want the 4 reads", f.calls)
	}
}

func newTestServer(t *testing.T, token string) http.Handler {
	cfg := DefaultConfig()
	cfg.Token = token
	s, err := New(cfg, &fakeCluster{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

func do(h http.Handler, method, target string, mod func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.Host = "127.0.0.1:8080"
	if mod != nil {
		mod(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTokenGuard(t *testing.T) {
	h := newTestServer(t, "s3cret")
	if w := do(h, "GET", "/api/meta", nil); w.Code != 401 || !strings.Contains(w.Body.String(), "token is required") {
		t.Errorf("no token: %d %s", w.Code, w.Body)
	}
	if w := do(h, "GET", "/api/meta", func(r *http.Request) { r.Header.Set("Authorization", "Bearer wrong") }); w.Code != 401 {
		t.Errorf("wrong bearer: %d", w.Code)
	}
	if w := do(h, "GET", "/api/meta", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }); w.Code != 200 {
		t.Errorf("bearer: %d %s", w.Code, w.Body)
	}
	if w := do(h, "GET", "/?token=wrong", nil); w.Code != 401 {
		t.Errorf("wrong ?token: %d", w.Code)
	}
	w := do(h, "GET", "/?token=s3cret", nil)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cookies) != 1 || strings.Contains(w.Header().Get("Location"), "s3cret") {
		t.Fatalf("?token: %d, location %q, cookies %v; want a redirect without the token and a cookie", w.Code, w.Header().Get("Location"), cookies)
	}
	if c := cookies[0]; !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || strings.Contains(c.Value, "s3cret") {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict and not the token itself", c)
	}
	if w := do(h, "GET", "/api/meta", func(r *http.Request) { r.AddCookie(cookies[0]) }); w.Code != 200 {
		t.Errorf("with the cookie: %d", w.Code)
	}
}

// Without a token the console is for this machine only: a rebound DNS name (Host: attacker.example) is refused.
func TestLoopbackOnlyWithoutToken(t *testing.T) {
	h := newTestServer(t, "")
	if w := do(h, "GET", "/api/meta", nil); w.Code != 200 {
		t.Errorf("loopback host: %d", w.Code)
	}
	for _, host := range []string{"localhost:8080", "[::1]:8080"} {
		if w := do(h, "GET", "/api/meta", func(r *http.Request) { r.Host = host }); w.Code != 200 {
			t.Errorf("%s: %d", host, w.Code)
		}
	}
	if w := do(h, "GET", "/api/meta", func(r *http.Request) { r.Host = "attacker.example:8080" }); w.Code != 403 {
		t.Errorf("foreign host: %d, want 403", w.Code)
	}
	if w := do(h, "GET", "/index.html", nil); w.Header().Get("Content-Security-Policy") == "" || w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers missing: %v", w.Header())
	}
}

func TestServeRefusesOpenAddressWithoutToken(t *testing.T) {
	cfg := DefaultConfig()
	s, _ := New(cfg, &fakeCluster{}, nil, nil)
	ln, err := netListenAll()
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	if err := s.Serve(t.Context(), ln); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("Serve on %s without a token: %v", ln.Addr(), err)
	}
}

// Bad input is a 400 with a message the page shows; a query's syntax error says where.
func TestBadRequests(t *testing.T) {
	h := newTestServer(t, "")
	for target, want := range map[string]string{
		"/api/overview?q=source.ip:":                                      `"offset"`,
		"/api/overview?q=no.such.field:1":                                 "no.such.field",
		"/api/overview?range=3y":                                          "range",
		"/api/overview?from=yesterday":                                    "from",
		"/api/flows?size=0":                                               "size",
		"/api/overview?panels=totals,nope":                                "no panel",
		"/api/ip?ip=not-an-ip":                                            "not an IP",
		"/api/flows?after=%5B1%5D":                                        "cursor",
		"/api/overview?from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z": "after from",
		"/api/alerts?rule=port_scan":                                      "horizontal_scan",
		"/api/alerts?status=open":                                         "withdrawn",
		"/api/alerts?q=source.ip:":                                        `"offset"`,
		"/api/alerts?q=no.such.field:1":                                   "no.such.field",
		"/api/alert":                                                      "id",
		"/api/lb?dataset=alb2":                                            "alb, nlb or elb",
		"/api/lb?q=url.path:":                                             `"offset"`,
		"/api/lb?q=no.such.field:1":                                       "no.such.field",
		"/api/lb?range=2d":                                                "range",
		"/api/lb?lb=" + strings.Repeat("a", 1025):                         "lb",
		"/api/lb?lb=%ff":                                                  "UTF-8",
	} {
		w := do(h, "GET", target, nil)
		if w.Code != 400 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %s; want 400 mentioning %q", target, w.Code, w.Body, want)
		}
	}
	if w := do(h, "GET", "/api/nope", nil); w.Code != 404 {
		t.Errorf("unknown API: %d", w.Code)
	}
}
