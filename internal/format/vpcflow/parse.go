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

// A step is one field of a compiled format: how its token becomes a value and where the value goes in a Flow,
// taken from the field table once, when the format is made. Parsing a line is one loop over its tokens and the
// format's steps: a switch on the step's kind, no lookup in the general table and no call through the table's
// accessors: where a field lies in a Flow is found once, by calling its accessor on a probe, and kept as an offset.
type step struct {
	kind  kind
	field Field
	bit   FieldSet // the field's bit in Flow.Present; 0 for an unknown field
	off   uintptr  // the field's offset in a Flow, for the kinds with an accessor and kindTime
}

// The typed fields of f at the step's offset; each is valid only for the kinds whose accessor has that type.
func (s *step) str(f *Flow) *string      { return (*string)(unsafe.Add(unsafe.Pointer(f), s.off)) }
func (s *step) addr(f *Flow) *netip.Addr { return (*netip.Addr)(unsafe.Add(unsafe.Pointer(f), s.off)) }
func (s *step) count(f *Flow) *uint64    { return (*uint64)(unsafe.Add(unsafe.Pointer(f), s.off)) }
func (s *step) port(f *Flow) *uint16     { return (*uint16)(unsafe.Add(unsafe.Pointer(f), s.off)) }
func (s *step) time(f *Flow) *int64      { return (*int64)(unsafe.Add(unsafe.Pointer(f), s.off)) }

// kindUnknown marks the step of an unknown field: its text goes to Flow.Unknown. No row of the table has it.
const kindUnknown kind = 255

// compile returns the steps of a format's fields.
func compile(fs []Field) []step {
	steps := make([]step, len(fs))
	for i, field := range fs {
		if field == FieldUnknown {
			steps[i] = step{kind: kindUnknown}
			continue
		}
		spec := &fields[field]
		steps[i] = step{kind: spec.kind, field: field, bit: 1 << field, off: offsetOf(spec, field)}
	}
	return steps
}

// offsetOf returns where the field of spec lies in a Flow, found through its accessor; 0 for the kinds written by
// name (protocol, action, ...), which do not use it.
func offsetOf(spec *fieldSpec, field Field) uintptr {
	var probe Flow
	var p unsafe.Pointer
	switch {
	case spec.kind == kindTime && field == FieldStart:
		p = unsafe.Pointer(&probe.Start)
	case spec.kind == kindTime:
		p = unsafe.Pointer(&probe.End)
	case spec.kind == kindString && spec.str != nil:
		p = unsafe.Pointer(spec.str(&probe))
	case spec.kind == kindAddr && spec.addr != nil:
		p = unsafe.Pointer(spec.addr(&probe))
	case spec.kind == kindCount && spec.count != nil:
		p = unsafe.Pointer(spec.count(&probe))
	case spec.kind == kindPort && spec.port != nil:
		p = unsafe.Pointer(spec.port(&probe))
	default:
		return 0
	}
	off := uintptr(p) - uintptr(unsafe.Pointer(&probe))
	if off >= unsafe.Sizeof(probe) {
		panic("vpcflow: the accessor of " + spec.name + " points outside its Flow") // a table bug; covered by tests
	}
	return off
}

// Parse parses line into f, which it resets first (keeping the capacity of f.Unknown, so a reused Flow costs no
// allocation). src, which may be nil, names the line's origin in errors. Errors are *LineError values.
//
// Fields are separated by spaces (runs of spaces and tabs count as one, as in lines pasted by hand); "-" means
// absent. NODATA and SKIPDATA records keep every value their line carries, addresses included, like any other
// record; Flow.NoTraffic tells them apart.
//
// A Flow that Parse last filled with the same format is reset by writing the format's fields only (a value or
// zero): the fields the format does not have are still zero from that call. A caller that writes to such a field
// must set Format to nil before passing the Flow again.
func (p *Parser) Parse(f *Flow, src *Source, line string) error {
	format := p.formats[0]
	if len(p.formats) > 1 {
		n := countFields(line)
		var ok bool
		if format, ok = p.byLen[n]; !ok {
			return p.lineError(src, line, ErrFieldCount, n, "", "")
		}
	}
	if f.Format != format {
		*f = Flow{Format: format, Unknown: f.Unknown[:0]}
	} else {
		f.Present, f.Unknown = 0, f.Unknown[:0]
	}
	steps := format.steps
	var present FieldSet // f.Present, kept in a register: stored before every return
	i := 0
	for k := range steps {
		s := &steps[k]
		for i < len(line) && line[i] <= ' ' && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			f.Present = present
			f.zero(steps[k:])
			if k == 0 {
				return p.lineError(src, line, ErrEmptyLine, 0, "", "")
			}
			return p.lineError(src, line, ErrFieldCount, k, "", "")
		}
		// Numbers, addresses and the words of the enumerated fields are read straight from the line, their end
		// found by reading them; the rest, and whatever the fast reading refuses, go through tokenEnd and set.
		var j int
		var v uint64
		ok := false
		if line[i] == '-' && (i+1 == len(line) || isSpace(line[i+1])) {
			j, ok = i+1, true
			if s.kind == kindUnknown {
				f.Unknown = append(f.Unknown, "")
			} else {
				f.zero(steps[k : k+1])
			}
		} else {
			switch s.kind {
			case kindString:
				j = tokenEnd(line, i+1)
				*s.str(f) = line[i:j]
				ok = true
			case kindAddr:
				var a netip.Addr
				if a, j, ok = scanIPv4(line, i); ok {
					*s.addr(f) = a
				}
			case kindPort:
				v, j, ok = scanUint(line, i)
				if ok = ok && v <= 65535; ok {
					*s.port(f) = uint16(v)
				}
			case kindProtocol:
				v, j, ok = scanUint(line, i)
				if ok = ok && v <= 255; ok {
					f.Protocol = uint8(v)
				}
			case kindCount:
				v, j, ok = scanUint(line, i)
				if ok = ok && v <= 1<<63-1; ok {
					*s.count(f) = v
				}
			case kindTime:
				v, j, ok = scanUint(line, i)
				if ok = ok && v <= maxTime; ok {
					*s.time(f) = int64(v)
				}
			case kindAction:
				if j, ok = i+6, isWord(line, i, "ACCEPT"); ok {
					f.Action = ActionAccept
				} else if ok = isWord(line, i, "REJECT"); ok {
					f.Action = ActionReject
				}
			case kindLogStatus:
				if j, ok = i+2, isWord(line, i, "OK"); ok {
					f.LogStatus = LogStatusOK
				} else if j, ok = i+6, isWord(line, i, "NODATA"); ok {
					f.LogStatus = LogStatusNoData
				}
			case kindUnknown:
				j = tokenEnd(line, i+1)
				f.Unknown = append(f.Unknown, line[i:j])
				ok = true
			}
			if !ok {
				j = tokenEnd(line, i+1)
				if !f.set(s, line[i:j]) {
					f.Present = present
					f.zero(steps[k:])
					// A line of another format usually fails on a value first; its length is the better diagnosis.
					if got := countFields(line); got != len(steps) {
						return p.lineError(src, line, ErrFieldCount, got, "", "")
					}
					return p.lineError(src, line, ErrInvalidValue, 0, format.names[k], line[i:j])
				}
			}
			present |= s.bit
		}
		i = j + 1 // line[j] is a separator, or j is the end of the line
	}
	f.Present = present
	for i < len(line) && line[i] <= ' ' && isSpace(line[i]) {
		i++
	}
	if i < len(line) {
		return p.lineError(src, line, ErrFieldCount, countFields(line), "", "")
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

// zero clears the fields of steps: the fields a line did not give, when a Flow is reused.
func (f *Flow) zero(steps []step) {
	for k := range steps {
		s := &steps[k]
		switch s.kind {
		case kindString:
			*s.str(f) = ""
		case kindAddr:
			*s.addr(f) = netip.Addr{}
		case kindPort:
			*s.port(f) = 0
		case kindProtocol:
			f.Protocol = 0
		case kindCount:
			*s.count(f) = 0
		case kindTime:
			if s.field == FieldStart {
				f.Start = 0
			} else {
				f.End = 0
			}
		case kindAction:
			f.Action = ActionNone
		case kindLogStatus:
			f.LogStatus = LogStatusNone
		case kindTCPFlags:
			f.TCPFlags = 0
		case kindFlowDirection:
			f.FlowDirection = DirectionNone
		case kindTrafficPath:
			f.TrafficPath = 0
		}
	}
}

// set stores tok, a known field's text other than "-", as the value of step s; false when it is not a valid value.
func (f *Flow) set(s *step, tok string) bool {
	switch s.kind {
	case kindString:
		*s.str(f) = tok
	case kindAddr:
		a, ok := parseIPv4(tok)
		if !ok {
			var err error
			if a, err = netip.ParseAddr(tok); err != nil || a.Zone() != "" {
				return false
			}
		}
		*s.addr(f) = a
	case kindPort:
		v, ok := parseUint(tok, 65535)
		if !ok {
			return false
		}
		*s.port(f) = uint16(v)
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
		*s.count(f) = v
	case kindTime:
		v, ok := parseUint(tok, maxTime)
		if !ok {
			return false
		}
		if s.field == FieldStart {
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
	case kindUnknown:
		f.Unknown = append(f.Unknown, tok)
	}
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
	a, j, ok := scanIPv4(s, 0)
	return a, ok && j == len(s)
}

// scanIPv4 reads a dotted-quad IPv4 address at line[i:] as parseIPv4 does, and returns where it ends; false
// unless it ends at a separator or the end of the line.
func scanIPv4(line string, i int) (netip.Addr, int, bool) {
	var ip [4]byte
	for k := range ip {
		if k > 0 {
			if i >= len(line) || line[i] != '.' {
				return netip.Addr{}, i, false
			}
			i++
		}
		var v uint
		if v, i = octet(line, i); v > 255 {
			return netip.Addr{}, i, false
		}
		ip[k] = byte(v)
	}
	if i < len(line) && !isSpace(line[i]) {
		return netip.Addr{}, i, false
	}
	return netip.AddrFrom4(ip), i, true
}

// octet reads the 1 to 3 digits of an octet at line[i:], unrolled, and returns its value and where it ends; a
// value over 255 when there is no digit or a leading zero (or the octet is too large).
func octet(line string, i int) (uint, int) {
	if i >= len(line) || line[i]-'0' > 9 {
		return 256, i
	}
	v := uint(line[i] - '0')
	if i++; i == len(line) || line[i]-'0' > 9 {
		return v, i
	}
	if v == 0 { // a leading zero
		return 256, i
	}
	v = v*10 + uint(line[i]-'0')
	if i++; i == len(line) || line[i]-'0' > 9 {
		return v, i
	}
	return v*10 + uint(line[i]-'0'), i + 1
}

// isWord reports whether line[i:] starts with w, followed by a separator or the end of the line.
func isWord(line string, i int, w string) bool {
	return len(line)-i >= len(w) && line[i:i+len(w)] == w && (len(line)-i == len(w) || isSpace(line[i+len(w)]))
}

// scanUint reads the decimal number at line[i:] and returns where it ends; false unless it has 1 to 19 digits
// (so it cannot overflow) and ends at a separator or the end of the line. The caller checks the limit. It reads
// 8 bytes at a time while 8 remain, then byte by byte.
func scanUint(line string, i int) (uint64, int, bool) {
	var v uint64
	j := i
	for len(line)-j >= 8 {
		n, d := digits8(load64(line, j))
		v = v*pow10[n] + d
		j += n
		if n < 8 {
			return v, j, j > i && j-i <= 19 && (j == len(line) || isSpace(line[j]))
		}
	}
	for ; j < len(line); j++ {
		c := line[j] - '0'
		if c > 9 {
			break
		}
		v = v*10 + uint64(c)
	}
	return v, j, j > i && j-i <= 19 && (j == len(line) || isSpace(line[j]))
}

var pow10 = [9]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// load64 returns the 8 bytes of s at i, the first in the lowest byte. The compiler makes it one load.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// digits8 returns how many of the 8 bytes of x (the first in the lowest byte) are decimal digits before the first
// that is not, and their value. A byte is a digit when its high nibble is 3 and adding 6 keeps it so; a carry out
// of adding 6 comes only from a byte that is not a digit, and only reaches bytes after it.
func digits8(x uint64) (int, uint64) {
	const hi, threes, sixes = 0xF0F0F0F0F0F0F0F0, 0x3030303030303030, 0x0606060606060606
	other := (x&hi ^ threes) | ((x+sixes)&hi ^ threes)
	n := bits.TrailingZeros64(other) >> 3 // 8 when all are digits
	if n == 0 {
		return 0, 0
	}
	// The n digits into the top bytes (the bytes below are leading zeros), then pairs, quads and the eight
	// combined by multiplication.
	d := (x - threes) << (64 - 8*n)
	d = d * (10<<8 + 1) >> 8 & 0x00FF00FF00FF00FF
	d = d * (100<<16 + 1) >> 16 & 0x0000FFFF0000FFFF
	return n, d * (10000<<32 + 1) >> 32
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
