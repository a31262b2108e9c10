// parse.go owns reading one list: the text and CSV formats, normalizing indicators and reporting bad lines.

package threat

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// An Indicator is one IP address or CIDR block of a list, with what the list says about it.
type Indicator struct {
	List string // the list's name
	// Value is the indicator as written, normalized: an address stays an address ("192.0.2.7", "2001:db8::1"), a
	// block is masked ("10.1.2.3/8" is "10.0.0.0/8"), and IPv4-mapped IPv6 forms become IPv4.
	Value  string
	Prefix netip.Prefix // Value as a prefix; an address is a /32 or /128
	// The optional columns of a CSV list, or the comment after a text line's indicator (a Spamhaus SBL number,
	// say) as Description. They are carried as written: feeds disagree on scales ("85", "high") and dates, so
	// interpreting them is the reader's business.
	Description string
	Type        string
	Confidence  string
	FirstSeen   string
	Line        int // the line of the list it was read from, for whoever has to find it there
}

// ListStats is what was read from a list, and how much of it is in a Set.
type ListStats struct {
	Name     string
	Format   Format         // as read (never FormatAuto)
	Version  string         // the source's version when a Reloader loaded it
	LoadedAt time.Time      // when a Reloader loaded it
	Lines    int            // lines read, comments and blanks included
	Accepted int            // indicators read
	BadCount int            // lines skipped as bad, all counted
	BadBy    map[Reason]int // BadCount by reason, for metrics labelled with it; nil when there are none
	Bad      []BadLine      // the first MaxBadLines of them, in order
	// Set by NewSet: indicators not in the Set because their prefix is held by a list whose name sorts first
	// (Shadowed) or, failing that, came earlier in the same list (Duplicates).
	Duplicates int
	Shadowed   int
}

// A List is one parsed list. Lists are read-only once parsed: a Set refers to their indicators.
type List struct {
	ListStats
	Indicators []Indicator
}

// Bounds of what a list keeps of its bad lines: a wrong object (an HTML error page, a binary) can have millions
// of them, and the first hundred say what went wrong as well as all would.
const (
	MaxBadLines    = 100
	MaxBadLineText = 256
)

type column int

const (
	colIndicator column = iota
	colDescription
	colType
	colConfidence
	colFirstSeen
	numColumns
)

// headerNames are the CSV header names of each column, most specific first: the first name of the list that the
// header holds picks the column. Names are compared lower-cased with spaces and dashes as underscores.
var headerNames = [numColumns][]string{
	colIndicator:   {"ip", "indicator", "cidr", "value", "ioc", "ip_address", "ipaddress", "dst_ip", "network", "prefix", "address"},
	colDescription: {"description", "desc", "comment", "malware", "threat"},
	colType:        {"type", "indicator_type", "threat_type", "category"},
	colConfidence:  {"confidence", "confidence_level", "score", "reliability"},
	colFirstSeen:   {"first_seen", "firstseen", "first_seen_utc", "date_added", "created"},
}

// ParseList reads the list called name. Bad lines are skipped and reported in the List's stats; the error is an
// *Error only when the list as a whole is unusable: a CSV header without an indicator column, or lines with
// content of which none is an indicator (a wrong object rather than a list). An empty list is valid.
func ParseList(name string, data []byte, format Format) (*List, error) {
	if !format.valid() {
		return nil, &Error{Reason: ReasonNoIndicatorColumn, List: name, Detail: "unknown format " + string(format)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM, as spreadsheet exports write
	p := parser{list: &List{ListStats: ListStats{Name: name}}, strs: make(map[string]string)}
	hdrOff, hdrLine, hdr := firstContent(data)
	var cols [numColumns]int
	isCSV := false
	if format != FormatText && hdr != nil {
		var found bool
		cols, found = headerColumns(hdr)
		switch {
		case found:
			isCSV = true
		case format == FormatCSV:
			return nil, &Error{Reason: ReasonNoIndicatorColumn, List: name,
				Detail: "header " + cut(hdr) + ": want a column named one of " + strings.Join(headerNames[colIndicator], ", ")}
		}
	}
	p.list.Lines = countLines(data)
	// Most lines of a feed are indicators: sizing for all of them saves the copies of append's growth, which for
	// a large list are several times the list itself.
	p.list.Indicators = make([]Indicator, 0, p.list.Lines)
	if isCSV {
		p.list.Format = FormatCSV
		p.readCSV(data, hdrOff, hdrLine, cols)
	} else {
		p.list.Format = FormatText
		p.readText(data)
	}
	l := p.list
	if len(l.Indicators) < cap(l.Indicators)*3/4 { // a list mostly of comments or bad lines: give back the rest
		l.Indicators = slices.Clone(l.Indicators)
	}
	l.Accepted = len(l.Indicators)
	if l.Accepted == 0 && l.BadCount > 0 {
		return nil, &Error{Reason: ReasonNoIndicators, List: name, Detail: l.Bad[0].String()}
	}
	return l, nil
}

type parser struct {
	list     *List
	strs     map[string]string // interned optional fields: feeds repeat "Emotet" or "high" on every line
	lineOffs []int             // line start offsets, built on the first bad CSV record
}

func (p *parser) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	p.strs[s] = s
	return s
}

func (p *parser) bad(line int, text []byte, reason Reason, detail string) {
	l := p.list
	l.BadCount++
	if l.BadBy == nil {
		l.BadBy = make(map[Reason]int)
	}
	l.BadBy[reason]++
	if len(l.Bad) < MaxBadLines {
		l.Bad = append(l.Bad, BadLine{Line: line, Text: cut(text), Reason: reason, Detail: detail})
	}
}

// add parses tok as an indicator of line, reporting text as the line when it is bad.
func (p *parser) add(line int, text, tok []byte, fields [numColumns][]byte) {
	pfx, written, reason, detail := parsePrefix(string(tok))
	if reason != "" {
		p.bad(line, text, reason, detail)
		return
	}
	p.addParsed(line, pfx, written, fields)
}

// addParsed adds the indicator pfx of line (written: as a block).
func (p *parser) addParsed(line int, pfx netip.Prefix, written bool, fields [numColumns][]byte) {
	ind := Indicator{List: p.list.Name, Prefix: pfx, Line: line,
		Description: p.intern(fields[colDescription]), Type: p.intern(fields[colType]),
		Confidence: p.intern(fields[colConfidence]), FirstSeen: p.intern(fields[colFirstSeen])}
	if written {
		ind.Value = pfx.String()
	} else {
		ind.Value = pfx.Addr().String()
	}
	p.list.Indicators = append(p.list.Indicators, ind)
}

// parsePrefix reads an address or CIDR block. written reports that it was written as a block (with a length).
func parsePrefix(s string) (pfx netip.Prefix, written bool, reason Reason, detail string) {
	if s == "" {
		return pfx, false, ReasonBadAddress, "empty"
	}
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return pfx, true, ReasonBadAddress, err.Error()
		}
		// An IPv4-mapped block is an IPv4 block: Match unmaps addresses, so this is the form that can match.
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		// Host bits set ("10.1.2.3/8") are common in hand-kept lists; the block they name is unambiguous.
		pfx, written = p.Masked(), true
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return pfx, false, ReasonBadAddress, err.Error()
		}
		if a.Zone() != "" {
			// A zone is local to one host's links; flow logs carry none, so the indicator could never match.
			return pfx, false, ReasonBadAddress, "address with a zone"
		}
		a = a.Unmap()
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if pfx.Bits() == 0 {
		return netip.Prefix{}, written, ReasonTooBroad, "a /0 matches every address"
	}
	return pfx, written, "", ""
}

// readText reads one indicator per line: the indicator ends at the first space, tab or ';'; after it may come a
// comment started by '#' or ';' (Spamhaus DROP's "1.2.3.0/24 ; SBL123"), kept as the Description.
func (p *parser) readText(data []byte) {
	var fields [numColumns][]byte
	for n, rest := 1, data; len(rest) > 0; n++ {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' || line[0] == ';' {
			continue
		}
		tok, after := line, []byte(nil)
		if i := bytes.IndexAny(line, " \t;"); i >= 0 {
			tok, after = line[:i], bytes.TrimSpace(line[i:])
		}
		fields[colDescription] = nil
		if len(after) > 0 {
			if after[0] != '#' && after[0] != ';' {
				p.bad(n, line, ReasonTrailingText, "want a comment after the indicator, started by # or ;")
				continue
			}
			fields[colDescription] = bytes.TrimSpace(after[1:])
		}
		p.add(n, line, tok, fields)
	}
}

// readCSV reads the records after the header, which is at byte hdrOff and line hdrLine of data.
func (p *parser) readCSV(data []byte, hdrOff, hdrLine int, cols [numColumns]int) {
	r := csv.NewReader(bytes.NewReader(data[hdrOff:]))
	r.FieldsPerRecord = -1 // ragged rows are judged by the columns they have
	r.LazyQuotes = true    // a stray quote in a description should not cost the row
	r.TrimLeadingSpace = true
	r.Comment = '#'
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil { // the header, already read by headerColumns
		return
	}
	var fields [numColumns][]byte
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return
			}
			n := hdrLine - 1 + pe.StartLine
			p.bad(n, p.lineText(data, n), ReasonBadCSV, pe.Err.Error())
			continue
		}
		line, _ := r.FieldPos(0)
		n := hdrLine - 1 + line
		if cols[colIndicator] >= len(rec) {
			p.bad(n, p.lineText(data, n), ReasonMissingField, "no indicator column")
			continue
		}
		for c := colDescription; c < numColumns; c++ {
			fields[c] = nil
			if i := cols[c]; i >= 0 && i < len(rec) {
				fields[c] = []byte(strings.TrimSpace(rec[i]))
			}
		}
		tok := strings.TrimSpace(rec[cols[colIndicator]])
		pfx, written, reason, detail := parsePrefix(tok)
		if reason != "" {
			// Only a bad record needs its text; finding it costs a scan, so good records skip it.
			p.bad(n, p.lineText(data, n), reason, detail)
			continue
		}
		p.addParsed(n, pfx, written, fields)
	}
}

// lineText returns line n (1-based) of data.
func (p *parser) lineText(data []byte, n int) []byte {
	if p.lineOffs == nil {
		p.lineOffs = append(p.lineOffs, 0)
		for i, c := range data {
			if c == '\n' {
				p.lineOffs = append(p.lineOffs, i+1)
			}
		}
	}
	if n < 1 || n > len(p.lineOffs) {
		return nil
	}
	line := data[p.lineOffs[n-1]:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return bytes.TrimRight(line, "\r")
}

// firstContent finds the first line that is neither blank nor a comment: its offset, 1-based number and text.
func firstContent(data []byte) (off, n int, line []byte) {
	for n, rest := 1, data; len(rest) > 0; n++ {
		l, next, _ := bytes.Cut(rest, []byte{'\n'})
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && t[0] != ';' {
			return off, n, t
		}
		off += len(rest) - len(next)
		rest = next
	}
	return 0, 0, nil
}

// headerColumns finds the columns of a CSV header; found reports an indicator column. Absent columns are -1. A
// header of one column ("ip") is a CSV header too: no text list starts with a line that is not an address.
func headerColumns(hdr []byte) (cols [numColumns]int, found bool) {
	r := csv.NewReader(bytes.NewReader(hdr))
	r.LazyQuotes = true
	r.TrimLeadingSpace = true
	names, err := r.Read()
	if err != nil {
		return cols, false
	}
	underscores := strings.NewReplacer(" ", "_", "-", "_")
	for i := range names {
		names[i] = underscores.Replace(strings.ToLower(strings.TrimSpace(names[i])))
	}
	for c := range numColumns {
		cols[c] = -1
	pick:
		for _, want := range headerNames[c] {
			for i, name := range names {
				if name == want {
					cols[c] = i
					break pick
				}
			}
		}
	}
	return cols, cols[colIndicator] >= 0
}

func countLines(data []byte) int {
	n := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// cut bounds a bad line's text, keeping it valid UTF-8 for logs and JSON.
func cut(b []byte) string {
	if len(b) > MaxBadLineText {
		b = b[:MaxBadLineText]
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}
