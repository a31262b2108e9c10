// Package kql owns the console's query bar: it reads the Kibana Query Language (KQL) that users type in Kibana or
// OpenSearch Dashboards and turns it into one Elasticsearch/OpenSearch query DSL clause for the fields of a document
// family. The DSL is built as maps, never as text of another query language (no query_string), so nothing a user
// types can change the shape of the query, only the values in it.
//
// The grammar is Kibana's (the kuery grammar of kbn-es-query), precedence NOT > AND > OR:
//
//	query   = [ or ] .
//	or      = and { "or" and } .
//	and     = not { "and" not } .
//	not     = "not" not | primary .
//	primary = "(" or ")" | literal ":" vnot | literal rangeop literal | literal .
//	vor     = vand { "or" vand } .                   (the values of one field: field:(a or b and not c))
//	vand    = vnot { "and" vnot } .
//	vnot    = "not" vnot | "(" vor ")" | literal .
//	literal = quoted | word { word } .
//	rangeop = "<" | "<=" | ">" | ">=" .
//
// A word is a run of characters other than whitespace and \ ( ) : < > " * { }, where '*' is a wildcard and a
// backslash escapes any of those, writes \t \r \n or \uXXXX, or keeps an operator a value (\or). A quoted string
// knows \" \\ \t \r \n \uXXXX and keeps any other backslash as written. and, or and not are operators in any case.
//
// As in KQL there is no implicit AND: the words of a run are one value with their spaces ("a b" is the value "a b"),
// so "a:1 b:2" is an error, which says where an operator is missing. Where this package departs from Kibana:
//   - and, or, not are operators only as whole words, so "cannot be" is a value (Kibana cuts it at "not ") and
//     "a or" lacks its right side (Kibana reads the value "a or");
//   - not may come right before a field's value (field:not a) and before '(' without a space;
//   - nested queries (field:{...}) and wildcards in field names (source.*:x) are errors: flows have neither nested
//     fields nor a use for them that a list of fields would not say better;
//   - a date value is a UTC day (2026-11-23: all of it, and ranges treat it as the interval it is) or an RFC 3339
//     time with its zone; a time without a zone is an error, where Kibana would use the browser's;
//   - a query may nest 64 deep and build 4096 clauses, to bound what one request costs.
package kql

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kinflow/kinflow/internal/schema"

	"github.com/kinflow/kinflow/internal/suggest"
)

// A SyntaxError says where a query cannot be read.
type SyntaxError struct {
	Query  string
	Offset int    // byte offset of the problem
	Msg    string // e.g. `expected a value after "source.ip:"`
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("query: %s (at offset %d)", e.Msg, e.Offset)
}

// The index types Parse knows how to search; a field of another type is an error when a query names it.
const (
	typeIP      = string(schema.IP)
	typeKeyword = string(schema.Keyword)
	typeLong    = string(schema.Long)
	typeDate    = string(schema.Date)
	typeBoolean = string(schema.Boolean)
	typeText    = string(schema.Text)
)

// maxDepth bounds the nesting of parentheses and NOTs: the parser recurses on them, and no person types a query
// nested this deep, so a deeper one is a mistake or an attack, not a search.
const maxDepth = 64

// Parse turns a query as users type it in Kibana's query bar (KQL) into one Elasticsearch/OpenSearch query DSL
// clause, for the fields and types of a document family. An empty query is match_all.
//
// fields maps a dotted field name to its index type ("ip", "keyword", "long", "date", "boolean", "text"). A name
// that ends in '.' or '_' stands, as a family's Any row does, for every field under that prefix that no other name
// names (the longest prefix wins); Fields builds the map from a family. A field the map names neither itself nor
// under a prefix is a *SyntaxError that suggests the closest known name. A value without a field searches the
// keyword and text fields, and the ip fields when the value is an address or a CIDR. AND is a bool filter (a query
// bar filters, it does not score), OR a bool should. Every error is a *SyntaxError.
func Parse(q string, fields map[string]string) (map[string]any, error) {
	if !utf8.ValidString(q) {
		off := 0
		for off < len(q) {
			r, n := utf8.DecodeRuneInString(q[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, &SyntaxError{Query: q, Offset: off, Msg: "the query is not valid UTF-8"}
	}
	p := &parser{lx: lexer{q: q}, fields: fields}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return matchAll(), nil
	}
	c, err := p.or(nil)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		if p.tok.kind == tRParen {
			return nil, p.errorf(p.tok.off, "this ')' closes no '('")
		}
		return nil, p.expectedOperator("the end of the query")
	}
	return c, nil
}

// And joins clauses with AND, as the console joins the query bar with a time range: match_all clauses (and nil ones)
// drop out, one clause left stays itself, none left is match_all.
func And(clauses ...map[string]any) map[string]any {
	var kept []any
	for _, c := range clauses {
		switch {
		case c == nil || isMatchAll(c):
		case boolOnly(c, "filter") != nil:
			kept = append(kept, boolOnly(c, "filter")...) // AND of ANDs is one AND
		default:
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return matchAll()
	}
	if c, ok := kept[0].(map[string]any); ok && len(kept) == 1 {
		return c // a caller's own filter may hold clauses of other types, which stay in a bool
	}
	return map[string]any{"bool": map[string]any{"filter": kept}}
}

// Fields returns the map Parse takes for a family: each searchable row's name and type, an Any row under its prefix.
// Rows the index does not search (NotIndexed, binary) are left out, so a query naming one is told it is unknown
// rather than getting an answer that is always empty.
func Fields(f schema.Family) map[string]string {
	m := make(map[string]string, len(f.Fields))
	for _, r := range f.Fields {
		if r.NotIndexed || r.Type == schema.Binary {
			continue
		}
		m[r.Name] = string(r.Type)
	}
	return m
}

func matchAll() map[string]any { return map[string]any{"match_all": map[string]any{}} }

func isMatchAll(c map[string]any) bool {
	_, ok := c["match_all"]
	return ok && len(c) == 1
}

// boolOnly returns the clauses of c when c is a bool query with no key but occur (and, for should, the
// minimum_should_match of 1 that or writes): the shape this package builds for AND and OR, which can be flattened.
func boolOnly(c map[string]any, occur string) []any {
	b, ok := c["bool"].(map[string]any)
	if !ok || len(c) != 1 {
		return nil
	}
	want := 1
	if occur == "should" {
		if b["minimum_should_match"] != 1 {
			return nil
		}
		want = 2
	}
	kids, ok := b[occur].([]any)
	if !ok || len(b) != want {
		return nil
	}
	return kids
}

// or joins clauses with OR. Plain term clauses on one field become one terms clause (the shape Kibana users expect
// from field:(a or b), and one lookup instead of many); a terms query takes CIDRs on ip fields as a term query does.
func or(clauses []map[string]any) map[string]any {
	var kids []any
	for _, c := range clauses {
		if isMatchAll(c) {
			return c
		}
		if inner := boolOnly(c, "should"); inner != nil {
			kids = append(kids, inner...)
			continue
		}
		kids = append(kids, c)
	}
	if len(kids) == 1 {
		return kids[0].(map[string]any)
	}
	if f, values := sameFieldTerms(kids); f != "" {
		return map[string]any{"terms": map[string]any{f: values}}
	}
	return map[string]any{"bool": map[string]any{"should": kids, "minimum_should_match": 1}}
}

// sameFieldTerms returns the field and values when every clause is a term or terms clause on one field (a terms
// clause comes from a list already merged: (a or b) or c).
func sameFieldTerms(kids []any) (string, []any) {
	field := ""
	var values []any
	for _, k := range kids {
		c := k.(map[string]any)
		if len(c) != 1 {
			return "", nil
		}
		t, ok := c["term"].(map[string]any)
		if !ok {
			t, ok = c["terms"].(map[string]any)
		}
		if !ok || len(t) != 1 {
			return "", nil
		}
		for f, v := range t {
			if field != "" && f != field {
				return "", nil
			}
			field = f
			if vs, ok := v.([]any); ok {
				values = append(values, vs...)
			} else {
				values = append(values, v)
			}
		}
	}
	return field, values
}

func not(c map[string]any) map[string]any {
	return map[string]any{"bool": map[string]any{"must_not": []any{c}}}
}

// known returns the names of fields that are not prefixes, sorted, so that every walk over them is deterministic.
func known(fields map[string]string) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		if !isPrefix(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func isPrefix(name string) bool { return strings.HasSuffix(name, ".") || strings.HasSuffix(name, "_") }

// lookup returns the type of the field at name: its own entry, else the longest prefix entry it lies under.
func lookup(fields map[string]string, name string) (string, bool) {
	if t, ok := fields[name]; ok && !isPrefix(name) {
		return t, true
	}
	best, typ := "", ""
	for n, t := range fields {
		if isPrefix(n) && len(name) > len(n) && strings.HasPrefix(name, n) && len(n) > len(best) {
			best, typ = n, t
		}
	}
	return typ, best != ""
}

// closest is the known name nearest to name, to suggest when a query names an unknown field: a name ending in
// ".name" first (ip -> source.ip), else the one fewest edits away, ties to the first in order.
func closest(fields map[string]string, name string) string {
	if len(name) > maxSuggest {
		return "" // no field name is this long; comparing it with each would only cost time
	}
	names := known(fields)
	for _, n := range names {
		if strings.HasSuffix(n, "."+name) {
			return n
		}
	}
	best, bestD := "", -1
	for _, n := range names {
		if d := suggest.Distance(strings.ToLower(name), strings.ToLower(n)); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// maxSuggest is the longest unknown name that closest compares with the known ones.
const maxSuggest = 128
