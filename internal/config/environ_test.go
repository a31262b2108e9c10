package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnknownVariables(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []Unknown
		report  []string // the warnings' messages
	}{
		{name: "settings, tooling and other variables pass",
			environ: []string{"KINFLOW_WINDOW=5m", "AWS_REGION=eu-west-1", "KINFLOW_ES_URL=http://127.0.0.1:9200",
				"KINFLOW_REQUIRE_SERVICES=all", "KINFLOW_MOTO_PORT=5001", "PATH=/bin", "HOME=/root", "MY_KINFLOW_X=1"}},
		{name: "one letter too many",
			environ: []string{"KINFLOW_WINDOWS=5m"},
			want:    []Unknown{{"KINFLOW_WINDOWS", "KINFLOW_WINDOW"}},
			report:  []string{"KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"}},
		{name: "a missing underscore",
			environ: []string{"KINFLOW_LOGLEVEL=debug"},
			want:    []Unknown{{"KINFLOW_LOGLEVEL", "KINFLOW_LOG_LEVEL"}}},
		{name: "a shortened word",
			environ: []string{"KINFLOW_SINK_USER=elastic"},
			want:    []Unknown{{"KINFLOW_SINK_USER", "KINFLOW_SINK_USERNAME"}}},
		{name: "lower case is not the setting",
			environ: []string{"kinflow_window=5m"},
			want:    []Unknown{{"kinflow_window", "KINFLOW_WINDOW"}}},
		{name: "a misspelt tooling variable suggests it",
			environ: []string{"KINFLOW_REQUIRE_SERVICE=all"},
			want:    []Unknown{{"KINFLOW_REQUIRE_SERVICE", "KINFLOW_REQUIRE_SERVICES"}}},
		{name: "nothing close",
			environ: []string{"KINFLOW_FOO=1"},
			want:    []Unknown{{"KINFLOW_FOO", ""}},
			report:  []string{"KINFLOW_FOO is not a kinflow setting"}},
		{name: "a setting that was removed",
			environ: []string{"KINFLOW_DEADLETTER_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/1/q"},
			want:    []Unknown{{"KINFLOW_DEADLETTER_QUEUE_URL", ""}}},
		{name: "every one, sorted, once, without the value",
			environ: []string{"KINFLOW_WINDOWS=5m", "KINFLOW_SINK_PASSWORDS=hunter2", "KINFLOW_INDEX_PREFIX=x",
				"KINFLOW_WINDOWS=6m", "KINFLOW_"},
			want: []Unknown{{"KINFLOW_", ""}, {"KINFLOW_SINK_PASSWORDS", "KINFLOW_SINK_PASSWORD"},
				{"KINFLOW_WINDOWS", "KINFLOW_WINDOW"}},
			report: []string{"KINFLOW_ is not a kinflow setting",
				"KINFLOW_SINK_PASSWORDS is not a kinflow setting; did you mean KINFLOW_SINK_PASSWORD?",
				"KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, UnknownVariables(tt.environ)); d != "" {
				t.Errorf("UnknownVariables (-want +got):\n%s", d)
			}
			var logs bytes.Buffer
			WarnUnknown(slog.New(slog.NewJSONHandler(&logs, nil)), tt.environ)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if line == "" {
					continue
				}
				var rec struct{ Level, Msg, Variable, Suggestion string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				if rec.Level != "WARN" || rec.Variable == "" {
					t.Errorf("log line %s: want a WARN naming the variable", line)
				}
				got = append(got, rec.Msg)
			}
			if len(got) != len(tt.want) {
				t.Errorf("%d warnings, want %d:\n%s", len(got), len(tt.want), logs.String())
			}
			for i, want := range tt.report {
				if i >= len(got) || got[i] != want {
					t.Errorf("warning %d = %q, want %q", i, got, want)
				}
			}
			if strings.Contains(logs.String(), "hunter2") {
				t.Errorf("a value is logged:\n%s", logs.String())
			}
		})
	}
}

// Every setting's own name, as it is set, is known; a setting's name is not also a tooling name.
func TestSettingsAreKnown(t *testing.T) {
	var environ []string
	for _, v := range Variables() {
		environ = append(environ, v[0]+"=x")
		if slices.Contains(tooling, v[0]) {
			t.Errorf("%s is a setting and in the tooling list", v[0])
		}
	}
	if u := UnknownVariables(environ); len(u) != 0 {
		t.Errorf("settings reported as unknown: %v", u)
	}
}

// The tooling list is the KINFLOW_ variables the scripts, the Makefile, the tests' service finder and the CDK app
// use that are not settings: one used there and in neither list would be reported to every test run and demo as a
// misspelling, and one that nothing uses any more would hide a misspelling. The CDK app passes only settings.
func TestToolingListIsTrue(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../../scripts/*", "../../Makefile", "../../internal/testing/testenv/*.go",
		"../../cdk/kinflowstack/*.go", "../../.ci/*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	used := map[string]string{} // name -> a file using it
	name := regexp.MustCompile(`KINFLOW_[A-Z0-9_]*[A-Z0-9]`)
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range name.FindAllString(string(b), -1) {
			used[n] = f
		}
	}
	if len(used) == 0 {
		t.Fatal("no KINFLOW_ variable found in the scripts; the paths are wrong")
	}
	for n, f := range used {
		if u := UnknownVariables([]string{n + "=x"}); len(u) != 0 {
			t.Errorf("%s (used in %s) is neither a setting nor in the tooling list", n, f)
		}
	}
	for _, n := range tooling {
		if _, ok := used[n]; !ok {
			t.Errorf("tooling variable %s is used by none of the scripts, the Makefile, internal/testing/testenv or the CDK app", n)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"KINFLOW_WINDOW", "KINFLOW_SINK_URL", "KINFLOW_SINK_KIND"}
	for name, want := range map[string]string{
		"KINFLOW_WINDOW":    "KINFLOW_WINDOW",
		"KINFLOW_WINDOS":    "KINFLOW_WINDOW",
		"KINFLOW_SINK_URLS": "KINFLOW_SINK_URL",
		"KINFLOW_SINK_KND":  "KINFLOW_SINK_KIND",
		"KINFLOW_SINK_XXXX": "KINFLOW_SINK_URL", // 4 edits from both; the earlier wins
		"KINFLOW_SINK":      "KINFLOW_SINK_URL", // the beginning of both; the earlier wins
		"KINFLOW_WIN":       "",                 // too short to be taken for an abbreviation
		"KINFLOW_X":         "",
		"KINFLOW_ZZZZZZZZZ": "",
	} {
		if got := closest(name, known); got != want {
			t.Errorf("closest(%s) = %q, want %q", name, got, want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"", "AB", 2}, {"WINDOW", "WINDOWS", 1}, {"KITTEN", "SITTING", 3}, {"LOGLEVEL", "LOG_LEVEL", 1}} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}
