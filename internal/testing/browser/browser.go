// Package browser drives a real, headless Chromium from Go tests: a page is opened, read, clicked and typed into as
// a person would, and screenshots are written as test artifacts. It is a test helper: every method fails the test
// instead of returning an error, and nothing here is linked into a production binary. Chromium is Debian's
// package, which scripts/services.sh installs (service "browser"); internal/testing/testenv decides whether a
// missing one skips or fails the test.
//
// Pages that draw after they load (a query, then a chart) are waited for, never slept on: WaitVisible for an
// element that has content, WaitJS for any other condition. Every wait and read asks the page again until it
// answers or the timeout passes, across navigations too.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// DefaultTimeout bounds each action of a Page (see SetTimeout): long enough for a page that queries a cluster on
// two busy cores, short enough that a selector that never matches fails the test in seconds, not at go test's
// 10-minute deadline.
const DefaultTimeout = 15 * time.Second

// The window a page is laid out in: a laptop screen, the one the console must be readable on. Screenshots take
// the full height of the page whatever this is.
const (
	windowWidth  = 1440
	windowHeight = 900
)

// A Page is one tab of a headless Chromium that New started, bound to the test that its failures are reported to.
// It is not for concurrent use.
type Page struct {
	*tab
	tb       testing.TB
	timeout  time.Duration
	dir      string // artifacts folder, made on the first screenshot
	failures int    // screenshots taken on failure, to number them
}

// tab is what the Pages of one browser share (see For).
type tab struct {
	ctx context.Context // the tab's chromedp context; ends at the cleanup of New's test

	mu   sync.Mutex // guards errs, which the console's goroutine appends to
	errs []string   // console.error calls, uncaught exceptions and the browser's own error entries
}

// New starts a headless Chromium for the test (closed at cleanup). It finds chromium on PATH; as root it passes
// --no-sandbox. When chromium is missing: under -short the test is skipped; otherwise it fails when CI is set or
// KINFLOW_REQUIRE_SERVICES names "browser" or "all" (an integration test whose service is missing fails in CI,
// never skips), and skips with the install command otherwise (testenv.Chromium decides, as for the servers).
//
// One browser per test, not one per test binary: a test then cannot see another's cookies, storage or open
// requests, and nothing outlives the test. Starting one costs about half a second.
func New(tb testing.TB) *Page {
	tb.Helper()
	exe := testenv.Chromium(tb)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(windowWidth, windowHeight),
		// No GPU on these machines; software rendering is what draws the pages and the screenshots.
		chromedp.DisableGPU,
		// Only the package registries are reachable here: without these Chromium tries Google's hosts at start
		// and in the background, and each refused connection is noise (and time) in a test.
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-pings", true),
		// A fixed scale, so that screenshots of the same page have the same size on every machine.
		chromedp.Flag("force-device-scale-factor", "1"),
		chromedp.Flag("hide-scrollbars", true),
	)
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root (CI and these machines run as root); the pages it loads here
		// are the project's own, served on loopback.
		opts = append(opts, chromedp.NoSandbox)
	}
	// context.Background, not tb.Context: tb.Context ends before the cleanups run, which would kill the browser
	// before the cleanup below could close it and remove its profile folder.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	p := &Page{tab: &tab{ctx: ctx}, tb: tb, timeout: DefaultTimeout}
	tb.Cleanup(func() {
		// A graceful close first, so that Chromium flushes and exits and chromedp removes its temporary
		// profile; the cancels then end whatever is left, also when the close timed out.
		closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(closeCtx)
		cancelCtx()
		cancelAlloc()
	})

	// The first Run starts the browser and opens the tab. It runs without a deadline of its own, because
	// chromedp ties the browser's life to that call's context; the start has a bound of its own (the wait for
	// the browser's DevTools address).
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("browser: starting %s: %v", exe, err)
	}
	tb.Logf("browser: %s started in %s", exe, time.Since(start).Round(time.Millisecond))

	// Subscribed before any page loads, so that no message of the first page is lost.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return // the tab is closing
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() || isFavicon(m) {
				continue
			}
			text := m.String()
			if m.URL != "" {
				// Lines count from 0 in the protocol, from 1 in an editor.
				text += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			p.mu.Lock()
			p.errs = append(p.errs, text)
			p.mu.Unlock()
		}
	}()
	return p
}

// isFavicon reports the 404 of /favicon.ico, which Chromium asks for by itself (no page asked for it): counted, it
// would make every page that has no icon look broken. An icon that a page links to under another name still counts.
func isFavicon(m chromedp.ConsoleMessage) bool {
	u, err := url.Parse(m.URL)
	return m.Source == "network" && err == nil && u.Path == "/favicon.ico"
}

// For returns a Page on the same tab that reports to tb: for subtests (t.Run) of the test that called New, which
// must fail themselves, not their parent, and write their artifacts in their own folder. It has p's timeout.
func (p *Page) For(tb testing.TB) *Page {
	return &Page{tab: p.tab, tb: tb, timeout: p.timeout}
}

// SetTimeout sets how long each later action may take before it fails the test (DefaultTimeout until then).
func (p *Page) SetTimeout(d time.Duration) {
	p.timeout = d
}

// Go navigates to url and waits for its load event: the document and what it loads (scripts, styles, images),
// not what its scripts fetch afterwards; wait for that with WaitVisible or WaitJS.
func (p *Page) Go(url string) {
	p.tb.Helper()
	p.do(fmt.Sprintf("Go(%q)", url), chromedp.Navigate(url))
}

// WaitVisible waits until the first element that the CSS selector matches is visible: it is in the document, takes
// room (its box is neither 0 wide nor 0 high, so an empty container is not visible yet) and is not hidden
// (display:none, visibility:hidden, or so within a hidden parent). It fails the test after the timeout, naming
// the selector. It keeps waiting across a navigation, so it can follow a click on a link.
func (p *Page) WaitVisible(selector string) {
	p.tb.Helper()
	until[struct{}](p, fmt.Sprintf("WaitVisible(%q)", selector), visibleJS, selector)
}

// visibleJS is the test of WaitVisible, written as until needs it.
const visibleJS = `s => {
	const e = document.querySelector(s);
	if (!e) return {ok: false};
	const r = e.getBoundingClientRect();
	return {ok: r.width > 0 && r.height > 0 && e.checkVisibility({visibilityProperty: true})};
}`

// WaitJS waits until the JavaScript expression is truthy: for what a selector cannot tell, such as "the chart has
// drawn 24 bars" (`document.querySelectorAll('#flows rect').length === 24`) or "the status no longer says
// loading". The expression must not throw (write `window.chart?.ready`, not `window.chart.ready`): an exception
// fails the test at once, as a mistake in the test. It keeps waiting across a navigation.
func (p *Page) WaitJS(expr string) {
	p.tb.Helper()
	until[struct{}](p, fmt.Sprintf("WaitJS(%q)", expr), fmt.Sprintf("() => ({ok: !!(%s)})", expr))
}

// Text returns the innerText of the first element that the CSS selector matches, waiting until there is one.
func (p *Page) Text(selector string) string {
	p.tb.Helper()
	return until[string](p, fmt.Sprintf("Text(%q)", selector), `s => {
		const e = document.querySelector(s);
		return e ? {ok: true, v: e.innerText} : {ok: false};
	}`, selector)
}

// Texts returns the innerText of every element that the CSS selector matches, in document order. It does not
// wait: none is an empty slice, so that a test can check that a table is empty. Wait for the elements first
// (WaitVisible, WaitJS) when they arrive later than the page.
func (p *Page) Texts(selector string) []string {
	p.tb.Helper()
	return evalFunc[[]string](p, fmt.Sprintf("Texts(%q)", selector),
		`s => Array.from(document.querySelectorAll(s), e => e.innerText)`, selector)
}

// Attr returns the attribute name of the first element that the CSS selector matches, waiting until there is
// one; "" when the element has no such attribute. It reads the attribute as it is now, in SVG too.
func (p *Page) Attr(selector, name string) string {
	p.tb.Helper()
	return until[string](p, fmt.Sprintf("Attr(%q, %q)", selector, name), `(s, n) => {
		const e = document.querySelector(s);
		return e ? {ok: true, v: e.getAttribute(n) ?? ""} : {ok: false};
	}`, selector, name)
}

// Click clicks the first element that the CSS selector matches, as a person would: it waits until the element is
// visible (as WaitVisible), scrolls it into view and clicks it (the element's click: its handlers run and a link is
// followed). A click that navigates does not wait for the new page: follow it with WaitVisible.
//
// The element is found and clicked in one step, in the page: a page that redraws between finding an element and
// clicking it (a list re-rendered by a load) would otherwise hand over a node that no longer exists.
func (p *Page) Click(selector string) {
	p.tb.Helper()
	what := fmt.Sprintf("Click(%q)", selector)
	until[struct{}](p, what, clickJS, selector)
}

// clickJS clicks the first element the selector matches once it is visible, as a person's click would: scrolled
// into view, then the element's click (which follows links and fires the handlers).
const clickJS = `s => {
	const e = document.querySelector(s);
	if (!e) return {ok: false};
	const r = e.getBoundingClientRect();
	if (!(r.width > 0 && r.height > 0 && e.checkVisibility({visibilityProperty: true}))) return {ok: false};
	e.scrollIntoView({block: "center"});
	// SVG elements have no click(): the event it would dispatch, then.
	if (typeof e.click === "function") e.click();
	else e.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, view: window}));
	return {ok: true};
}`

// SetValue sets the value of the first input, textarea or select that the CSS selector matches, waiting until
// there is one, and fires the input and change events that a person's typing would, so the page's handlers run.
// An element that does not take the value (a select without that option, a number input given text) fails the
// test.
func (p *Page) SetValue(selector, value string) {
	p.tb.Helper()
	what := fmt.Sprintf("SetValue(%q, %q)", selector, value)
	if got := until[string](p, what, `(s, v) => {
		const e = document.querySelector(s);
		if (!e) return {ok: false};
		e.focus();
		e.value = v;
		e.dispatchEvent(new Event("input", {bubbles: true}));
		e.dispatchEvent(new Event("change", {bubbles: true}));
		return {ok: true, v: String(e.value)};
	}`, selector, value); got != value {
		p.tb.Fatalf("browser: %s: the element's value is %q", what, got)
	}
}

// keys are the names Press takes, as KeyboardEvent.key spells them; any single character is taken too.
var keys = map[string]string{
	"Enter": kb.Enter, "Escape": kb.Escape, "Tab": kb.Tab, "Backspace": kb.Backspace, "Delete": kb.Delete,
	"ArrowUp": kb.ArrowUp, "ArrowDown": kb.ArrowDown, "ArrowLeft": kb.ArrowLeft, "ArrowRight": kb.ArrowRight,
	"Home": kb.Home, "End": kb.End, "PageUp": kb.PageUp, "PageDown": kb.PageDown,
}

// Press focuses the first element that the CSS selector matches, once it is visible, and presses key there:
// "Enter", "Escape", "Tab", "ArrowDown" and the like (KeyboardEvent.key names), or a single character. The page
// gets keydown, keypress (for a character or Enter) and keyup, as from a keyboard; Enter in a form's input submits
// the form.
func (p *Page) Press(selector, key string) {
	p.tb.Helper()
	what := fmt.Sprintf("Press(%q, %q)", selector, key)
	k, ok := keys[key]
	if !ok && len([]rune(key)) == 1 {
		k, ok = key, true
	}
	if !ok {
		names := make([]string, 0, len(keys))
		for n := range keys {
			names = append(names, n)
		}
		slices.Sort(names)
		p.tb.Fatalf("browser: %s: unknown key; use a single character or one of %s", what, strings.Join(names, ", "))
	}
	until[struct{}](p, what, visibleJS, selector)
	p.do(what, chromedp.SendKeys(chromedp.CSS(selector), k))
}

// Eval evaluates the JavaScript expression in the page and decodes its value, as JSON, into out (a pointer; nil
// to ignore the value). A promise is awaited. An exception fails the test with its message.
func (p *Page) Eval(js string, out any) {
	p.tb.Helper()
	what := fmt.Sprintf("Eval(%q)", js)
	raw := run(p, what, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if out == nil {
		return
	}
	if len(raw) == 0 {
		raw = []byte("null") // undefined
	}
	if err := json.Unmarshal(raw, out); err != nil {
		p.tb.Fatalf("browser: %s: decoding %s into %T: %v", what, raw, out, err)
	}
}

// Screenshot writes a PNG of the whole page (its full height, not only the window) to the test's artifacts
// folder (testenv.Artifacts: $KINFLOW_ARTIFACTS/<test> or .cache/artifacts/<test>) as name.png, and returns its
// path. The same name again overwrites.
func (p *Page) Screenshot(name string) string {
	p.tb.Helper()
	what := fmt.Sprintf("Screenshot(%q)", name)
	png := run(p, what, chromedp.FullScreenshot(100)) // 100: PNG; anything less is JPEG
	path, err := p.write(name, png)
	if err != nil {
		p.tb.Fatalf("browser: %s: %v", what, err)
	}
	return path
}

// ConsoleErrors returns what the pages wrote as errors so far, oldest first: console.error calls, uncaught
// exceptions and unhandled rejections, and the browser's own error entries (a resource that answered 404 or 500,
// a refused script). Each is "type: text (url:line)".
func (p *Page) ConsoleErrors() []string {
	// A message is delivered a moment after the page wrote it; a round trip to the tab lets the ones written
	// before this call arrive.
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`0`))
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// do runs actions that return nothing under the page's timeout; a failure fails the test.
func (p *Page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(ctx, what, err)
	}
}

// run runs an action that returns a value under the page's timeout; a failure fails the test.
func run[T any](p *Page, what string, action chromedp.Action[T]) T {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		p.fail(ctx, what, err)
	}
	return v
}

// evalFunc calls the JavaScript function fn with args once and returns its value.
func evalFunc[T any](p *Page, what, fn string, args ...any) T {
	p.tb.Helper()
	return run(p, what, chromedp.Evaluate[T](call(p, what, fn, args)))
}

// call is the expression that calls fn with args, passed as JSON, so that the quotes of a selector or a value
// cannot break the script.
func call(p *Page, what, fn string, args []any) string {
	p.tb.Helper()
	if args == nil {
		args = []any{} // [], not null: a spread of null throws
	}
	b, err := json.Marshal(args)
	if err != nil {
		p.tb.Fatalf("browser: %s: %v", what, err)
	}
	return fmt.Sprintf("(%s)(...%s)", fn, b)
}

// pollEvery is how often until asks the page again: quick enough that a test does not sleep, slow enough to
// leave the page's scripts the CPU.
const pollEvery = 50 * time.Millisecond

// found is what the functions that until calls return: ok, and the value once found.
type found[T any] struct {
	OK bool `json:"ok"`
	V  T    `json:"v"`
}

// until calls the JavaScript function fn with args until it returns {ok: true, v: ...}, and returns v; it fails
// the test at the timeout. Each try is a new evaluation in the document of the moment, so a wait goes on across
// a navigation, where a wait inside the page (a requestAnimationFrame loop, chromedp's Poll) ends with the old
// document. An exception is the test's mistake (a selector that is no CSS, an expression that throws) and fails
// at once.
func until[T any](p *Page, what, fn string, args ...any) T {
	p.tb.Helper()
	expr := call(p, what, fn, args)
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	var last error // why the latest try had no answer, when it was not a plain "not yet"
	for {
		r, err := chromedp.Run(ctx, chromedp.Evaluate[found[T]](expr))
		var exc *chromedp.ExceptionError
		switch {
		case err == nil && r.OK:
			return r.V
		case errors.As(err, &exc):
			p.fail(ctx, what, err)
		case err != nil && ctx.Err() == nil:
			last = err // no document to ask, in the middle of a navigation: ask again
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			p.fail(ctx, what, last)
			return r.V // not reached: fail ends the test's goroutine
		case <-time.After(pollEvery):
		}
	}
}

// fail fails the test for an action that went wrong, with what the page looked like then: a screenshot, and
// the console errors, which often say why (a script that threw, a request that failed).
func (p *Page) fail(ctx context.Context, what string, err error) {
	p.tb.Helper()
	if ctx.Err() != nil {
		why := "" // the deadline's own error says nothing more
		if !errors.Is(err, ctx.Err()) {
			why = ": " + err.Error() // the latest try's, as why it did not succeed
		}
		err = fmt.Errorf("not done after %s (the timeout; Page.SetTimeout changes it)%s", p.timeout, why)
	} else if p.ctx.Err() != nil {
		err = fmt.Errorf("the browser is closed: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "browser: %s: %v", what, err)
	if p.ctx.Err() == nil {
		// A fresh deadline: the action's own has often run out.
		shotCtx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		png, shotErr := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
		cancel()
		if shotErr == nil {
			p.failures++
			if path, err := p.write(fmt.Sprintf("failure-%d", p.failures), png); err == nil {
				fmt.Fprintf(&b, "\n  the page then: %s", path)
			}
		}
	}
	p.mu.Lock()
	errs := append([]string(nil), p.errs...)
	p.mu.Unlock()
	if len(errs) > 0 {
		fmt.Fprintf(&b, "\n  console errors so far:\n    %s", strings.Join(errs, "\n    "))
	}
	p.tb.Fatal(b.String())
}

// write stores a screenshot as name.png in the test's artifacts folder, made on the first call.
func (p *Page) write(name string, png []byte) (string, error) {
	p.tb.Helper()
	if p.dir == "" {
		p.dir = testenv.Artifacts(p.tb)
	}
	name = strings.TrimSuffix(strings.ReplaceAll(name, string(filepath.Separator), "_"), ".png") + ".png"
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", err
	}
	return path, nil
}
