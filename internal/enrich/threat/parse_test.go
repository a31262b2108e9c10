package threat

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ind is an indicator as the tests write it: list, value, line and description; the prefix is Value's.
func ind(list, value string, line int, desc string) Indicator {
	p, err := netip.ParsePrefix(value)
	if err != nil {
		a := netip.MustParseAddr(value)
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return Indicator{List: list, Value: value, Prefix: p, Line: line, Description: desc}
}

var prefixEqual = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

type badWant struct {
	Line   int
	Reason Reason
}

func badOf(l *List) []badWant {
	var out []badWant
	for _, b := range l.Bad {
		out = append(out, badWant{b.Line, b.Reason})
	}
	return out
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseListFixtures(t *testing.T) {
	withMeta := func(i Indicator, typ, conf, first string) Indicator {
		i.Type, i.Confidence, i.FirstSeen = typ, conf, first
		return i
	}
	tests := map[string]struct {
		format Format
		lines  int
		want   []Indicator
		bad    []badWant
	}{
		"plain.txt": {
			format: FormatText, lines: 14,
			want: []Indicator{
				ind("plain.txt", "10.0.0.0/8", 4, ""),
				ind("plain.txt", "192.0.2.7", 5, "C2 server, seen 2024-05-01"),
				ind("plain.txt", "2001:db8:bad::/48", 6, "IPv6 block after a tab"),
				ind("plain.txt", "198.51.100.0/24", 7, ""), // ::ffff:198.51.100.0/120, unmapped
				ind("plain.txt", "198.51.100.200", 10, ""),
				ind("plain.txt", "10.0.0.0/8", 11, ""), // 10.1.2.3/8, masked
				ind("plain.txt", "192.0.2.7", 14, ""),
			},
			bad: []badWant{{8, ReasonBadAddress}, {9, ReasonTrailingText}, {12, ReasonBadAddress}, {13, ReasonTooBroad}},
		},
		"spamhaus_drop.txt": {
			format: FormatText, lines: 9,
			want: []Indicator{
				ind("spamhaus_drop.txt", "1.10.16.0/20", 5, "SBL256894"),
				ind("spamhaus_drop.txt", "1.19.0.0/16", 6, "SBL434604"),
				ind("spamhaus_drop.txt", "10.1.2.0/24", 7, "SBL000001"),
				ind("spamhaus_drop.txt", "2.56.192.0/22", 8, "SBL459831"),
			},
			bad: []badWant{{9, ReasonBadAddress}},
		},
		"indicators.csv": {
			format: FormatCSV, lines: 9,
			want: []Indicator{
				withMeta(ind("indicators.csv", "10.1.2.3", 3, "Cobalt Strike beacon, port 443"), "ip", "90", "2024-05-01T10:00:00Z"),
				withMeta(ind("indicators.csv", "2001:db8:bad:1::/64", 4, "scanner range"), "cidr", "60", "2024-04-30"),
				withMeta(ind("indicators.csv", "198.51.100.0/24", 6, `bulletproof hoster "BP"`), "cidr", "high", ""),
				ind("indicators.csv", "192.0.2.55", 8, ""),
				withMeta(ind("indicators.csv", "203.0.113.77", 9, "mapped form"), "ip", "75", "2024-05-02"),
			},
			bad: []badWant{{5, ReasonBadAddress}, {7, ReasonBadAddress}},
		},
		"feodo.csv": {
			format: FormatCSV, lines: 7,
			want: []Indicator{
				withMeta(ind("feodo.csv", "192.0.2.10", 5, "Emotet"), "", "", "2024-05-01 10:00:00"),
				withMeta(ind("feodo.csv", "192.0.2.11", 6, "Emotet"), "", "", "2024-05-01 11:00:00"),
			},
			bad: []badWant{{7, ReasonBadAddress}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			data := readFixture(t, name)
			for _, format := range []Format{FormatAuto, tt.format} {
				l, err := ParseList(name, data, format)
				if err != nil {
					t.Fatalf("format %q: %v", format, err)
				}
				if l.Format != tt.format || l.Lines != tt.lines || l.Accepted != len(tt.want) || l.BadCount != len(tt.bad) {
					t.Errorf("format %q: read as %s, %d lines, %d accepted, %d bad; want %s, %d, %d, %d", format,
						l.Format, l.Lines, l.Accepted, l.BadCount, tt.format, tt.lines, len(tt.want), len(tt.bad))
				}
				if d := cmp.Diff(tt.want, l.Indicators, prefixEqual); d != "" {
					t.Errorf("format %q: indicators (-want +got):\n%s", format, d)
				}
				if d := cmp.Diff(tt.bad, badOf(l)); d != "" {
					t.Errorf("format %q: bad lines (-want +got):\n%s", format, d)
				}
				by := map[Reason]int{}
				for _, b := range tt.bad {
					by[b.Reason]++
				}
				if d := cmp.Diff(by, l.BadBy, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("format %q: bad lines by reason (-want +got):\n%s", format, d)
				}
				// The reported text is the line as written, to find it in the file.
				lines := strings.Split(strings.ReplaceAll(string(data), "\r", ""), "\n")
				for _, b := range l.Bad {
					if got, want := b.Text, strings.TrimSpace(lines[b.Line-1]); got != want {
						t.Errorf("bad line %d text %q, want %q", b.Line, got, want)
					}
				}
			}
		})
	}
}

func TestParseListInline(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   []string // "line value description"
		bad    []badWant
		err    error
	}{
		{name: "empty", in: "", want: nil},
		{name: "only comments", in: "# a\n; b\n\n   \n", want: nil},
		{name: "trailing comments", in: "192.0.2.1 #c\n192.0.2.2\t; d\n192.0.2.3#e\n192.0.2.4 x\n",
			want: []string{"1 192.0.2.1 c", "2 192.0.2.2 d"},
			bad:  []badWant{{3, ReasonBadAddress}, {4, ReasonTrailingText}}},
		{name: "spamhaus without spaces", in: "192.0.2.0/24;SBL1\n", want: []string{"1 192.0.2.0/24 SBL1"}},
		{name: "crlf and bom", in: "\xef\xbb\xbf192.0.2.1\r\n2001:DB8::1\r\n", want: []string{"1 192.0.2.1 ", "2 2001:db8::1 "}},
		{name: "ipv6 forms", in: "2001:db8::/32\n::ffff:192.0.2.9\n::ffff:0:0/95\n::/0\n2001:db8::1/128\n",
			want: []string{"1 2001:db8::/32 ", "2 192.0.2.9 ", "3 ::fffe:0:0/95 ", "5 2001:db8::1/128 "},
			bad:  []badWant{{4, ReasonTooBroad}}},
		{name: "prefix length out of range", in: "192.0.2.0/33\n192.0.2.1\n", want: []string{"2 192.0.2.1 "},
			bad: []badWant{{1, ReasonBadAddress}}},
		{name: "csv header names any case", in: "IOC;x,Description\n\"192.0.2.1\",a\n", err: ErrNoIndicators},
		{name: "csv IOC", in: "Id,IOC,Comment\n1,192.0.2.1,one\n2,192.0.2.0/24,two\n",
			want: []string{"2 192.0.2.1 one", "3 192.0.2.0/24 two"}},
		{name: "csv cidr column", in: "CIDR\n10.0.0.0/8\n", want: []string{"2 10.0.0.0/8 "}},
		{name: "csv value column", in: "kind, Value ,desc\nip, 192.0.2.5 ,x\n", want: []string{"2 192.0.2.5 x"}},
		{name: "csv ip wins over value", in: "value,ip\n192.0.2.1,192.0.2.2\n", want: []string{"2 192.0.2.2 "}},
		{name: "csv ragged and comment rows", in: "note,ip\n# skipped\nshort\nx,192.0.2.1,extra\n\n",
			want: []string{"4 192.0.2.1 "}, bad: []badWant{{3, ReasonMissingField}}},
		{name: "csv multi-line quoted description", in: "ip,description\n192.0.2.1,\"two\nlines\"\n192.0.2.2,x\n",
			want: []string{"2 192.0.2.1 two\nlines", "4 192.0.2.2 x"}},
		{name: "csv forced without indicator column", format: FormatCSV, in: "a,b\n1,2\n", err: ErrNoIndicatorColumn},
		{name: "csv forced without header", format: FormatCSV, in: "192.0.2.1\n", err: ErrNoIndicatorColumn},
		{name: "mapped /96 is a /0", in: "::ffff:0:0/96\n192.0.2.1\n", want: []string{"2 192.0.2.1 "},
			bad: []badWant{{1, ReasonTooBroad}}},
		{name: "unknown header is text", in: "a,b\n192.0.2.1\n", want: []string{"2 192.0.2.1 "},
			bad: []badWant{{1, ReasonBadAddress}}},
		{name: "text forced on csv", format: FormatText, in: "ip\n192.0.2.1\n", want: []string{"2 192.0.2.1 "},
			bad: []badWant{{1, ReasonBadAddress}}},
		{name: "all bad", in: "<html>\n<body>Access Denied</body>\n", err: ErrNoIndicators},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseList("l", []byte(tt.in), tt.format)
			if tt.err != nil {
				var e *Error
				if !errors.Is(err, tt.err) || !errors.As(err, &e) || !e.Permanent() || e.List != "l" {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, i := range l.Indicators {
				got = append(got, fmt.Sprintf("%d %s %s", i.Line, i.Value, i.Description))
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("indicators (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.bad, badOf(l)); d != "" {
				t.Errorf("bad lines (-want +got):\n%s", d)
			}
		})
	}
}

// A wrong object can have millions of bad lines: all are counted, the first MaxBadLines kept, each cut short.
func TestParseListBadLinesBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("192.0.2.1\n")
	for range 1000 {
		b.WriteString(strings.Repeat("x", 1000) + "\n")
	}
	l, err := ParseList("l", []byte(b.String()), FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if l.BadCount != 1000 || l.BadBy[ReasonBadAddress] != 1000 || len(l.Bad) != MaxBadLines || l.Bad[MaxBadLines-1].Line != MaxBadLines+1 {
		t.Fatalf("BadCount %d, kept %d, last kept line %d", l.BadCount, len(l.Bad), l.Bad[len(l.Bad)-1].Line)
	}
	if n := len(l.Bad[0].Text); n != MaxBadLineText {
		t.Errorf("bad line text of %d bytes, want %d", n, MaxBadLineText)
	}
}

func fixtures(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for _, pattern := range []string{"testdata/*.txt", "testdata/*.csv"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		tb.Fatal("no fixtures")
	}
	return out
}

// FuzzParseList checks, for any input in every format, that parsing never panics, that a refused list is a
// permanent *Error, and that every accepted indicator is a valid, masked, matchable prefix whose Value reads back
// as the same prefix, on a line of the list.
func FuzzParseList(f *testing.F) {
	for _, path := range fixtures(f) {
		f.Add(readFixture(f, filepath.Base(path)))
	}
	f.Add([]byte("ip\n\"192.0.2.1\n"))
	f.Add([]byte("::ffff:1.2.3.4/127\n1.2.3.4/0 ; x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatAuto, FormatText, FormatCSV} {
			l, err := ParseList("fuzz", data, format)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || !e.Permanent() {
					t.Fatalf("format %q: error %v is not a permanent *Error", format, err)
				}
				continue
			}
			if l.Accepted != len(l.Indicators) || l.BadCount < len(l.Bad) || len(l.Bad) > MaxBadLines {
				t.Fatalf("stats %+v for %d indicators", l.ListStats, len(l.Indicators))
			}
			for _, i := range l.Indicators {
				p := i.Prefix
				if !p.IsValid() || p != p.Masked() || p.Bits() == 0 || (p.Addr().Is4In6() && p.Bits() >= 96) || p.Addr().Zone() != "" {
					t.Fatalf("indicator %+v: not a valid normalized prefix", i)
				}
				back, _, reason, _ := parsePrefix(i.Value)
				if reason != "" || back != p {
					t.Fatalf("indicator %+v: Value reads back as %v (%s)", i, back, reason)
				}
				if i.Line < 1 || i.Line > l.Lines {
					t.Fatalf("indicator %+v: line outside 1..%d", i, l.Lines)
				}
			}
			s, err := NewSet(l)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range l.Indicators {
				got, ok := s.Match(i.Prefix.Addr())
				if !ok || got.Prefix.Bits() < i.Prefix.Bits() {
					t.Fatalf("indicator %v: Match(%v) = %v, %v", i.Value, i.Prefix.Addr(), got.Value, ok)
				}
			}
		}
	})
}
