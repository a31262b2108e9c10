package vpcflow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinels for lines that cannot be parsed, matched with errors.Is. Each comes wrapped in a *LineError.
var (
	ErrFieldCount   = errors.New("field count does not match the format")
	ErrInvalidValue = errors.New("invalid field value")
	ErrEmptyLine    = errors.New("empty line")
)

// Source says where a line came from: the CloudWatch Logs event that carried it, and the Kinesis record that
// carried the event (empty outside a stream: consumer decode, tests).
type Source struct {
	LogGroup  string
	LogStream string
	EventID   string
	Timestamp int64 // the event's timestamp, milliseconds since the epoch
	// ShardID and SequenceNumber name the record. The document keeps them: they say which delivery of a flow
	// wrote it first, which is the one whose connection sets count it (a payload delivered twice writes one
	// document, under the first record's name).
	ShardID        string
	SequenceNumber string
	// File and Offset name a line read from a file instead (an S3 object: s3://bucket/key) and its byte offset in
	// the decompressed file; File is empty for a line of a CloudWatch Logs event.
	File   string
	Offset int64
}

// A LineError is a line that cannot be parsed. It is permanent: the line belongs in the dead-letter index.
type LineError struct {
	Source
	Line   string
	Err    error  // ErrFieldCount, ErrInvalidValue or ErrEmptyLine
	Field  string // for ErrInvalidValue: the field's name
	Value  string // for ErrInvalidValue: its text
	Got    int    // for ErrFieldCount: fields in the line
	Want   []int  // for ErrFieldCount: fields in each format of the log group
	Format string // for ErrFieldCount with one format: the format
}

// maxQuotedLine bounds how much of a line an error message repeats (a CloudWatch Logs event can be 256 KiB).
const maxQuotedLine = 1024

func (e *LineError) Error() string {
	var b strings.Builder
	b.WriteString("vpcflow: ")
	if e.LogGroup != "" || e.LogStream != "" || e.EventID != "" {
		fmt.Fprintf(&b, "log group %q, stream %q, event %s: ", e.LogGroup, e.LogStream, e.EventID)
	}
	b.WriteString(e.Err.Error())
	switch {
	case errors.Is(e.Err, ErrFieldCount):
		fmt.Fprintf(&b, ": line has %d fields, format", e.Got)
		if len(e.Want) == 1 {
			fmt.Fprintf(&b, " has %d", e.Want[0])
		} else {
			fmt.Fprintf(&b, "s have %v", e.Want)
		}
		if e.Format != "" {
			fmt.Fprintf(&b, " (%s)", e.Format)
		}
	case errors.Is(e.Err, ErrInvalidValue):
		fmt.Fprintf(&b, ": %s = %q", e.Field, e.Value)
	}
	line := e.Line
	if len(line) > maxQuotedLine {
		line = line[:maxQuotedLine] + "..."
	}
	b.WriteString(": line ")
	b.WriteString(strconv.Quote(line))
	return b.String()
}

func (e *LineError) Unwrap() error { return e.Err }

// Permanent reports that retrying cannot help.
func (e *LineError) Permanent() bool { return true }
