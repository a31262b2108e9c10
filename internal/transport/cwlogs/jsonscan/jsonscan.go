// Package jsonscan reads JSON in place, without reflection and without allocating per value: it reports where each
// wanted string lies in the buffer (unescaping it there, since an escape is never shorter than what it stands for)
// and skips everything else. The caller walks the document it expects with Object and Array and decides per key
// what to keep; what it keeps are Spans of one buffer, made into strings that share it once the walk is done.
//
// It is the tokenizer under the CloudWatch Logs envelope decoder, kept apart so that the envelope's code says only
// what an envelope is. It accepts all valid JSON (nested at most MaxDepth deep); it does not insist on everything
// JSON forbids (a raw control character inside a string passes, and invalid UTF-8 is kept as it is).
package jsonscan

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting Skip follows, so hostile input cannot exhaust the stack.
const MaxDepth = 512

// MaxLen is the longest buffer a Scanner reads: Spans hold 32-bit offsets, which halves the memory of the spans a
// decoder keeps per value.
const MaxLen = 1<<31 - 1

// A Span is the [Off, End) range of a value's text in the scanned buffer.
type Span struct{ Off, End int32 }

// In returns the span's text in s, the scanned buffer as a string.
func (sp Span) In(s string) string { return s[sp.Off:sp.End] }

// A SyntaxError is input that is not the JSON expected, at a byte offset of the buffer.
type SyntaxError struct {
	Offset int
	Detail string // what was wrong, e.g. "expected ':' after an object key"
}

func (e *SyntaxError) Error() string {
	return "jsonscan: " + e.Detail + " at byte " + strconv.Itoa(e.Offset)
}

// A Scanner reads one buffer at a time. The zero value is ready for Reset.
type Scanner struct {
	buf       []byte
	i         int
	shared    bool // buf is the memory of a string: copy it before the first write (see own)
	noEscapes bool // buf has no '\\' at all, so no string needs its own look for one
}

// Reset starts reading buf, which must be at most MaxLen bytes. With shared, buf is not the scanner's to write
// (it is the memory of a string, or the caller keeps it): the first string that needs unescaping makes a private
// copy, which Bytes then returns.
func (sc *Scanner) Reset(buf []byte, shared bool) {
	// One vectorised pass over the whole buffer (hot, typically, from decompression) spares two per string: text
	// such as flow logs has no escapes at all, and then no string needs its own look for one.
	*sc = Scanner{buf: buf, shared: shared, noEscapes: bytes.IndexByte(buf, '\\') < 0}
}

// Bytes returns the buffer: the one given to Reset, or the scanner's copy of it once a string was unescaped in a
// shared one. Spans index it. The caller reads it and must not write it while the scanner is in use.
func (sc *Scanner) Bytes() []byte { return sc.buf }

// Pos is the offset of the next byte to read.
func (sc *Scanner) Pos() int { return sc.i }

// SetPos moves to offset i, for a caller that recognised a stretch of the buffer by itself (see PlainString).
func (sc *Scanner) SetPos(i int) { sc.i = i }

// fail returns a SyntaxError at the current offset.
func (sc *Scanner) fail(detail string) *SyntaxError {
	return &SyntaxError{Offset: sc.i, Detail: detail}
}

// own makes buf the scanner's to write: a copy when it is shared. Offsets do not change, so the spans found so far
// hold in the copy; nothing was written before, so the copy has the same bytes.
func (sc *Scanner) own() {
	if sc.shared {
		sc.buf = append(make([]byte, 0, len(sc.buf)), sc.buf...)
		sc.shared = false
	}
}

// SkipSpace moves past JSON white space.
func (sc *Scanner) SkipSpace() {
	for sc.i < len(sc.buf) {
		switch sc.buf[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// AtEnd reports whether only white space is left.
func (sc *Scanner) AtEnd() bool {
	sc.SkipSpace()
	return sc.i == len(sc.buf)
}

// Object reads {"key": value, ...}, calling field for each key with the scanner at the value; field must read
// the value (Skip it when the key is of no interest). An error of field ends the read and is returned as it is.
func (sc *Scanner) Object(field func(key Span) error) error { return sc.container('{', field, nil) }

// Array reads [v, ...], calling elem with the scanner at each value, which elem must read.
func (sc *Scanner) Array(elem func() error) error { return sc.container('[', nil, elem) }

// container reads an object (open '{', field set) or an array (open '[', elem set): one loop for both, without
// wrapping one callback in another, and with nothing but the two brackets told apart on the way (the envelope's
// events are read per element, where an extra indirect call or a load each would show).
func (sc *Scanner) container(open byte, field func(key Span) error, elem func() error) error {
	end := open + 2 // in ASCII '}' is '{'+2, as ']' is '['+2
	if sc.i >= len(sc.buf) || sc.buf[sc.i] != open {
		return sc.fail(describe(open, "expected an object", "expected an array"))
	}
	sc.i++
	sc.SkipSpace()
	if sc.i < len(sc.buf) && sc.buf[sc.i] == end {
		sc.i++
		return nil
	}
	for keyed := open == '{'; ; {
		sc.SkipSpace()
		if keyed {
			key, err := sc.ReadString()
			if err != nil {
				return err
			}
			sc.SkipSpace()
			if sc.i >= len(sc.buf) || sc.buf[sc.i] != ':' {
				return sc.fail("expected ':' after an object key")
			}
			sc.i++
			sc.SkipSpace()
			if err := field(key); err != nil {
				return err
			}
		} else if err := elem(); err != nil {
			return err
		}
		sc.SkipSpace()
		if sc.i >= len(sc.buf) {
			return sc.fail(describe(open, "unterminated object", "unterminated array"))
		}
		switch sc.buf[sc.i] {
		case ',':
			sc.i++
		case end:
			sc.i++
			return nil
		default:
			return sc.fail(describe(open, "expected ',' or '}' in an object", "expected ',' or ']' in an array"))
		}
	}
}

// describe picks what an error of a container says: of an object or of an array.
func describe(open byte, object, array string) string {
	if open == '{' {
		return object
	}
	return array
}

// Equal reports whether the text of sp is s: for a key, whose escapes ReadString has already undone.
func (sc *Scanner) Equal(sp Span, s string) bool { return string(sc.buf[sp.Off:sp.End]) == s }

// Null consumes a JSON null if one is next.
func (sc *Scanner) Null() bool {
	if len(sc.buf)-sc.i >= 4 && string(sc.buf[sc.i:sc.i+4]) == "null" {
		sc.i += 4
		return true
	}
	return false
}

// AtNumber reports whether a number is next (or something that can only be a malformed one).
func (sc *Scanner) AtNumber() bool {
	return sc.i < len(sc.buf) && (sc.buf[sc.i] == '-' || sc.buf[sc.i] >= '0' && sc.buf[sc.i] <= '9')
}

// ReadStringOrNull reads a string, or null as the empty span.
func (sc *Scanner) ReadStringOrNull() (Span, error) {
	if sc.Null() {
		return Span{}, nil
	}
	return sc.ReadString()
}

// ReadString reads a JSON string, unescaping it in place, and returns where its text now lies.
func (sc *Scanner) ReadString() (Span, error) {
	b := sc.buf
	if sc.i >= len(b) || b[sc.i] != '"' {
		return Span{}, sc.fail("expected a string")
	}
	start := sc.i + 1
	// Fast path: no escapes, the text is used where it is. IndexByte is vectorised; most strings have no '\\'.
	q := bytes.IndexByte(b[start:], '"')
	if q < 0 {
		sc.i = len(b)
		return Span{}, sc.fail("unterminated string")
	}
	if sc.noEscapes {
		sc.i = start + q + 1
		return Span{int32(start), int32(start + q)}, nil
	}
	if e := bytes.IndexByte(b[start:start+q], '\\'); e >= 0 {
		return sc.unescape(start, start+e)
	}
	sc.i = start + q + 1
	return Span{int32(start), int32(start + q)}, nil
}

// PlainString finds the end of a string whose text starts at offset j, without moving the scanner: it returns
// the text's span and the offset after the closing quote, or -1 when the string is unterminated or has an escape
// (which needs ReadString). It lets a caller that expects a fixed layout recognise it in one pass, without writing.
func (sc *Scanner) PlainString(j int) (Span, int) {
	b := sc.buf
	q := bytes.IndexByte(b[j:], '"')
	if q < 0 || !sc.noEscapes && bytes.IndexByte(b[j:j+q], '\\') >= 0 {
		return Span{}, -1
	}
	return Span{int32(j), int32(j + q)}, j + q + 1
}

// unescape reads the rest of a string whose text starts at start and whose first escape is at j, writing the
// unescaped text over the escaped one.
func (sc *Scanner) unescape(start, j int) (Span, error) {
	sc.own()
	b := sc.buf
	w := j // write position; everything before it is final
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			sc.i = j + 1
			return Span{int32(start), int32(w)}, nil
		case c != '\\':
			b[w] = c
			w++
			j++
			continue
		}
		if j+1 >= len(b) {
			break
		}
		j++
		switch b[j] {
		case '"', '\\', '/':
			b[w] = b[j]
		case 'b':
			b[w] = '\b'
		case 'f':
			b[w] = '\f'
		case 'n':
			b[w] = '\n'
		case 'r':
			b[w] = '\r'
		case 't':
			b[w] = '\t'
		case 'u':
			r, n := sc.unicode(j + 1)
			if n < 0 {
				sc.i = j
				return Span{}, sc.fail("invalid \\u escape")
			}
			w += utf8.EncodeRune(b[w:], r)
			j += 1 + n
			continue
		default:
			sc.i = j
			return Span{}, sc.fail("invalid escape in a string")
		}
		w++
		j++
	}
	sc.i = len(b)
	return Span{}, sc.fail("unterminated string")
}

// unicode decodes the XXXX of \uXXXX at j (and a following low surrogate), returning the rune and the bytes used.
// A lone surrogate becomes U+FFFD, as encoding/json makes it.
func (sc *Scanner) unicode(j int) (rune, int) {
	r, ok := hex4(sc.buf, j)
	if !ok {
		return 0, -1
	}
	if utf16.IsSurrogate(r) {
		if j+10 <= len(sc.buf) && sc.buf[j+4] == '\\' && sc.buf[j+5] == 'u' {
			if r2, ok := hex4(sc.buf, j+6); ok {
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					return d, 10
				}
			}
		}
		return utf8.RuneError, 4
	}
	return r, 4
}

func hex4(b []byte, j int) (rune, bool) {
	if j+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[j : j+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// ReadNumber reads a JSON number and returns its text.
func (sc *Scanner) ReadNumber() (Span, error) {
	b, start := sc.buf, sc.i
	j := start
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := j
	if j = skipDigits(b, j); j == digits || b[digits] == '0' && j-digits > 1 {
		return Span{}, sc.fail("invalid number")
	}
	if j < len(b) && b[j] == '.' {
		f := j + 1
		if j = skipDigits(b, f); j == f {
			return Span{}, sc.fail("invalid number")
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		f := j
		if j = skipDigits(b, f); j == f {
			return Span{}, sc.fail("invalid number")
		}
	}
	sc.i = j
	return Span{int32(start), int32(j)}, nil
}

// skipDigits returns the offset of the first byte from j on that is not a decimal digit.
func skipDigits(b []byte, j int) int {
	for j < len(b) && b[j]-'0' <= 9 { // one unsigned comparison for '0' <= b[j] <= '9'
		j++
	}
	return j
}

// Int64 converts the text of a number read by ReadNumber, truncating a fraction or exponent toward zero. It reports
// false when the value does not fit an int64 or, written with a fraction or exponent, lies beyond ±2^62 (where a
// float64 has long stopped holding every integer).
func (sc *Scanner) Int64(n Span) (int64, bool) {
	t := sc.buf[n.Off:n.End]
	neg := t[0] == '-'
	if neg {
		t = t[1:]
	}
	var v int64
	for _, c := range t {
		if c < '0' || c > '9' {
			f, err := strconv.ParseFloat(string(sc.buf[n.Off:n.End]), 64)
			if err != nil || f > 1<<62 || f < -(1<<62) {
				return 0, false
			}
			return int64(f), true
		}
		if v > (1<<63-1-9)/10 {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// Skip reads any JSON value without keeping it.
func (sc *Scanner) Skip() error { return sc.skip(0) }

func (sc *Scanner) skip(depth int) error {
	if depth > MaxDepth {
		return sc.fail("nested too deeply")
	}
	if sc.i >= len(sc.buf) {
		return sc.fail("expected a value")
	}
	switch c := sc.buf[sc.i]; {
	case c == '{':
		return sc.Object(func(Span) error { return sc.skip(depth + 1) })
	case c == '[':
		return sc.Array(func() error { return sc.skip(depth + 1) })
	case c == '"':
		_, err := sc.ReadString()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := sc.ReadNumber()
		return err
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(sc.buf)-sc.i >= len(lit) && string(sc.buf[sc.i:sc.i+len(lit)]) == lit {
			sc.i += len(lit)
			return nil
		}
	}
	return sc.fail("expected a value")
}
