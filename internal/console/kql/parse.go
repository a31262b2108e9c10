package kql

import (
	"fmt"
	"strings"
)

// parser is a recursive-descent reader of the grammar in the package comment that builds the DSL as it goes: a
// field:(list) hands its field down to the values of the list, as Kibana's grammar does with partial functions.
type parser struct {
	lx     lexer
	tok    token // the token being looked at
	prev   token // the one before it, which errors name ("expected a value after ...")
	fields map[string]string
	depth  int
	// conditions counts the clauses built for values, to bound what one query can cost to build and to run.
	conditions int
}

// maxConditions bounds the clauses one query builds: a value without a field is one clause per field it searches, so
// a short query can ask for many. OpenSearch's default limit on the clauses of a query (1024) is well below this, so
// a query above it would rarely run anyway; failing here says why, and before the memory is spent.
const maxConditions = 4096

// count notes that n more clauses are being built for the value at off.
func (p *parser) count(off, n int) error {
	p.conditions += n
	if p.conditions > maxConditions {
		return p.errorf(off, "the query is too large: more than %d conditions (a value without a field is one per field it searches)", maxConditions)
	}
	return nil
}

// field is a resolved field name: its type and where the query names it.
type field struct {
	name, typ string
	off       int
}

// literal is a value or a field name as typed: a quoted string, or a run of words with the spaces between them.
type literal struct {
	parts    []string // split at unescaped '*'; one part means no wildcard
	quoted   bool
	off, end int
}

func (v literal) wildcard() bool { return len(v.parts) > 1 }

// star is a lone unquoted '*': exists after a field, everything without one.
func (v literal) star() bool { return len(v.parts) == 2 && v.parts[0] == "" && v.parts[1] == "" }

func (v literal) text() string { return v.parts[0] }

func (p *parser) errorf(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Query: p.lx.q, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.prev, p.tok = p.tok, t
	return nil
}

func (p *parser) raw(t token) string { return p.lx.q[t.off:t.end] }

// after describes what came before the current token, for errors that say what was expected after it.
func (p *parser) after(f *field) string {
	if p.prev.kind == tColon && f != nil {
		return " after " + shown(f.name+":")
	}
	if p.prev.end == 0 {
		return ""
	}
	return " after " + shown(p.raw(p.prev))
}

// expectedOperator is the error for a token where a condition has ended and only AND, OR or a closing token may
// follow; the common causes get their own hint.
func (p *parser) expectedOperator(closer string) error {
	switch p.tok.kind {
	case tColon:
		return p.errorf(p.tok.off, "unexpected ':': quote a value that holds one (a time, an IPv6 address), e.g. source.ip:\"2001:db8::1\"")
	case tLBrace, tRBrace:
		return p.nested()
	case tRange:
		return p.errorf(p.tok.off, "unexpected %q: a range needs a field on its left, e.g. source.port >= 1024", p.raw(p.tok))
	}
	return p.errorf(p.tok.off, "expected AND, OR or %s, not %s: KQL does not join conditions without an operator", closer, shown(p.raw(p.tok)))
}

func (p *parser) nested() error {
	return p.errorf(p.tok.off, "nested field queries (field:{...}) are not supported")
}

// or reads or = and { "or" and }; f is the field of the value list being read, nil at the top of the query.
func (p *parser) or(f *field) (map[string]any, error) {
	c, err := p.and(f)
	if err != nil {
		return nil, err
	}
	clauses := []map[string]any{c}
	for p.tok.kind == tOr {
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.and(f)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, c)
	}
	return or(clauses), nil
}

func (p *parser) and(f *field) (map[string]any, error) {
	c, err := p.not(f)
	if err != nil {
		return nil, err
	}
	clauses := []map[string]any{c}
	for p.tok.kind == tAnd {
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.not(f)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, c)
	}
	return And(clauses...), nil
}

func (p *parser) not(f *field) (map[string]any, error) {
	if p.tok.kind != tNot {
		return p.primary(f)
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	c, err := p.not(f)
	if err != nil {
		return nil, err
	}
	return not(c), nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf(p.tok.off, "the query nests parentheses and NOTs more than %d deep", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) primary(f *field) (map[string]any, error) {
	switch p.tok.kind {
	case tLParen:
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		open := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tRParen {
			return nil, p.errorf(p.tok.off, "empty parentheses: put a %s between them", map[bool]string{true: "value", false: "query"}[f != nil])
		}
		c, err := p.or(f)
		if err != nil {
			return nil, err
		}
		if p.tok.kind == tEOF {
			return nil, p.errorf(open.off, "this '(' is never closed")
		}
		if p.tok.kind != tRParen {
			return nil, p.expectedOperator("')'")
		}
		return c, p.advance()
	case tWord, tQuoted:
	case tLBrace, tRBrace:
		return nil, p.nested()
	default:
		what := "a field or a value"
		if f != nil {
			what = "a value"
		}
		if p.tok.kind == tAnd || p.tok.kind == tOr {
			return nil, p.errorf(p.tok.off, "expected %s%s, not the operator %q (quote it to search for the word)", what, p.after(f), p.raw(p.tok))
		}
		return nil, p.errorf(p.tok.off, "expected %s%s", what, p.after(f))
	}
	v, err := p.literal()
	if err != nil {
		return nil, err
	}
	if p.tok.kind == tColon && !v.quoted && strings.ContainsAny(p.lx.q[v.off:v.end], " \t\r\n") {
		// "a:1 b:2": the words ran on into the next field. Say so at that field rather than reject a value.
		last := strings.LastIndexAny(p.lx.q[v.off:v.end], " \t\r\n") + v.off + 1
		return nil, p.errorf(last, "expected AND or OR before %s: KQL does not join conditions without an operator", shown(p.lx.q[last:v.end]+":"))
	}
	if f != nil { // a value of a list: the field is the list's
		if p.tok.kind == tColon {
			return nil, p.expectedOperator("')'")
		}
		return p.match(*f, v)
	}
	switch p.tok.kind {
	case tColon:
		fl, err := p.resolve(v)
		if err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return p.not(&fl)
	case tRange:
		fl, err := p.resolve(v)
		if err != nil {
			return nil, err
		}
		op := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tWord && p.tok.kind != tQuoted {
			return nil, p.errorf(p.tok.off, "expected a value after %s", shown(fl.name+" "+p.raw(op)))
		}
		rv, err := p.literal()
		if err != nil {
			return nil, err
		}
		return p.rangeClause(fl, op.op, rv)
	case tLBrace:
		return nil, p.nested()
	}
	return p.bare(v)
}

// literal reads a quoted string or a run of words. The words of a run are one value with the spaces between them
// kept, as in Kibana ("a b" is the value "a b"): KQL reads no implicit AND.
func (p *parser) literal() (literal, error) {
	t := p.tok
	v := literal{parts: t.parts, quoted: t.kind == tQuoted, off: t.off, end: t.end}
	if err := p.advance(); err != nil {
		return literal{}, err
	}
	if v.quoted {
		return v, nil
	}
	if p.tok.kind != tWord {
		return v, nil
	}
	// The last part grows word by word in a builder: adding to a string each time would copy it each time,
	// quadratic in a long run of words.
	parts := append([]string(nil), v.parts[:len(v.parts)-1]...) // the token's slice is not ours to grow
	var last strings.Builder
	last.WriteString(v.parts[len(v.parts)-1])
	for p.tok.kind == tWord {
		last.WriteString(p.lx.q[v.end:p.tok.off]) // the spaces between the words, as typed
		last.WriteString(p.tok.parts[0])
		for _, part := range p.tok.parts[1:] {
			parts = append(parts, last.String())
			last.Reset()
			last.WriteString(part)
		}
		v.end = p.tok.end
		if err := p.advance(); err != nil {
			return literal{}, err
		}
	}
	v.parts = append(parts, last.String())
	return v, nil
}

// resolve finds the field a literal names.
func (p *parser) resolve(v literal) (field, error) {
	if v.wildcard() {
		return field{}, p.errorf(v.off, "a field name with '*' (%s) is not supported: name one field", shown(p.lx.q[v.off:v.end]))
	}
	name := v.text()
	if strings.TrimSpace(name) == "" {
		return field{}, p.errorf(v.off, "expected a field name before ':'")
	}
	typ, ok := lookup(p.fields, name)
	if !ok {
		if c := closest(p.fields, name); c != "" {
			return field{}, p.errorf(v.off, "unknown field %s (did you mean %q?)", shown(name), c)
		}
		return field{}, p.errorf(v.off, "unknown field %s", shown(name))
	}
	return field{name: name, typ: typ, off: v.off}, nil
}
