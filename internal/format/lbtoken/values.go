package lbtoken

import (
	"math"
	"net/netip"
	"unsafe"
)

// A Duration is a time a load balancer measured, in nanoseconds, or one of the two markers below. Its values are
// never negative, so the markers cannot be taken for one.
type Duration int64

const (
	// NoDuration is a duration the line does not have: "-", or a field the line is too old to carry.
	NoDuration Duration = math.MinInt64
	// Unanswered is AWS's -1: the load balancer could not dispatch the request, or the target closed the
	// connection or timed out before it answered. It is kept apart from NoDuration because it says something
	// about the target.
	Unanswered Duration = -1
)

// Valid reports whether d is a measured duration.
func (d Duration) Valid() bool { return d >= 0 }

// NoTime is a time the line does not have.
const NoTime int64 = math.MinInt64

// NoCount is a count the line does not have.
const NoCount int64 = -1

// ParseUint reads a decimal number of at most 18 digits (no sign, no spaces), which cannot overflow an int64.
func ParseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	return digits(b)
}

// ParseSeconds reads seconds with an optional fraction ("0.000073", "3", "-1") as a Duration. Fraction digits
// past the ninth are dropped: nanoseconds are as fine as the index goes.
func ParseSeconds(b []byte) (Duration, bool) {
	if len(b) == 2 && b[0] == '-' && b[1] == '1' {
		return Unanswered, true
	}
	dot := len(b)
	for i, c := range b {
		if c == '.' {
			dot = i
			break
		}
	}
	sec, ok := ParseUint(b[:dot])
	// 9e9 seconds (285 years) is more than any connection; the bound keeps the nanoseconds in an int64.
	if !ok || sec > 9e9 {
		return 0, false
	}
	ns := sec * 1e9
	if dot < len(b) {
		frac := b[dot+1:]
		if len(frac) == 0 {
			return 0, false
		}
		scale := int64(1e8)
		for _, c := range frac {
			if c < '0' || c > '9' {
				return 0, false
			}
			ns += int64(c-'0') * scale
			scale /= 10
		}
	}
	return Duration(ns), true
}

// ParseMillis reads a whole number of milliseconds as a Duration (the NLB's connection and handshake times).
func ParseMillis(b []byte) (Duration, bool) {
	ms, ok := ParseUint(b)
	if !ok || ms > 9e12 {
		return 0, false
	}
	return Duration(ms * 1e6), true
}

// ParseTime reads an ISO 8601 UTC time as the load balancers write it, 2018-07-02T22:23:00.186641Z (ALB, classic
// ELB) or 2018-12-20T02:59:40 (NLB: no fraction and no zone, which is UTC too), as nanoseconds since the epoch.
// It checks every part, the day against its month included, so a bad time is an error rather than another day.
// Years run from 1970 to 2261: nanoseconds since the epoch end in 2262, and no load balancer logged before 1970.
func ParseTime(b []byte) (int64, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	h, ok4 := digits(b[11:13])
	mi, ok5 := digits(b[14:16])
	s, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 ||
		mi > 59 || s > 59 {
		return 0, false
	}
	rest := b[19:]
	var ns int64
	if len(rest) > 0 && rest[0] == '.' {
		i, scale := 1, int64(1e8)
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			ns += int64(rest[i]-'0') * scale
			scale /= 10
		}
		if i == 1 {
			return 0, false
		}
		rest = rest[i:]
	}
	if len(rest) == 1 && rest[0] == 'Z' {
		rest = rest[1:]
	}
	if len(rest) != 0 {
		return 0, false
	}
	days := daysFromCivil(y, mo, d)
	return (days*86400+h*3600+mi*60+s)*1e9 + ns, true
}

// digits reads b, all decimal digits, as a number; the caller bounds its length.
func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// ParseAddrPort reads ip:port. IPv6 comes as [2001:db8::1]:443, or bare (2001:db8::1:443), where the port is after
// the last colon; zones are refused, which no load balancer writes.
func ParseAddrPort(b []byte) (netip.AddrPort, bool) {
	colon := -1
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 {
		return netip.AddrPort{}, false
	}
	host := b[:colon]
	if host[0] == '[' {
		if len(host) < 2 || host[len(host)-1] != ']' {
			return netip.AddrPort{}, false
		}
		host = host[1 : len(host)-1]
	}
	port, ok := ParseUint(b[colon+1:])
	if !ok || port > 65535 {
		return netip.AddrPort{}, false
	}
	for _, c := range host {
		if c == '%' {
			return netip.AddrPort{}, false
		}
	}
	// The string only lives for the call: netip keeps none of it (a parse error would, and is dropped).
	a, err := netip.ParseAddr(unsafeString(host))
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a, uint16(port)), true
}

// unsafeString views b as a string without a copy, for calls that do not keep their argument.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
