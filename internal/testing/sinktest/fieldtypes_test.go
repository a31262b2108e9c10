package sinktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinflow/kinflow/internal/sink"
)

// recorder is a testing.TB that keeps the errors it is given.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

const readmeSnippet = "# x\n\n## Field mapping\n\nSome text.\n\n" +
	"| field | type | from |\n|---|---|---|\n" +
	"| `aws.vpcflow.version` | long | version |\n" +
	"| `source.ip` | ip | srcaddr |\n" +
	"| `event.start` | date | start |\n" +
	"| `event.type (array)` | keyword | action \\| more |\n" +
	"| `aws.vpcflow.<unknown field>` | keyword | any |\n\n" +
	"| other | table |\n|---|---|\n| `ignored` | long |\n\n" +
	"## Connection sets\n\n| field | type | meaning |\n|---|---|---|\n" +
	"| `@timestamp`, `window.start` | date | the window |\n| `peers` | ip (array) | peers |\n" +
	"### Sub\n\n| `later` | long | not the first table |\n"

// TestFieldTypeChecks holds the comparison of encoder, README and mapping to the mismatches it must report.
func TestFieldTypeChecks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(path, []byte(readmeSnippet), 0o644); err != nil {
		t.Fatal(err)
	}
	tables := readmeTables(t, path)
	if got := fmt.Sprint(tables["Field mapping"].names, tables["Connection sets"].names); got != "[aws.vpcflow.version source.ip event.start event.type] [@timestamp window.start peers]" {
		t.Fatalf("tables: %s", got)
	}
	good := `{"aws":{"vpcflow":{"version":5,"new_thing":"x"}},"source":{"ip":"10.0.0.1"},"event":{"start":"2026-11-23T12:00:00.5Z","type":["connection"]}}`
	goodMapping := map[string]string{"aws.vpcflow.version": "long", "aws.vpcflow.new_thing": "keyword", "source.ip": "ip", "event.start": "date", "event.type": "keyword"}
	tests := []struct {
		name    string
		doc     string
		mapping map[string]string // changes to goodMapping
		want    string            // a part of the one error expected; "" for none
	}{
		{"all agree", good, nil, ""},
		{"mapping keyword for a number", good, map[string]string{"aws.vpcflow.version": "keyword"}, "maps it as keyword, the README says long"},
		{"field not mapped", good, map[string]string{"source.ip": ""}, "source.ip: not mapped"},
		{"unknown field mapped as long", good, map[string]string{"aws.vpcflow.new_thing": "long"}, "maps it as long, the README says keyword"},
		{"a number as text", strings.Replace(good, `"version":5`, `"version":"5"`, 1), nil, "writes string 5, the README says long"},
		{"a fraction", strings.Replace(good, `"version":5`, `"version":5.5`, 1), nil, "writes number 5.5, the README says long"},
		{"not an address", strings.Replace(good, `"10.0.0.1"`, `"host"`, 1), nil, "writes string host, the README says ip"},
		{"not a date", strings.Replace(good, `"2026-11-23T12:00:00.5Z"`, `"yesterday"`, 1), nil, "the README says date"},
		{"a number as keyword", strings.Replace(good, `"new_thing":"x"`, `"new_thing":1`, 1), nil, "writes number 1, the README says keyword"},
		{"an array the README does not mark", strings.Replace(good, `"10.0.0.1"`, `["10.0.0.1"]`, 1), nil, "array: true, the README says array: false"},
		{"a field the README lacks", strings.Replace(good, `"source":{`, `"source":{"port":1,`, 1), map[string]string{"source.port": "long"}, "source.port: the encoder writes it (number), the README's table lacks it"},
		{"a README field never written", strings.Replace(good, `"source":{"ip":"10.0.0.1"},`, ``, 1), nil, "source.ip: in the README's table, in no document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mapping := map[string]string{}
			for k, v := range goodMapping {
				mapping[k] = v
			}
			for k, v := range tt.mapping {
				if v == "" {
					delete(mapping, k)
				} else {
					mapping[k] = v
				}
			}
			docs := []sink.Doc{{ID: "1", Source: []byte(tt.doc)}}
			r := &recorder{TB: t}
			fam := docFamily{name: "flow", section: "Field mapping", docs: docs, arrays: true}
			checkFamily(r, fam, tables["Field mapping"], encoderFields(t, docs), map[string]map[string]string{"ix": mapping})
			switch {
			case tt.want == "" && len(r.errs) > 0:
				t.Errorf("errors %q, want none", r.errs)
			case tt.want != "" && (len(r.errs) != 1 || !strings.Contains(r.errs[0], tt.want)):
				t.Errorf("errors %q, want one with %q", r.errs, tt.want)
			}
		})
	}
}

// TestREADMEFieldTables: the README's two field tables are found and read as the integration test reads them.
func TestREADMEFieldTables(t *testing.T) {
	tables := readmeTables(t, filepath.Join(moduleRoot(t), "README.md"))
	for _, c := range []struct {
		section, field string
		want           readmeRow
	}{
		{"Field mapping", "aws.vpcflow.version", readmeRow{typ: "long"}},
		{"Field mapping", "related.ip", readmeRow{typ: "ip", array: true}},
		{"Field mapping", "aws.vpcflow.some_new_field", readmeRow{typ: "keyword"}},
		{"Connection sets", "window.end", readmeRow{typ: "date"}},
		{"Connection sets", "peers", readmeRow{typ: "ip", array: true}},
		{"Connection sets", "peers_sketch", readmeRow{typ: "binary"}},
	} {
		if got, ok := tables[c.section].lookup(c.field); !ok || got != c.want {
			t.Errorf("## %s, %s: %+v (found %v), want %+v", c.section, c.field, got, ok, c.want)
		}
	}
}
