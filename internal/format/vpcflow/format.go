package vpcflow

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultFormatString is the format of a flow log created without one: the version 2 fields.
const DefaultFormatString = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} " +
	"${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// MaxFormatFields bounds the fields of one format.
const MaxFormatFields = 128

// ErrFormat is wrapped by every error about a format string.
var ErrFormat = errors.New("invalid flow-log format")

// A Format is the ordered list of fields a flow log writes. It is immutable and safe for concurrent use.
type Format struct {
	text       string
	fields     []Field
	names      []string
	unknown    []string // names of the unknown fields, in order
	unknownIdx []int    // per position: index into unknown, or -1
	unknownKey []string // per unknown field: its document key, `"name_with_underscores":`
	set        FieldSet
	steps      []step // how each field of a line is read, in order
	version    int
	planOnce   sync.Once
	plan       atomic.Pointer[programs]
}

// docPlan returns the document programs of this format, made on first use. Once made, they are one load away:
// sync.Once's call and closure were 2% of a document's instructions (BenchmarkEncode).
func (f *Format) docPlan() *programs {
	if p := f.plan.Load(); p != nil {
		return p
	}
	return f.makePlan()
}

func (f *Format) makePlan() *programs {
	f.planOnce.Do(func() { f.plan.Store(plan(f)) })
	return f.plan.Load()
}

var defaultFormat = mustParseFormat(DefaultFormatString)

// DefaultFormat returns the version 2 default format.
func DefaultFormat() *Format { return defaultFormat }

func mustParseFormat(s string) *Format {
	f, err := ParseFormat(s)
	if err != nil {
		panic(err) // only for the constant above; covered by tests
	}
	return f
}

// ParseFormat compiles a format: the AWS LogFormat string ("${version} ${srcaddr} ..."), or field names separated
// by spaces or commas ("version srcaddr ..."). Names AWS does not define are kept as unknown fields; a known name
// may also be spelled with underscores (account_id).
func ParseFormat(s string) (*Format, error) {
	toks := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ',' })
	if strings.Contains(s, "${") {
		for i, t := range toks {
			if !strings.HasPrefix(t, "${") || !strings.HasSuffix(t, "}") {
				return nil, fmt.Errorf("%w: %q: element %d (%q) is not of the form ${field}", ErrFormat, s, i+1, t)
			}
		}
	}
	return NewFormat(toks)
}

// NewFormat compiles a format from its field names, in order ("${name}" is accepted as well as "name").
func NewFormat(names []string) (*Format, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no fields", ErrFormat)
	}
	if len(names) > MaxFormatFields {
		return nil, fmt.Errorf("%w: %d fields, at most %d allowed", ErrFormat, len(names), MaxFormatFields)
	}
	f := &Format{}
	seen := make(map[string]bool, len(names))
	var text strings.Builder
	for i, n := range names {
		n = strings.TrimSuffix(strings.TrimPrefix(n, "${"), "}")
		if err := checkName(n); err != nil {
			return nil, fmt.Errorf("%w: field %d: %v", ErrFormat, i+1, err)
		}
		field := LookupField(n)
		if field == FieldUnknown {
			field = LookupField(strings.ReplaceAll(n, "_", "-"))
		}
		if field != FieldUnknown {
			n = field.String()
		}
		// Two names that become the same document key (a-b, a_b) are the same field.
		if seen[docName(n)] {
			return nil, fmt.Errorf("%w: field %q appears twice", ErrFormat, n)
		}
		seen[docName(n)] = true
		f.fields = append(f.fields, field)
		f.names = append(f.names, n)
		if field == FieldUnknown {
			f.unknownIdx = append(f.unknownIdx, len(f.unknown))
			f.unknown = append(f.unknown, n)
			f.unknownKey = append(f.unknownKey, `"`+docName(n)+`":`)
		} else {
			f.unknownIdx = append(f.unknownIdx, -1)
			f.set.add(field)
			f.version = max(f.version, field.Version())
		}
		if i > 0 {
			text.WriteByte(' ')
		}
		text.WriteString("${" + n + "}")
	}
	f.text = text.String()
	f.steps = compile(f.fields)
	return f, nil
}

// checkName accepts the names AWS uses and anything of the same alphabet, so that an unknown field can become a
// document key: letters, digits, '-' and '_', at most 64 of them.
func checkName(n string) error {
	if n == "" || len(n) > 64 {
		return fmt.Errorf("name %q: want 1 to 64 characters", n)
	}
	for _, c := range []byte(n) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("name %q: only letters, digits, '-' and '_' are allowed", n)
		}
	}
	return nil
}

// String returns the format as AWS writes it: "${version} ${account-id} ...".
func (f *Format) String() string { return f.text }

// Len returns the number of fields in a line of this format.
func (f *Format) Len() int { return len(f.fields) }

// Fields returns the fields in order (FieldUnknown for unknown names).
func (f *Format) Fields() []Field { return append([]Field(nil), f.fields...) }

// Names returns the field names in order.
func (f *Format) Names() []string { return append([]string(nil), f.names...) }

// UnknownNames returns the names of the unknown fields, in the order of Flow.Unknown.
func (f *Format) UnknownNames() []string { return append([]string(nil), f.unknown...) }

// Has reports whether the format contains field.
func (f *Format) Has(field Field) bool { return f.set.Has(field) }

// Version returns the highest version among the format's known fields (the version AWS writes in ${version}).
func (f *Format) Version() int { return f.version }
