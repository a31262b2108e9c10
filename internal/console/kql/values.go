package kql

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// match builds the clause for field:value, by the field's type. Keyword and ip values are exact terms, as Kibana's
// match query on them is; text is analyzed (match, or match_phrase when quoted).
func (p *parser) match(f field, v literal) (map[string]any, error) {
	if err := p.count(v.off, 1); err != nil {
		return nil, err
	}
	if v.star() {
		return map[string]any{"exists": map[string]any{"field": f.name}}, nil
	}
	if v.wildcard() {
		if f.typ != typeKeyword && f.typ != typeText {
			return nil, p.errorf(v.off, "wildcards (*) work on keyword and text fields; %s is %s", f.name, f.typ)
		}
		return wildcard(f.name, v.parts), nil
	}
	s := v.text()
	switch f.typ {
	case typeKeyword:
		return term(f.name, s), nil
	case typeText:
		if v.quoted {
			return map[string]any{"match_phrase": map[string]any{f.name: s}}, nil
		}
		return map[string]any{"match": map[string]any{f.name: s}}, nil
	case typeIP:
		ip, ok := ipOrCIDR(s)
		if !ok {
			return nil, p.errorf(v.off, "%s is not an IP address or CIDR%s", shown(s), listHint(f, s))
		}
		return term(f.name, ip), nil
	case typeLong:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, p.errorf(v.off, "%s is not a whole number (%s is long)%s", shown(s), f.name, listHint(f, s))
		}
		return term(f.name, n), nil
	case typeBoolean:
		switch strings.ToLower(s) {
		case "true":
			return term(f.name, true), nil
		case "false":
			return term(f.name, false), nil
		}
		return nil, p.errorf(v.off, "%s is not true or false (%s is boolean)", shown(s), f.name)
	case typeDate:
		from, to, day, err := parseDate(s)
		if err != nil {
			return nil, p.errorf(v.off, "%s is not a date: %s%s", shown(s), err, listHint(f, s))
		}
		if day { // a day is every instant in it
			return rangeOf(f.name, map[string]any{"gte": from, "lt": to}), nil
		}
		return term(f.name, from), nil
	}
	return nil, p.errorf(f.off, "field %s has type %s, which a query cannot search", f.name, f.typ)
}

// rangeClause builds field op value on long, date and ip fields, the types whose order means something to users.
func (p *parser) rangeClause(f field, op string, v literal) (map[string]any, error) {
	if err := p.count(v.off, 1); err != nil {
		return nil, err
	}
	if v.wildcard() {
		return nil, p.errorf(v.off, "a range takes one value, without '*'")
	}
	s := v.text()
	switch f.typ {
	case typeLong:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, p.errorf(v.off, "%s is not a whole number (%s is long)", shown(s), f.name)
		}
		return rangeOf(f.name, map[string]any{op: n}), nil
	case typeIP:
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, p.errorf(v.off, "%s is not an IP address (a range takes an address; for a network use %s:<CIDR>)", shown(s), f.name)
		}
		return rangeOf(f.name, map[string]any{op: a.String()}), nil
	case typeDate:
		from, to, day, err := parseDate(s)
		if err != nil {
			return nil, p.errorf(v.off, "%s is not a date: %s", shown(s), err)
		}
		if day {
			// A day is an interval: after it is from the next midnight on, up to and including it is before
			// the next midnight.
			switch op {
			case "gt":
				return rangeOf(f.name, map[string]any{"gte": to}), nil
			case "gte":
				return rangeOf(f.name, map[string]any{"gte": from}), nil
			case "lt":
				return rangeOf(f.name, map[string]any{"lt": from}), nil
			case "lte":
				return rangeOf(f.name, map[string]any{"lt": to}), nil
			}
		}
		return rangeOf(f.name, map[string]any{op: from}), nil
	}
	return nil, p.errorf(f.off, "a range (<, <=, >, >=) works on long, date and ip fields; %s is %s", f.name, f.typ)
}

// bare builds the clause for a value without a field: any keyword or text field holding it, or any ip field when it
// is an address or a CIDR, as Kibana searches its default fields. Fields under a prefix cannot be listed and are not
// searched; a lone '*' is everything.
func (p *parser) bare(v literal) (map[string]any, error) {
	if v.star() {
		return matchAll(), nil
	}
	var clauses []map[string]any
	for _, name := range known(p.fields) {
		f := field{name: name, typ: p.fields[name], off: v.off}
		switch f.typ {
		case typeKeyword, typeText:
		case typeIP:
			if _, ok := ipOrCIDR(v.text()); !ok || v.wildcard() {
				continue
			}
		default:
			continue
		}
		c, err := p.match(f, v)
		if err != nil {
			return nil, err
		}
		clauses = append(clauses, c)
	}
	if len(clauses) == 0 {
		return map[string]any{"match_none": map[string]any{}}, nil
	}
	return or(clauses), nil
}

func term(field string, v any) map[string]any {
	return map[string]any{"term": map[string]any{field: v}}
}

func rangeOf(field string, bounds map[string]any) map[string]any {
	return map[string]any{"range": map[string]any{field: bounds}}
}

// wildcard builds a wildcard query from the parts of a value split at its '*'s. The parts are escaped for the
// wildcard syntax ('?' matches one character and '\' escapes there), so that only the '*'s the user left unescaped
// match anything.
func wildcard(field string, parts []string) map[string]any {
	esc := strings.NewReplacer(`\`, `\\`, `?`, `\?`, `*`, `\*`)
	var b strings.Builder
	for i, part := range parts {
		if i > 0 {
			b.WriteByte('*')
		}
		b.WriteString(esc.Replace(part))
	}
	return map[string]any{"wildcard": map[string]any{field: map[string]any{"value": b.String()}}}
}

// ipOrCIDR returns an address or a network in the form the ip field type reads; a zone (fe80::1%eth0) is not one.
func ipOrCIDR(s string) (string, bool) {
	if strings.Contains(s, "/") {
		pr, err := netip.ParsePrefix(s)
		if err != nil {
			return "", false
		}
		return pr.Masked().String(), true // the network, whatever host bits were typed
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", false
	}
	return a.String(), true
}

// listHint suggests a list when a value that failed to read holds spaces: in KQL "a b" is one value, not two.
func listHint(f field, s string) string {
	w := strings.Fields(s)
	if len(w) < 2 {
		return ""
	}
	return "; to match any of several values, list them: " + f.name + ":(" + strings.Join(w, " or ") + ")"
}

const day = "2006-01-02"

// parseDate reads an RFC 3339 time (with its zone: a time without one would depend on whose clock reads it) or a
// day, which is that UTC day, the days of kinflow's daily indices. It returns the instant (or the day's first) and,
// for a day, the next day's first, both as RFC 3339 in UTC, the form the date fields' format reads.
func parseDate(s string) (from, to string, isDay bool, err error) {
	if t, err := time.Parse(day, s); err == nil {
		return t.Format(time.RFC3339), t.AddDate(0, 0, 1).Format(time.RFC3339), true, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if _, e := time.Parse("2006-01-02T15:04:05.999999999", s); e == nil {
			return "", "", false, errNoZone
		}
		return "", "", false, errDateForm
	}
	return t.UTC().Format(time.RFC3339Nano), "", false, nil
}

type dateError string

func (e dateError) Error() string { return string(e) }

const (
	errNoZone   = dateError("a time needs its zone, Z or ±hh:mm (quote it for the ':'s: \"2026-11-23T10:00:00Z\")")
	errDateForm = dateError("write a day (2026-11-23) or an RFC 3339 time (\"2026-11-23T10:00:00Z\")")
)

// shown quotes a value for an error message, cut short: the message is for a person, who knows the rest.
func shown(s string) string {
	const most = 64
	if r := []rune(s); len(r) > most {
		return strconv.Quote(string(r[:most])) + "…"
	}
	return strconv.Quote(s)
}
