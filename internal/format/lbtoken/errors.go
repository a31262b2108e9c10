package lbtoken

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A Reason says why a line could not be parsed. It is the `reason` label of kinflow_bad_input_total and the
// dead letter's reason, so its values are stable.
type Reason string

// The reasons a line is refused.
const (
	ReasonEmptyLine  Reason = "empty_line"
	ReasonFieldCount Reason = "field_count" // fewer fields than every line of the format has
	ReasonBadQuote   Reason = "bad_quote"   // a double quote left open
	ReasonBadTime    Reason = "bad_time"
	ReasonBadAddress Reason = "bad_address"
	ReasonBadNumber  Reason = "bad_number"
)

// Sentinels, one per reason, matched with errors.Is through a *LineError.
var (
	ErrEmptyLine  = errors.New("empty line")
	ErrFieldCount = errors.New("too few fields")
	ErrBadQuote   = errors.New("unterminated quote")
	ErrBadTime    = errors.New("invalid time")
	ErrBadAddress = errors.New("invalid address")
	ErrBadNumber  = errors.New("invalid number")
)

var sentinels = map[Reason]error{
	ReasonEmptyLine: ErrEmptyLine, ReasonFieldCount: ErrFieldCount, ReasonBadQuote: ErrBadQuote,
	ReasonBadTime: ErrBadTime, ReasonBadAddress: ErrBadAddress, ReasonBadNumber: ErrBadNumber,
}

// A LineError is a line that cannot be parsed. It is permanent: the same line fails the same way, so it belongs
// in the dead-letter index, never in a retry.
type LineError struct {
	Format string // alb, nlb or elb
	Reason Reason
	Field  string // the AWS name of the field at fault; empty for empty_line and field_count
	Column int    // its position in the line, from 1; for field_count, the fields the line has
	Offset int    // where it starts in the line, in bytes
	Value  string // its text (at most maxQuoted bytes)
	Line   string // the line (at most maxQuoted bytes)
}

// maxQuoted bounds what an error repeats of a line: a line with a long URL can be tens of kilobytes.
const maxQuoted = 1024

// NewLineError makes the error of a line. It copies what it keeps of line and value: the parsers reuse both.
func NewLineError(format string, line []byte, reason Reason, field string, column, offset int, value []byte) *LineError {
	return &LineError{Format: format, Reason: reason, Field: field, Column: column, Offset: offset,
		Value: clip(value), Line: clip(line)}
}

func clip(b []byte) string {
	if len(b) > maxQuoted {
		return string(b[:maxQuoted]) + "..."
	}
	return string(b)
}

func (e *LineError) Error() string {
	var b strings.Builder
	b.WriteString(e.Format)
	b.WriteString(": ")
	b.WriteString(e.Unwrap().Error())
	switch {
	case e.Reason == ReasonFieldCount:
		fmt.Fprintf(&b, ": line has %d fields", e.Column)
	case e.Field != "":
		fmt.Fprintf(&b, ": field %d (%s) = %q", e.Column, e.Field, e.Value)
	case e.Reason == ReasonBadQuote:
		fmt.Fprintf(&b, " at byte %d", e.Offset)
	}
	b.WriteString(": line ")
	b.WriteString(strconv.Quote(e.Line))
	return b.String()
}

// Unwrap returns the sentinel of the reason.
func (e *LineError) Unwrap() error {
	if err, ok := sentinels[e.Reason]; ok {
		return err
	}
	return errors.New(string(e.Reason))
}

// Permanent reports that retrying cannot help.
func (e *LineError) Permanent() bool { return true }
