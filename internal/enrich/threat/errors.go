// errors.go owns the package's error type, its reason codes and the sentinels that errors.Is matches.

package threat

import (
	"errors"
	"strconv"
)

// Reason is a stable, machine-readable code for what went wrong, fit to be a metric label.
type Reason string

// Reasons for one bad line of a list. The line is skipped and counted; the rest of the list is used.
const (
	ReasonBadAddress   Reason = "bad_address"   // the indicator is not an IP address or CIDR block
	ReasonTrailingText Reason = "trailing_text" // text after the indicator that is not a comment
	ReasonTooBroad     Reason = "too_broad"     // a /0: it would match every flow, so it is a mistake
	ReasonBadCSV       Reason = "bad_csv"       // a CSV record that cannot be read (quoting)
	ReasonMissingField Reason = "missing_field" // a CSV record without the indicator column
)

// Reasons for a whole list or source. All but ReasonLoad are permanent: the same bytes fail the same way again.
const (
	ReasonNoIndicatorColumn Reason = "no_indicator_column" // a CSV header names no column this package knows
	ReasonNoIndicators      Reason = "no_indicators"       // every line with content is bad: not a list at all
	ReasonTooLarge          Reason = "too_large"           // the source is over Config.MaxListBytes
	ReasonDuplicateList     Reason = "duplicate_list"      // two lists of one Set with the same (or no) name
	ReasonLoad              Reason = "load"                // the file or loader failed; the next reload retries
)

// Sentinels, matched with errors.Is against any *Error of the same reason.
var (
	ErrNoIndicatorColumn = errors.New("no indicator column in CSV header")
	ErrNoIndicators      = errors.New("no valid indicator in list")
	ErrTooLarge          = errors.New("list too large")
	ErrDuplicateList     = errors.New("duplicate list name")
	ErrLoad              = errors.New("loading list failed")
)

var sentinels = map[Reason]error{
	ReasonNoIndicatorColumn: ErrNoIndicatorColumn, ReasonNoIndicators: ErrNoIndicators, ReasonTooLarge: ErrTooLarge,
	ReasonDuplicateList: ErrDuplicateList, ReasonLoad: ErrLoad,
}

// An Error is a list or source this package could not use. On a reload it leaves the list's previous version in
// place.
type Error struct {
	Reason Reason
	List   string // the list's (source's) name
	Detail string // what exactly was wrong
	Err    error  // the cause (an I/O or loader error), if any
}

func (e *Error) Error() string {
	b := []byte("threat: list ")
	b = strconv.AppendQuote(b, e.List)
	b = append(b, ": "...)
	b = append(b, e.Reason...)
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e's reason.
func (e *Error) Is(target error) bool { return target != nil && sentinels[e.Reason] == target }

// Permanent reports that retrying with the same bytes cannot help; a changed source may.
func (e *Error) Permanent() bool { return e.Reason != ReasonLoad }

// A BadLine is one line of a list that was skipped.
type BadLine struct {
	Line   int    // 1-based line number in the list
	Text   string // the line, cut to MaxBadLineText bytes
	Reason Reason
	Detail string // e.g. the parser's complaint
}

func (b BadLine) String() string {
	s := "line " + strconv.Itoa(b.Line) + ": " + string(b.Reason)
	if b.Detail != "" {
		s += " (" + b.Detail + ")"
	}
	return s + ": " + strconv.Quote(b.Text)
}
