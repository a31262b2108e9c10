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
// taken from the field and kind tables once, when the format is made. Parsing a line is one loop over its tokens
// and the format's steps: a switch on the step's class, no lookup in the general tables and no call through the
// table's accessors: where a field lies in a Flow is found once, by calling its accessor on a probe, and kept as an
// offset.
type step struct {
	class class
	width uint8 // numbers and words: the bytes of the value in a Flow (1, 2 or 8)
	field Field
	bit   FieldSet // the field's bit in Flow.Present; 0 for an unknown field
	off   uintptr  // the field's offset in a Flow
	min   uint64   // numbers: the smallest value
	span  uint64   // numbers: the largest value minus min
	words []word   // words: the texts of the values 1, 2, ...
}

// The typed fields of f at the step's offset; each is valid only for the class whose value has that type.
// unsafe: a compiled format is a list of offsets into Flow, so Parse runs one loop over steps instead of a switch
// per field per line; BenchmarkParse and BenchmarkSideBySide's "decode + parse" pay for it.
func (s *step) str(f *Flow) *string      { return fieldAt[string](f, s.off) }
func (s *step) addr(f *Flow) *netip.Addr { return fieldAt[netip.Addr](f, s.off) }

// fieldAt returns the field of f at off, an offset offsetOf found for a field of type T. The encoder reads the
// values it writes as they are through it too: an accessor call per value was 3% of a document's instructions
// (BenchmarkEncode).
func fieldAt[T any](f *Flow, off uintptr) *T { return (*T)(unsafe.Add(unsafe.Pointer(f), off)) }

// store writes v, a number or a word's value, as the step's field: an integer of its width (uint8, uint16, uint64
// or int64: Flow has no other kind of number).
func (s *step) store(f *Flow, v uint64) {
	p := unsafe.Add(unsafe.Pointer(f), s.off)
	switch s.width {
	case 1:
		*(*uint8)(p) = uint8(v)
	case 2:
		*(*uint16)(p) = uint16(v)
	default:
		*(*uint64)(p) = v
	}
}

// A class is how a kind is read: the kinds of a class differ only in their entry of the kinds table.
type class uint8

const (
	classString  class = iota // the token as it is
	classAddr                 // an IPv4 or IPv6 address
	classNumber               // a decimal number in [min, max]
	classWord                 // one of the kind's words, stored as its position from 1 (0 is absent)
	classUnknown              // an unknown field's token, appended to Flow.Unknown
)

// A kindSpec says how the text of a kind's fields becomes a value.
type kindSpec struct {
	class    class
	width    uint8 // numbers and words: the size of the value in a Flow
	min, max uint64
	words    []word
}

// kinds is the kind table, indexed by kind.
var kinds = [...]kindSpec{
	kindString:        {class: classString},
	kindAddr:          {class: classAddr},
	kindPort:          {class: classNumber, width: 2, max: 65535},
	kindProtocol:      {class: classNumber, width: 1, max: 255},
	kindCount:         {class: classNumber, width: 8, max: 1<<63 - 1},
	kindTime:          {class: classNumber, width: 8, max: maxTime},
	kindTCPFlags:      {class: classNumber, width: 2, max: 65535},
	kindTrafficPath:   {class: classNumber, width: 1, min: 1, max: 255},
	kindAction:        {class: classWord, width: 1, words: words("ACCEPT", "REJECT")},
	kindLogStatus:     {class: classWord, width: 1, words: words("OK", "NODATA", "SKIPDATA")},
	kindFlowDirection: {class: classWord, width: 1, words: words("ingress", "egress")},
}

// A word is an enumerated value's text, at most 8 bytes, held as a number so that it compares with the line's
// bytes in one load.
type word struct {
	n    int
	bits uint64 // its bytes, the first in the lowest byte
	mask uint64 // the low n bytes
}

func words(texts ...string) []word {
	out := make([]word, len(texts))
	for k, t := range texts {
		if len(t) == 0 || len(t) > 8 {
			panic("vpcflow: word " + t + ": 1 to 8 bytes") // a table bug; covered by tests
		}
		out[k] = word{n: len(t), mask: 1<<(8*len(t)) - 1} // a shift by 64 is 0: all ones for 8 bytes
		for i := len(t) - 1; i >= 0; i-- {
			out[k].bits = out[k].bits<<8 | uint64(t[i])
		}
	}
	return out
}

// peek8 returns the 8 bytes of line at i, the first in the lowest byte, and zeros for those past its end: what a
// word is compared with, in one load for all but the shortest lines. Parse has it inline (its cost is over the
// inliner's budget).
func peek8(line string, i int) uint64 {
	switch {
	case len(line)-i >= 8:
		return load64(line, i)
	case len(line) >= 8:
		return load64(line, len(line)-8) >> (8 * (8 - (len(line) - i)))
	}
	return peekShort(line, i)
}

func peekShort(line string, i int) uint64 {
	var x uint64
	for k := len(line) - 1; k >= i; k-- {
		x = x<<8 | uint64(line[k])
	}
	return x
}

// endsAt reports whether a token of line ends at j: a separator or the end of the line.
func endsAt(line string, j int) bool { return j == len(line) || j < len(line) && isSpace(line[j]) }

// compile returns the steps of a format's fields.
func compile(fs []Field) []step {
	steps := make([]step, len(fs))
	for i, field := range fs {
		if field == FieldUnknown {
			steps[i] = step{class: classUnknown}
			continue
		}
		spec := &fields[field]
		k := &kinds[spec.kind]
		steps[i] = step{class: k.class, width: k.width, field: field, bit: 1 << field, off: offsetOf(spec, field),
			min: k.min, span: k.max - k.min, words: k.words}
	}
	return steps
}

// offsetOf returns where the field of spec lies in a Flow: found through its accessor, or, for the fields that have
// one of their own kind (protocol, start, action, ...), by name.
func offsetOf(spec *fieldSpec, field Field) uintptr {
	var probe Flow
	var p unsafe.Pointer
	switch {
	case spec.str != nil:
		p = unsafe.Pointer(spec.str(&probe))
	case spec.addr != nil:
		p = unsafe.Pointer(spec.addr(&probe))
	case spec.count != nil:
		p = unsafe.Pointer(spec.count(&probe))
	case spec.port != nil:
		p = unsafe.Pointer(spec.port(&probe))
	default:
		p = map[Field]unsafe.Pointer{
			FieldProtocol: unsafe.Pointer(&probe.Protocol), FieldStart: unsafe.Pointer(&probe.Start),
			FieldEnd: unsafe.Pointer(&probe.End), FieldAction: unsafe.Pointer(&probe.Action),
			FieldLogStatus: unsafe.Pointer(&probe.LogStatus), FieldTCPFlags: unsafe.Pointer(&probe.TCPFlags),
			FieldFlowDirection: unsafe.Pointer(&probe.FlowDirection), FieldTrafficPath: unsafe.Pointer(&probe.TrafficPath),
		}[field]
	}
	off := uintptr(p) - uintptr(unsafe.Pointer(&probe))
	if p == nil || off >= unsafe.Sizeof(probe) {
		panic("vpcflow: " + spec.name + " has no place in a Flow") // a table bug; covered by tests
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
		if i = skipSpace(line, i); i >= len(line) {
			f.Present = present
			return p.short(f, src, line, k)
		}
		if line[i] == '-' && endsAt(line, i+1) {
			f.clear(s)
			i += 2 // past the separator, or the end of the line
			continue
		}
		// Numbers, addresses and words are read straight from the line, their end found by reading them; the rest,
		// and whatever the fast reading refuses, go through tokenEnd and set.
		var j int
		ok := false
		switch s.class {
		case classString:
			j = tokenEnd(line, i+1)
			*s.str(f) = line[i:j]
			ok = true
		case classAddr:
			var a netip.Addr
			if a, j, ok = scanIPv4(line, i); ok {
				*s.addr(f) = a
			}
		case classNumber:
			var v uint64
			v, j, ok = scanUint(line, i)
			if ok = ok && v-s.min <= s.span; ok {
				s.store(f, v)
			}
		case classWord:
			var x uint64 // peek8(line, i)
			switch {
			case len(line)-i >= 8:
				x = load64(line, i)
			case len(line) >= 8:
				x = load64(line, len(line)-8) >> (8 * (8 - (len(line) - i)))
			default:
				x = peekShort(line, i)
			}
			for w := range s.words {
				if wd := &s.words[w]; x&wd.mask == wd.bits && endsAt(line, i+wd.n) {
					j, ok = i+wd.n, true
					s.store(f, uint64(w+1))
					break
				}
			}
		case classUnknown:
			j = tokenEnd(line, i+1)
			f.Unknown = append(f.Unknown, line[i:j])
			ok = true
		}
		if !ok {
			j = tokenEnd(line, i+1)
			if !f.set(s, line[i:j]) {
				f.Present = present
				f.zero(steps[k:])
				return p.invalid(src, line, format, k, line[i:j])
			}
		}
		present |= s.bit
		i = j + 1 // line[j] is a separator, or j is the end of the line
	}
	f.Present = present
	if skipSpace(line, i) < len(line) {
		return p.lineError(src, line, ErrFieldCount, countFields(line), "", "")
	}
	return nil
}

// skipSpace returns the index of the first byte of line at or after i that is not a separator, or len(line).
func skipSpace(line string, i int) int {
	for i < len(line) && line[i] <= ' ' && isSpace(line[i]) {
		i++
	}
	return i
}

// short is the error of a line that ended before field k, whose fields and the following are cleared.
func (p *Parser) short(f *Flow, src *Source, line string, k int) *LineError {
	f.zero(f.Format.steps[k:])
	if k == 0 {
		return p.lineError(src, line, ErrEmptyLine, 0, "", "")
	}
	return p.lineError(src, line, ErrFieldCount, k, "", "")
}

// invalid is the error of a line whose field k has a value tok that field cannot have. A line of another format
// usually fails on a value first; its length is then the better diagnosis.
func (p *Parser) invalid(src *Source, line string, format *Format, k int, tok string) *LineError {
	if got := countFields(line); got != len(format.steps) {
		return p.lineError(src, line, ErrFieldCount, got, "", "")
	}
	return p.lineError(src, line, ErrInvalidValue, 0, format.names[k], tok)
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

// zero clears the known fields of steps: the fields a line did not give, when a Flow is reused.
func (f *Flow) zero(steps []step) {
	for k := range steps {
		if steps[k].class != classUnknown {
			f.clear(&steps[k])
		}
	}
}

// clear makes the field of s absent: its zero value, or, for an unknown field, an empty string in Flow.Unknown.
func (f *Flow) clear(s *step) {
	switch s.class {
	case classString:
		*s.str(f) = ""
	case classAddr:
		*s.addr(f) = netip.Addr{}
	case classNumber, classWord:
		s.store(f, 0)
	case classUnknown:
		f.Unknown = append(f.Unknown, "")
	}
}

// set stores tok, a known field's text other than "-", as the value of step s; false when it is not a valid value.
func (f *Flow) set(s *step, tok string) bool {
	switch s.class {
	case classString:
		*s.str(f) = tok
	case classAddr:
		a, ok := parseIPv4(tok)
		if !ok {
			var err error
			if a, err = netip.ParseAddr(tok); err != nil || a.Zone() != "" {
				return false
			}
		}
		*s.addr(f) = a
	case classNumber:
		v, ok := parseUint(tok, s.min+s.span)
		if !ok || v < s.min {
			return false
		}
		s.store(f, v)
	case classWord:
		x := peek8(tok, 0)
		for w := range s.words {
			if wd := &s.words[w]; len(tok) == wd.n && x&wd.mask == wd.bits {
				s.store(f, uint64(w+1))
				return true
			}
		}
		return false
	case classUnknown:
		f.Unknown = append(f.Unknown, tok)
	}
	return true
}

// tokenEnd returns the index of the first separator of line at or after j, or len(line). It looks at 8 bytes at a
// time for the first byte below '!' (exact for the lowest such byte: no borrow reaches it), then finishes byte by
// byte, which also steps over control characters that are not separators.
func tokenEnd(line string, j int) int {
	b := unsafe.Slice(unsafe.StringData(line), len(line)) // read only; 8 bytes per load (BenchmarkParse)
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
