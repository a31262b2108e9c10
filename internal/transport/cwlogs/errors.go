package cwlogs

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinels, matched with errors.Is. Every error this package returns for bad input is an *Error wrapping one of
// them, and every one of them is permanent: the same bytes fail the same way on every retry.
var (
	ErrNotGzip            = errors.New("payload is not gzip")
	ErrCorrupt            = errors.New("corrupt gzip stream")
	ErrTooLarge           = errors.New("decompressed payload exceeds the limit")
	ErrMalformed          = errors.New("malformed envelope")
	ErrUnknownMessageType = errors.New("unknown message type")
	ErrTooManyEvents      = errors.New("too many log events")
	ErrUnrecognisedInput  = errors.New("unrecognised input")
)

// An Error is a payload that cannot be decoded. Record-level context (shard, sequence number) is the caller's to
// add by wrapping; LogGroup and LogStream are set when the envelope got far enough to name them.
type Error struct {
	Op        string // "gunzip", "envelope" or "input"
	Err       error  // one of the sentinels
	Detail    string // what exactly was wrong
	Offset    int    // byte offset in the decompressed envelope, -1 when it does not apply
	LogGroup  string
	LogStream string
}

func (e *Error) Error() string {
	b := []byte("cwlogs: ")
	b = append(b, e.Op...)
	b = append(b, ": "...)
	b = append(b, e.Err.Error()...)
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	if e.Offset >= 0 {
		b = append(b, " at byte "...)
		b = strconv.AppendInt(b, int64(e.Offset), 10)
	}
	if e.LogGroup != "" || e.LogStream != "" {
		b = fmt.Appendf(b, " (log group %q, stream %q)", e.LogGroup, e.LogStream)
	}
	return string(b)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports that retrying cannot help: the record belongs in the dead-letter index.
func (e *Error) Permanent() bool { return true }

func newError(op string, err error, offset int, detail string) *Error {
	return &Error{Op: op, Err: err, Offset: offset, Detail: detail}
}
