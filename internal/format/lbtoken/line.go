package lbtoken

import "net/netip"

// A Field is one row of a format's field table: the AWS name of the field at its position, and how its token is
// stored into a record; Parse returns the reason the token is refused, "" when it is taken.
type Field[R any] struct {
	Name  string
	Parse func(r *R, t Token) Reason
}

// A Line is what ParseLine needs of a format: its name for errors, its field table in line order, and how many
// fields every line has (the formats grew at the end over the years, so an older line is shorter; the fields it
// lacks are absent).
type Line[R any] struct {
	Format    string
	Fields    []Field[R]
	MinFields int
}

// Names returns the AWS names of the fields, in line order: the format's FieldNames.
func (l *Line[R]) Names() []string {
	out := make([]string, len(l.Fields))
	for i, f := range l.Fields {
		out[i] = f.Name
	}
	return out
}

// ParseLine copies line into *buf (so that the record owns its bytes and escapes can be undone in place), then
// stores each field through the table; fields past the table are appended to *extra, never refused: AWS appends
// fields without notice and asks readers to ignore what they do not expect, and kinflow keeps them. It returns
// the number of fields, or a *LineError.
func (l *Line[R]) ParseLine(line []byte, r *R, buf *[]byte, extra *[][]byte) (int, error) {
	*buf = append((*buf)[:0], line...)
	b := *buf
	var s Scanner
	s.Reset(b)
	n := 0
	for {
		t, ok := s.Next()
		if !ok {
			break
		}
		if n >= len(l.Fields) {
			// An unknown field's "-" stays: its meaning is its position, which a gap would shift.
			v := Text(t)
			if v == nil {
				v = t.Value
			}
			*extra = append(*extra, v)
			n++
			continue
		}
		f := &l.Fields[n]
		if reason := f.Parse(r, t); reason != "" {
			// A line of another format, or one cut short, usually fails on a value first: its length is the
			// better diagnosis.
			if total := n + 1 + countFields(&s); total < l.MinFields {
				return total, NewLineError(l.Format, line, ReasonFieldCount, "", total, 0, nil)
			}
			return n, NewLineError(l.Format, line, reason, f.Name, n+1, t.Offset, line[t.Offset:t.Offset+len(t.Value)+quotes(t)])
		}
		n++
	}
	if q := s.BadQuote(); q >= 0 {
		return n, NewLineError(l.Format, line, ReasonBadQuote, "", n+1, q, nil)
	}
	if n == 0 {
		return 0, NewLineError(l.Format, line, ReasonEmptyLine, "", 0, 0, nil)
	}
	if n < l.MinFields {
		return n, NewLineError(l.Format, line, ReasonFieldCount, "", n, 0, nil)
	}
	return n, nil
}

func quotes(t Token) int {
	if t.Quoted {
		return 2
	}
	return 0
}

func countFields(s *Scanner) int {
	n := 0
	for {
		if _, ok := s.Next(); !ok {
			return n
		}
		n++
	}
}

// The field kinds the formats share. A "-" is an absent value for every kind but those marked required.

// TextField stores the field's text (nil for "-").
func TextField[R any](name string, p func(*R) *[]byte) Field[R] {
	return Field[R]{name, func(r *R, t Token) Reason { *p(r) = Text(t); return "" }}
}

// TimeField stores a time (ParseTime) in nanoseconds since the epoch; NoTime for "-" unless required.
func TimeField[R any](name string, required bool, p func(*R) *int64) Field[R] {
	return Field[R]{name, func(r *R, t Token) Reason {
		v := Text(t)
		if v == nil && !required {
			*p(r) = NoTime
			return ""
		}
		ns, ok := ParseTime(v)
		if !ok {
			return ReasonBadTime
		}
		*p(r) = ns
		return ""
	}}
}

// AddrField stores an ip:port; the zero AddrPort for "-" unless required.
func AddrField[R any](name string, required bool, p func(*R) *netip.AddrPort) Field[R] {
	return Field[R]{name, func(r *R, t Token) Reason {
		v := Text(t)
		if v == nil && !required {
			*p(r) = netip.AddrPort{}
			return ""
		}
		ap, ok := ParseAddrPort(v)
		if !ok {
			return ReasonBadAddress
		}
		*p(r) = ap
		return ""
	}}
}

// SecondsField stores a duration in seconds (ParseSeconds; -1 is Unanswered), NoDuration for "-".
func SecondsField[R any](name string, p func(*R) *Duration) Field[R] {
	return durationField(name, ParseSeconds, p)
}

// MillisField stores a duration in whole milliseconds, NoDuration for "-".
func MillisField[R any](name string, p func(*R) *Duration) Field[R] {
	return durationField(name, ParseMillis, p)
}

func durationField[R any](name string, parse func([]byte) (Duration, bool), p func(*R) *Duration) Field[R] {
	return Field[R]{name, func(r *R, t Token) Reason {
		v := Text(t)
		if v == nil {
			*p(r) = NoDuration
			return ""
		}
		d, ok := parse(v)
		if !ok {
			return ReasonBadNumber
		}
		*p(r) = d
		return ""
	}}
}

// CountField stores a number of at most 18 digits, NoCount for "-".
func CountField[R any](name string, p func(*R) *int64) Field[R] {
	return Field[R]{name, func(r *R, t Token) Reason {
		v := Text(t)
		if v == nil {
			*p(r) = NoCount
			return ""
		}
		n, ok := ParseUint(v)
		if !ok {
			return ReasonBadNumber
		}
		*p(r) = n
		return ""
	}}
}

// StatusField stores an HTTP status code (100 to 999), 0 for "-" and for "0", which a classic ELB writes as the
// backend's status when no backend answered.
func StatusField[R any](name string, p func(*R) *int) Field[R] {
	return Field[R]{name, func(r *R, t Token) Reason {
		v := Text(t)
		if v == nil {
			*p(r) = 0
			return ""
		}
		n, ok := ParseUint(v)
		if !ok || n != 0 && (len(v) != 3 || n < 100) {
			return ReasonBadNumber
		}
		*p(r) = int(n)
		return ""
	}}
}
