package vpcflow

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// TestParseIPv4MatchesNetip: the dotted-quad fast path accepts only what netip.ParseAddr accepts, as the same address.
func TestParseIPv4MatchesNetip(t *testing.T) {
	in := []string{
		"0.0.0.0", "255.255.255.255", "10.0.0.1", "172.31.16.139", "1.2.3.4", "01.2.3.4", "1.02.3.4", "1.2.3.00",
		"256.1.1.1", "1.1.1.256", "1000.1.1.1", "1..1.1", ".1.1.1", "1.1.1.", "1.1.1", "1.1.1.1.1", "1.1.1.1 ",
		"-1.1.1.1", "1.1.1.1%eth0", "::ffff:1.2.3.4", "2001:db8::1", "a.b.c.d", "", "1", "11111111111", "0.0.0.00",
		"999.999.999.999", "1.2.3.4\x00",
	}
	for a := 0; a < 300; a += 7 {
		in = append(in, strconv.Itoa(a)+"."+strconv.Itoa(255-a%256)+".0."+strconv.Itoa(a/2))
	}
	for _, s := range in {
		want, werr := netip.ParseAddr(s)
		got, ok := parseIPv4(s)
		if ok && (werr != nil || got != want) {
			t.Errorf("parseIPv4(%q) = %v; netip.ParseAddr says %v, %v", s, got, want, werr)
		}
		if !ok && werr == nil && want.Is4() {
			t.Errorf("parseIPv4(%q) refused an address netip.ParseAddr accepts", s)
		}
		// Inside a line, where 8 bytes remain at every octet: the same answer (for text without separators).
		for _, after := range []string{" 12345678", "\t-------", "x1234567"} {
			a, j, lok := scanIPv4(s+after, 0)
			if strings.ContainsAny(s, " \t\r\n") {
				break
			}
			if lok != (ok && after[0] <= ' ') || lok && (a != got || j != len(s)) {
				t.Errorf("scanIPv4(%q) = %v, %d, %v; parseIPv4(%q) = %v, %v", s+after, a, j, lok, s, got, ok)
			}
		}
	}
}

// TestParseUintLimits: the short-number fast path keeps the limits and the overflow checks.
func TestParseUintLimits(t *testing.T) {
	for _, c := range []struct {
		s     string
		limit uint64
		want  uint64
		ok    bool
	}{
		{"0", 255, 0, true}, {"255", 255, 255, true}, {"256", 255, 0, false}, {"65535", 65535, 65535, true},
		{"65536", 65535, 0, false}, {"", 255, 0, false}, {"1a", 255, 0, false}, {"-1", 255, 0, false},
		{"9223372036854775807", math.MaxInt64, math.MaxInt64, true}, {"9223372036854775808", math.MaxInt64, 0, false},
		{"9999999999999999999", math.MaxInt64, 0, false}, {"18446744073709551615", math.MaxUint64, math.MaxUint64, true},
		{"18446744073709551616", math.MaxUint64, 0, false}, {"99999999999999999999", math.MaxUint64, 0, false},
		{"000000000000000000001", math.MaxUint64, 0, false}, {"0000000000000000001", 255, 1, true},
		{"253402300799", maxTime, maxTime, true}, {"253402300800", maxTime, 0, false},
	} {
		got, ok := parseUint(c.s, c.limit)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("parseUint(%q, %d) = %d, %v; want %d, %v", c.s, c.limit, got, ok, c.want, c.ok)
		}
	}
}

// TestTokenEnd: the word-at-a-time scan stops where the byte loop does, for every byte value around every offset.
func TestTokenEnd(t *testing.T) {
	slow := func(line string, j int) int {
		for j < len(line) && !isSpace(line[j]) {
			j++
		}
		return j
	}
	base := []byte("abcdefghijklmnopqrstuvwxyz0123456789")
	for c := 0; c < 256; c++ {
		for pos := range base {
			line := append([]byte(nil), base...)
			line[pos] = byte(c)
			for j := 0; j <= len(line); j++ {
				if got, want := tokenEnd(string(line), j), slow(string(line), j); got != want {
					t.Fatalf("byte %#x at %d, from %d: %d, want %d", c, pos, j, got, want)
				}
			}
		}
	}
}

// TestScanUint: reading a number straight from a line, 8 bytes at a time, agrees with parseUint on the token, at
// every alignment, for every length up to 21 digits and whatever follows it.
func TestScanUint(t *testing.T) {
	nums := []string{"", "0", "00", "7", "42", "255", "65535", "1418530010", "253402300799", "9223372036854775807",
		"9999999999999999999", "18446744073709551615", "99999999999999999999", "123456789012345678901", "1a", "12345678x", "-1"}
	for n := 1; n <= 21; n++ {
		nums = append(nums, strings.Repeat("9", n), "1"+strings.Repeat("0", n-1), strings.Repeat("8", n-1)+"9")
	}
	for _, num := range nums {
		for _, after := range []string{"", " ", " 5", "\t1", "\n", "x", ".", "/", ":", "\x00", "\xff", "5"} {
			for pad := range 10 {
				line := strings.Repeat("a", pad) + num + after
				v, j, ok := scanUint(line, pad)
				tok := line[pad:tokenEnd(line, pad)]
				want, wok := parseUint(tok, math.MaxUint64)
				wok = wok && len(tok) <= 19
				if ok != wok || ok && (v != want || j != pad+len(tok)) {
					t.Fatalf("scanUint(%q, %d) = %d, %d, %v; token %q is %d, %v", line, pad, v, j, ok, tok, want, wok)
				}
			}
		}
	}
}
