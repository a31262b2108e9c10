// Package jsonw appends JSON values by hand for the hot paths, where encoding/json would reflect and allocate per
// value: strings escaped the one way kinflow writes them, dates as RFC 3339 UTC strings, and unsigned numbers. It depends on nothing
// but the standard library and allocates nothing beyond growing dst.
package jsonw

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendString appends s as a quoted JSON string. It escapes what JSON requires and nothing more: '"' and '\\',
// the control characters (\n, \r and \t in their short forms, the rest as \u00XX), and invalid UTF-8, which becomes
// \ufffd as encoding/json makes it. Unlike encoding/json it leaves <, >, & and U+2028/U+2029 as they are (the
// documents go to a search engine, not into HTML or a JavaScript source), so a typical flow log field is a copy.
func AppendString(dst []byte, s string) []byte {
	if len(s) >= 8 && clean(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	dst = append(dst, '"')
	start, i := 0, 0 // s[start:i] is still to copy
	for i < len(s) {
		if i+8 <= len(s) {
			// Eight bytes at once: past them when none needs a look, else straight to the first that does.
			m := needsLook(word(s, i))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		} else if len(s) >= 8 && needsLook(word(s, len(s)-8))>>(8*(i+8-len(s))) == 0 {
			// The last few bytes, in the last eight read as one word, those already seen shifted out: none needs a
			// look (a borrow from a byte shifted out can leave a false mark, never hide a true one; a false mark
			// only sends the loop on byte by byte).
			i = len(s)
			continue
		}
		c := s[i]
		if !special[c] { // the last few bytes, taken one at a time
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size // valid, copied as it is
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// clean reports whether no byte of s, of 8 bytes or more, needs a look: the marks of its first and last eight bytes
// (which may overlap) and of the words between, without a branch per word (a mark, true or false, is only ever
// there with a true one).
func clean(s string) bool {
	m := needsLook(word(s, 0)) | needsLook(word(s, len(s)-8))
	for i := 8; i < len(s)-8; i += 8 {
		m |= needsLook(word(s, i))
	}
	return m == 0
}

const hex = "0123456789abcdef"

// word reads the eight bytes of s from i as one little-endian word (the compiler makes it one load).
func word(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// needsLook marks, with the high bit of each byte of w, the bytes that need a look: those to escape and those of
// multi-byte sequences. The lowest mark is exact, so the copy loop can go straight to it; marks above it may be
// false. How: where every byte is under 0x80 (else w's own high bits tell), a byte-wise subtraction borrows, and so
// sets the byte's high bit, exactly where the byte is under 0x20, or is '"' or '\\' (zero after the XOR). Only such
// a byte starts a borrow, so a false mark, carried by a borrow into the byte above, lies above a true one.
func needsLook(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (w | (w - 0x20*ones) | ((w ^ '"'*ones) - ones) | ((w ^ '\\'*ones) - ones)) & highs
}

// special marks the bytes AppendString must stop at, as needsLook does for eight at a time: those to escape, and
// those of multi-byte sequences, which must be checked for valid UTF-8.
var special = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = true
	}
	return t
}()

// AppendUint appends v in decimal, as strconv.AppendUint(dst, v, 10) does. Numbers of up to 8 digits (ports,
// packet and byte counts) are one append of digit pairs from a table, without strconv's generic path and its copy
// from a buffer (BenchmarkEncode in internal/format/vpcflow: half the instructions).
func AppendUint(dst []byte, v uint64) []byte {
	switch {
	case v < 10:
		return append(dst, byte('0'+v))
	case v < 100:
		return append(dst, digits[v*2], digits[v*2+1])
	case v < 10000:
		hi, lo := v/100*2, v%100*2
		if v < 1000 {
			return append(dst, digits[hi+1], digits[lo], digits[lo+1])
		}
		return append(dst, digits[hi], digits[hi+1], digits[lo], digits[lo+1])
	case v < 100000:
		d, lo := v/10000, v%10000
		h, l := lo/100*2, lo%100*2
		return append(dst, byte('0'+d), digits[h], digits[h+1], digits[l], digits[l+1])
	case v < 100000000:
		hi, lo := v/10000, v%10000
		dst = AppendUint(dst, hi)
		h, l := lo/100*2, lo%100*2
		return append(dst, digits[h], digits[h+1], digits[l], digits[l+1])
	}
	return strconv.AppendUint(dst, v, 10)
}

// The instants AppendDate writes by hand: years 0000 to 9999, which RFC 3339 allows.
const (
	minUnix = -62167219200 // 0000-01-01T00:00:00Z
	maxUnix = 253402300799 // 9999-12-31T23:59:59Z
)

// AppendDate appends ms, milliseconds since the Unix epoch, as a quoted RFC 3339 UTC time, with milliseconds only
// when they are not zero: "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.120Z". Outside the years 0000 to 9999,
// which RFC 3339 cannot write, it writes what the time package does (a sign, or a fifth digit of the year).
func AppendDate(dst []byte, ms int64) []byte {
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	return appendDate(dst, sec, frac)
}

// AppendDateSeconds appends sec, seconds since the Unix epoch, as a quoted RFC 3339 UTC time:
// "2023-11-14T22:13:20Z". It writes the bytes of time.Unix(sec, 0).UTC().AppendFormat(dst, time.RFC3339) in quotes,
// for every sec.
func AppendDateSeconds(dst []byte, sec int64) []byte { return appendDate(dst, sec, 0) }

// A Dates writes dates as AppendDate does, and keeps the text of the day of the last one: the dates of one day (the
// flows of a batch, mostly) are then the day's text and the time of day, written in place, without working out the
// calendar (BenchmarkEncode in internal/format/vpcflow: half the instructions of AppendDate). The zero value is
// ready; it is not safe for concurrent use.
type Dates struct {
	day  uint64 // the day of head and tail, in days since 0000-01-01
	head uint64 // the first 8 bytes of its text: `"2026-11`
	tail uint32 // and the next 4: `-23T`
	set  bool   // whether there is a day yet
}

// AppendDate appends ms as AppendDate(dst, ms) does.
func (d *Dates) AppendDate(dst []byte, ms int64) []byte {
	if ms < minUnix*1000 || ms > maxUnix*1000+999 {
		return AppendDate(dst, ms)
	}
	// In unsigned numbers from 0000-01-01, a whole number of days before the epoch: no sign to mind in divisions.
	u := uint64(ms - minUnix*1000)
	sec, frac := u/1000, u%1000
	days, s := sec/86400, sec%86400
	if d.day != days || !d.set {
		var b [32]byte
		text := appendDate(b[:0], int64(days*86400)+minUnix, 0)
		d.day, d.head, d.tail, d.set = days, binary.LittleEndian.Uint64(text), binary.LittleEndian.Uint32(text[8:]), true
	}
	dst = slices.Grow(dst, 32)
	n := len(dst)
	b := dst[n : n+32]
	binary.LittleEndian.PutUint64(b, d.head)
	binary.LittleEndian.PutUint32(b[8:], d.tail)
	h, m := s/3600*2, s/60%60*2
	s = s % 60 * 2
	b[12], b[13], b[14], b[15], b[16], b[17] = digits[h], digits[h+1], ':', digits[m], digits[m+1], ':'
	b[18], b[19] = digits[s], digits[s+1]
	k := 20
	if frac != 0 {
		b[20], b[21], b[22], b[23] = '.', byte('0'+frac/100), digits[frac%100*2], digits[frac%100*2+1]
		k = 24
	}
	b[k], b[k+1] = 'Z', '"'
	return dst[:n+k+2]
}

// appendDate writes sec and ms (0 to 999; 0 writes no fraction).
func appendDate(dst []byte, sec, ms int64) []byte {
	if sec < minUnix || sec > maxUnix {
		layout := time.RFC3339
		if ms != 0 {
			layout = "2006-01-02T15:04:05.000Z07:00"
		}
		dst = append(dst, '"')
		dst = time.Unix(sec, ms*1e6).UTC().AppendFormat(dst, layout)
		return append(dst, '"')
	}
	days, s := sec/86400, sec%86400
	if s < 0 {
		days, s = days-1, s+86400
	}
	y, mo, d := civil(days)
	dst = append(dst, '"', digits[y/100*2], digits[y/100*2+1], digits[y%100*2], digits[y%100*2+1], '-',
		digits[mo*2], digits[mo*2+1], '-', digits[d*2], digits[d*2+1], 'T',
		digits[s/3600*2], digits[s/3600*2+1], ':', digits[s/60%60*2], digits[s/60%60*2+1], ':',
		digits[s%60*2], digits[s%60*2+1])
	if ms != 0 {
		dst = append(dst, '.', byte('0'+ms/100), digits[ms%100*2], digits[ms%100*2+1])
	}
	return append(dst, 'Z', '"')
}

// digits holds "00" to "99", so two digits take one lookup.
const digits = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// civil converts days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil_from_days), for any
// day of the years 0000 to 9999.
func civil(days int64) (y, m, d int64) {
	z := days + 719468 // days since 0000-03-01
	era := z / 146097  // 400-year eras; z is negative only in the two months before 0000-03-01
	if z < 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097                                  // day of the era, 0 to 146096
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of the era, 0 to 399
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of the year from March 1st, 0 to 365
	mp := (5*doy + 2) / 153                                // month from March, 0 to 11
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}
