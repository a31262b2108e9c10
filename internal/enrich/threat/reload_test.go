package threat

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLoader is a LoadFunc whose answer the test sets, counting its calls.
type fakeLoader struct {
	mu      sync.Mutex
	data    string
	version string
	err     error
	calls   int
}

func (f *fakeLoader) set(data, version string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data, f.version, f.err = data, version, err
}

func (f *fakeLoader) load(context.Context) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, "", f.err
	}
	return []byte(f.data), f.version, nil
}

func newReloader(tb testing.TB, sources ...Source) *Reloader {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Sources = sources
	clock := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	r, err := NewReloader(cfg, Options{Now: func() time.Time { return clock }})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func reload(tb testing.TB, r *Reloader, wantSwapped bool) {
	tb.Helper()
	swapped, err := r.Reload(context.Background())
	if err != nil || swapped != wantSwapped {
		tb.Fatalf("Reload: swapped %v, %v; want swapped %v", swapped, err, wantSwapped)
	}
}

func matchValue(r *Reloader, ip string) string {
	ind, _ := r.Match(netip.MustParseAddr(ip))
	return ind.List + " " + ind.Value
}

func writeFile(tb testing.TB, path, data string, mtime time.Time) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	// Explicit times: two writes within the file system's time granularity must still read as a change.
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		tb.Fatal(err)
	}
}

func TestReloadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drop.txt")
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	writeFile(t, path, "10.0.0.0/8 ; SBL1\n", t0)
	r := newReloader(t, Source{Name: "drop", Path: path})
	if got := matchValue(r, "10.1.2.3"); got != " " {
		t.Fatalf("before the first reload: %q", got)
	}
	reload(t, r, true)
	first := r.Set()
	if got := matchValue(r, "10.1.2.3"); got != "drop 10.0.0.0/8" {
		t.Fatalf("after the first reload: %q", got)
	}
	st := first.Lists()[0]
	if st.Version != "18@"+itoa(t0.UnixNano()) || !st.LoadedAt.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("stats %+v", st)
	}

	reload(t, r, false) // unchanged: no new Set
	if r.Set() != first {
		t.Fatal("an unchanged file replaced the Set")
	}

	writeFile(t, path, "10.1.0.0/16 ; SBL2\n", t0.Add(time.Second))
	reload(t, r, true)
	if got := matchValue(r, "10.1.2.3"); got != "drop 10.1.0.0/16" {
		t.Fatalf("after the change: %q", got)
	}
	// A Set in use never changes: whoever still holds the old one sees the old list.
	if ind, _ := first.Match(netip.MustParseAddr("10.1.2.3")); ind.Value != "10.0.0.0/8" {
		t.Fatalf("the old Set changed: %q", ind.Value)
	}

	// Same size, new modification time: read again.
	writeFile(t, path, "10.2.0.0/16 ; SBL3\n", t0.Add(2*time.Second))
	reload(t, r, true)
	if got := matchValue(r, "10.2.2.3"); got != "drop 10.2.0.0/16" {
		t.Fatalf("after the same-size change: %q", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A reload that fails leaves the Set in place: the same pointer, the same answers.
func TestReloadFailureKeepsSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.txt")
	writeFile(t, path, "192.0.2.0/24\n", time.Unix(1, 0))
	feed := &fakeLoader{}
	feed.set("ip,description\n198.51.100.7,c2\n", "v1", nil)
	r := newReloader(t, Source{Name: "feed", Load: feed.load}, Source{Name: "file", Path: path})
	reload(t, r, true)
	good := r.Set()

	steps := []struct {
		name      string
		change    func()
		sentinel  error
		permanent bool
	}{
		{"loader error", func() { feed.set("", "", errors.New("s3: connection reset")) }, ErrLoad, false},
		{"not a list", func() { feed.set("<html>Access Denied</html>\n", "v2", nil) }, ErrNoIndicators, true},
		{"csv without indicator column", func() { feed.set("host,port\nx,1\n", "v3", nil) }, ErrNoIndicators, true},
		{"file removed", func() { feed.set("ip\n198.51.100.7\n", "v1", nil); os.Remove(path) }, ErrLoad, false},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.change()
			swapped, err := r.Reload(context.Background())
			var e *Error
			if swapped || !errors.Is(err, step.sentinel) || !errors.As(err, &e) || e.Permanent() != step.permanent {
				t.Fatalf("swapped %v, err %v; want %v (permanent %v)", swapped, err, step.sentinel, step.permanent)
			}
			if r.Set() != good {
				t.Fatal("a failed reload replaced the Set")
			}
			if got := matchValue(r, "198.51.100.7"); got != "feed 198.51.100.7" {
				t.Fatalf("after the failure: %q", got)
			}
		})
	}

	// One source fails, the other changes: the change goes in, the failed source keeps its last good version.
	feed.set("ip\n198.51.100.8\n", "v4", nil)
	swapped, err := r.Reload(context.Background())
	if !swapped || !errors.Is(err, ErrLoad) {
		t.Fatalf("partial: swapped %v, err %v", swapped, err)
	}
	if a, b := matchValue(r, "198.51.100.8"), matchValue(r, "192.0.2.1"); a != "feed 198.51.100.8" || b != "file 192.0.2.0/24" {
		t.Fatalf("partial: %q, %q", a, b)
	}
}

// A loader's version decides whether a list is parsed again; without one, its bytes do.
func TestReloadLoaderVersions(t *testing.T) {
	versioned, unversioned := &fakeLoader{}, &fakeLoader{}
	versioned.set("192.0.2.1\n", "etag-1", nil)
	unversioned.set("198.51.100.1\n", "", nil)
	r := newReloader(t, Source{Name: "v", Load: versioned.load}, Source{Name: "u", Load: unversioned.load})
	reload(t, r, true)

	versioned.set("", "etag-1", nil) // a HEAD said unchanged: no bytes
	reload(t, r, false)
	versioned.set("192.0.2.2\n", "etag-1", nil) // same version: not even looked at
	reload(t, r, false)
	unversioned.set("198.51.100.1\n", "", nil) // same bytes
	reload(t, r, false)
	if got := matchValue(r, "192.0.2.1"); got != "v 192.0.2.1" {
		t.Fatalf("unchanged: %q", got)
	}

	unversioned.set("198.51.100.2\n", "", nil)
	reload(t, r, true)
	if got := matchValue(r, "198.51.100.2"); got != "u 198.51.100.2" {
		t.Fatalf("new bytes: %q", got)
	}
	for _, st := range r.Set().Lists() {
		if st.Name == "u" && !strings.HasPrefix(st.Version, "xxh3:") {
			t.Errorf("unversioned list's version %q", st.Version)
		}
	}
}

func TestReloadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.txt")
	writeFile(t, path, strings.Repeat("192.0.2.1\n", MinListBytes), time.Unix(1, 0))
	big := &fakeLoader{}
	big.set(strings.Repeat("192.0.2.1\n", MinListBytes), "1", nil)
	cfg := DefaultConfig()
	cfg.MaxListBytes = MinListBytes
	cfg.Sources = []Source{{Name: "file", Path: path}, {Name: "loader", Load: big.load}}
	r, err := NewReloader(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	swapped, err := r.Reload(context.Background())
	if swapped || !errors.Is(err, ErrTooLarge) || strings.Count(err.Error(), string(ReasonTooLarge)) != 2 {
		t.Fatalf("swapped %v, err %v", swapped, err)
	}
}

// Run reloads on every tick; the test ticks by hand and waits for OnReload instead of sleeping.
func TestRun(t *testing.T) {
	feed := &fakeLoader{}
	feed.set("192.0.2.1\n", "1", nil)
	cfg := DefaultConfig()
	cfg.Sources = []Source{{Name: "feed", Load: feed.load}}
	type result struct {
		swapped bool
		err     error
	}
	results := make(chan result)
	r, err := NewReloader(cfg, Options{OnReload: func(s bool, err error) { results <- result{s, err} }})
	if err != nil {
		t.Fatal(err)
	}
	ticks := make(chan time.Time)
	var stopped atomic.Bool
	r.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		if d != cfg.Interval {
			t.Errorf("ticker every %v, want %v", d, cfg.Interval)
		}
		return ticks, func() { stopped.Store(true) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()

	want := []result{{true, nil}, {false, nil}, {false, ErrLoad}, {true, nil}}
	changes := []func(){func() {}, func() {}, func() { feed.set("", "", errors.New("down")) }, func() { feed.set("192.0.2.2\n", "2", nil) }}
	for i, w := range want {
		changes[i]()
		ticks <- time.Time{}
		got := <-results
		if got.swapped != w.swapped || !errors.Is(got.err, w.err) || (w.err == nil) != (got.err == nil) {
			t.Fatalf("tick %d: %+v, want %+v", i, got, w)
		}
	}
	if got := matchValue(r, "192.0.2.2"); got != "feed 192.0.2.2" {
		t.Fatalf("after the ticks: %q", got)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !stopped.Load() {
		t.Fatalf("Run returned %v, ticker stopped %v", err, stopped.Load())
	}
}

// Lookups run while reloads swap Sets underneath them (run with -race): every answer is from one whole version.
func TestConcurrentMatchAndReload(t *testing.T) {
	feed := &fakeLoader{}
	versions := []string{"10.0.0.0/8 # even\n", "10.0.0.0/8 # odd\n10.1.0.0/16 # odd\n"}
	feed.set(versions[0], "0", nil)
	r := newReloader(t, Source{Name: "feed", Load: feed.load})
	reload(t, r, true)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var lookups atomic.Int64
	var ready sync.WaitGroup // every reader has looked up once before the reloads start: none may miss them
	ready.Add(4)
	for range 4 {
		wg.Go(func() {
			ip := netip.MustParseAddr("10.1.2.3")
			signalled := false
			defer func() {
				if !signalled { // a failed reader must not keep the reloads waiting
					ready.Done()
				}
			}()
			for ctx.Err() == nil {
				ind, ok := r.Match(ip)
				switch {
				case !ok:
					t.Error("no match during reloads")
					return
				case ind.Value == "10.0.0.0/8" && ind.Description != "even",
					ind.Value == "10.1.0.0/16" && ind.Description != "odd":
					t.Errorf("torn answer %+v", ind)
					return
				}
				lookups.Add(1)
				if !signalled {
					signalled = true
					ready.Done()
				}
			}
		})
	}
	ready.Wait()
	for i := 1; i <= 200; i++ {
		feed.set(versions[i%2], itoa(int64(i)), nil)
		reload(t, r, true)
	}
	cancel()
	wg.Wait()
	if lookups.Load() == 0 {
		t.Error("no lookups ran")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	load := func(context.Context) ([]byte, string, error) { return nil, "", nil }
	bad := DefaultConfig()
	bad.Interval = 0
	bad.LoadTimeout = -1
	bad.MaxListBytes = 10
	bad.Sources = []Source{
		{Name: "a", Path: "a.txt"},
		{Name: "a", Load: load},
		{Name: "", Path: "x"},
		{Name: " b", Path: "b"},
		{Name: "c"},
		{Name: "d", Path: "d", Load: load},
		{Name: "e", Path: "e", Format: "json"},
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"Interval 0s", "LoadTimeout -1ns", "MaxListBytes 10: allowed 1024 to 1073741824",
		`Sources[1]: Name "a" already used by Sources[0]`, "Sources[2]: Name is empty", `Sources[3]: Name " b"`,
		`Sources[4] "c": want a Path or a Load function`, `Sources[5] "d": want a Path or a Load function, not both`,
		`Sources[6] "e": Format "json": allowed "" (auto), "text", "csv"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := NewReloader(bad, Options{}); err == nil {
		t.Error("NewReloader accepted a bad config")
	}
}
