package vpcflow

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kinflow/kinflow/internal/testing/flowgen"
)

// referenceParse is Parse as it was before formats compiled to steps: it resets the whole Flow, finds each token's
// end, then stores it through the field table. Tests hold Parse to it.
func (p *Parser) referenceParse(f *Flow, src *Source, line string) error {
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
			if !f.referenceSet(format, n, line[i:j]) {
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
	return nil
}

// referenceSet stores the value of the format's field at position i; false when the text is not a valid value.
func (f *Flow) referenceSet(format *Format, i int, tok string) bool {
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
		// netip alone: the parser's IPv4 fast path is what this reference checks.
		a, err := netip.ParseAddr(tok)
		if err != nil || a.Zone() != "" {
			return false
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

// sameParse parses line with p into fNew through Parse and into fRef through referenceParse, both Flows reused
// from earlier calls, and fails unless the Flows and the errors are the same.
func sameParse(tb testing.TB, p *Parser, fNew, fRef *Flow, src *Source, line string) {
	tb.Helper()
	errNew, errRef := p.Parse(fNew, src, line), p.referenceParse(fRef, src, line)
	if (errNew == nil) != (errRef == nil) {
		tb.Fatalf("%q: error %v, reference %v", line, errNew, errRef)
	}
	if errRef != nil {
		leNew, leRef := *errNew.(*LineError), *errRef.(*LineError)
		if !reflect.DeepEqual(leNew, leRef) {
			tb.Fatalf("%q: error (-reference +Parse):\n%s", line, cmp.Diff(leRef, leNew, cmpopts.EquateErrors()))
		}
	}
	a, b := *fRef, *fNew
	same := slices.Equal(a.Unknown, b.Unknown) // nil or empty alike
	a.Unknown, b.Unknown = nil, nil
	if !same || !reflect.DeepEqual(a, b) {
		tb.Fatalf("%q: Flow (-reference +Parse):\n%s", line, cmp.Diff(*fRef, *fNew, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
			cmp.Comparer(func(a, b *Format) bool { return a == b }), cmpopts.EquateEmpty()))
	}
}

// TestParseMatchesReference: Parse leaves the Flow and returns the error referenceParse does, for every golden
// line and variants of it (each field as "-", garbage, an overlong number, an address, missing and extra fields),
// under every golden format and a parser of two formats, with Flows reused across lines and formats.
func TestParseMatchesReference(t *testing.T) {
	cases := readCases(t)
	two := mustParser(t, DefaultFormatString, "${version} ${srcaddr} ${dstaddr} ${action} ${log-status}")
	var fNew, fRef Flow
	src := source("reference", 0)
	var all []string
	for _, c := range cases {
		all = append(all, c.lines...)
	}
	for _, c := range cases {
		p := mustParser(t, c.format)
		// Every golden line under this format, one Flow throughout, which also changes format on the way.
		for _, l := range all {
			sameParse(t, p, &fNew, &fRef, src, l)
			sameParse(t, two, &fNew, &fRef, src, l)
		}
		for _, l := range c.lines {
			lines := []string{l, "  " + strings.ReplaceAll(l, " ", " \t ") + " \r\n", "", "   "}
			toks := strings.Fields(l)
			for k := range toks {
				for _, v := range []string{"-", "x", "-1", "0", "00", "65536", "256", "99999999999999999999",
					"18446744073709551615", "9223372036854775807", "253402300800", "1.2.3.4", "1.2.3.4x", "01.2.3.4",
					"2001:db8::1", "fe80::1%eth0", "OK", "NODATA", "SKIPDATA", "ACCEPT", "REJECT", "egress", "8",
					"-\x01", "1\x01", "ACCEPTED", "OKAY", "O", "SKIPDATAS", "NODAT", "ingress", "egres", "ingressx"} {
					mut := slices.Clone(toks)
					mut[k] = v
					lines = append(lines, strings.Join(mut, " "))
				}
				lines = append(lines, strings.Join(toks[:k], " "), strings.Join(slices.Insert(slices.Clone(toks), k, toks[k]), " "))
			}
			for _, v := range lines {
				sameParse(t, p, &fNew, &fRef, src, v)
				sameParse(t, p, &fNew, &fRef, src, l) // a good line after each variant
			}
		}
	}
	// Lines of the corpus's generator, one Flow throughout.
	g := flowgen.New(flowgen.DefaultConfig(flowgen.FixedStart))
	p := mustParser(t, DefaultFormatString)
	for range 20000 {
		sameParse(t, p, &fNew, &fRef, src, g.Line())
	}
}
