package settings

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheckEnviron(t *testing.T) {
	tests := []struct {
		name    string
		rt      Runtime
		environ []string
		want    []Problem
		say     []string
	}{
		{name: "settings, tooling and other variables pass", rt: Consumer,
			environ: []string{"KINFLOW_WINDOW=5m", "AWS_REGION=eu-west-1", "KINFLOW_ES_URL=http://127.0.0.1:9200",
				"KINFLOW_REQUIRE_SERVICES=all", "KINFLOW_MOTO_PORT=5001", "PATH=/bin", "HOME=/root", "MY_KINFLOW_X=1"}},
		{name: "one letter too many", rt: Lambda,
			environ: []string{"KINFLOW_WINDOWS=5m"},
			want:    []Problem{{Name: "KINFLOW_WINDOWS", Suggestion: "KINFLOW_WINDOW"}},
			say:     []string{"KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"}},
		{name: "a missing underscore", rt: Consumer,
			environ: []string{"KINFLOW_LOGLEVEL=debug"},
			want:    []Problem{{Name: "KINFLOW_LOGLEVEL", Suggestion: "KINFLOW_LOG_LEVEL"}}},
		{name: "a shortened word", rt: Consumer,
			environ: []string{"KINFLOW_SINK_USER=elastic"},
			want:    []Problem{{Name: "KINFLOW_SINK_USER", Suggestion: "KINFLOW_SINK_USERNAME"}}},
		{name: "lower case is not the setting", rt: Consumer,
			environ: []string{"kinflow_window=5m"},
			want:    []Problem{{Name: "kinflow_window", Suggestion: "KINFLOW_WINDOW"}}},
		{name: "a misspelt tooling variable suggests it", rt: Consumer,
			environ: []string{"KINFLOW_REQUIRE_SERVICE=all"},
			want:    []Problem{{Name: "KINFLOW_REQUIRE_SERVICE", Suggestion: "KINFLOW_REQUIRE_SERVICES"}}},
		{name: "nothing close", rt: Consumer,
			environ: []string{"KINFLOW_FOO=1"},
			want:    []Problem{{Name: "KINFLOW_FOO"}},
			say:     []string{"KINFLOW_FOO is not a kinflow setting"}},
		{name: "a setting that was removed", rt: Consumer,
			environ: []string{"KINFLOW_DEADLETTER_TOPIC_ARN=arn:aws:sns:us-east-1:1:t"},
			want:    []Problem{{Name: "KINFLOW_DEADLETTER_TOPIC_ARN"}}},
		{name: "another runtime's setting", rt: Lambda,
			environ: []string{"KINFLOW_STREAM_NAME=flows", "KINFLOW_LAMBDA_HANDLER=batch"},
			want:    []Problem{{Name: "KINFLOW_STREAM_NAME", Runtimes: Consumer, Reader: Lambda}},
			say:     []string{"KINFLOW_STREAM_NAME is read by consumer only, not by lambda"}},
		{name: "every runtime's settings when none is named",
			environ: []string{"KINFLOW_STREAM_NAME=flows", "KINFLOW_LAMBDA_HANDLER=batch"}},
		{name: "every one, sorted, once", rt: Consumer,
			environ: []string{"KINFLOW_WINDOWS=5m", "KINFLOW_SINK_PASSWORDS=hunter2", "KINFLOW_INDEX_PREFIX=x",
				"KINFLOW_WINDOWS=6m", "KINFLOW_"},
			want: []Problem{{Name: "KINFLOW_"}, {Name: "KINFLOW_SINK_PASSWORDS", Suggestion: "KINFLOW_SINK_PASSWORD"},
				{Name: "KINFLOW_WINDOWS", Suggestion: "KINFLOW_WINDOW"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckEnviron(tt.rt, tt.environ)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("CheckEnviron (-want +got):\n%s", d)
			}
			for i, want := range tt.say {
				if i >= len(got) || got[i].String() != want {
					t.Errorf("problem %d says %v, want %q", i, got, want)
				}
			}
		})
	}
}

// Every setting's own name, as it is set, passes in every runtime that reads it.
func TestSettingsAreKnown(t *testing.T) {
	for _, rt := range []Runtime{Consumer, Lambda} {
		var environ []string
		for _, s := range All() {
			if s.Env != "" && s.Runtimes.Has(rt) {
				environ = append(environ, s.Env+"=x")
			}
			if slices.Contains(Tooling(), s.Env) {
				t.Errorf("%s is a setting and in the tooling list", s.Env)
			}
		}
		if p := CheckEnviron(rt, environ); len(p) != 0 {
			t.Errorf("%s: settings reported: %v", rt, p)
		}
	}
}

// The tooling list is the KINFLOW_ variables the scripts, the Makefile, the tests' service finder and the CDK app
// use that are not settings: one used there and in neither list would be reported to every test run and demo as a
// misspelling, and one that nothing uses any more would hide a misspelling.
func TestToolingListIsTrue(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../../scripts/*", "../../Makefile", "../testing/testenv/*.go",
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
		if p := CheckEnviron(0, []string{n + "=x"}); len(p) != 0 {
			t.Errorf("%s (used in %s) is neither a setting nor in the tooling list", n, f)
		}
	}
	for _, n := range Tooling() {
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
}
