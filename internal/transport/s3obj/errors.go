// errors.go owns the package's error type, its reason codes and the sentinels that errors.Is matches.

package s3obj

import (
	"errors"
	"strconv"
)

// Reason is a stable, machine-readable code for what went wrong, fit to be a metric label.
type Reason string

// The reasons. All but ReasonTransient are permanent: the same message, key or bytes fail the same way again.
const (
	ReasonNotJSON        Reason = "not_json"         // the message body is not JSON
	ReasonUnknownShape   Reason = "unknown_shape"    // JSON, but no notification shape this package knows
	ReasonMissingField   Reason = "missing_field"    // a known shape without the bucket or key
	ReasonBadKeyEncoding Reason = "bad_key_encoding" // an S3 event key that is not valid URL form encoding
	ReasonUnknownLayout  Reason = "unknown_layout"   // a key that no override or AWS layout accounts for
	ReasonLineTooLong    Reason = "line_too_long"    // one line over Config.MaxLineBytes; the reader moves on
	ReasonBadGzip        Reason = "bad_gzip"         // a corrupt or truncated gzip stream
	ReasonObjectChanged  Reason = "object_changed"   // the object is no longer the announced version or ETag
	ReasonNotFound       Reason = "not_found"        // NoSuchKey, NoSuchBucket, NoSuchVersion
	ReasonAccessDenied   Reason = "access_denied"    // 403: a policy problem, not a passing one
	ReasonS3Rejected     Reason = "s3_rejected"      // any other 4xx answer from S3
	ReasonTransient      Reason = "transient"        // throttling, 5xx, timeouts, broken connections
)

// Sentinels, matched with errors.Is against any *Error of the same reason.
var (
	ErrNotJSON        = errors.New("message body is not JSON")
	ErrUnknownShape   = errors.New("unknown message shape")
	ErrMissingField   = errors.New("missing field")
	ErrBadKeyEncoding = errors.New("bad object key encoding")
	ErrUnknownLayout  = errors.New("unknown key layout")
	ErrLineTooLong    = errors.New("line too long")
	ErrBadGzip        = errors.New("corrupt gzip stream")
	ErrObjectChanged  = errors.New("object changed since it was announced")
	ErrNotFound       = errors.New("object not found")
	ErrAccessDenied   = errors.New("access denied")
	ErrS3Rejected     = errors.New("request rejected by S3")
	ErrTransient      = errors.New("transient S3 failure")
)

var sentinels = map[Reason]error{
	ReasonNotJSON: ErrNotJSON, ReasonUnknownShape: ErrUnknownShape, ReasonMissingField: ErrMissingField,
	ReasonBadKeyEncoding: ErrBadKeyEncoding, ReasonUnknownLayout: ErrUnknownLayout, ReasonLineTooLong: ErrLineTooLong,
	ReasonBadGzip: ErrBadGzip, ReasonObjectChanged: ErrObjectChanged, ReasonNotFound: ErrNotFound,
	ReasonAccessDenied: ErrAccessDenied, ReasonS3Rejected: ErrS3Rejected, ReasonTransient: ErrTransient,
}

// An Error is a message, key, object or line this package could not handle. The fields that do not apply are
// zero (Line and Offset are -1 when they do not apply).
type Error struct {
	Reason Reason
	Op     string // "message", "route", "open", "read" or "lines"
	Detail string // what exactly was wrong
	Bucket string
	Key    string
	Line   int64 // 1-based line number in the object, -1 when it does not apply
	Offset int64 // byte offset: in the decompressed stream for "lines", in the object for "read"; -1 when n/a
	Err    error // the cause (an SDK or I/O error), if any
}

func (e *Error) Error() string {
	b := []byte("s3obj: ")
	b = append(b, e.Op...)
	b = append(b, ": "...)
	b = append(b, e.Reason...)
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	if e.Line >= 0 {
		b = append(b, " at line "...)
		b = strconv.AppendInt(b, e.Line, 10)
	}
	if e.Offset >= 0 {
		b = append(b, " (byte "...)
		b = strconv.AppendInt(b, e.Offset, 10)
		b = append(b, ')')
	}
	if e.Bucket != "" || e.Key != "" {
		b = append(b, " in s3://"...)
		b = append(b, e.Bucket...)
		b = append(b, '/')
		b = append(b, e.Key...)
	}
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

// Unwrap returns the cause, so errors.As reaches an SDK error underneath.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e's reason.
func (e *Error) Is(target error) bool { return target != nil && sentinels[e.Reason] == target }

// Permanent reports that retrying cannot help: the message or object belongs in the dead-letter queue.
func (e *Error) Permanent() bool { return e.Reason != ReasonTransient }

func newError(op string, reason Reason, detail string) *Error {
	return &Error{Op: op, Reason: reason, Detail: detail, Line: -1, Offset: -1}
}
