// errors.go owns the package's error type, its reasons and the sentinels that errors.Is matches.

package geoip

import (
	"errors"
	"strings"
)

// ErrInvalidConfig is wrapped by the errors of Config.Validate and New.
var ErrInvalidConfig = errors.New("geoip: invalid configuration")

// Reason is a stable, machine-readable code for why a database could not be opened, fit to be a metric label.
type Reason string

// The reasons. ReasonUnreadable may pass (a network failure of a loader, a file being replaced); the other two
// last until someone replaces the database.
const (
	ReasonUnreadable Reason = "unreadable" // the file or the loader failed: missing, permission, network, empty
	ReasonNotMMDB    Reason = "not_mmdb"   // the bytes are not a MaxMind DB: no metadata, or a broken search tree
	ReasonWrongType  Reason = "wrong_type" // an mmdb, but of a type the slot does not read (a City DB given as ASN)
)

// Sentinels, matched with errors.Is against any *Error of the same reason.
var (
	ErrUnreadable = errors.New("database unreadable")
	ErrNotMMDB    = errors.New("not a MaxMind DB")
	ErrWrongType  = errors.New("unexpected database type")
)

var sentinels = map[Reason]error{ReasonUnreadable: ErrUnreadable, ReasonNotMMDB: ErrNotMMDB, ReasonWrongType: ErrWrongType}

// An Error is a database that could not be opened or reloaded.
type Error struct {
	Reason Reason
	Kind   Kind   // the slot the database was meant for
	Name   string // the file's path, or the name given with a loader (s3://bucket/key)
	// DatabaseType is the database_type of the metadata, when the bytes were an mmdb (always for ReasonWrongType).
	DatabaseType string
	Err          error // the cause, if any

	origin origin // the version that failed, not read again by Check until it changes
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("geoip: ")
	b.WriteString(e.Kind.String())
	b.WriteString(" database ")
	b.WriteString(e.Name)
	b.WriteString(": ")
	b.WriteString(string(e.Reason))
	if e.Reason == ReasonWrongType {
		b.WriteString(": database_type \"")
		b.WriteString(e.DatabaseType)
		b.WriteString("\": want ")
		b.WriteString(e.Kind.accepted())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause, so errors.Is reaches fs.ErrNotExist or a loader's own error underneath.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e's reason.
func (e *Error) Is(target error) bool { return target != nil && sentinels[e.Reason] == target }
