package sinktest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/docid"
	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/redrive"
	"github.com/kinflow/kinflow/internal/schema"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// A docFamily is one kind of document the templates map: the registry's rows and documents its encoder wrote.
type docFamily struct {
	schema.Family
	docs []sink.Doc
}

// testFieldTypes: for every field of the flow, connection-set and dead-letter documents, the JSON the encoder writes,
// the type the registry (internal/schema, which makes the templates and the README's tables) states and the type of
// the mapping the cluster holds once the templates are installed and the documents written must agree (a number is
// a long, an address string an ip, an RFC 3339 string a date, any other string a keyword or text, a bool a boolean,
// base64 a binary), and every field of the registry must be in a document. The strict-mapping tests cannot see a
// number indexed into a keyword field: the cluster takes it. Unknown format fields are held to the registry's Any
// row, aws.vpcflow.<unknown field>.
func testFieldTypes(t *testing.T, b Backend) {
	c := b.NewClient(t, b.URL, 4)
	prefix := Setup(t, c)
	flows := flowDocs(t, moduleRoot(t), prefix)
	partials, conns := connDocs(t, prefix)
	s := newSink(t, c, testSinkConfig(b, prefix), nil)
	ctx := testenv.Context(t, time.Minute)
	if err := s.Write(ctx, slices.Concat(flows, partials, conns)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	refresh(t, c, prefix)
	if n := count(t, c, prefix+"-deadletter*", nil); n != 0 {
		t.Errorf("%d documents refused by the strict templates: %s", n, getJSON(t, c, "/"+prefix+"-deadletter*/_search?size=20"))
	}
	// Dead letters as the pipeline makes them, and as the sink makes them of a document the cluster refuses.
	letters := deadLetterDocs(prefix)
	refused := sink.Doc{Index: flows[0].Index, ID: "refused", Op: sink.OpCreate, Source: []byte(`{"not_a_field":1}`),
		Origin: sink.Origin{ShardID: "shardId-000000000001", SequenceNumber: "7", LogGroup: "/vpc/flows", LogStream: "eni-1-all",
			EventID: "1", Raw: []byte("2 123456789010 eni-1 not an address")}}
	if err := s.Write(ctx, append(letters, refused)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	// A redrive marks a letter with an update: its fields are the family's too.
	mark, err := json.Marshal(map[string]any{"doc": map[string]any{"redrive": redrive.Mark{Status: redrive.StatusFailed,
		At: "2026-11-23T12:05:00Z", Flows: 0, PreviousStage: "parse", PreviousReason: "field_count"}}})
	if err != nil {
		t.Fatal(err)
	}
	do(t, c, "POST", "/"+prefix+"-deadletter/_update/"+letters[1].ID, json.RawMessage(mark))
	refresh(t, c, prefix)
	if letters = readBack(t, c, prefix+"-deadletter"); len(letters) != 3 {
		t.Fatalf("%d dead letters, want 3", len(letters))
	}

	// Load-balancer requests and alerts, from their packages' golden documents.
	ix := sink.Indices{Prefix: prefix}
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	lbs := goldenDocs(t, ix.LoadBalancers(day), filepath.Join(moduleRoot(t), "internal", "format", "[aen][l][b]", "testdata", "cases", "*.golden.ndjson"))
	alertDocs := goldenDocs(t, ix.Alerts(day), filepath.Join(moduleRoot(t), "internal", "alerts", "testdata", "*.golden.json"))
	var kept []sink.Doc
	for _, d := range alertDocs {
		if !bytes.Contains(d.Source, []byte(`"alerts":[`)) { // the webhook's body is no document
			kept = append(kept, d)
		}
	}
	alertDocs = kept
	if err := s.Write(ctx, append(slices.Clone(lbs), alertDocs...)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	refresh(t, c, prefix)
	if n := count(t, c, prefix+"-deadletter*", nil); n != 3 {
		t.Errorf("load-balancer or alert documents refused by the strict templates: %s", getJSON(t, c, "/"+prefix+"-deadletter*/_search?size=20"))
	}

	for _, fam := range []docFamily{{schema.Flows(), flows}, {schema.Partials(), partials}, {schema.Conns(), conns}, {schema.DeadLetters(), letters},
		{schema.LoadBalancers(), lbs}, {schema.Alerts(), alertDocs}} {
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
		checkFamily(t, fam, written, mapped)
		var unused []string
		for path := range mapped[indices[0]] {
			if _, ok := written[path]; !ok {
				unused = append(unused, path)
			}
		}
		slices.Sort(unused)
		t.Logf("%s: %d fields compared between encoder, registry and %s mapping; the templates also map %d fields the encoder does not write: %v",
			fam.Title, len(written), b.Name, len(unused), unused)
	}
}

// checkFamily compares, field by field, what the encoder wrote, the registry's row and each index's mapping; and
// reports the registry's fields that no document has. mapped may be empty: the encoder and the registry are then
// compared alone.
func checkFamily(tb testing.TB, fam docFamily, written map[string]*observed, mapped map[string]map[string]string) {
	tb.Helper()
	paths := make([]string, 0, len(written))
	for p := range written {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, path := range paths {
		w := written[path]
		row, ok := fam.Lookup(path)
		if !ok {
			tb.Errorf("%s field %s: the encoder writes it (%s), the registry lacks it", fam.Name, path, w)
			continue
		}
		for _, v := range w.values {
			if !fits(row.Type, v) {
				tb.Errorf("%s field %s: the encoder writes %s, the registry says %s", fam.Name, path, describe(v), row.Type)
				break
			}
		}
		if w.array != row.Array {
			tb.Errorf("%s field %s: the encoder writes an array: %v, the registry says array: %v", fam.Name, path, w.array, row.Array)
		}
		for ix, m := range mapped {
			if got, ok := m[path]; !ok {
				tb.Errorf("%s field %s: not mapped in %s (registry: %s)", fam.Name, path, ix, row.Type)
			} else if got != string(row.Type) {
				tb.Errorf("%s field %s: %s maps it as %s, the registry says %s, the encoder writes %s", fam.Name, path, ix, got, row.Type, w)
			}
		}
	}
	for _, name := range fam.Names() {
		if _, ok := written[name]; !ok {
			tb.Errorf("%s field %s: in the registry, in no document the encoder wrote for this test", fam.Name, name)
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
func fits(typ schema.Type, v any) bool {
	switch typ {
	case schema.Long:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseInt(string(n), 10, 64)
		return err == nil
	case schema.Double:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseFloat(string(n), 64)
		return err == nil
	case schema.IP:
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := netip.ParseAddr(s)
		return err == nil
	case schema.Date:
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case schema.Keyword, schema.Text:
		_, ok := v.(string)
		return ok
	case schema.Boolean:
		_, ok := v.(bool)
		return ok
	case schema.Binary:
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
	// A line of a flow-log file in S3: its document names the object and the line's offset.
	parser, err := vpcflow.NewParser(vpcflow.DefaultFormat())
	if err != nil {
		tb.Fatal(err)
	}
	var f vpcflow.Flow
	src := vpcflow.Source{File: "s3://flow-logs/AWSLogs/123456789010/vpcflowlogs/us-east-1/2026/11/23/f.log.gz", Offset: 118}
	line := "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1795435200 1795435260 ACCEPT OK"
	if err := parser.Parse(&f, &src, line); err != nil {
		tb.Fatal(err)
	}
	var enc vpcflow.Encoder
	docs = append(docs, sink.Doc{Index: index, ID: docid.DeadLetter("fieldtypes", "s3", ""), Op: sink.OpCreate,
		Source: enc.AppendDocument(nil, &f, &src), Origin: sink.Origin{ShardID: "s3", Raw: []byte(line)}})
	// The same flow with every enrichment on both ends, and the logging interface's instance.
	res := func(eni, name string) *enrich.Resource {
		return &enrich.Resource{InterfaceID: eni, InterfaceType: "ec2_instance", InstanceID: "i-" + eni[4:], InstanceName: name,
			SecurityGroups: []string{"sg-0a1b2c3d"}, SubnetID: "subnet-0a1b", VPCID: "vpc-0a1b", AccountID: "123456789010", FlowLogged: true}
	}
	geo := enrich.Geo{CountryISO: "NL", CountryName: "Netherlands", ContinentCode: "EU", Region: "North Holland", City: "Amsterdam",
		ASNumber: 64500, ASOrg: "Example Transit"}
	listed := enrich.Indicator{List: "blocklist", Value: "172.31.16.0/24", Description: "a test entry"}
	web := res("eni-1235b8ca123456789", "web-1")
	x := &enrich.Context{
		Source:      enrich.End{Geo: geo, Resource: web, Threat: listed},
		Destination: enrich.End{Geo: geo, Resource: res("eni-0000000000000000a", "db-1"), Threat: listed},
		Interface:   web,
	}
	docs = append(docs, sink.Doc{Index: index, ID: docid.DeadLetter("fieldtypes", "enriched", ""), Op: sink.OpCreate,
		Source: enc.AppendDocumentWith(nil, &f, &src, x), Origin: sink.Origin{ShardID: "enriched", Raw: []byte(line)}})
	return docs
}

// goldenDocs returns the documents of the golden files matching pattern (one per line, or one indented per file),
// leaving out the golden errors of the load-balancer formats, to be written to index.
func goldenDocs(tb testing.TB, index, pattern string) []sink.Doc {
	tb.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		tb.Fatalf("golden documents %s: %v (%d files)", pattern, err, len(files))
	}
	var docs []sink.Doc
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		var srcs [][]byte
		if strings.HasSuffix(name, ".ndjson") {
			srcs = bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		} else {
			var compact bytes.Buffer
			if err := json.Compact(&compact, b); err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			srcs = [][]byte{compact.Bytes()}
		}
		for n, src := range srcs {
			var top map[string]json.RawMessage
			if len(src) == 0 || json.Unmarshal(src, &top) != nil || top["error"] != nil {
				continue // a golden error, not a document
			}
			item := fmt.Sprintf("%s:%d", name, n+1)
			docs = append(docs, sink.Doc{Index: index, ID: docid.DeadLetter("fieldtypes", item, ""), Op: sink.OpCreate,
				Source: src, Origin: sink.Origin{ShardID: "golden", SequenceNumber: item, Raw: src}})
		}
	}
	return docs
}

// connDocs returns the blocks of partial sets and the final connection sets aggregate makes of a few flows: exact and estimated peer
// sets (MaxExactPeers 2), destination ports, rejected flows.
func connDocs(tb testing.TB, prefix string) (partials, finals []sink.Doc) {
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
	blocks := aggregate.Blocks(acc.Cut("shardId-000000000000", "49590338271490256608559692538361571095921575989136588898",
		"49590338271490256608559692538361571095921575989136588899"), aggregate.BlockBytes)
	sets, err := aggregate.FinalizeBlocks(blocks, cfg.MaxExactPeers, 1)
	if err != nil {
		tb.Fatal(err)
	}
	ix := sink.Indices{Prefix: prefix}
	for _, b := range blocks {
		partials = append(partials, sink.Doc{Index: ix.ConnsPartial(time.Unix(b.WindowStart, 0)), ID: b.ID(), Op: sink.OpIndex, Source: b.AppendJSON(nil)})
	}
	for _, f := range sets {
		src, err := f.AppendJSON(nil)
		if err != nil {
			tb.Fatal(err)
		}
		finals = append(finals, sink.Doc{Index: ix.Conns(time.Unix(f.WindowStart, 0)), ID: f.ID(), Op: sink.OpIndex, Source: src})
	}
	return partials, finals
}

// deadLetterDocs returns dead letters as the pipeline makes them: of a record that is not an envelope (its bytes
// base64) and of a line that is not a flow log (the line as text).
func deadLetterDocs(prefix string) []sink.Doc {
	index := sink.Indices{Prefix: prefix}.DeadLetter()
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	return []sink.Doc{
		sink.NewDeadLetter(index, sink.Origin{ShardID: "shardId-000000000000", SequenceNumber: "1", Raw: []byte{0x1f, 0x8b, 0xff}},
			sink.StageDecode, "corrupt_gzip", errors.New("gzip: invalid header"), at),
		sink.NewDeadLetter(index, sink.Origin{ShardID: "shardId-000000000000", SequenceNumber: "2", LogGroup: "/vpc/flows",
			LogStream: "eni-1-all", EventID: "3", EventTimestamp: 1795435200123, Raw: []byte("2 123456789010 eni-1")}, sink.StageParse, "field_count",
			errors.New("field count does not match the format"), at),
	}
}

// readBack returns the documents of an index as the cluster holds them.
func readBack(tb testing.TB, c sink.Client, index string) []sink.Doc {
	tb.Helper()
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string          `json:"_id"`
				Source json.RawMessage `json:"_source"`
			}
		}
	}
	postJSON(tb, c, "/"+index+"/_search", map[string]any{"size": 100}, &res)
	var docs []sink.Doc
	for _, h := range res.Hits.Hits {
		docs = append(docs, sink.Doc{Index: index, ID: h.ID, Source: h.Source})
	}
	return docs
}
