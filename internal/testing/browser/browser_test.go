package browser

import (
	"bytes"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// page is what the harness is tried on: the kinds of element the console's pages are made of (a heading, a list,
// a button whose script fetches and rewrites, a query input submitted with Enter, an SVG chart), one that appears
// late, one that is hidden, and a link to a second page.
const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title>
<style>body { font-family: sans-serif } .bar { fill: steelblue }</style></head>
<body>
<h1 id="title">Top <em>source</em> IPs</h1>
<ul id="ips"><li>10.0.0.1</li><li>10.0.0.2</li><li>192.168.1.9</li></ul>
<button id="run" onclick="fetch('/api/count').then(r => r.text()).then(t => {
  document.getElementById('status').textContent = 'flows: ' + t })">Run</button>
<p id="status">idle</p>
<form id="search" onsubmit="event.preventDefault();
  document.getElementById('query').textContent = 'query: ' + document.getElementById('q').value">
  <input id="q" name="q" oninput="document.getElementById('typed').textContent = this.value">
</form>
<p id="query"></p><p id="typed"></p><p id="changed"></p>
<select id="range" onchange="document.getElementById('changed').textContent = 'range ' + this.value">
  <option value="15m">15 min</option><option value="1h">1 h</option></select>
<svg id="chart" width="300" height="100" role="img" aria-label="flows per minute">
  <rect class="bar" x="0" y="60" width="40" height="40" data-value="4"/>
  <rect class="bar" x="50" y="20" width="40" height="80" data-value="8"
    onclick="document.getElementById('status').textContent = 'bar ' + this.dataset.value"/>
</svg>
<div id="hidden" style="display:none">not shown</div>
<div id="later"></div>
<a id="next" href="/second">second page</a>
<script>
  // Drawn after the load event, as the console's panels are once their query answers.
  setTimeout(() => {
    document.getElementById('later').textContent = 'loaded later';
    const svg = document.getElementById('chart');
    const bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    bar.setAttribute('class', 'bar'); bar.setAttribute('x', '100'); bar.setAttribute('y', '0');
    bar.setAttribute('width', '40'); bar.setAttribute('height', '100'); bar.setAttribute('data-value', '10');
    svg.appendChild(bar);
  }, 300);
  document.getElementById('q').addEventListener('keydown', e => { window.lastKey = e.key });
</script>
</body></html>`

// errorsPage writes to the console in each way ConsoleErrors reports, and once in a way it does not (a log).
const errorsPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>errors</title></head><body>
<p id="p">errors</p>
<img src="/missing.png" alt="">
<div id="hidden" style="display:none">hidden</div><div id="empty"></div>
<div style="visibility:hidden"><span id="invisible">invisible</span></div>
<select id="range"><option value="15m">15 min</option></select>
<script>
  console.log("only a log");
  console.error("bad thing", 42);
  Promise.reject(new Error("rejected promise"));
  setTimeout(() => { window.thrown = true; throw new Error("boom"); }, 0);
</script>
</body></html>`

// tallPage is taller than the window, so that a full-page screenshot shows it is not the window's height.
const tallPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>tall</title></head>
<body style="margin:0"><h1 id="top">top</h1><div style="height:2500px;background:linear-gradient(#fff,#369)"></div>
<p id="bottom">bottom</p></body></html>`

func serve(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	html := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("GET /{$}", html(page))
	mux.HandleFunc("GET /errors", html(errorsPage))
	mux.HandleFunc("GET /tall", html(tallPage))
	mux.HandleFunc("GET /second", html(`<!doctype html><title>second</title><h1 id="second">the second page</h1>`))
	mux.HandleFunc("GET /api/count", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(100 * time.Millisecond) // an answer that arrives after the click returned
		fmt.Fprint(w, "1234")
	})
	srv := httptest.NewServer(mux) // 404 for the rest, /favicon.ico and /missing.png among them
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestPage: each reading and acting method on a page whose scripts answer.
func TestPage(t *testing.T) {
	p := New(t)
	base := serve(t)
	p.Go(base + "/")

	if got := p.Text("#title"); got != "Top source IPs" {
		t.Errorf("Text(#title) = %q", got)
	}
	if got, want := p.Texts("#ips li"), []string{"10.0.0.1", "10.0.0.2", "192.168.1.9"}; !slices.Equal(got, want) {
		t.Errorf("Texts(#ips li) = %q, want %q", got, want)
	}
	if got := p.Texts("table tr"); got == nil || len(got) != 0 {
		t.Errorf("Texts of no match = %#v, want an empty slice", got)
	}
	if got := p.Attr("#chart", "aria-label"); got != "flows per minute" {
		t.Errorf("Attr(#chart, aria-label) = %q", got)
	}
	if got := p.Attr("#chart", "data-missing"); got != "" {
		t.Errorf("Attr of a missing attribute = %q, want empty", got)
	}

	// What the page's script draws after the load event.
	p.WaitVisible("#later")
	if got := p.Text("#later"); got != "loaded later" {
		t.Errorf("Text(#later) = %q", got)
	}
	p.WaitJS(`document.querySelectorAll('#chart .bar').length === 3`)
	if got, want := attrs(p, "#chart .bar", "data-value"), []string{"4", "8", "10"}; !slices.Equal(got, want) {
		t.Errorf("bar values = %q, want %q", got, want)
	}
	if got := p.Attr("#chart .bar:last-child", "height"); got != "100" {
		t.Errorf("Attr of the drawn bar = %q", got)
	}

	// A click whose script fetches: the text changes after the click returned.
	p.Click("#run")
	p.WaitJS(`document.getElementById('status').textContent !== 'idle'`)
	if got := p.Text("#status"); got != "flows: 1234" {
		t.Errorf("after Click: Text(#status) = %q", got)
	}

	// A click on a chart's bar, as on an IP in a chart of the console.
	p.Click(`#chart .bar[data-value="8"]`)
	if got := p.Text("#status"); got != "bar 8" {
		t.Errorf("after clicking the bar: Text(#status) = %q", got)
	}

	// SetValue fires input (and change), Press("Enter") submits the form.
	p.SetValue("#q", `source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:*`)
	if got := p.Text("#typed"); got != `source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:*` {
		t.Errorf("the input event did not reach the page: #typed = %q", got)
	}
	p.Press("#q", "Enter")
	p.WaitVisible("#query")
	if got := p.Text("#query"); got != `query: source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:*` {
		t.Errorf("after Press(Enter): #query = %q", got)
	}
	var key string
	p.Eval(`window.lastKey`, &key)
	if key != "Enter" {
		t.Errorf("the page saw key %q, want Enter", key)
	}
	p.SetValue("#range", "1h")
	if got := p.Text("#changed"); got != "range 1h" {
		t.Errorf("the change event did not reach the page: #changed = %q", got)
	}

	// Eval: values of each JSON kind, a promise, and nil to ignore the value.
	var n int
	p.Eval(`document.querySelectorAll('#ips li').length`, &n)
	var obj struct {
		Title string   `json:"title"`
		IPs   []string `json:"ips"`
	}
	p.Eval(`({title: document.title, ips: Array.from(document.querySelectorAll('#ips li'), e => e.textContent)})`, &obj)
	var fetched string
	p.Eval(`fetch('/api/count').then(r => r.text())`, &fetched)
	var undef any = "set"
	p.Eval(`undefined`, &undef)
	p.Eval(`document.title = 'changed'`, nil)
	if n != 3 || obj.Title != "harness" || len(obj.IPs) != 3 || fetched != "1234" || undef != nil {
		t.Errorf("Eval: %d, %+v, %q, %v", n, obj, fetched, undef)
	}

	// A hidden element is in the document but not visible.
	var visible bool
	p.Eval(`document.getElementById('hidden').checkVisibility()`, &visible)
	if visible {
		t.Error("#hidden is visible")
	}

	// A link: the click returns at once, the next page is waited for.
	p.Click("#next")
	p.WaitVisible("#second")
	if got := p.Text("h1"); got != "the second page" {
		t.Errorf("after the link: Text(h1) = %q", got)
	}
	if errs := p.ConsoleErrors(); len(errs) != 0 {
		t.Errorf("ConsoleErrors on pages that wrote none: %q", errs)
	}
}

// attrs reads an attribute of every match, in document order, through Eval.
func attrs(p *Page, selector, name string) []string {
	var out []string
	p.Eval(fmt.Sprintf(`Array.from(document.querySelectorAll(%q), e => e.getAttribute(%q))`, selector, name), &out)
	return out
}

// TestScreenshot: a PNG of the whole page, wider than nothing and taller than the window, in the test's folder.
func TestScreenshot(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(testenv.ArtifactsEnv, dir)
	p := New(t)
	p.Go(serve(t) + "/tall")
	p.WaitVisible("#bottom")

	path := p.Screenshot("tall")
	if want := filepath.Join(dir, "TestScreenshot", "tall.png"); path != want {
		t.Errorf("Screenshot path = %s, want %s", path, want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s is no PNG: %v", path, err)
	}
	size := img.Bounds().Size()
	if size.X != windowWidth || size.Y < 2500 {
		t.Errorf("screenshot is %dx%d, want %d wide and the page's height (over 2500)", size.X, size.Y, windowWidth)
	}
	if len(b) < 5_000 || len(b) > 5_000_000 {
		t.Errorf("screenshot is %d bytes", len(b))
	}
	if again := p.Screenshot("tall.png"); again != path {
		t.Errorf("the same name gave %s, want %s", again, path)
	}
}

// TestConsoleErrors: console.error, an uncaught exception, an unhandled rejection and a resource that answered
// 404 are reported, a console.log is not.
func TestConsoleErrors(t *testing.T) {
	p := New(t)
	p.Go(serve(t) + "/errors")
	p.WaitJS(`window.thrown === true`)
	errs := p.ConsoleErrors()
	all := strings.Join(errs, "\n")
	for _, want := range []string{"error: bad thing 42", "boom", "rejected promise", "404"} {
		if !strings.Contains(all, want) {
			t.Errorf("ConsoleErrors has no %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "only a log") {
		t.Errorf("ConsoleErrors has a console.log:\n%s", all)
	}
	for _, e := range errs {
		t.Log(e)
	}
}

// closedURL is the address of a port that was just listened on and closed, so that nothing answers there.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return "http://" + l.Addr().String() + "/"
}

// TestFailures: each way an action fails names the action and its selector, says why, and leaves a screenshot;
// a fake TB takes the Fatal so that the test itself goes on.
func TestFailures(t *testing.T) {
	t.Setenv(testenv.ArtifactsEnv, t.TempDir())
	p := New(t)
	base := serve(t)
	p.Go(base + "/errors")
	p.WaitJS(`window.thrown === true`)
	p.SetTimeout(300 * time.Millisecond)
	closed := closedURL(t)

	for _, tt := range []struct {
		name   string
		action func(p *Page)
		want   []string
	}{
		{"WaitVisible times out", func(p *Page) { p.WaitVisible("#never") },
			[]string{`WaitVisible("#never")`, "not done after 300ms", "the page then: ", "console errors so far:", "boom"}},
		{"display:none is not visible", func(p *Page) { p.WaitVisible("#hidden") }, []string{`WaitVisible("#hidden")`, "not done after"}},
		{"empty is not visible", func(p *Page) { p.WaitVisible("#empty") }, []string{`WaitVisible("#empty")`, "not done after"}},
		{"visibility:hidden is not visible", func(p *Page) { p.WaitVisible("#invisible") }, []string{"not done after"}},
		{"a selector that is no CSS", func(p *Page) { p.Text("li[") }, []string{`Text("li[")`, "not a valid selector"}},
		{"Click on hidden", func(p *Page) { p.Click("#hidden") }, []string{`Click("#hidden")`, "not done after"}},
		{"Text of nothing", func(p *Page) { p.Text(".none") }, []string{`Text(".none")`, "not done after"}},
		{"Click on nothing", func(p *Page) { p.Click("#nope") }, []string{`Click("#nope")`, "not done after"}},
		{"WaitJS never true", func(p *Page) { p.WaitJS("false") }, []string{`WaitJS("false")`, "not done after"}},
		{"Eval throws", func(p *Page) { p.Eval(`(() => { throw new Error("nope") })()`, nil) },
			[]string{"Eval(", "nope"}},
		{"Eval into the wrong type", func(p *Page) { var n int; p.Eval(`"text"`, &n) },
			[]string{"Eval(", "decoding", "*int"}},
		{"SetValue of no option", func(p *Page) { p.SetValue("#range", "1y") }, []string{`SetValue("#range", "1y")`, `value is ""`}},
		{"Press an unknown key", func(p *Page) { p.Press("#p", "Hyperspace") },
			[]string{`Press("#p", "Hyperspace")`, "unknown key", "Enter"}},
		{"WaitJS throws", func(p *Page) { p.WaitJS("window.nothing.here") }, []string{`WaitJS("window.nothing.here")`, "TypeError"}},
		{"Go nowhere", func(p *Page) { p.Go(closed) }, []string{fmt.Sprintf("Go(%q)", closed), "ERR_CONNECTION_REFUSED"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg := fatal(t, p, tt.action)
			if msg == "" {
				t.Fatal("the action did not fail")
			}
			t.Log(msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the failure has no %q:\n%s", w, msg)
				}
			}
			if _, path, ok := strings.Cut(msg, "the page then: "); ok {
				path, _, _ = strings.Cut(path, "\n")
				if _, err := os.Stat(path); err != nil {
					t.Errorf("the failure's screenshot: %v", err)
				}
			}
		})
	}

	// The tab is still usable after the failures (the last left it on Chromium's error page).
	p.SetTimeout(DefaultTimeout)
	p.Go(base + "/errors")
	if got := p.Text("#p"); got != "errors" {
		t.Errorf("after the failures: Text(#p) = %q", got)
	}
}

// fatal runs action against p with a TB that records a Fatal instead of failing t, and returns the message ("" if
// none). Fatal stops the goroutine as testing's does, so action runs in one of its own.
func fatal(t *testing.T, p *Page, action func(p *Page)) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		action(p.For(rec))
	}()
	<-done
	return rec.msg
}

// fatalRecorder is a testing.TB whose Fatal records its message and ends the goroutine; the rest is t's.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *fatalRecorder) FailNow() {
	r.msg = "FailNow"
	runtime.Goexit()
}
