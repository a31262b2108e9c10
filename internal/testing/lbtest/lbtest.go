// Package lbtest holds what the tests of the load-balancer formats (internal/format/alb, nlb, elb) share: reading
// the line cases under testdata, holding a document to the registry's rows, the plain
// standard-library parse the benchmarks compare the parsers with, and the Suite of tests, fuzzing and benchmarks
// every format runs alike. Tests only: no production package imports it.
package lbtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/schema"
)

// A Case is a testdata/cases/*.txt file: comments (#) and blank lines, then one access-log line per line.
type Case struct {
	Name  string
	Lines []string
}

// ReadCases reads every testdata/cases/*.txt file.
func ReadCases(tb testing.TB) []Case {
	tb.Helper()
	paths, err := filepath.Glob("testdata/cases/*.txt")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no cases: %v", err)
	}
	var out []Case
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		c := Case{Name: strings.TrimSuffix(filepath.Base(p), ".txt")}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
				c.Lines = append(c.Lines, l)
			}
		}
		out = append(out, c)
	}
	return out
}

// CaseLines returns the lines of the case testdata/cases/<name>.txt.
func CaseLines(tb testing.TB, name string) []string {
	tb.Helper()
	for _, c := range ReadCases(tb) {
		if c.Name == name {
			return c.Lines
		}
	}
	tb.Fatalf("no case %s", name)
	return nil
}

// CheckDocument holds doc to the rows of its format: valid JSON, every leaf a row (an array where the row says
// so, of the row's type), no empty object, and an @timestamp. It adds the rows it found to seen.
func CheckDocument(tb testing.TB, doc []byte, rows []schema.Field, seen map[string]bool) {
	tb.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("invalid JSON %v: %s", err, doc)
	}
	byName := map[string]schema.Field{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	if _, ok := m["@timestamp"]; !ok {
		tb.Errorf("no @timestamp: %s", doc)
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if o, ok := v.(map[string]any); ok {
			if len(o) == 0 {
				tb.Errorf("empty object %s in %s", prefix, doc)
			}
			for k, c := range o {
				walk(strings.TrimPrefix(prefix+"."+k, "."), c)
			}
			return
		}
		r, ok := byName[prefix]
		if !ok {
			tb.Errorf("%s: no row of the format in the registry: %s", prefix, doc)
			return
		}
		seen[prefix] = true
		vs := []any{v}
		if a, isArray := v.([]any); isArray != r.Array {
			tb.Errorf("%s: array %v, the row says %v", prefix, isArray, r.Array)
		} else if isArray {
			vs = a
		}
		for _, v := range vs {
			if !fits(r.Type, v) {
				tb.Errorf("%s: %v (%T) is no %s", prefix, v, v, r.Type)
			}
		}
	}
	walk("", m)
}

func fits(t schema.Type, v any) bool {
	switch t {
	case schema.Long:
		n, ok := v.(json.Number)
		_, err := strconv.ParseInt(string(n), 10, 64)
		return ok && err == nil
	case schema.Boolean:
		_, ok := v.(bool)
		return ok
	case schema.IP:
		s, ok := v.(string)
		_, err := netip.ParseAddr(s)
		return ok && err == nil
	case schema.Date:
		s, ok := v.(string)
		_, err := time.Parse(time.RFC3339Nano, s)
		return ok && err == nil
	}
	_, ok := v.(string)
	return ok
}

// CheckCoverage fails for every row that no document of the cases held: a row no encoder writes.
func CheckCoverage(tb testing.TB, rows []schema.Field, seen map[string]bool) {
	tb.Helper()
	for _, r := range rows {
		if !seen[r.Name] {
			tb.Errorf("row %s: in no golden document (add a case that has it, or drop the row)", r.Name)
		}
	}
}

// fieldRE is a field of a line as a regular expression sees it: a quoted string with backslash escapes, or a run
// of anything but spaces (which may hold quoted sections, as the NLB's ALPN list does).
var fieldRE = regexp.MustCompile(`(?:"(?:[^"\\]|\\.)*"|[^ "])+`)

// ReferenceParse is the plain way to read a line, with the standard library and no care for allocations: a
// regular expression splits it, strconv.Unquote-like trimming takes the quotes off, and time.Parse,
// netip.ParseAddrPort and strconv read the values, chosen by the field's name. The benchmarks set the parsers
// beside it.
func ReferenceParse(line string, names []string) (map[string]any, error) {
	toks := fieldRE.FindAllString(line, -1)
	out := make(map[string]any, len(toks))
	var extra []string
	for i, tok := range toks {
		if len(tok) >= 2 && tok[0] == '"' && tok[len(tok)-1] == '"' {
			tok = strings.ReplaceAll(tok[1:len(tok)-1], `\"`, `"`)
		}
		if i >= len(names) {
			extra = append(extra, tok)
			continue
		}
		name := names[i]
		if tok == "-" {
			continue
		}
		var v any
		var err error
		switch {
		case name == "time" || name == "timestamp" || strings.HasSuffix(name, "creation_time"):
			v, err = time.Parse("2006-01-02T15:04:05.999999999Z07:00", tok)
			if err != nil {
				v, err = time.Parse("2006-01-02T15:04:05", tok)
			}
		case strings.HasSuffix(name, ":port"):
			v, err = netip.ParseAddrPort(tok)
		case strings.HasSuffix(name, "processing_time"):
			v, err = strconv.ParseFloat(tok, 64)
		case strings.HasSuffix(name, "_bytes") || strings.HasSuffix(name, "status_code") || name == "connection_time" ||
			name == "tls_handshake_time" || name == "matched_rule_priority":
			v, err = strconv.ParseInt(tok, 10, 64)
		default:
			v = tok
		}
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	if len(extra) > 0 {
		out["extra"] = slices.Clip(extra)
	}
	return out, nil
}
