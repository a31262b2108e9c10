package config

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/format/vpcflow"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	c, err := Load(lookup(map[string]string{
		"KINFLOW_SINK_KIND":             "opensearch",
		"KINFLOW_SINK_URL":              "https://a:443, https://b:443",
		"KINFLOW_WINDOW":                "5m",
		"KINFLOW_BULK_MAX_DOCS":         "1000",
		"KINFLOW_FORMAT_DISCOVERY":      "true",
		"KINFLOW_FLOW_FORMAT_OVERRIDES": "/vpc/a=${version} ${srcaddr};/vpc/b-*=version srcaddr dstaddr",
		"KINFLOW_STREAM_NAME":           "flows",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sink.Kind != SinkOpenSearch || !cmp.Equal(c.Sink.URLs, []string{"https://a:443", "https://b:443"}) ||
		c.Pipeline.Aggregate.Window != 5*time.Minute || c.Sink.Bulk.FlushDocs != 1000 || !c.Discovery || c.StreamName != "flows" {
		t.Errorf("Load = %+v", c)
	}
	want := []vpcflow.Override{{Match: "/vpc/a", Format: "${version} ${srcaddr}"}, {Match: "/vpc/b-*", Format: "version srcaddr dstaddr"}}
	if d := cmp.Diff(want, c.Formats.Overrides); d != "" {
		t.Errorf("overrides (-want +got):\n%s", d)
	}
	if err := c.ValidateConsumer(); err != nil {
		t.Errorf("ValidateConsumer: %v", err)
	}
}

// A bad deployment learns every problem at once, and secrets are not echoed.
func TestErrorsListEveryProblem(t *testing.T) {
	_, err := Load(lookup(map[string]string{
		"KINFLOW_WINDOW":        "ten minutes",
		"KINFLOW_BULK_MAX_DOCS": "many",
		"KINFLOW_SINK_SETUP":    "yes please",
	}))
	for _, want := range []string{"KINFLOW_WINDOW", "KINFLOW_BULK_MAX_DOCS", "KINFLOW_SINK_SETUP"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load error %v does not name %s", err, want)
		}
	}

	c := Default()
	c.Sink.Kind = "solr"
	c.InitialPosition = "SOMEWHERE"
	c.LogLevel = "loud"
	c.Pipeline.Aggregate.Window = 0
	err = c.ValidateConsumer()
	for _, want := range []string{"solr", "SOMEWHERE", "loud", "KINFLOW_STREAM_NAME", "aggregate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v does not name %s", err, want)
		}
	}

	c = Default()
	c.Sink.Kind = SinkOpenSearch
	c.Sink.APIKey = "c2VjcmV0OmtleQ=="
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), c.Sink.APIKey) {
		t.Errorf("Validate = %v: want an error that does not print the key", err)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := Load(lookup(map[string]string{"KINFLOW_STREAM_NAME": "from-env", "KINFLOW_INDEX_PREFIX": "envprefix"}))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	BindFlags(fs, &c)
	if err := fs.Parse([]string{"-stream", "from-flag", "-window", "1m"}); err != nil {
		t.Fatal(err)
	}
	if c.StreamName != "from-flag" || c.Pipeline.Prefix != "envprefix" || c.Pipeline.Aggregate.Window != time.Minute {
		t.Errorf("after flags: stream %q prefix %q window %v", c.StreamName, c.Pipeline.Prefix, c.Pipeline.Aggregate.Window)
	}
	if fs.Lookup("sink-password") != nil {
		t.Error("a secret has a command-line flag (it would show in ps)")
	}
}

func TestVariablesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Variables() {
		if seen[v[0]] {
			t.Errorf("%s defined twice", v[0])
		}
		seen[v[0]] = true
	}
}
