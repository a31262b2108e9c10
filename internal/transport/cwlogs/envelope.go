package cwlogs

import (
	"fmt"
	"strconv"
	"unsafe"

	"github.com/kinflow/kinflow/internal/transport/cwlogs/jsonscan"
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
	sc    envelopeScanner
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
	// read here as bytes but never written: the scanner, told it is shared, copies it before it unescapes anything.
	text, err := gunzipString(payload, d.cfg.MaxDecompressedBytes)
	if err != nil {
		d.stats.Errors++
		return err
	}
	var buf []byte
	if len(text) > 0 {
		// unsafe: the decompressed text is read in place, never copied (its bytes are written only where the
		// scanner unescapes, and then on a copy); BenchmarkDecode and BenchmarkSideBySide's "decode" pay for it.
		buf = unsafe.Slice(unsafe.StringData(text), len(text))
	}
	return d.decode(env, buf, true)
}

// DecodeJSON decodes an envelope that is already decompressed. data is copied; the caller keeps it.
func (d *Decoder) DecodeJSON(env *Envelope, data []byte) error {
	d.stats.Records++
	if len(data) > d.cfg.MaxDecompressedBytes {
		d.stats.Errors++
		return newError("envelope", ErrTooLarge, -1, fmt.Sprintf("%d bytes, more than %d", len(data), d.cfg.MaxDecompressedBytes))
	}
	return d.decode(env, append([]byte(nil), data...), false)
}

// decode reads the envelope in buf; shared says buf is the memory of a string, which must not be written.
func (d *Decoder) decode(env *Envelope, buf []byte, shared bool) error {
	d.stats.DecompressedBytes += int64(len(buf))
	if err := d.sc.scan(buf, shared, d.cfg.MaxEvents); err != nil {
		d.stats.Errors++
		return err
	}
	sc := &d.sc
	buf = sc.Bytes() // a copy of buf if the scanner had to unescape in a shared one
	// The buffer is final: unescaping is done and nothing writes to it again, so its strings may share it.
	var s string
	if len(buf) > 0 {
		// unsafe: one string over the final buffer, so the envelope's strings are substrings of it and a record's
		// events cost no allocation each (BenchmarkDecode: allocs/op).
		s = unsafe.String(unsafe.SliceData(buf), len(buf))
	}
	env.Owner = sc.owner.In(s)
	env.LogGroup = sc.logGroup.In(s)
	env.LogStream = sc.logStream.In(s)
	env.SubscriptionFilters = env.SubscriptionFilters[:0]
	for _, f := range sc.filters {
		env.SubscriptionFilters = append(env.SubscriptionFilters, f.In(s))
	}
	env.LogEvents = env.LogEvents[:0]
	mt := sc.messageType.In(s)
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
		env.LogEvents[i] = LogEvent{ID: ev.id.In(s), Timestamp: ev.ts, Message: ev.msg.In(s)}
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

type eventSpan struct {
	id, msg jsonscan.Span
	ts      int64
}

// envelopeScanner reads an envelope: it keeps where the wanted strings lie and skips every other field, so a key
// AWS adds one day (policyLevel did arrive) changes nothing.
type envelopeScanner struct {
	jsonscan.Scanner

	messageType, owner, logGroup, logStream jsonscan.Span
	filters                                 []jsonscan.Span
	events                                  []eventSpan
	maxEvents                               int
	generalOnly                             bool // tests: no compactEvent, to check that it changes nothing
}

// scan reads the envelope in buf; shared says buf must not be written (see jsonscan.Scanner.Reset).
func (sc *envelopeScanner) scan(buf []byte, shared bool, maxEvents int) error {
	*sc = envelopeScanner{filters: sc.filters[:0], events: sc.events[:0], maxEvents: maxEvents, generalOnly: sc.generalOnly}
	if len(buf) > jsonscan.MaxLen {
		return newError("envelope", ErrTooLarge, 0, "envelope over 2 GiB")
	}
	sc.Reset(buf, shared)
	sc.SkipSpace()
	if err := sc.Object(sc.topField); err != nil {
		return envelopeError(err)
	}
	if !sc.AtEnd() {
		return sc.fail(ErrMalformed, "data after the envelope object")
	}
	return nil
}

// envelopeError makes a syntax error of the tokenizer an *Error of this package; the envelope's own errors, which
// the tokenizer hands back from the callbacks as they are, stay what they are.
func envelopeError(err error) error {
	if se, ok := err.(*jsonscan.SyntaxError); ok {
		return newError("envelope", ErrMalformed, se.Offset, se.Detail)
	}
	return err
}

func (sc *envelopeScanner) fail(err error, detail string) *Error {
	return newError("envelope", err, sc.Pos(), detail)
}

func (sc *envelopeScanner) topField(k jsonscan.Span) error {
	var err error
	switch {
	case sc.Equal(k, "messageType"):
		sc.messageType, err = sc.ReadStringOrNull()
	case sc.Equal(k, "owner"):
		sc.owner, err = sc.ReadStringOrNull()
	case sc.Equal(k, "logGroup"):
		sc.logGroup, err = sc.ReadStringOrNull()
	case sc.Equal(k, "logStream"):
		sc.logStream, err = sc.ReadStringOrNull()
	case sc.Equal(k, "subscriptionFilters"):
		sc.filters = sc.filters[:0]
		if sc.Null() {
			return nil
		}
		err = sc.Array(func() error {
			f, err := sc.ReadStringOrNull()
			sc.filters = append(sc.filters, f)
			return err
		})
	case sc.Equal(k, "logEvents"):
		sc.events = sc.events[:0]
		if sc.Null() {
			return nil
		}
		err = sc.Array(sc.event)
	default:
		err = sc.Skip()
	}
	return err
}

func (sc *envelopeScanner) event() error {
	if len(sc.events) >= sc.maxEvents {
		return sc.fail(ErrTooManyEvents, fmt.Sprintf("more than %d", sc.maxEvents))
	}
	if !sc.generalOnly && sc.compactEvent() {
		return nil
	}
	var ev eventSpan
	err := sc.Object(func(k jsonscan.Span) error {
		var err error
		switch {
		case sc.Equal(k, "id"):
			if sc.AtNumber() {
				ev.id, err = sc.ReadNumber()
			} else {
				ev.id, err = sc.ReadStringOrNull()
			}
		case sc.Equal(k, "timestamp"):
			if sc.Null() {
				return nil
			}
			var n jsonscan.Span
			if n, err = sc.ReadNumber(); err == nil {
				var ok bool
				// A timestamp written with a fraction or exponent is truncated to milliseconds.
				if ev.ts, ok = sc.Int64(n); !ok {
					err = sc.fail(ErrMalformed, "timestamp out of range")
				}
			}
		case sc.Equal(k, "message"):
			ev.msg, err = sc.ReadStringOrNull()
		default:
			err = sc.Skip()
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
func (sc *envelopeScanner) compactEvent() bool {
	const (
		idKey  = `{"id":"`
		tsKey  = `","timestamp":`
		msgKey = `,"message":"`
	)
	b, j := sc.Bytes(), sc.Pos()
	if len(b)-j < len(idKey) || string(b[j:j+len(idKey)]) != idKey {
		return false
	}
	var ev eventSpan
	j += len(idKey)
	if ev.id, j = sc.PlainString(j); j < 0 {
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
	if ev.msg, j = sc.PlainString(j); j < 0 || j >= len(b) || b[j] != '}' {
		return false
	}
	sc.SetPos(j + 1)
	sc.events = append(sc.events, ev)
	return true
}
