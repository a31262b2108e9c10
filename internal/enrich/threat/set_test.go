package threat

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustList(tb testing.TB, name, data string, format Format) *List {
	tb.Helper()
	l, err := ParseList(name, []byte(data), format)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// overlapping is three lists of three formats whose blocks nest: a /8 in one, a /24 and a /32 inside it in the
// others, and the same in IPv6.
func overlapping(tb testing.TB) *Set {
	tb.Helper()
	s, err := NewSet(
		mustList(tb, "broad", "10.0.0.0/8 # RFC 1918 on a list by mistake\n2001:db8::/32\n", FormatText),
		mustList(tb, "drop", "; Spamhaus DROP\n10.1.2.0/24 ; SBL1\n2001:db8:bad::/48 ; SBL6\n", FormatText),
		mustList(tb, "intel", "ip,description,confidence\n10.1.2.3,beacon,90\n2001:db8:bad::1,c2,80\n198.51.100.0/24,host,10\n", FormatCSV),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestSetMatch(t *testing.T) {
	s := overlapping(t)
	tests := []struct {
		ip         string
		list, want string // want "" for no match
	}{
		{"10.1.2.3", "intel", "10.1.2.3"},
		{"10.1.2.4", "drop", "10.1.2.0/24"},
		{"10.1.3.4", "broad", "10.0.0.0/8"},
		{"10.255.255.255", "broad", "10.0.0.0/8"},
		{"11.0.0.0", "", ""},
		{"9.255.255.255", "", ""},
		{"198.51.100.99", "intel", "198.51.100.0/24"},
		{"::ffff:10.1.2.3", "intel", "10.1.2.3"}, // IPv4-mapped matches IPv4 indicators
		{"::ffff:10.9.9.9", "broad", "10.0.0.0/8"},
		{"::ffff:11.0.0.1", "", ""},
		{"2001:db8:bad::1", "intel", "2001:db8:bad::1"},
		{"2001:db8:bad::2", "drop", "2001:db8:bad::/48"},
		{"2001:db8:1::1", "broad", "2001:db8::/32"},
		{"2001:db9::1", "", ""},
		{"::a01:203", "", ""}, // 10.1.2.3 as IPv4-compatible (not mapped) IPv6 is another address
		{"fe80::1%eth0", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			got, ok := s.Match(ip)
			if ok != (tt.want != "") || got.List != tt.list || got.Value != tt.want {
				t.Fatalf("Match(%s) = %q from %q, %v; want %q from %q", tt.ip, got.Value, got.List, ok, tt.want, tt.list)
			}
			if s.Contains(ip) != ok {
				t.Fatalf("Contains(%s) = %v, Match %v", tt.ip, !ok, ok)
			}
		})
	}
	if got := s.Len(); got != 7 {
		t.Errorf("Len %d, want 7", got)
	}
	got, _ := s.Match(netip.MustParseAddr("10.1.2.3"))
	want := Indicator{List: "intel", Value: "10.1.2.3", Prefix: netip.MustParsePrefix("10.1.2.3/32"),
		Description: "beacon", Confidence: "90", Line: 2}
	if d := cmp.Diff(want, got, prefixEqual); d != "" {
		t.Errorf("indicator (-want +got):\n%s", d)
	}
	var none *Set
	if _, ok := none.Match(netip.MustParseAddr("10.1.2.3")); ok || none.Len() != 0 || none.Contains(netip.Addr{}) {
		t.Error("nil Set matched")
	}
	if _, ok := s.Match(netip.Addr{}); ok {
		t.Error("invalid address matched")
	}
}

// The same prefix in several lists goes to the list whose name sorts first, whatever the order of the lists.
func TestSetTieBreak(t *testing.T) {
	mk := func(name string) *List {
		return mustList(t, name, "192.0.2.0/24 # from "+name+"\n192.0.2.0/24 # again\n203.0.113.5\n", FormatText)
	}
	orders := [][]string{{"alpha", "mid", "zeta"}, {"zeta", "mid", "alpha"}, {"mid", "zeta", "alpha"}}
	for _, order := range orders {
		var lists []*List
		for _, n := range order {
			lists = append(lists, mk(n))
		}
		s, err := NewSet(lists...)
		if err != nil {
			t.Fatal(err)
		}
		for _, ip := range []string{"192.0.2.1", "203.0.113.5"} {
			got, ok := s.Match(netip.MustParseAddr(ip))
			if !ok || got.List != "alpha" || got.Line != 1 && ip == "192.0.2.1" {
				t.Fatalf("order %v: Match(%s) = %+v, %v; want alpha's first", order, ip, got, ok)
			}
		}
		var stats []string
		for _, st := range s.Lists() {
			stats = append(stats, st.Name, string(rune('0'+st.Duplicates)), string(rune('0'+st.Shadowed)))
		}
		if d := cmp.Diff([]string{"alpha", "1", "0", "mid", "0", "3", "zeta", "0", "3"}, stats); d != "" {
			t.Errorf("order %v: name, duplicates, shadowed (-want +got):\n%s", order, d)
		}
	}
}

func TestNewSetNames(t *testing.T) {
	a := mustList(t, "a", "192.0.2.1\n", FormatText)
	b := mustList(t, "a", "192.0.2.2\n", FormatText)
	unnamed := mustList(t, "", "192.0.2.3\n", FormatText)
	for name, lists := range map[string][]*List{"same name": {a, b}, "no name": {unnamed}} {
		if _, err := NewSet(lists...); !errors.Is(err, ErrDuplicateList) {
			t.Errorf("%s: err %v, want ErrDuplicateList", name, err)
		}
	}
	s, err := NewSet(nil, a)
	if err != nil || s.Len() != 1 {
		t.Errorf("nil list: %v, %d prefixes", err, s.Len())
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	s := overlapping(t)
	ips := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("::ffff:10.1.2.4"),
		netip.MustParseAddr("2001:db8:bad::1"), netip.MustParseAddr("11.0.0.1")}
	var sink Indicator
	if n := testing.AllocsPerRun(1000, func() {
		for _, ip := range ips {
			sink, _ = s.Match(ip)
		}
	}); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
	_ = sink
}
