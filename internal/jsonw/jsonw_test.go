package jsonw

import (
	"encoding/json"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "2 123456789010 eni-1235b8ca123456789 ACCEPT OK", `"2 123456789010 eni-1235b8ca123456789 ACCEPT OK"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"short forms", "\n\r\t", `"\n\r\t"`},
		{"other controls", "\x00\x01\b\f\x1f", `"\u0000\u0001\u0008\u000c\u001f"`},
		{"left as they are", "<>&/\x7f\u2028\u2029", "\"<>&/\x7f\u2028\u2029\""},
		{"valid UTF-8", "café ☃ 𝄞 \ufffd", `"café ☃ 𝄞 ` + "\ufffd" + `"`},
		{"invalid byte", "bad \xff utf8", `"bad \ufffd utf8"`},
		{"truncated sequence", "\xe2\x98", `"\ufffd\ufffd"`},
		{"surrogate half", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"escape at the end", "end\n", `"end\n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendString([]byte("x:"), tt.in)
			if string(got) != "x:"+tt.want {
				t.Errorf("AppendString(%q) = %s, want %s", tt.in, got[2:], tt.want)
			}
		})
	}
}

// split divides epoch milliseconds into seconds and milliseconds 0 to 999.
func split(ms int64) (sec, frac int64) {
	sec, frac = ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	return sec, frac
}

// TestNeedsLook: the lowest mark of needsLook is the first byte AppendString must stop at, for every byte value at
// every position behind plain bytes, and for random words (mostly plain, to reach the high positions).
func TestNeedsLook(t *testing.T) {
	first := func(w uint64) int {
		for k := range 8 {
			if special[byte(w>>(8*k))] {
				return k
			}
		}
		return 8
	}
	check := func(w uint64) {
		t.Helper()
		got := 8
		if m := needsLook(w); m != 0 {
			got = bits.TrailingZeros64(m) / 8
		}
		if want := first(w); got != want {
			t.Fatalf("needsLook(%#016x): first mark at byte %d, want %d", w, got, want)
		}
	}
	const plain = 0x6161616161616161 // "aaaaaaaa"
	for k := range 8 {
		for c := range 256 {
			check(plain&^(0xff<<(8*k)) | uint64(c)<<(8*k))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		w := rng.Uint64()
		for k := range 8 { // most bytes made plain, so specials show up at every position
			if rng.IntN(4) != 0 {
				w = w&^(0xff<<(8*k)) | uint64(0x20+rng.IntN(0x5f))<<(8*k)
			}
		}
		check(w)
	}
}

// timeFormat is the reference: what the time package writes for the same instant, in quotes.
func timeFormat(sec, ms int64) string {
	layout := time.RFC3339
	if ms != 0 {
		layout = "2006-01-02T15:04:05.000Z07:00"
	}
	return `"` + time.Unix(sec, ms*1e6).UTC().Format(layout) + `"`
}

func TestAppendDate(t *testing.T) {
	tests := []struct {
		ms   int64
		want string
	}{
		{0, `"1970-01-01T00:00:00Z"`},
		{1700000000000, `"2023-11-14T22:13:20Z"`},
		{1700000000120, `"2023-11-14T22:13:20.120Z"`},
		{1700000000007, `"2023-11-14T22:13:20.007Z"`},
		{-1, `"1969-12-31T23:59:59.999Z"`},
		{951782400000, `"2000-02-29T00:00:00Z"`},
		{maxUnix*1000 + 999, `"9999-12-31T23:59:59.999Z"`},
		{minUnix * 1000, `"0000-01-01T00:00:00Z"`},
		{(maxUnix + 1) * 1000, `"10000-01-01T00:00:00Z"`}, // beyond RFC 3339: as the time package writes it
		{minUnix*1000 - 1, `"-0001-12-31T23:59:59.999Z"`}, // likewise
		{math.MaxInt64, timeFormat(split(math.MaxInt64))}, // likewise, however far
		{math.MinInt64, timeFormat(split(math.MinInt64))},
	}
	for _, tt := range tests {
		if got := string(AppendDate(nil, tt.ms)); got != tt.want {
			t.Errorf("AppendDate(%d) = %s, want %s", tt.ms, got, tt.want)
		}
	}
}

// TestAppendDateSeconds holds AppendDateSeconds to the time package over the whole range it writes by hand (nine
// days and an hour apart, so every month of every year comes up, at ever other times of day), around its edges,
// and at random, AppendDate too.
func TestAppendDateSeconds(t *testing.T) {
	check := func(sec int64) {
		t.Helper()
		if got, want := string(AppendDateSeconds(nil, sec)), timeFormat(sec, 0); got != want {
			t.Fatalf("AppendDateSeconds(%d) = %s, want %s", sec, got, want)
		}
	}
	for sec := int64(minUnix); sec <= maxUnix; sec += 9*86400 + 3607 {
		check(sec)
	}
	for _, edge := range []int64{minUnix, maxUnix, 0, -86400} {
		for d := int64(-2); d <= 2; d++ {
			check(edge + d)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		check(rng.Int64N(maxUnix-minUnix+1) + minUnix)
		ms := rng.Int64N((maxUnix-minUnix+1)*1000) + minUnix*1000
		if got, want := string(AppendDate(nil, ms)), timeFormat(split(ms)); got != want {
			t.Fatalf("AppendDate(%d) = %s, want %s", ms, got, want)
		}
	}
}

// appendStringByByte is AppendString one byte at a time, without the eight-byte skipping: the bytes it must write.
func appendStringByByte(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

// TestAppendStringTails: a byte to escape at every position of strings of every length to 40, behind plain bytes,
// escapes and multi-byte characters, is written as appendStringByByte writes it: the word-wise skipping, the last
// word's overlapping one included, misses none.
func TestAppendStringTails(t *testing.T) {
	for _, prefix := range []string{"", "\"", "é", "\x01"} {
		for n := range 41 {
			for at := range n {
				for _, c := range []byte{'"', '\\', '\n', 0x01, 0x1f, 0xff, 0xc3} {
					b := []byte(prefix + strings.Repeat("a", n))
					b[len(prefix)+at] = c
					if got, want := AppendString(nil, string(b)), appendStringByByte(nil, string(b)); string(got) != string(want) {
						t.Fatalf("AppendString(%q) = %s, want %s", b, got, want)
					}
				}
			}
		}
	}
}

// FuzzAppendString: the bytes are those appendStringByByte writes, and the JSON is valid and means what
// encoding/json's does. The bytes differ from encoding/json's on purpose (it escapes <, >, & and U+2028/U+2029 and
// writes \b and \f short), so the decoded values are compared.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\n\r\t\x00\x1f\b\f", "<>&\u2028\u2029\x7f", "é☃𝄞", "bad \xff", "\xe2\x98", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if want := appendStringByByte(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s; byte by byte, %s", s, got, want)
		}
		ref, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var a, b string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("AppendString(%q) = %s, not JSON: %v", s, got, err)
		}
		if err := json.Unmarshal(ref, &b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("AppendString(%q) = %s means %q; encoding/json's %s means %q", s, got, a, ref, b)
		}
	})
}

// FuzzAppendDate: every millisecond writes what the time package writes for it.
func FuzzAppendDate(f *testing.F) {
	for _, ms := range []int64{0, -1, 1700000000120, maxUnix*1000 + 999, minUnix * 1000, math.MaxInt64, math.MinInt64} {
		f.Add(ms)
	}
	f.Fuzz(func(t *testing.T, ms int64) {
		if got, want := string(AppendDate(nil, ms)), timeFormat(split(ms)); got != want {
			t.Fatalf("AppendDate(%d) = %s, want %s", ms, got, want)
		}
		if got, want := string(AppendDateSeconds(nil, ms)), timeFormat(ms, 0); got != want {
			t.Fatalf("AppendDateSeconds(%d) = %s, want %s", ms, got, want)
		}
	})
}

// The benchmarks set each function beside the plain reference: encoding/json for strings, the time package (and
// encoding/json of a time.Time, which writes RFC 3339 with nanoseconds) for dates.
func BenchmarkAppendString(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"flow-log-line", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"},
		{"escapes", `{"level":"info","msg":"line one\nline two","path":"C:\\logs"}` + "\t\x01"},
		{"non-ASCII", "café ☃ 𝄞 Grüße, 世界: ünïcödé ëvërÿwhërë"},
	} {
		b.Run(c.name+"/jsonw", func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.SetBytes(int64(len(c.s)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendString(buf[:0], c.s)
			}
		})
		b.Run(c.name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(c.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendDate(b *testing.B) {
	const ms, sec = 1700000000120, 1700000000
	quoted := func(buf []byte, t time.Time, layout string) []byte {
		buf = append(buf, '"')
		buf = t.AppendFormat(buf, layout)
		return append(buf, '"')
	}
	for _, c := range []struct {
		name string
		add  func([]byte) []byte
	}{
		{"millis/jsonw", func(buf []byte) []byte { return AppendDate(buf, ms) }},
		{"millis/time-AppendFormat", func(buf []byte) []byte {
			return quoted(buf, time.UnixMilli(ms).UTC(), "2006-01-02T15:04:05.000Z07:00")
		}},
		{"millis/encoding-json", func(buf []byte) []byte {
			out, err := json.Marshal(time.UnixMilli(ms).UTC())
			if err != nil {
				b.Fatal(err)
			}
			return append(buf, out...)
		}},
		{"seconds/jsonw", func(buf []byte) []byte { return AppendDateSeconds(buf, sec) }},
		{"seconds/time-AppendFormat", func(buf []byte) []byte { return quoted(buf, time.Unix(sec, 0).UTC(), time.RFC3339) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				buf = c.add(buf[:0])
			}
		})
	}
}

// TestAppendUint: every number to 10^6, and those around each power of ten and the largest, are strconv's.
func TestAppendUint(t *testing.T) {
	check := func(v uint64) {
		t.Helper()
		if got, want := string(AppendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Fatalf("AppendUint(%d) = %s, want %s", v, got, want)
		}
	}
	for v := range uint64(1000000) {
		check(v)
	}
	for p := uint64(10); p < math.MaxUint64/10; p *= 10 {
		for _, v := range []uint64{p - 1, p, p + 1, p*10 - 1} {
			check(v)
		}
	}
	check(math.MaxUint64)
}

// FuzzAppendUint: every number is written as strconv writes it.
func FuzzAppendUint(f *testing.F) {
	for _, v := range []uint64{0, 9, 10, 99999999, 100000000, math.MaxUint64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v uint64) {
		if got, want := string(AppendUint(nil, v)), strconv.FormatUint(v, 10); got != want {
			t.Fatalf("AppendUint(%d) = %s, want %s", v, got, want)
		}
	})
}

// TestDates: dates written through one Dates, the first of the day before the epoch, then in an order that changes
// day often and seldom, across the whole range and outside it, are AppendDate's.
func TestDates(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var d Dates
	ms := []int64{-1, 0, 999, 1000, -86400000, 86399999, 86400000, 1795440000123, 1795440000000, 1795439999999,
		maxUnix * 1000, maxUnix*1000 + 999, maxUnix*1000 + 1000, minUnix * 1000, minUnix*1000 - 1, math.MaxInt64, math.MinInt64}
	for i := int64(0); i < 5000; i++ {
		ms = append(ms, 1795440000000+i*i*7919+i%3*86400000, rng.Int64N((maxUnix-minUnix+1)*1000)+minUnix*1000)
	}
	for _, v := range ms {
		if got, want := string(d.AppendDate([]byte("x"), v)), "x"+string(AppendDate(nil, v)); got != want {
			t.Fatalf("Dates.AppendDate(%d) = %s, want %s", v, got, want)
		}
	}
}

// FuzzDates: two dates through one Dates are AppendDate's.
func FuzzDates(f *testing.F) {
	f.Add(int64(1795440000123), int64(1795440059000))
	f.Add(int64(-1), int64(maxUnix*1000+999))
	f.Fuzz(func(t *testing.T, a, b int64) {
		var d Dates
		for _, v := range []int64{a, b, a} {
			if got, want := string(d.AppendDate(nil, v)), string(AppendDate(nil, v)); got != want {
				t.Fatalf("Dates.AppendDate(%d) = %s, want %s", v, got, want)
			}
		}
	})
}
