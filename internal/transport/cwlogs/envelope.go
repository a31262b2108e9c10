package cwlogs

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// MessageType is the envelope's messageType.
type MessageType uint8

// The message types CloudWatch Logs sends. A subscription sends one ControlMessage when it starts, to check that
// the destination is reachable; it carries no log data.
const (
	UnknownMessage MessageType = iota
	DataMessage
	ControlMessage
)

func (m MessageType) String() string {
	switch m {
	case DataMessage:
		return "DATA_MESSAGE"
	case ControlMessage:
		return "CONTROL_MESSAGE"
	}
	return "UNKNOWN"
}

// An Envelope is one subscription delivery: events of one log group and stream.
//
// Its strings share one immutable buffer per payload (the decompressed JSON, unescaped in place), so decoding
// allocates per payload, not per event; keeping any of them keeps that buffer alive.
type Envelope struct {
	MessageType         MessageType
	Owner               string // the AWS account that owns the log group
	LogGroup            string
	LogStream           string
	SubscriptionFilters []string
	LogEvents           []LogEvent // empty for a ControlMessage
}

// IsControl reports whether e is a CONTROL_MESSAGE, which has no log data and is to be skipped.
func (e *Envelope) IsControl() bool { return e.MessageType == ControlMessage }

// A LogEvent is one CloudWatch Logs event.
type LogEvent struct {
	// ID is the event id as text. AWS sends a 56-digit decimal string; moto sends a JSON number (a counter), which
	// is kept as its digits.
	ID        string
	Timestamp int64 // milliseconds since the epoch
	Message   string
}

// Stats counts what a Decoder has seen.
type Stats struct {
	Records           int64 // payloads given to Decode or DecodeJSON
	DataMessages      int64
	ControlMessages   int64 // recognised and skipped
	Events            int64 // log events in data messages
	CompressedBytes   int64
	DecompressedBytes int64
	Errors            int64
}

// A Decoder turns payloads into envelopes. It is not safe for concurrent use; use one per goroutine (they share
// the pooled gzip readers).
type Decoder struct {
	cfg   Config
	stats Stats
	sc    scanner
}

// NewDecoder returns a decoder for cfg, or the problems of cfg.
func NewDecoder(cfg Config) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Decoder{cfg: cfg}, nil
}

// Stats returns the counts so far.
func (d *Decoder) Stats() Stats { return d.stats }

// Decode gunzips payload (a Kinesis record's data) and decodes the envelope into env, reusing env's slices.
// A CONTROL_MESSAGE decodes without error; check env.IsControl. Errors are *Error values, all permanent.
func (d *Decoder) Decode(env *Envelope, payload []byte) error {
	d.stats.Records++
	d.stats.CompressedBytes += int64(len(payload))
	// A fresh buffer per payload: the envelope's strings point into it, so it is never reused. It is a string,
	// read here as bytes but never written: the scanner copies it before it unescapes anything (see scanner.own).
	text, err := gunzipString(payload, d.cfg.MaxDecompressedBytes)
	if err != nil {
		d.stats.Errors++
		return err
	}
	var buf []byte
	if len(text) > 0 {
		buf = unsafe.Slice(unsafe.StringData(text), len(text))
	}
	d.sc.shared = true
	return d.decode(env, buf)
}

// DecodeJSON decodes an envelope that is already decompressed. data is copied; the caller keeps it.
func (d *Decoder) DecodeJSON(env *Envelope, data []byte) error {
	d.stats.Records++
	if len(data) > d.cfg.MaxDecompressedBytes {
		d.stats.Errors++
		return newError("envelope", ErrTooLarge, -1, fmt.Sprintf("%d bytes, more than %d", len(data), d.cfg.MaxDecompressedBytes))
	}
	d.sc.shared = false
	return d.decode(env, append([]byte(nil), data...))
}

func (d *Decoder) decode(env *Envelope, buf []byte) error {
	d.stats.DecompressedBytes += int64(len(buf))
	if err := d.sc.scan(buf, d.cfg.MaxEvents); err != nil {
		d.stats.Errors++
		return err
	}
	sc := &d.sc
	buf = sc.buf // a copy of buf if the scanner had to unescape in a shared one
	// The buffer is final: unescaping is done and nothing writes to it again, so its strings may share it.
	var s string
	if len(buf) > 0 {
		s = unsafe.String(unsafe.SliceData(buf), len(buf))
	}
	env.Owner = sc.owner.of(s)
	env.LogGroup = sc.logGroup.of(s)
	env.LogStream = sc.logStream.of(s)
	env.SubscriptionFilters = env.SubscriptionFilters[:0]
	for _, f := range sc.filters {
		env.SubscriptionFilters = append(env.SubscriptionFilters, f.of(s))
	}
	env.LogEvents = env.LogEvents[:0]
	mt := sc.messageType.of(s)
	switch mt {
	case "DATA_MESSAGE":
		env.MessageType = DataMessage
	case "CONTROL_MESSAGE":
		env.MessageType = ControlMessage
		d.stats.ControlMessages++
		return nil
	default:
		env.MessageType = UnknownMessage
		d.stats.Errors++
		e := newError("envelope", ErrUnknownMessageType, -1, strconv.Quote(mt)+" (known: DATA_MESSAGE, CONTROL_MESSAGE)")
		e.LogGroup, e.LogStream = env.LogGroup, env.LogStream
		return e
	}
	if env.LogGroup == "" || env.LogStream == "" {
		d.stats.Errors++
		e := newError("envelope", ErrMalformed, -1, "DATA_MESSAGE without logGroup or logStream")
		e.LogGroup, e.LogStream = env.LogGroup, env.LogStream
		return e
	}
	env.LogEvents = growEvents(env.LogEvents, len(sc.events))
	for i, ev := range sc.events {
		env.LogEvents[i] = LogEvent{ID: ev.id.of(s), Timestamp: ev.ts, Message: ev.msg.of(s)}
	}
	d.stats.DataMessages++
	d.stats.Events += int64(len(sc.events))
	return nil
}

func growEvents(evs []LogEvent, n int) []LogEvent {
	if cap(evs) < n {
		return make([]LogEvent, n)
	}
	return evs[:n]
}

// span is a [off, end) range of the decoded buffer.
type span struct{ off, end int32 }

func (sp span) of(s string) string { return s[sp.off:sp.end] }

type eventSpan struct {
	id, msg span
	ts      int64
}

// scanner is a JSON reader specialised to the envelope: it records where each wanted string lies, unescaping in
// place (an escape is never shorter than what it stands for), and skips everything else.
type scanner struct {
	buf []byte
	i   int

	messageType, owner, logGroup, logStream span
	filters                                 []span
	events                                  []eventSpan
	maxEvents                               int
	generalOnly                             bool // tests: no compactEvent, to check that it changes nothing
	shared                                  bool // buf is the memory of a string: copy it (own) before writing
	noEscapes                               bool // buf has no '\\' at all: strings need no look for one
}

// own makes buf the scanner's to write: a copy when it is shared. Offsets do not change, so the spans found so far
// hold in the copy; nothing was written before, so the copy has the same bytes.
func (sc *scanner) own() {
	if sc.shared {
		sc.buf = append(make([]byte, 0, len(sc.buf)), sc.buf...)
		sc.shared = false
	}
}

const maxDepth = 512

func (sc *scanner) scan(buf []byte, maxEvents int) error {
	*sc = scanner{buf: buf, filters: sc.filters[:0], events: sc.events[:0], maxEvents: maxEvents, generalOnly: sc.generalOnly,
		shared: sc.shared}
	if len(buf) > 1<<31-1 {
		return sc.fail(ErrTooLarge, "envelope over 2 GiB")
	}
	// One vectorised pass over the whole buffer (hot from decompression) spares two per string: an envelope of
	// flow logs has no escapes, and then no string needs its own look for one.
	sc.noEscapes = bytes.IndexByte(buf, '\\') < 0
	sc.ws()
	if err := sc.object(sc.topField); err != nil {
		return err
	}
	sc.ws()
	if sc.i != len(sc.buf) {
		return sc.fail(ErrMalformed, "data after the envelope object")
	}
	return nil
}

func (sc *scanner) fail(err error, detail string) *Error {
	return newError("envelope", err, sc.i, detail)
}

func (sc *scanner) ws() {
	for sc.i < len(sc.buf) {
		switch sc.buf[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// object reads {"key": value, ...}, calling field for each key with the scanner at the value.
func (sc *scanner) object(field func(key span) error) error {
	if sc.i >= len(sc.buf) || sc.buf[sc.i] != '{' {
		return sc.fail(ErrMalformed, "expected an object")
	}
	sc.i++
	sc.ws()
	if sc.i < len(sc.buf) && sc.buf[sc.i] == '}' {
		sc.i++
		return nil
	}
	for {
		sc.ws()
		key, err := sc.str()
		if err != nil {
			return err
		}
		sc.ws()
		if sc.i >= len(sc.buf) || sc.buf[sc.i] != ':' {
			return sc.fail(ErrMalformed, "expected ':' after an object key")
		}
		sc.i++
		sc.ws()
		if err := field(key); err != nil {
			return err
		}
		sc.ws()
		if sc.i >= len(sc.buf) {
			return sc.fail(ErrMalformed, "unterminated object")
		}
		switch sc.buf[sc.i] {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return nil
		default:
			return sc.fail(ErrMalformed, "expected ',' or '}' in an object")
		}
	}
}

// array reads [v, ...], calling elem with the scanner at each value.
func (sc *scanner) array(elem func() error) error {
	if sc.i >= len(sc.buf) || sc.buf[sc.i] != '[' {
		return sc.fail(ErrMalformed, "expected an array")
	}
	sc.i++
	sc.ws()
	if sc.i < len(sc.buf) && sc.buf[sc.i] == ']' {
		sc.i++
		return nil
	}
	for {
		sc.ws()
		if err := elem(); err != nil {
			return err
		}
		sc.ws()
		if sc.i >= len(sc.buf) {
			return sc.fail(ErrMalformed, "unterminated array")
		}
		switch sc.buf[sc.i] {
		case ',':
			sc.i++
		case ']':
			sc.i++
			return nil
		default:
			return sc.fail(ErrMalformed, "expected ',' or ']' in an array")
		}
	}
}

func (sc *scanner) key(k span, name string) bool { return string(sc.buf[k.off:k.end]) == name }

func (sc *scanner) topField(k span) error {
	var err error
	switch {
	case sc.key(k, "messageType"):
		sc.messageType, err = sc.optStr()
	case sc.key(k, "owner"):
		sc.owner, err = sc.optStr()
	case sc.key(k, "logGroup"):
		sc.logGroup, err = sc.optStr()
	case sc.key(k, "logStream"):
		sc.logStream, err = sc.optStr()
	case sc.key(k, "subscriptionFilters"):
		sc.filters = sc.filters[:0]
		if sc.null() {
			return nil
		}
		err = sc.array(func() error {
			f, err := sc.optStr()
			sc.filters = append(sc.filters, f)
			return err
		})
	case sc.key(k, "logEvents"):
		sc.events = sc.events[:0]
		if sc.null() {
			return nil
		}
		err = sc.array(sc.event)
	default:
		err = sc.skip(0)
	}
	return err
}

func (sc *scanner) event() error {
	if len(sc.events) >= sc.maxEvents {
		return sc.fail(ErrTooManyEvents, fmt.Sprintf("more than %d", sc.maxEvents))
	}
	if !sc.generalOnly && sc.compactEvent() {
		return nil
	}
	var ev eventSpan
	err := sc.object(func(k span) error {
		var err error
		switch {
		case sc.key(k, "id"):
			if sc.i < len(sc.buf) && (sc.buf[sc.i] == '-' || sc.buf[sc.i] >= '0' && sc.buf[sc.i] <= '9') {
				ev.id, err = sc.number()
			} else {
				ev.id, err = sc.optStr()
			}
		case sc.key(k, "timestamp"):
			if sc.null() {
				return nil
			}
			var n span
			if n, err = sc.number(); err == nil {
				ev.ts, err = sc.int64(n)
			}
		case sc.key(k, "message"):
			ev.msg, err = sc.optStr()
		default:
			err = sc.skip(0)
		}
		return err
	})
	sc.events = append(sc.events, ev)
	return err
}

// compactEvent reads an event written as CloudWatch Logs writes it, {"id":"…","timestamp":…,"message":"…"}: no
// spaces, that key order, an integer timestamp and no escapes. It reads without writing, so on anything else it
// returns false with the scanner where it was, and the general reader takes over; when it returns true, the general
// reader would have made the same event.
func (sc *scanner) compactEvent() bool {
	const (
		idKey  = `{"id":"`
		tsKey  = `","timestamp":`
		msgKey = `,"message":"`
	)
	b, j := sc.buf, sc.i
	if len(b)-j < len(idKey) || string(b[j:j+len(idKey)]) != idKey {
		return false
	}
	var ev eventSpan
	j += len(idKey)
	if ev.id, j = plainString(b, j, sc.noEscapes); j < 0 {
		return false
	}
	j-- // back to the id's closing quote, the first byte of tsKey
	if len(b)-j < len(tsKey) || string(b[j:j+len(tsKey)]) != tsKey {
		return false
	}
	j += len(tsKey)
	digits := j
	for j < len(b) && j-digits < 18 && b[j] >= '0' && b[j] <= '9' {
		ev.ts = ev.ts*10 + int64(b[j]-'0')
		j++
	}
	// At most 18 digits (no overflow), no leading zero, and not the start of a fraction or exponent.
	if j == digits || b[digits] == '0' && j-digits > 1 || len(b)-j < len(msgKey) || string(b[j:j+len(msgKey)]) != msgKey {
		return false
	}
	j += len(msgKey)
	if ev.msg, j = plainString(b, j, sc.noEscapes); j < 0 || j >= len(b) || b[j] != '}' {
		return false
	}
	sc.i = j + 1
	sc.events = append(sc.events, ev)
	return true
}

// plainString finds the end of the string whose text starts at j and returns its span and the index after its
// closing quote; -1 when the string is unterminated or has an escape (which needs the general reader). noEscapes
// says b has no '\\' anywhere.
func plainString(b []byte, j int, noEscapes bool) (span, int) {
	q := bytes.IndexByte(b[j:], '"')
	if q < 0 || !noEscapes && bytes.IndexByte(b[j:j+q], '\\') >= 0 {
		return span{}, -1
	}
	return span{int32(j), int32(j + q)}, j + q + 1
}

// null consumes a JSON null if one is next.
func (sc *scanner) null() bool {
	if len(sc.buf)-sc.i >= 4 && string(sc.buf[sc.i:sc.i+4]) == "null" {
		sc.i += 4
		return true
	}
	return false
}

// optStr reads a string, or null as the empty string.
func (sc *scanner) optStr() (span, error) {
	if sc.null() {
		return span{}, nil
	}
	return sc.str()
}

// str reads a JSON string, unescaping it in place, and returns where its text now lies.
func (sc *scanner) str() (span, error) {
	b := sc.buf
	if sc.i >= len(b) || b[sc.i] != '"' {
		return span{}, sc.fail(ErrMalformed, "expected a string")
	}
	start := sc.i + 1
	// Fast path: no escapes, the text is used where it is. IndexByte is vectorised; most strings have no '\\'.
	q := bytes.IndexByte(b[start:], '"')
	if q < 0 {
		sc.i = len(b)
		return span{}, sc.fail(ErrMalformed, "unterminated string")
	}
	if sc.noEscapes {
		sc.i = start + q + 1
		return span{int32(start), int32(start + q)}, nil
	}
	if e := bytes.IndexByte(b[start:start+q], '\\'); e >= 0 {
		return sc.strEscaped(start, start+e)
	}
	sc.i = start + q + 1
	return span{int32(start), int32(start + q)}, nil
}

func (sc *scanner) strEscaped(start, j int) (span, error) {
	sc.own()
	b := sc.buf
	w := j // write position; everything before it is final
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			sc.i = j + 1
			return span{int32(start), int32(w)}, nil
		case c != '\\':
			b[w] = c
			w++
			j++
			continue
		}
		if j+1 >= len(b) {
			break
		}
		j++
		switch b[j] {
		case '"', '\\', '/':
			b[w] = b[j]
		case 'b':
			b[w] = '\b'
		case 'f':
			b[w] = '\f'
		case 'n':
			b[w] = '\n'
		case 'r':
			b[w] = '\r'
		case 't':
			b[w] = '\t'
		case 'u':
			r, n := sc.unicode(j + 1)
			if n < 0 {
				sc.i = j
				return span{}, sc.fail(ErrMalformed, "invalid \\u escape")
			}
			w += utf8.EncodeRune(b[w:], r)
			j += 1 + n
			continue
		default:
			sc.i = j
			return span{}, sc.fail(ErrMalformed, "invalid escape in a string")
		}
		w++
		j++
	}
	sc.i = len(b)
	return span{}, sc.fail(ErrMalformed, "unterminated string")
}

// unicode decodes the XXXX of \uXXXX at j (and a following low surrogate), returning the rune and the bytes used.
func (sc *scanner) unicode(j int) (rune, int) {
	r, ok := hex4(sc.buf, j)
	if !ok {
		return 0, -1
	}
	if utf16.IsSurrogate(r) {
		if j+10 <= len(sc.buf) && sc.buf[j+4] == '\\' && sc.buf[j+5] == 'u' {
			if r2, ok := hex4(sc.buf, j+6); ok {
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					return d, 10
				}
			}
		}
		return utf8.RuneError, 4
	}
	return r, 4
}

func hex4(b []byte, j int) (rune, bool) {
	if j+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[j : j+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number and returns its text.
func (sc *scanner) number() (span, error) {
	b, start := sc.buf, sc.i
	j := start
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == digits || b[digits] == '0' && j-digits > 1 {
		return span{}, sc.fail(ErrMalformed, "invalid number")
	}
	if j < len(b) && b[j] == '.' {
		j++
		f := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == f {
			return span{}, sc.fail(ErrMalformed, "invalid number")
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		f := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == f {
			return span{}, sc.fail(ErrMalformed, "invalid number")
		}
	}
	sc.i = j
	return span{int32(start), int32(j)}, nil
}

// int64 converts a number's text; a timestamp written with a fraction or exponent is truncated to milliseconds.
func (sc *scanner) int64(n span) (int64, error) {
	t := sc.buf[n.off:n.end]
	neg := t[0] == '-'
	if neg {
		t = t[1:]
	}
	var v int64
	for _, c := range t {
		if c < '0' || c > '9' {
			f, err := strconv.ParseFloat(string(sc.buf[n.off:n.end]), 64)
			if err != nil || f > 1<<62 || f < -(1<<62) {
				return 0, sc.fail(ErrMalformed, "timestamp out of range")
			}
			return int64(f), nil
		}
		if v > (1<<63-1-9)/10 {
			return 0, sc.fail(ErrMalformed, "timestamp out of range")
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

// skip reads any JSON value without keeping it.
func (sc *scanner) skip(depth int) error {
	if depth > maxDepth {
		return sc.fail(ErrMalformed, "nested too deeply")
	}
	if sc.i >= len(sc.buf) {
		return sc.fail(ErrMalformed, "expected a value")
	}
	switch c := sc.buf[sc.i]; {
	case c == '{':
		return sc.object(func(span) error { return sc.skip(depth + 1) })
	case c == '[':
		return sc.array(func() error { return sc.skip(depth + 1) })
	case c == '"':
		_, err := sc.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, err := sc.number()
		return err
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(sc.buf)-sc.i >= len(lit) && string(sc.buf[sc.i:sc.i+len(lit)]) == lit {
			sc.i += len(lit)
			return nil
		}
	}
	return sc.fail(ErrMalformed, "expected a value")
}
