package kql

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tQuoted
	tLParen
	tRParen
	tColon
	tRange
	tLBrace
	tRBrace
	tAnd
	tOr
	tNot
)

// A token is one lexical unit of the query with the byte range it came from, so that every error can point at it.
type token struct {
	kind     tokKind
	off, end int
	// parts is the decoded text: for a word, split at its unescaped '*' (one part means no wildcard); for a
	// quoted value, its one string.
	parts []string
	// op is a range operator as the range query names it: gt, gte, lt or lte.
	op string
}

// specials are the characters KQL gives a meaning outside quotes; a backslash makes any of them literal.
const specials = `\():<>"*{}`

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// lexer reads tokens one at a time; the parser pulls them, so a bad character is reported only when reached.
type lexer struct {
	q   string
	pos int
}

func (l *lexer) errorf(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Query: l.q, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.q) && isSpace(l.q[l.pos]) {
		l.pos++
	}
	start := l.pos
	if l.pos == len(l.q) {
		return token{kind: tEOF, off: start, end: start}, nil
	}
	one := func(k tokKind) (token, error) {
		l.pos++
		return token{kind: k, off: start, end: l.pos}, nil
	}
	switch c := l.q[l.pos]; c {
	case '(':
		return one(tLParen)
	case ')':
		return one(tRParen)
	case ':':
		return one(tColon)
	case '{':
		return one(tLBrace)
	case '}':
		return one(tRBrace)
	case '<', '>':
		op := map[byte]string{'<': "lt", '>': "gt"}[c]
		l.pos++
		if l.pos < len(l.q) && l.q[l.pos] == '=' {
			op += "e"
			l.pos++
		}
		return token{kind: tRange, off: start, end: l.pos, op: op}, nil
	case '"':
		return l.quoted()
	}
	return l.word()
}

// quoted reads "..." as KQL does: \" and \\ stand for themselves, \t \r \n and \uXXXX for what they name, and any
// other backslash is kept as written (Kibana's grammar reads it as a plain character).
func (l *lexer) quoted() (token, error) {
	start := l.pos
	l.pos++ // the opening quote
	var b strings.Builder
	for l.pos < len(l.q) {
		c := l.q[l.pos]
		switch {
		case c == '"':
			l.pos++
			return token{kind: tQuoted, off: start, end: l.pos, parts: []string{b.String()}}, nil
		case c == '\\' && l.pos+1 < len(l.q):
			if r, n, ok := l.escape(l.pos, `\"`); ok {
				b.WriteString(r)
				l.pos += n
				continue
			}
			b.WriteByte(c)
			l.pos++
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return token{}, l.errorf(start, "the quoted value has no closing quote")
}

// escape decodes the escape sequence at i (a backslash) if it is one of \t \r \n \uXXXX or a backslash before one
// of the characters in literal; it returns the text it stands for and the bytes it spans.
func (l *lexer) escape(i int, literal string) (string, int, bool) {
	if i+1 >= len(l.q) {
		return "", 0, false
	}
	switch c := l.q[i+1]; {
	case c == 't':
		return "\t", 2, true
	case c == 'r':
		return "\r", 2, true
	case c == 'n':
		return "\n", 2, true
	case c == 'u':
		if i+6 <= len(l.q) {
			if n, err := strconv.ParseUint(l.q[i+2:i+6], 16, 32); err == nil {
				return string(rune(n)), 6, true
			}
		}
		return "", 0, false
	case strings.IndexByte(literal, c) >= 0:
		return string(c), 2, true
	}
	return "", 0, false
}

// word reads an unquoted run of characters up to whitespace or a special character. A word spelled and, or or not
// (any case, nothing escaped) is an operator; Kibana's grammar has the same rule but also cuts words at "not "
// inside them ("cannot be"), which this lexer does not copy.
func (l *lexer) word() (token, error) {
	start := l.pos
	var parts []string
	var b strings.Builder
	escaped := false
	for l.pos < len(l.q) {
		c := l.q[l.pos]
		if isSpace(c) {
			break
		}
		if c == '*' {
			parts = append(parts, b.String())
			b.Reset()
			l.pos++
			continue
		}
		if c == '\\' {
			if r, n, ok := l.escape(l.pos, specials); ok {
				b.WriteString(r)
				l.pos += n
				escaped = true
				continue
			}
			// Kibana lets \and, \or and \not spell the word, so a value can be one of them.
			if n := keywordPrefix(l.q[l.pos+1:]); n > 0 {
				b.WriteString(l.q[l.pos+1 : l.pos+1+n])
				l.pos += 1 + n
				escaped = true
				continue
			}
			return token{}, l.errorf(l.pos, `unknown escape: a backslash goes before one of %s, or writes \t \r \n \uXXXX`, specials)
		}
		if strings.IndexByte(specials, c) >= 0 {
			break
		}
		b.WriteByte(c)
		l.pos++
	}
	parts = append(parts, b.String())
	t := token{kind: tWord, off: start, end: l.pos, parts: parts}
	if !escaped && len(parts) == 1 {
		switch strings.ToLower(parts[0]) {
		case "and":
			t.kind = tAnd
		case "or":
			t.kind = tOr
		case "not":
			t.kind = tNot
		}
	}
	return t, nil
}

// keywordPrefix returns the length of the operator word (and, or, not, in any case) that s starts with, or 0.
func keywordPrefix(s string) int {
	for _, kw := range []string{"and", "not", "or"} {
		if len(s) >= len(kw) && strings.EqualFold(s[:len(kw)], kw) {
			return len(kw)
		}
	}
	return 0
}
