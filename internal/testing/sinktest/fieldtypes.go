package sinktest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// A docFamily is one kind of document the templates map: its encoder's documents, the README section whose table
// documents its fields, and whether that table marks arrays.
type docFamily struct {
	name    string
	section string // the README heading, without "## "
	docs    []sink.Doc
	arrays  bool // the table's "(array)" must match what the encoder writes
}

// testFieldTypes: for every field of the flow and connection-set documents, the JSON the encoder writes, the type
// the README's table states and the type of the mapping the cluster holds once the templates are installed and the
// documents written must agree (a number is a long, an address string an ip, an RFC 3339 string a date, any other
// string a keyword, a bool a boolean, base64 a binary). The strict-mapping tests cannot see a number indexed into a
// keyword field: the cluster takes it. Unknown format fields are held to the README's aws.vpcflow.<unknown field>.
func testFieldTypes(t *testing.T, b Backend) {
	c := b.NewClient(t, b.URL, 4)
	prefix := Setup(t, c)
	root := moduleRoot(t)
	readme := readmeTables(t, filepath.Join(root, "README.md"))
	families := []docFamily{
		{"flow", "Field mapping", flowDocs(t, root, prefix), true},
		{"connection set", "Connection sets", connDocs(t, prefix), false},
	}

	var all []sink.Doc
	for _, f := range families {
		all = append(all, f.docs...)
	}
	s := newSink(t, c, testSinkConfig(b, prefix), nil)
	if err := s.Write(testenv.Context(t, time.Minute), all); err != nil {
		t.Fatalf("Write: %v", err)
	}
	refresh(t, c, prefix)
	if n := count(t, c, prefix+"-deadletter*", nil); n != 0 {
		t.Errorf("%d documents refused by the strict templates: %s", n, getJSON(t, c, "/"+prefix+"-deadletter*/_search?size=20"))
	}

	for _, fam := range families {
		table, ok := readme[fam.section]
		if !ok {
			t.Fatalf("README.md has no table under ## %s", fam.section)
		}
		written := encoderFields(t, fam.docs)
		var indices []string
		for _, d := range fam.docs {
			if !slices.Contains(indices, d.Index) {
				indices = append(indices, d.Index)
			}
		}
		mapped := map[string]map[string]string{} // index -> field -> type
		for _, ix := range indices {
			mapped[ix] = indexMapping(t, getJSON(t, c, "/"+ix+"/_mapping"), ix)
		}
		checkFamily(t, fam, table, written, mapped)
		var unused []string
		for path := range mapped[indices[0]] {
			if _, ok := written[path]; !ok {
				unused = append(unused, path)
			}
		}
		slices.Sort(unused)
		t.Logf("%s documents: %d fields compared between encoder, README and %s mapping; the templates also map %d fields the encoder does not write: %v",
			fam.name, len(written), b.Name, len(unused), unused)
	}

	// The encoder's own table, which generates the README's (testdata/ecs-fields.md), says the same.
	for _, df := range vpcflow.DocumentFields() {
		if row, ok := readme["Field mapping"].lookup(df.Name); !ok || row.typ != df.Type || row.array != df.Array {
			t.Errorf("flow field %s: the encoder's table says %s (array %v), README %+v", df.Name, df.Type, df.Array, row)
		}
	}
}

// checkFamily compares, field by field, what the encoder wrote, the README's row and each index's mapping.
func checkFamily(tb testing.TB, fam docFamily, table readmeTable, written map[string]*observed, mapped map[string]map[string]string) {
	tb.Helper()
	paths := make([]string, 0, len(written))
	for p := range written {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, path := range paths {
		w := written[path]
		row, ok := table.lookup(path)
		if !ok {
			tb.Errorf("%s field %s: the encoder writes it (%s), the README's table lacks it", fam.name, path, w)
			continue
		}
		for _, v := range w.values {
			if !fits(row.typ, v) {
				tb.Errorf("%s field %s: the encoder writes %s, the README says %s", fam.name, path, describe(v), row.typ)
				break
			}
		}
		if fam.arrays && w.array != row.array {
			tb.Errorf("%s field %s: the encoder writes an array: %v, the README says array: %v", fam.name, path, w.array, row.array)
		}
		for ix, m := range mapped {
			if got, ok := m[path]; !ok {
				tb.Errorf("%s field %s: not mapped in %s (README: %s)", fam.name, path, ix, row.typ)
			} else if got != row.typ {
				tb.Errorf("%s field %s: %s maps it as %s, the README says %s, the encoder writes %s", fam.name, path, ix, got, row.typ, w)
			}
		}
	}
	for _, name := range table.names {
		if _, ok := written[name]; !ok {
			tb.Errorf("%s field %s: in the README's table, in no document the encoder wrote for this test", fam.name, name)
		}
	}
}

// observed is what the encoder wrote for one field across the documents.
type observed struct {
	values []any // scalars: json.Number, string or bool; the elements of arrays
	array  bool
}

func (o *observed) String() string {
	kinds := map[string]bool{}
	for _, v := range o.values {
		kinds[kind(v)] = true
	}
	s := strings.Join(slices.Sorted(maps.Keys(kinds)), "|")
	if o.array {
		s = "array of " + s
	}
	return s
}

func kind(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func describe(v any) string { return fmt.Sprintf("%s %v", kind(v), v) }

// fits reports whether v, one value the encoder wrote, is a value of the index type typ.
func fits(typ string, v any) bool {
	switch typ {
	case "long":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseInt(string(n), 10, 64)
		return err == nil
	case "ip":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := netip.ParseAddr(s)
		return err == nil
	case "date":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "keyword":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "binary":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := base64.StdEncoding.DecodeString(s)
		return err == nil
	}
	return false
}

// encoderFields returns, by dotted path, every value of every leaf field of docs.
func encoderFields(tb testing.TB, docs []sink.Doc) map[string]*observed {
	tb.Helper()
	out := map[string]*observed{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(strings.TrimPrefix(path+"."+k, "."), c)
			}
		case []any:
			o := out[path]
			if o == nil {
				o = &observed{}
				out[path] = o
			}
			o.array = true
			for _, e := range v {
				walk(path, e)
			}
		default:
			o := out[path]
			if o == nil {
				o = &observed{}
				out[path] = o
			}
			o.values = append(o.values, v)
		}
	}
	for _, d := range docs {
		dec := json.NewDecoder(bytes.NewReader(d.Source))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			tb.Fatalf("document %s: %v: %s", d.ID, err, d.Source)
		}
		walk("", m)
	}
	return out
}

// indexMapping flattens the answer of GET /<index>/_mapping to dotted field -> type.
func indexMapping(tb testing.TB, body []byte, index string) map[string]string {
	tb.Helper()
	var res map[string]struct {
		Mappings struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		tb.Fatalf("mapping of %s: %v: %s", index, err, body)
	}
	m, ok := res[index]
	if !ok {
		tb.Fatalf("no mapping for %s: %s", index, body)
	}
	out := map[string]string{}
	var walk func(prefix string, props map[string]json.RawMessage)
	walk = func(prefix string, props map[string]json.RawMessage) {
		for name, raw := range props {
			var def struct {
				Type       string                     `json:"type"`
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(raw, &def); err != nil {
				tb.Fatalf("mapping of %s, field %s%s: %v", index, prefix, name, err)
			}
			if def.Properties != nil {
				walk(prefix+name+".", def.Properties)
				continue
			}
			out[prefix+name] = def.Type
		}
	}
	walk("", m.Mappings.Properties)
	return out
}

// A readmeRow is one field of a README table.
type readmeRow struct {
	typ   string
	array bool
}

// A readmeTable is a README table of document fields; a name ending in <...> (aws.vpcflow.<unknown field>) stands
// for every field under its prefix that no other row names.
type readmeTable struct {
	rows     map[string]readmeRow
	names    []string // the rows' exact names, in order
	wildcard map[string]readmeRow
}

func (t readmeTable) lookup(path string) (readmeRow, bool) {
	if r, ok := t.rows[path]; ok {
		return r, true
	}
	for prefix, r := range t.wildcard {
		if strings.HasPrefix(path, prefix) {
			return r, true
		}
	}
	return readmeRow{}, false
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readmeTables reads the first table after each "## " heading of the README whose first column names fields in
// backticks and whose second is their type ("ip", "ip (array)", ...). Field names may carry " (array)" too.
func readmeTables(tb testing.TB, path string) map[string]readmeTable {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]readmeTable{}
	section, done := "", false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section, done = h, false
			continue
		}
		if section == "" || done {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if _, started := out[section]; started {
				done = true // the section's first table has ended
			}
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		names := backticked.FindAllStringSubmatch(cells[1], -1)
		if len(names) == 0 {
			continue // the header and the separator
		}
		t, ok := out[section]
		if !ok {
			t = readmeTable{rows: map[string]readmeRow{}, wildcard: map[string]readmeRow{}}
		}
		typ, typArray := strings.CutSuffix(strings.TrimSpace(cells[2]), " (array)")
		for _, n := range names {
			name, nameArray := strings.CutSuffix(n[1], " (array)")
			row := readmeRow{typ: typ, array: typArray || nameArray}
			if i := strings.Index(name, "<"); i >= 0 {
				t.wildcard[name[:i]] = row
				continue
			}
			if _, dup := t.rows[name]; dup {
				tb.Errorf("README ## %s: %s twice", section, name)
			}
			t.rows[name] = row
			t.names = append(t.names, name)
		}
		out[section] = t
	}
	return out
}

// moduleRoot returns the directory of go.mod above the test's working directory.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// flowDocs returns the flow documents of internal/vpcflow's golden files: every version, custom orders, unknown
// fields, IPv6, NODATA and SKIPDATA, between them every field of the encoder's table (the golden tests keep them
// current).
func flowDocs(tb testing.TB, root, prefix string) []sink.Doc {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(root, "internal", "format", "vpcflow", "testdata", "cases", "*.golden.ndjson"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("golden documents: %v (%d files)", err, len(files))
	}
	index := sink.Indices{Prefix: prefix}.Flows(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	var docs []sink.Doc
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		for n, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if bytes.HasPrefix(line, []byte(`{"error"`)) {
				continue
			}
			item := fmt.Sprintf("%s:%d", filepath.Base(name), n+1)
			docs = append(docs, sink.Doc{
				Index: index, ID: docid.DeadLetter("fieldtypes", item, ""), Op: sink.OpCreate, Source: line,
				Origin: sink.Origin{ShardID: "golden", SequenceNumber: item, Raw: line},
			})
		}
	}
	return docs
}

// connDocs returns partial and final connection sets made by aggregate from a few flows: exact and estimated peer
// sets (MaxExactPeers 2), destination ports, rejected flows.
func connDocs(tb testing.TB, prefix string) []sink.Doc {
	tb.Helper()
	cfg := aggregate.DefaultConfig()
	cfg.MaxExactPeers = 2
	acc, err := aggregate.NewAccumulator(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	start := int64(1795435200) // 2026-11-23T12:00:00Z
	acc.SetWatermark(start)
	scanner := netip.MustParseAddr("198.18.0.7")
	for i, dst := range []string{"10.0.0.1", "10.0.0.2", "2600:1f18::c"} {
		f := aggregate.Flow{Start: start + int64(i), End: start + 60, Src: scanner, Dst: netip.MustParseAddr(dst),
			SrcPort: 40000, DstPort: uint16(22 + i), Protocol: 6, Bytes: 44, Packets: 1, Rejected: i == 1}
		if _, err := acc.Add(f); err != nil {
			tb.Fatal(err)
		}
	}
	partials := acc.Cut("shardId-000000000000", "49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588899")
	finals, err := aggregate.Finalize(partials, cfg.MaxExactPeers, 1)
	if err != nil {
		tb.Fatal(err)
	}
	ix := sink.Indices{Prefix: prefix}
	var docs []sink.Doc
	for _, p := range partials {
		src, err := p.AppendJSON(nil)
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, sink.Doc{Index: ix.ConnsPartial(time.Unix(p.WindowStart, 0)), ID: p.ID(), Op: sink.OpIndex, Source: src})
	}
	for _, f := range finals {
		src, err := f.AppendJSON(nil)
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, sink.Doc{Index: ix.Conns(time.Unix(f.WindowStart, 0)), ID: f.ID(), Op: sink.OpIndex, Source: src})
	}
	return docs
}
