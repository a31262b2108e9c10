package vpcflow

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"unsafe"
)

// maxTime is 9999-12-31T23:59:59Z: later times cannot be written as dates.
const maxTime = 253402300799

// A Parser parses the lines of one log group. It holds one format, or several of different lengths when several
// flow logs with different formats deliver to the same group (the length of a line then tells its format).
// It is immutable and safe for concurrent use.
type Parser struct {
	formats []*Format
	byLen   map[int]*Format
	lens    []int
	origin  string
}

// NewParser returns a parser for formats, which must differ in length.
func NewParser(formats ...*Format) (*Parser, error) {
	if len(formats) == 0 {
		return nil, fmt.Errorf("%w: a parser needs at least one format", ErrFormat)
	}
	p := &Parser{byLen: make(map[int]*Format, len(formats))}
	for _, f := range formats {
		if other, ok := p.byLen[f.Len()]; ok {
			if other.String() == f.String() {
				continue
			}
			return nil, fmt.Errorf("%w: formats %q and %q both have %d fields; lines could not tell them apart",
				ErrFormat, other, f, f.Len())
		}
		p.byLen[f.Len()] = f
		p.formats = append(p.formats, f)
		p.lens = append(p.lens, f.Len())
	}
	slices.Sort(p.lens)
	return p, nil
}

// Formats returns the parser's formats.
func (p *Parser) Formats() []*Format { return slices.Clone(p.formats) }

// Origin says where the parser's formats came from ("default", "override <match>", "discovered"), for diagnostics.
func (p *Parser) Origin() string { return p.origin }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// countFields returns the number of space-separated fields of line.
func countFields(line string) int {
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		n++
		for i < len(line) && !isSpace(line[i]) {
			i++
		}
	}
	return n
}

// Parse parses line into f, which it resets first (keeping the capacity of f.Unknown, so a reused Flow costs no
// allocation). src, which may be nil, names the line's origin in errors. Errors are *LineError values.
//
// Fields are separated by spaces (runs of spaces and tabs count as one, as in lines pasted by hand); "-" means
// absent. NODATA and SKIPDATA records parse without addresses, even if a line carried some.
func (p *Parser) Parse(f *Flow, src *Source, line string) error {
	format := p.formats[0]
	if len(p.formats) > 1 {
		n := countFields(line)
		var ok bool
		if format, ok = p.byLen[n]; !ok {
			return p.lineError(src, line, ErrFieldCount, n, "", "")
		}
	}
	*f = Flow{Format: format, Unknown: f.Unknown[:0]}
	n := 0
	// One pass over the line. Separators are at most ' ', so most bytes cost one comparison.
	for i := 0; i < len(line); {
		if c := line[i]; c <= ' ' && isSpace(c) {
			i++
			continue
		}
		j := tokenEnd(line, i+1)
		if n < len(format.fields) {
			if !f.set(format, n, line[i:j]) {
				// A line of another format usually fails on a value first; its length is the better diagnosis.
				if got := countFields(line); got != len(format.fields) {
					return p.lineError(src, line, ErrFieldCount, got, "", "")
				}
				return p.lineError(src, line, ErrInvalidValue, 0, format.names[n], line[i:j])
			}
		}
		n++
		i = j
	}
	if n != len(format.fields) {
		if n == 0 {
			return p.lineError(src, line, ErrEmptyLine, 0, "", "")
		}
		return p.lineError(src, line, ErrFieldCount, n, "", "")
	}
	if f.LogStatus == LogStatusNoData || f.LogStatus == LogStatusSkipData {
		f.SrcAddr, f.DstAddr, f.PktSrcAddr, f.PktDstAddr = netip.Addr{}, netip.Addr{}, netip.Addr{}, netip.Addr{}
		f.Present &^= 1<<FieldSrcAddr | 1<<FieldDstAddr | 1<<FieldPktSrcAddr | 1<<FieldPktDstAddr
	}
	return nil
}

func (p *Parser) lineError(src *Source, line string, err error, got int, field, value string) *LineError {
	e := &LineError{Line: line, Err: err, Got: got, Field: field, Value: value}
	if src != nil {
		e.Source = *src
	}
	if err == ErrFieldCount {
		e.Want = slices.Clone(p.lens)
		if len(p.formats) == 1 {
			e.Format = p.formats[0].String()
		}
	}
	return e
}

// set stores the value of the format's field at position i; false when the text is not a valid value.
func (f *Flow) set(format *Format, i int, tok string) bool {
	field := format.fields[i]
	if field == FieldUnknown {
		if tok == "-" {
			tok = ""
		}
		f.Unknown = append(f.Unknown, tok)
		return true
	}
	if tok == "-" {
		return true
	}
	spec := &fields[field]
	switch spec.kind {
	case kindString:
		*spec.str(f) = tok
	case kindAddr:
		a, ok := parseIPv4(tok)
		if !ok {
			var err error
			if a, err = netip.ParseAddr(tok); err != nil || a.Zone() != "" {
				return false
			}
		}
		*spec.addr(f) = a
	case kindPort:
		v, ok := parseUint(tok, 65535)
		if !ok {
			return false
		}
		*spec.port(f) = uint16(v)
	case kindProtocol:
		v, ok := parseUint(tok, 255)
		if !ok {
			return false
		}
		f.Protocol = uint8(v)
	case kindCount:
		v, ok := parseUint(tok, 1<<63-1)
		if !ok {
			return false
		}
		*spec.count(f) = v
	case kindTime:
		v, ok := parseUint(tok, maxTime)
		if !ok {
			return false
		}
		if field == FieldStart {
			f.Start = int64(v)
		} else {
			f.End = int64(v)
		}
	case kindAction:
		switch tok {
		case "ACCEPT":
			f.Action = ActionAccept
		case "REJECT":
			f.Action = ActionReject
		default:
			return false
		}
	case kindLogStatus:
		switch tok {
		case "OK":
			f.LogStatus = LogStatusOK
		case "NODATA":
			f.LogStatus = LogStatusNoData
		case "SKIPDATA":
			f.LogStatus = LogStatusSkipData
		default:
			return false
		}
	case kindTCPFlags:
		v, ok := parseUint(tok, 65535)
		if !ok {
			return false
		}
		f.TCPFlags = TCPFlags(v)
	case kindFlowDirection:
		switch tok {
		case "ingress":
			f.FlowDirection = DirectionIngress
		case "egress":
			f.FlowDirection = DirectionEgress
		default:
			return false
		}
	case kindTrafficPath:
		v, ok := parseUint(tok, 255)
		if !ok || v == 0 {
			return false
		}
		f.TrafficPath = TrafficPath(v)
	}
	f.Present.add(field)
	return true
}

// tokenEnd returns the index of the first separator of line at or after j, or len(line). It looks at 8 bytes at a
// time for the first byte below '!' (exact for the lowest such byte: no borrow reaches it), then finishes byte by
// byte, which also steps over control characters that are not separators.
func tokenEnd(line string, j int) int {
	b := unsafe.Slice(unsafe.StringData(line), len(line)) // read only
	for j+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[j:])
		if t := (x - 0x2121212121212121) &^ x & 0x8080808080808080; t != 0 {
			j += bits.TrailingZeros64(t) >> 3
			break
		}
		j += 8
	}
	for j < len(line) && (line[j] > ' ' || !isSpace(line[j])) {
		j++
	}
	return j
}

// parseIPv4 parses a dotted-quad IPv4 address exactly as netip.ParseAddr does (1 to 3 digits per octet, no
// leading zeros, at most 255); false means "not certainly one", and the caller asks netip.ParseAddr.
func parseIPv4(s string) (netip.Addr, bool) {
	var ip [4]byte
	i := 0
	for k := range ip {
		if k > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		if i >= len(s) || s[i]-'0' > 9 {
			return netip.Addr{}, false
		}
		v := uint(s[i] - '0')
		i++
		for n := 1; n < 3 && i < len(s) && s[i]-'0' <= 9; n++ {
			if v == 0 { // a leading zero
				return netip.Addr{}, false
			}
			v = v*10 + uint(s[i]-'0')
			i++
		}
		if v > 255 {
			return netip.Addr{}, false
		}
		ip[k] = byte(v)
	}
	if i != len(s) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// parseUint parses a decimal number of at most limit.
func parseUint(s string, limit uint64) (uint64, bool) {
	if len(s) <= 19 && s != "" { // at most 19 digits cannot overflow: compare once at the end
		var v uint64
		for i := 0; i < len(s); i++ {
			c := s[i] - '0'
			if c > 9 {
				return 0, false
			}
			v = v*10 + uint64(c)
		}
		return v, v <= limit
	}
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		if v > (limit-uint64(c))/10 {
			return 0, false
		}
		v = v*10 + uint64(c)
	}
	return v, true
}
