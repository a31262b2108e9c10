// Package lbtoken owns what the three load-balancer access-log formats (internal/format/alb, nlb and elb) share:
// splitting a line into its space-separated fields, some of them double-quoted with backslash escapes; reading
// their values (times, durations, counts, addresses, request lines, URLs, TLS versions) straight from the bytes;
// the permanent *LineError every parser returns; and the document tree that writes a family's registry rows in
// order. Nothing here allocates per line: the formats parse millions of lines a minute, and every value is a
// sub-slice of the line or a number.
package lbtoken

// A Token is one field of a line.
type Token struct {
	// Value is the field's text: inside the quotes of a quoted field, escapes not yet undone (see Text).
	Value []byte
	// Quoted is set when the whole field was one double-quoted string.
	Quoted bool
	// Escaped is set when Value holds a backslash escape.
	Escaped bool
	// Offset is where the field starts in the line, in bytes.
	Offset int
}

// A Scanner splits a line into fields. A field is a run of bytes up to a space, except that a double quote opens
// a section, ended by the next unescaped double quote, in which spaces belong to the field and a backslash escapes
// the byte after it. AWS quotes the fields that can hold spaces ("request", "user_agent", "target:port_list");
// an NLB's alpn_client_preference_list is quoted strings joined by commas ("h2","http/1.1"), one field with
// quotes inside it, which the same rule keeps whole. The zero value scans an empty line.
type Scanner struct {
	line []byte
	pos  int
	// badQuote is the offset of a quote left open at the end of the line, or -1.
	badQuote int
}

// Reset starts scanning line.
func (s *Scanner) Reset(line []byte) {
	s.line, s.pos, s.badQuote = line, 0, -1
}

// Next returns the next field; false at the end of the line, or when a quote was left open (BadQuote says where).
func (s *Scanner) Next() (Token, bool) {
	line, i := s.line, s.pos
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	if i >= len(line) {
		s.pos = i
		return Token{}, false
	}
	start := i
	escaped, quotes := false, 0
	for i < len(line) {
		c := line[i]
		if isSpace(c) {
			break
		}
		if c != '"' {
			i++
			continue
		}
		// A quoted section: up to the next quote that no backslash escapes.
		quotes++
		open := i
		i++
		for i < len(line) && line[i] != '"' {
			if line[i] == '\\' && i+1 < len(line) {
				escaped = true
				i++
			}
			i++
		}
		if i >= len(line) {
			s.badQuote, s.pos = open, len(line)
			return Token{}, false
		}
		i++ // the closing quote
	}
	s.pos = i
	t := Token{Value: line[start:i], Escaped: escaped, Offset: start}
	// Quoted only when the field is exactly one quoted section: "a","b" is two sections, a"b"c is not quoted.
	if quotes == 1 && line[start] == '"' && line[i-1] == '"' && i-start >= 2 {
		t.Value, t.Quoted = line[start+1:i-1], true
	}
	return t, true
}

// BadQuote returns the offset of the quote that Next found open at the end of the line, or -1.
func (s *Scanner) BadQuote() int { return s.badQuote }

// isSpace: AWS separates fields with one space; a tab or a stray carriage return (a line split on '\n' only) is
// taken as one too, so it never ends up inside a value.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// Text returns the value of t, nil when it is "-" (quoted or not), which AWS writes for a value it does not have.
// Escapes are undone in place, in the line's own bytes (the unescaped text is never longer), so the line must be
// the caller's to change: the parsers scan their own copy.
func Text(t Token) []byte {
	v := t.Value
	if len(v) == 1 && v[0] == '-' {
		return nil
	}
	if !t.Escaped || !t.Quoted {
		return v
	}
	return Unescape(v)
}

// Unescape undoes backslash escapes in place: \x becomes x, whatever x is (AWS escapes '"' and '\\'; a
// trailing lone backslash is kept). It returns the shortened slice.
func Unescape(v []byte) []byte {
	w := 0
	for r := 0; r < len(v); r++ {
		c := v[r]
		if c == '\\' && r+1 < len(v) {
			r++
			c = v[r]
		}
		v[w] = c
		w++
	}
	return v[:w]
}
