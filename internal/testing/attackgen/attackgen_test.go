package attackgen

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var start = time.Date(2026, 11, 23, 6, 3, 0, 0, time.UTC)

func mustGenerate(tb testing.TB, seed uint64) *Corpus {
	tb.Helper()
	c, err := Generate(Config{Seed: seed, Start: start, Windows: MinWindows})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestDeterministic(t *testing.T) {
	a, b := mustGenerate(t, 1), mustGenerate(t, 1)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two corpora of one seed differ")
	}
	if c := mustGenerate(t, 2); reflect.DeepEqual(a.Windows[0].Flows, c.Windows[0].Flows) {
		t.Error("two seeds give the same traffic")
	}
}

func TestCorpus(t *testing.T) {
	c := mustGenerate(t, 1)
	if len(c.Windows) != MinWindows {
		t.Fatalf("%d windows", len(c.Windows))
	}
	width := int64(WindowWidth / time.Second)
	if c.Windows[0].Start != start.Unix()-start.Unix()%width {
		t.Errorf("first window %d, want %v rounded down", c.Windows[0].Start, start)
	}
	starts := map[int64]bool{}
	for i, w := range c.Windows {
		starts[w.Start] = true
		for _, f := range w.Flows {
			if f.Start < w.Start || f.Start >= w.Start+width {
				t.Fatalf("window %d: flow at %d outside it", i, f.Start)
			}
		}
	}
	rules := map[string]int{}
	for _, l := range c.Labels {
		rules[l.Rule]++
		if !starts[l.Window] || !l.IP.IsValid() || l.Attack == "" {
			t.Errorf("label %+v", l)
		}
	}
	for _, r := range []string{HorizontalScan, VerticalScan, RejectStorm, UnusualEgress} {
		if rules[r] == 0 {
			t.Errorf("no label for %s", r)
		}
	}
	// Every injected attack is labelled, the IPv6 one included.
	if rules[HorizontalScan] != 10 || !containsLabel(c.Labels, HorizontalScan, netip.MustParseAddr("2001:db8:bad::5")) {
		t.Errorf("horizontal labels: %d", rules[HorizontalScan])
	}
}

func containsLabel(ls []Label, rule string, ip netip.Addr) bool {
	for _, l := range ls {
		if l.Rule == rule && l.IP == ip {
			return true
		}
	}
	return false
}

// Aggregate loses and duplicates nothing: every flow is sent once and received once, whatever the shards and cuts.
func TestAggregate(t *testing.T) {
	c := mustGenerate(t, 3)
	flows := c.Windows[8].Flows
	var want uint64
	for _, f := range flows {
		want += f.Bytes
	}
	for _, shape := range [][2]int{{1, 1 << 30}, {2, 4000}, {3, 777}} {
		finals, err := Aggregate(flows, shape[0], shape[1])
		if err != nil {
			t.Fatal(err)
		}
		var sent, recv, bytes uint64
		for _, f := range finals {
			sent, recv, bytes = sent+f.FlowsSent, recv+f.FlowsReceived, bytes+f.BytesSent
		}
		if sent != uint64(len(flows)) || recv != uint64(len(flows)) || bytes != want {
			t.Errorf("shards %d cut %d: sent %d received %d bytes %d, want %d flows and %d bytes",
				shape[0], shape[1], sent, recv, bytes, len(flows), want)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{{Start: start, Windows: MinWindows - 1}, {Windows: MinWindows}} {
		if _, err := Generate(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
}
