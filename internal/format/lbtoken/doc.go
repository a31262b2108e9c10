package lbtoken

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/kinflow/kinflow/internal/jsonw"
	"github.com/kinflow/kinflow/internal/schema"
)

// A WriteFunc appends the JSON value of one document field of the record r to dst; false when r has none (the
// tree then cuts dst back, key and all).
type WriteFunc[R any] func(dst []byte, r *R) ([]byte, bool)

// A Doc writes the documents of one format: the registry's rows of that format, in their order, each by its
// WriteFunc, nested as their dotted names say. It is built once; writing allocates nothing beyond growing dst.
type Doc[R any] struct{ root node[R] }

type node[R any] struct {
	key      string // `,"name":`: the comma of every member but the first, written with the key in one append
	children []*node[R]
	write    WriteFunc[R]
}

// NewDoc joins rows to their writers. Every row must have a writer and every writer a row: the registry is the
// one list of what the documents hold (README, index template), so a field outside it would be mapped by
// guesswork, and a row without a writer would promise a field that never comes.
func NewDoc[R any](rows []schema.Field, writers map[string]WriteFunc[R]) (*Doc[R], error) {
	var errs []error
	d := &Doc[R]{}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Name] = true
		w := writers[r.Name]
		if w == nil {
			errs = append(errs, fmt.Errorf("row %s: no writer", r.Name))
			continue
		}
		n := &d.root
		for part := range strings.SplitSeq(r.Name, ".") {
			key := "," + strconv.Quote(part) + ":"
			i := slices.IndexFunc(n.children, func(c *node[R]) bool { return c.key == key })
			if i < 0 {
				n.children = append(n.children, &node[R]{key: key})
				i = len(n.children) - 1
			}
			n = n.children[i]
		}
		n.write = w
	}
	for name := range writers {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("writer %s: no row", name))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return d, errors.Join(errs...)
}

// Append appends the document of r, one JSON object without a newline. Absent values are left out, and so are
// objects left empty.
func (d *Doc[R]) Append(dst []byte, r *R) []byte {
	dst = append(dst, '{')
	dst, _ = d.root.members(dst, r)
	return append(dst, '}')
}

// members appends n's members after a '{'; empty reports that it wrote none.
func (n *node[R]) members(dst []byte, r *R) (_ []byte, empty bool) {
	first := true
	for _, c := range n.children {
		mark := len(dst)
		if first {
			dst = append(dst, c.key[1:]...)
		} else {
			dst = append(dst, c.key...)
		}
		ok := false
		if c.write != nil {
			dst, ok = c.write(dst, r)
		} else {
			dst = append(dst, '{')
			var none bool
			dst, none = c.members(dst, r)
			dst = append(dst, '}')
			ok = !none
		}
		if !ok {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	return dst, first
}

// AppendString appends b as a JSON string (jsonw.AppendString, without copying b into a string first).
func AppendString(dst, b []byte) []byte { return jsonw.AppendString(dst, unsafeString(b)) }

// AppendDate appends ns, nanoseconds since the epoch, as an RFC 3339 UTC date with milliseconds, which is as fine
// as the index's date type keeps.
func AppendDate(dst []byte, ns int64) []byte {
	ms := ns / 1e6
	if ns < 0 && ns%1e6 != 0 {
		ms--
	}
	return jsonw.AppendDate(dst, ms)
}

// The writers the formats share.

// String writes a text value, absent when nil.
func String[R any](get func(*R) []byte) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		v := get(r)
		if v == nil {
			return dst, false
		}
		return AppendString(dst, v), true
	}
}

// Const writes a constant JSON value.
func Const[R any](json string) WriteFunc[R] {
	return func(dst []byte, _ *R) ([]byte, bool) { return append(dst, json...), true }
}

// Count writes a count, absent when NoCount.
func Count[R any](get func(*R) int64) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		v := get(r)
		if v < 0 {
			return dst, false
		}
		return strconv.AppendInt(dst, v, 10), true
	}
}

// Nanos writes a measured Duration in nanoseconds, absent when not Valid.
func Nanos[R any](get func(*R) Duration) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		v := get(r)
		if !v.Valid() {
			return dst, false
		}
		return strconv.AppendInt(dst, int64(v), 10), true
	}
}

// Date writes a time, absent when NoTime.
func Date[R any](get func(*R) int64) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		v := get(r)
		if v == NoTime {
			return dst, false
		}
		return AppendDate(dst, v), true
	}
}

// Strings writes a list of values as an array of strings, absent when empty.
func Strings[R any](get func(*R) [][]byte) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		vs := get(r)
		if len(vs) == 0 {
			return dst, false
		}
		dst = append(dst, '[')
		for i, v := range vs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, v)
		}
		return append(dst, ']'), true
	}
}

// Split appends the non-empty parts of v between seps to parts (the lists of an ALB line: actions_executed is
// comma-separated, target:port_list space-separated).
func Split(parts [][]byte, v []byte, sep byte) [][]byte {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != sep {
			i++
		}
		if i > 0 && !(i == 1 && v[0] == '-') {
			parts = append(parts, v[:i])
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return parts
}

// IP writes the address of an ip:port, absent when the line had none.
func IP[R any](get func(*R) netip.AddrPort) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		ap := get(r)
		if !ap.IsValid() {
			return dst, false
		}
		dst = append(dst, '"')
		return append(ap.Addr().AppendTo(dst), '"'), true
	}
}

// Port writes the port of an ip:port, absent when the line had none.
func Port[R any](get func(*R) netip.AddrPort) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		ap := get(r)
		if !ap.IsValid() {
			return dst, false
		}
		return strconv.AppendUint(dst, uint64(ap.Port()), 10), true
	}
}

// Positive writes a number, absent when 0 or less (status codes, URL ports).
func Positive[R any](get func(*R) int) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		v := get(r)
		return strconv.AppendInt(dst, int64(v), 10), v > 0
	}
}

// Word writes a string, absent when empty: the words parsers take from a table (tls.version).
func Word[R any](get func(*R) string) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		v := get(r)
		return jsonw.AppendString(dst, v), v != ""
	}
}

// The writers of the HTTP load balancers (ALB, classic ELB), whose lines carry the load balancer's status code and
// three processing times: the request's, the target's (a classic ELB's backend) and the response's.

// Outcome writes event.outcome of the load balancer's status code: success below 400, failure from 400, absent
// when the line has none (a classic ELB's TCP listener).
func Outcome[R any](status func(*R) int) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		switch s := status(r); {
		case s == 0:
			return dst, false
		case s < 400:
			return append(dst, `"success"`...), true
		}
		return append(dst, `"failure"`...), true
	}
}

// TotalNanos writes event.duration: the sum of the processing times that were measured. When the target did not
// answer its time is Unanswered (AWS's -1) and the sum is what the load balancer spent; when none was measured
// there is no duration.
func TotalNanos[R any](times func(*R) [3]Duration) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		var sum int64
		ok := false
		for _, d := range times(r) {
			if d.Valid() {
				sum, ok = sum+int64(d), true
			}
		}
		return strconv.AppendInt(dst, sum, 10), ok
	}
}

// AnyUnanswered writes true (aws.elb.target_unanswered) when one of the processing times is Unanswered, and is
// absent otherwise.
func AnyUnanswered[R any](times func(*R) [3]Duration) WriteFunc[R] {
	return func(dst []byte, r *R) ([]byte, bool) {
		t := times(r)
		return append(dst, "true"...), t[0] == Unanswered || t[1] == Unanswered || t[2] == Unanswered
	}
}
