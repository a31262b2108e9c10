package vpcflow

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kinflow/kinflow/internal/jsonw"
	"github.com/kinflow/kinflow/internal/testing/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// A goldenCase is a testdata/cases/*.txt file: comments, a "format: " line, then one flow-log line per line.
type goldenCase struct {
	name   string
	format string
	lines  []string
}

func readCases(tb testing.TB) []goldenCase {
	tb.Helper()
	paths, err := filepath.Glob("testdata/cases/*.txt")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no cases: %v", err)
	}
	var out []goldenCase
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		c := goldenCase{name: strings.TrimSuffix(filepath.Base(p), ".txt")}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			switch l := sc.Text(); {
			case c.format == "" && strings.HasPrefix(l, "#"):
			case c.format == "" && strings.HasPrefix(l, "format: "):
				c.format = strings.TrimPrefix(l, "format: ")
			default:
				c.lines = append(c.lines, l)
			}
		}
		out = append(out, c)
	}
	return out
}

func source(name string, i int) *Source {
	return &Source{LogGroup: "/vpc/flowlogs/golden", LogStream: name, EventID: fmt.Sprintf("%056d", i+1), Timestamp: 1795440000123,
		ShardID: "shardId-000000000000", SequenceNumber: fmt.Sprintf("4959%052d", i+1)}
}

func mustParser(tb testing.TB, formats ...string) *Parser {
	tb.Helper()
	var fs []*Format
	for _, s := range formats {
		f, err := ParseFormat(s)
		if err != nil {
			tb.Fatal(err)
		}
		fs = append(fs, f)
	}
	p, err := NewParser(fs...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestGolden parses every line of every case and writes its document (or its error) as one NDJSON line.
func TestGolden(t *testing.T) {
	for _, c := range readCases(t) {
		t.Run(c.name, func(t *testing.T) {
			p := mustParser(t, c.format)
			var out []byte
			var f Flow
			var enc Encoder
			for i, line := range c.lines {
				src := source(c.name, i)
				if err := p.Parse(&f, src, line); err != nil {
					var le *LineError
					if !errors.As(err, &le) || !le.Permanent() || le.Line != line || le.EventID != src.EventID {
						t.Errorf("line %d: error %v is not a *LineError naming the event and line", i+1, err)
					}
					e, _ := json.Marshal(map[string]string{"error": err.Error()})
					out = append(append(out, e...), '\n')
					continue
				}
				doc := enc.AppendDocument(nil, &f, src)
				if full := fullDocument(&f, src); string(full) != string(doc) {
					t.Errorf("line %d: the format's plan and the full table disagree:\n%s\n%s", i+1, doc, full)
				}
				if !json.Valid(doc) {
					t.Fatalf("line %d: invalid JSON %s", i+1, doc)
				}
				checkDocument(t, &f, doc)
				out = append(append(out, doc...), '\n')
			}
			golden.File(t, *update, filepath.Join("testdata", "cases", c.name+".golden.ndjson"), out)
		})
	}
}

// fullDocument encodes f with the whole table instead of its format's plan.
func fullDocument(f *Flow, src *Source) []byte {
	var e Encoder
	// Without the format the unknown fields are not known: compare only documents of formats without them.
	if f.Format != nil && len(f.Format.unknown) > 0 {
		return e.AppendDocument(nil, f, src)
	}
	g := *f
	g.Format = nil // the encoder's programs of the whole table
	return e.AppendDocument(nil, &g, src)
}

// checkDocument holds every document to the invariants the index relies on.
func checkDocument(tb testing.TB, f *Flow, doc []byte) {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		tb.Fatal(err)
	}
	// Every address the line carries is in the document, NODATA and SKIPDATA records included.
	for path, a := range map[string]netip.Addr{
		"source.ip": f.SrcAddr, "destination.ip": f.DstAddr, "aws.vpcflow.pkt_srcaddr": f.PktSrcAddr, "aws.vpcflow.pkt_dstaddr": f.PktDstAddr,
	} {
		if v, ok := member(m, path); ok != a.IsValid() || ok && v != a.String() {
			tb.Errorf("%s is %v in the document, %v in the flow: %s", path, v, a, doc)
		}
	}
	// NODATA and SKIPDATA records report on a capture window: no connection, unless the line names an action.
	if _, ok := member(m, "event.type"); ok && f.NoTraffic() && f.Action == ActionNone {
		tb.Errorf("%s record without an action has an event.type: %s", f.LogStatus, doc)
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
		}
	}
	walk("", m)
}

// member returns the value at a dotted path of a decoded document.
func member(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = o[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// TestNoTrafficRecordsKeepValues: a NODATA or SKIPDATA line keeps every value it carries, addresses as well as
// ports, protocol and counters, but describes no connection: event.type comes only from an action it names.
func TestNoTrafficRecordsKeepValues(t *testing.T) {
	p := mustParser(t, DefaultFormatString)
	const absent = "absent"
	tests := []struct {
		name      string
		line      string
		noTraffic bool
		want      map[string]any // document members by dotted path; absent: not in the document
	}{
		{"NODATA as AWS writes it", "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA", true, map[string]any{
			"source": absent, "destination": absent, "related": absent, "network": absent, "event.type": absent,
			"aws.vpcflow.log_status": "NODATA", "aws.vpcflow.interface_id": "eni-1235b8ca123456789", "event.start": "2015-05-10T18:01:16Z",
		}},
		{"NODATA with addresses, ports, protocol and counters", "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1431280876 1431280934 - NODATA", true, map[string]any{
			"source": map[string]any{"ip": "172.31.16.139", "port": 20641.0}, "destination": map[string]any{"ip": "172.31.16.21", "port": 22.0},
			"network":    map[string]any{"iana_number": "6", "transport": "tcp", "type": "ipv4", "bytes": 4249.0, "packets": 20.0},
			"related.ip": []any{"172.31.16.139", "172.31.16.21"}, "event.type": absent, "event.action": absent,
			"aws.vpcflow.log_status": "NODATA",
		}},
		{"SKIPDATA with one address", "2 123456789010 eni-11111111aaaaaaaaa 2001:db8::1 - - - - - - 1431280876 1431280934 - SKIPDATA", true, map[string]any{
			"source": map[string]any{"ip": "2001:db8::1"}, "destination": absent, "network": map[string]any{"type": "ipv6"},
			"related.ip": []any{"2001:db8::1"}, "event.type": absent, "aws.vpcflow.log_status": "SKIPDATA",
		}},
		{"SKIPDATA naming an action", "2 123456789010 eni-11111111aaaaaaaaa 10.0.0.1 10.0.0.2 - - - - - 1431280876 1431280934 REJECT SKIPDATA", true, map[string]any{
			"source.ip": "10.0.0.1", "destination.ip": "10.0.0.2", "event.type": []any{"connection", "denied"}, "event.action": "reject",
		}},
		{"OK without an action is a connection", "2 123456789010 eni-1235b8ca123456789 10.0.0.1 10.0.0.2 - - - - - 1431280876 1431280934 - OK", false, map[string]any{
			"source.ip": "10.0.0.1", "destination.ip": "10.0.0.2", "event.type": []any{"connection"}, "event.action": absent,
		}},
		{"no log-status", "2 123456789010 eni-1235b8ca123456789 10.0.0.1 10.0.0.2 - - - - - 1431280876 1431280934 - -", false, map[string]any{
			"event.type": []any{"connection"}, "aws.vpcflow.log_status": absent,
		}},
	}
	var f Flow
	var enc Encoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.Parse(&f, nil, tt.line); err != nil {
				t.Fatal(err)
			}
			if f.NoTraffic() != tt.noTraffic {
				t.Errorf("NoTraffic() = %v, want %v", f.NoTraffic(), tt.noTraffic)
			}
			doc := enc.AppendDocument(nil, &f, nil)
			var m map[string]any
			if err := json.Unmarshal(doc, &m); err != nil {
				t.Fatalf("%v: %s", err, doc)
			}
			got := map[string]any{}
			for path := range tt.want {
				if v, ok := member(m, path); ok {
					got[path] = v
				} else {
					got[path] = absent
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("document members (-want +got):\n%s\n%s", diff, doc)
			}
			checkDocument(t, &f, doc)
		})
	}
}

func TestParseTyped(t *testing.T) {
	p := mustParser(t, DefaultFormatString)
	var f Flow
	if err := p.Parse(&f, nil, "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"); err != nil {
		t.Fatal(err)
	}
	want := Flow{
		Format: DefaultFormat(), Version: 2, AccountID: "123456789010", InterfaceID: "eni-1235b8ca123456789",
		SrcAddr: netip.MustParseAddr("172.31.16.139"), DstAddr: netip.MustParseAddr("172.31.16.21"), SrcPort: 20641,
		DstPort: 22, Protocol: 6, Packets: 20, Bytes: 4249, Start: 1418530010, End: 1418530070, Action: ActionAccept,
		LogStatus: LogStatusOK,
	}
	for _, fl := range DefaultFormat().Fields() {
		want.Present.add(fl)
	}
	if diff := cmp.Diff(want, f, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b *Format) bool { return a.String() == b.String() }), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Flow (-want +got):\n%s", diff)
	}
	if f.EventTime(0) != 1418530010 {
		t.Errorf("EventTime = %d", f.EventTime(0))
	}

	p = mustParser(t, "${version} ${tcp-flags} ${traffic-path} ${flow-direction} ${log-status}")
	if err := p.Parse(&f, nil, "5 19 8 egress SKIPDATA"); err != nil {
		t.Fatal(err)
	}
	if f.TCPFlags != SYN|FIN|ACK || f.TrafficPath != 8 || f.FlowDirection != DirectionEgress || f.LogStatus != LogStatusSkipData ||
		!slicesEqual(f.TCPFlags.Names(nil), []string{"fin", "syn", "ack"}) || f.HasAddresses() || f.EventTime(1500) != 1 {
		t.Errorf("flow = %+v", f)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestMultipleFormats: two flow logs with formats of different lengths write to one group; each line finds its own.
func TestMultipleFormats(t *testing.T) {
	p := mustParser(t, DefaultFormatString, "${version} ${srcaddr} ${dstaddr} ${action} ${log-status}")
	var f Flow
	if err := p.Parse(&f, nil, "5 10.0.0.1 10.0.0.2 REJECT OK"); err != nil || f.Action != ActionReject || f.Format.Len() != 5 {
		t.Fatalf("short line: %v %+v", err, f)
	}
	if err := p.Parse(&f, nil, "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK"); err != nil || f.Format.Len() != 14 {
		t.Fatalf("long line: %v", err)
	}
	err := p.Parse(&f, &Source{LogGroup: "g", LogStream: "s", EventID: "7"}, "1 2 3")
	var le *LineError
	if !errors.As(err, &le) || !errors.Is(err, ErrFieldCount) || le.Got != 3 || !strings.Contains(err.Error(), "[5 14]") ||
		!strings.Contains(err.Error(), `log group "g", stream "s", event 7`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewParser(DefaultFormat(), mustFormat(t, "a b c d e f g h i j k l m n")); !errors.Is(err, ErrFormat) {
		t.Fatalf("two formats of one length: %v", err)
	}
}

func mustFormat(tb testing.TB, s string) *Format {
	tb.Helper()
	f, err := ParseFormat(s)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    string // canonical form, or the error's text
		wantErr bool
	}{
		{DefaultFormatString, DefaultFormatString, false},
		{"version account-id", "${version} ${account-id}", false},
		{"version,account_id,  srcaddr", "${version} ${account-id} ${srcaddr}", false},
		{"${version}\t${new-field}", "${version} ${new-field}", false},
		{"", "no fields", true},
		{"${version} srcaddr", "not of the form ${field}", true},
		{"${version} ${version}", "appears twice", true},
		{"a-b a_b", "appears twice", true},
		{"${bad.name}", "only letters", true},
		{strings.Repeat("x ", 200), "at most 128", true},
		{strings.Repeat("x ", 20), "appears twice", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f, err := ParseFormat(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil || f.String() != tt.want {
				t.Fatalf("ParseFormat = %v, %v; want %s", f, err, tt.want)
			}
		})
	}
	var many []string
	for i := range MaxFormatFields + 1 {
		many = append(many, fmt.Sprintf("f%d", i))
	}
	if _, err := NewFormat(many); !errors.Is(err, ErrFormat) {
		t.Fatalf("too many fields: %v", err)
	}
	f := mustFormat(t, "${version} ${x} ${ecs-task-id} ${y}")
	if f.Version() != 7 || !slicesEqual(f.UnknownNames(), []string{"x", "y"}) || !f.Has(FieldECSTaskID) || f.Has(FieldSrcAddr) {
		t.Fatalf("format %v: version %d unknown %v", f, f.Version(), f.UnknownNames())
	}
}

// TestFieldTable: every field of versions 2 to 8 is known by its AWS name, round trips, and lands in the document.
func TestFieldTable(t *testing.T) {
	perVersion := map[int]int{}
	for fl := FieldVersion; fl < numFields; fl++ {
		if LookupField(fl.String()) != fl {
			t.Errorf("%v does not round trip", fl)
		}
		perVersion[fl.Version()]++
	}
	want := map[int]int{2: 14, 3: 7, 4: 4, 5: 4, 6: 18, 7: 10, 8: 1}
	if diff := cmp.Diff(want, perVersion); diff != "" {
		t.Errorf("fields per version (-want +got):\n%s", diff)
	}
	names := map[string]bool{}
	for _, df := range DocumentFields() {
		if names[df.Name] {
			t.Errorf("%s twice in the document table", df.Name)
		}
		names[df.Name] = true
		switch df.Type {
		case "ip", "date", "long", "keyword":
		default:
			t.Errorf("%s: type %q", df.Name, df.Type)
		}
	}
	if FieldUnknown.String() != "unknown" || LookupField("nope") != FieldUnknown {
		t.Error("unknown field")
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"plain", `q"b\`, "ctl\x00\x1f\n\r\t", "bad\xffutf8\xc3", "ünï☃𝄞", "\u2028"} {
		got := jsonw.AppendString(nil, s)
		want, _ := json.Marshal(s)
		var back, wantBack string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, got, err)
		}
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: %s decodes to %q, encoding/json gives %q", s, got, back, wantBack)
		}
	}
}

// TestZeroAlloc: parsing a line and encoding its document allocate nothing once buffers are warm.
func TestZeroAlloc(t *testing.T) {
	p := mustParser(t, DefaultFormatString+" ${x-extra}")
	lines := []string{
		"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK x",
		"2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 REJECT OK y",
		"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA -",
	}
	src := source("alloc", 0)
	var f Flow
	var enc Encoder
	buf := make([]byte, 0, 4096)
	for _, l := range lines {
		allocs := testing.AllocsPerRun(100, func() {
			if err := p.Parse(&f, src, l); err != nil {
				t.Fatal(err)
			}
			s := *src // a Source of the caller's stack, as in the pipeline
			buf = enc.AppendDocument(buf[:0], &f, &s)
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations per line", l, allocs)
		}
	}
}

// fuzzEncoder is one Encoder for all of FuzzParseLine's flows.
var fuzzEncoder struct {
	sync.Mutex
	Encoder
}

func FuzzParseLine(f *testing.F) {
	cases := readCases(f)
	formats := map[string]*Parser{}
	for _, c := range cases {
		formats[c.format] = mustParser(f, c.format)
		for _, l := range c.lines {
			f.Add(c.format, l)
		}
	}
	f.Add("${a} ${b}", "x y")
	f.Fuzz(func(t *testing.T, format, line string) {
		p, ok := formats[format]
		if !ok {
			fm, err := ParseFormat(format)
			if err != nil {
				return
			}
			if p, err = NewParser(fm); err != nil {
				t.Fatalf("NewParser of a valid format: %v", err)
			}
		}
		var fl Flow
		src := source("fuzz", 0)
		if err := p.Parse(&fl, src, line); err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line != line {
				t.Fatalf("error %v is not a *LineError with the line", err)
			}
			_ = err.Error()
			return
		}
		if len(fl.Unknown) != len(fl.Format.unknown) {
			t.Fatalf("%d unknown values for %d unknown fields", len(fl.Unknown), len(fl.Format.unknown))
		}
		var enc Encoder
		doc := enc.AppendDocument(nil, &fl, src)
		if !json.Valid(doc) {
			t.Fatalf("invalid document %s", doc)
		}
		// The same document from the whole table, and from an Encoder that has written the flows before (its
		// programs, record text and day kept from them).
		if full := fullDocument(&fl, src); string(full) != string(doc) {
			t.Fatalf("the format's plan and the full table disagree:\n%s\n%s", doc, full)
		}
		fuzzEncoder.Lock()
		again := fuzzEncoder.AppendDocument(nil, &fl, src)
		fuzzEncoder.Unlock()
		if string(again) != string(doc) {
			t.Fatalf("an Encoder used before wrote\n%s\na new one\n%s", again, doc)
		}
		if len(doc) > 4*len(line)+8192 {
			t.Fatalf("a %d-byte line made a %d-byte document", len(line), len(doc))
		}
		checkDocument(t, &fl, doc)
	})
}

// TestAppendDate checks the hand-written date formatting against the time package across the whole range.
func TestAppendDate(t *testing.T) {
	for _, ms := range []int64{0, 999, 1000, 951782400000, 1418530010000, 1795440000123, 4102444800000, maxTime * 1000, 86399999} {
		want := `"` + time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.999Z07:00") + `"`
		if got := string(appendDate(nil, ms)); got != want {
			t.Errorf("appendDate(%d) = %s, want %s", ms, got, want)
		}
	}
	for sec := int64(0); sec < maxTime; sec += 86400*97 + 3607 {
		want := `"` + time.Unix(sec, 0).UTC().Format(time.RFC3339) + `"`
		if got := string(appendDate(nil, sec*1000)); got != want {
			t.Fatalf("appendDate(%d s) = %s, want %s", sec, got, want)
		}
	}
}

// TestAppendAddr: every IPv4 octet, and addresses of the other kinds, are written as netip writes them, quoted.
func TestAppendAddr(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::"),
		netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("0.0.0.0")}
	for v := range 256 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{byte(v), byte(255 - v), byte(v / 10), byte(v % 10)}))
	}
	for _, a := range addrs {
		if got, want := string(appendAddr([]byte("x"), a)), `x"`+a.String()+`"`; got != want {
			t.Errorf("appendAddr(%v) = %s, want %s", a, got, want)
		}
	}
}

// TestContextDate: the encoder's dates, through its cache of the day, are appendDate's, in any order of days.
func TestContextDate(t *testing.T) {
	var c docCtx
	ms := []int64{-1, 0, 999, 1000, 86399999, 86400000, 1795440000123, 1795440000000, 1795439999999, 1795440059120,
		maxTime * 1000, maxTime*1000 + 999, maxTime*1000 + 1000, 1 << 62, -1 << 62, 951782400000, 1418530010000}
	for i := int64(0); i < 2000; i++ {
		ms = append(ms, 1795440000000+i*i*7919+i%3*86400000)
	}
	for _, v := range ms {
		if got, want := string(c.appendDate([]byte("x"), v)), "x"+string(appendDate(nil, v)); got != want {
			t.Errorf("appendDate(%d) = %s, want %s", v, got, want)
		}
	}
}

// TestEncoderReuse: an Encoder keeps the program of the last document, the text of the last record's strings and
// the last day: documents written one after the other by one Encoder, of flows with other fields, sources with
// other strings (empty ones, none at all), days and formats, are those a new Encoder writes.
func TestEncoderReuse(t *testing.T) {
	var docs []struct {
		f   Flow
		src *Source
	}
	srcs := []*Source{source("a", 0), source("a", 0), source("b", 0), nil, {LogGroup: "g", EventID: "1"},
		{LogGroup: "g", LogStream: "s", ShardID: "x\"y", SequenceNumber: "1", File: "s3://b/k", Offset: 7}, source("a", 1)}
	for _, c := range readCases(t) {
		p := mustParser(t, c.format)
		for i, line := range c.lines {
			var f Flow
			if p.Parse(&f, nil, line) != nil {
				continue
			}
			for k := range 3 {
				docs = append(docs, struct {
					f   Flow
					src *Source
				}{f, srcs[(i+k)%len(srcs)]})
			}
		}
	}
	f, src, x := enrichedFixture(t)
	var reused Encoder
	for round := range 3 {
		for i := range docs {
			d := &docs[(i*7+round)%len(docs)]
			var fresh Encoder
			if got, want := reused.AppendDocument(nil, &d.f, d.src), fresh.AppendDocument(nil, &d.f, d.src); !bytes.Equal(got, want) {
				t.Fatalf("document %d: a reused encoder wrote\n%s\na new one\n%s", i, got, want)
			}
			if i%50 == 0 {
				var fresh Encoder
				if got, want := reused.AppendDocumentWith(nil, f, src, x), fresh.AppendDocumentWith(nil, f, src, x); !bytes.Equal(got, want) {
					t.Fatalf("enriched: a reused encoder wrote\n%s\na new one\n%s", got, want)
				}
			}
		}
	}
}
