package sinktest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kinflow/kinflow/internal/schema"
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

// family is a small flows family, as the registry writes them.
var family = schema.Family{Name: "flows", Fields: []schema.Field{
	{Name: "aws.vpcflow.version", Type: schema.Long, Source: "version"},
	{Name: "source.ip", Type: schema.IP, Source: "srcaddr"},
	{Name: "event.start", Type: schema.Date, Source: "start"},
	{Name: "event.type", Type: schema.Keyword, Array: true, Source: "action"},
	{Name: "aws.vpcflow.", Any: true, Type: schema.Keyword, Source: "any"},
}}

// TestFieldTypeChecks holds the comparison of encoder, registry and mapping to the mismatches it must report.
func TestFieldTypeChecks(t *testing.T) {
	good := `{"aws":{"vpcflow":{"version":5,"new_thing":"x"}},"source":{"ip":"10.0.0.1"},"event":{"start":"2026-11-23T12:00:00.5Z","type":["connection"]}}`
	goodMapping := map[string]string{"aws.vpcflow.version": "long", "aws.vpcflow.new_thing": "keyword", "source.ip": "ip", "event.start": "date", "event.type": "keyword"}
	tests := []struct {
		name    string
		doc     string
		mapping map[string]string // changes to goodMapping
		want    string            // a part of the one error expected; "" for none
	}{
		{"all agree", good, nil, ""},
		{"mapping keyword for a number", good, map[string]string{"aws.vpcflow.version": "keyword"}, "maps it as keyword, the registry says long"},
		{"field not mapped", good, map[string]string{"source.ip": ""}, "source.ip: not mapped"},
		{"unknown field mapped as long", good, map[string]string{"aws.vpcflow.new_thing": "long"}, "maps it as long, the registry says keyword"},
		{"a number as text", strings.Replace(good, `"version":5`, `"version":"5"`, 1), nil, "writes string 5, the registry says long"},
		{"a fraction", strings.Replace(good, `"version":5`, `"version":5.5`, 1), nil, "writes number 5.5, the registry says long"},
		{"not an address", strings.Replace(good, `"10.0.0.1"`, `"host"`, 1), nil, "writes string host, the registry says ip"},
		{"not a date", strings.Replace(good, `"2026-11-23T12:00:00.5Z"`, `"yesterday"`, 1), nil, "the registry says date"},
		{"a number as keyword", strings.Replace(good, `"new_thing":"x"`, `"new_thing":1`, 1), nil, "writes number 1, the registry says keyword"},
		{"an array the registry does not mark", strings.Replace(good, `"10.0.0.1"`, `["10.0.0.1"]`, 1), nil, "array: true, the registry says array: false"},
		{"a field the registry lacks", strings.Replace(good, `"source":{`, `"source":{"port":1,`, 1), map[string]string{"source.port": "long"}, "source.port: the encoder writes it (number), the registry lacks it"},
		{"a registry field never written", strings.Replace(good, `"source":{"ip":"10.0.0.1"},`, ``, 1), nil, "source.ip: in the registry, in no document"},
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
			checkFamily(r, docFamily{family, docs}, encoderFields(t, docs), map[string]map[string]string{"ix": mapping})
			switch {
			case tt.want == "" && len(r.errs) > 0:
				t.Errorf("errors %q, want none", r.errs)
			case tt.want != "" && (len(r.errs) != 1 || !strings.Contains(r.errs[0], tt.want)):
				t.Errorf("errors %q, want one with %q", r.errs, tt.want)
			}
		})
	}
}

// TestEncodersWriteTheRegistry: without a cluster, the documents of the flow encoder (every golden file) and of
// aggregate (blocks of partial sets, and finals, exact and estimated) have exactly the registry's fields, of its types. The dead
// letters are held to it in internal/sink, which makes them.
func TestEncodersWriteTheRegistry(t *testing.T) {
	partials, finals := connDocs(t, "kinflow")
	for _, fam := range []docFamily{
		{schema.Flows(), flowDocs(t, moduleRoot(t), "kinflow")},
		{schema.Partials(), partials},
		{schema.Conns(), finals},
	} {
		checkFamily(t, fam, encoderFields(t, fam.docs), nil)
	}
}
