package flowgen

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDeterministic(t *testing.T) {
	a := New(Config{Seed: 7}).Batches(5, 10, 20)
	b := New(Config{Seed: 7}).Batches(5, 10, 20)
	if !slices.EqualFunc(a, b, func(x, y Batch) bool { return x.LogStream == y.LogStream && slices.Equal(x.Events, y.Events) }) {
		t.Fatal("the same config produced different batches")
	}
	c := New(Config{Seed: 8}).Batches(5, 10, 20)
	if slices.Equal(a[0].Events, c[0].Events) {
		t.Fatal("different seeds produced the same events")
	}
}

func TestLinesAreVersion2(t *testing.T) {
	cfg := DefaultConfig(FixedStart)
	cfg.Seed, cfg.NoData, cfg.SkipData, cfg.IPv6 = 3, 0.1, 0.05, 0.2
	g := New(cfg)
	seen := map[string]int{}
	ids := map[string]bool{}
	for _, b := range g.Batches(50, 50, 100) {
		if !strings.HasSuffix(b.LogStream, "-all") {
			t.Fatalf("log stream %q", b.LogStream)
		}
		for _, e := range b.Events {
			f := strings.Fields(e.Message)
			if len(f) != 14 || f[0] != "2" {
				t.Fatalf("not a v2 line: %q", e.Message)
			}
			if len(e.ID) != 56 || ids[e.ID] {
				t.Fatalf("event id %q: want 56 unique digits", e.ID)
			}
			ids[e.ID] = true
			if e.Timestamp <= 0 {
				t.Fatalf("timestamp %d for %q", e.Timestamp, e.Message)
			}
			status := f[13]
			seen[status]++
			if status == "OK" {
				for _, a := range f[3:5] {
					if _, err := netip.ParseAddr(a); err != nil {
						t.Fatalf("address %q in %q", a, e.Message)
					}
				}
				seen[f[12]]++
				if strings.Contains(f[3], ":") {
					seen["ipv6"]++
				}
			}
		}
	}
	for _, k := range []string{"OK", "NODATA", "SKIPDATA", "ACCEPT", "REJECT", "ipv6"} {
		if seen[k] == 0 {
			t.Errorf("no %s lines in the corpus: %v", k, seen)
		}
	}
}

func TestScenarios(t *testing.T) {
	g := New(Config{})
	scanner, target := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("10.0.0.5")
	if got := g.PortScan(scanner, target, []int{22, 23, 80}); len(got) != 3 || !strings.Contains(got[1], " 203.0.113.9 10.0.0.5 ") || !strings.Contains(got[1], " 23 6 ") {
		t.Fatalf("PortScan = %q", got)
	}
	fan := g.FanOut(target, 600, 445)
	dsts := map[string]bool{}
	for _, l := range fan {
		dsts[strings.Fields(l)[4]] = true
	}
	if len(dsts) != 600 {
		t.Fatalf("FanOut reached %d distinct peers, want 600", len(dsts))
	}
	if got := g.RejectedBurst(target, 22, 10); len(got) != 10 || !strings.Contains(got[0], "REJECT OK") {
		t.Fatalf("RejectedBurst = %q", got)
	}
}

// Timeline's deliveries move forward through the span: no flow starts more than lag before the newest one already
// delivered, and together they cover the whole span.
func TestTimelineIsInEventTimeOrder(t *testing.T) {
	cfg := DefaultConfig(FixedStart)
	cfg.Seed, cfg.Span = 4, 3*time.Hour
	lag := 2 * time.Minute
	batches := New(cfg).Timeline(90, 20, 40, lag)
	if len(batches) != 90 {
		t.Fatalf("%d batches, want 90", len(batches))
	}
	begin, end := FixedStart.Unix(), FixedStart.Add(cfg.Span).Unix()
	var newest, first, last int64 = 0, end, begin
	for i, b := range batches {
		var batchNewest int64
		for _, e := range b.Events {
			f := strings.Fields(e.Message)
			start, err := strconv.ParseInt(f[10], 10, 64)
			if err != nil {
				t.Fatalf("batch %d: start of %q: %v", i, e.Message, err)
			}
			if start < begin || start >= end {
				t.Fatalf("batch %d: start %d outside the span [%d, %d)", i, start, begin, end)
			}
			if newest > 0 && start < newest-int64(lag/time.Second) {
				t.Fatalf("batch %d: start %d is more than %v before the newest delivered, %d", i, start, lag, newest)
			}
			batchNewest, first, last = max(batchNewest, start), min(first, start), max(last, start)
		}
		newest = max(newest, batchNewest)
	}
	if first-begin > 120 || end-last > 120 {
		t.Errorf("flows start from %d to %d, want the span [%d, %d) covered", first, last, begin, end)
	}
}

// S3File is the header, then every line of the batches in order, with exactly the lines it says broken short of
// one field.
func TestS3File(t *testing.T) {
	g := New(DefaultConfig(FixedStart))
	batches := g.Batches(3, 20, 20)
	file, whole, broken := S3File(batches, 10)
	zr, err := gzip.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if lines[0] != S3Header || len(lines) != 1+60 || broken != 3*2 || len(whole) != 60-broken {
		t.Fatalf("header %q, %d lines, %d broken, %d whole; want the header, 60 lines, 6 broken, 54 whole", lines[0], len(lines), broken, len(whole))
	}
	for i, l := range lines[1:] {
		want := batches[i/20].Events[i%20].Message
		if i%20%10 == 3 {
			want = want[:strings.LastIndexByte(want, ' ')]
		}
		if l != want {
			t.Errorf("line %d: %q, want %q", i+2, l, want)
		}
	}
}
