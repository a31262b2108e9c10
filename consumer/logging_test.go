package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// logMessages returns the level of each JSON log line's message in out; other lines are left out.
func logMessages(out string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		var r struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &r) == nil && r.Msg != "" {
			got[r.Msg] = r.Level
		}
	}
	return got
}

// `consumer setup` logs at KINFLOW_LOG_LEVEL, or at -log-level when it is given: debug adds the configuration in
// effect, info is the templates' line, warn leaves both out.
func TestSetupLogsAtConfiguredLevel(t *testing.T) {
	url := testenv.URL(t, testenv.Elasticsearch)
	prefix := testenv.UniqueName(t, "kfsetuplog")
	testenv.DropPrefix(t, url, prefix)
	const debugLine, infoLine = "configuration", "index templates installed"
	for _, tt := range []struct {
		name, env string
		flags     []string
		debug     bool
		info      bool
	}{
		{name: "env debug", env: "debug", debug: true, info: true},
		{name: "env info", env: "info", info: true},
		{name: "env warn", env: "warn"},
		{name: "unset is info", info: true},
		{name: "flag over env", env: "error", flags: []string{"-log-level", "debug"}, debug: true, info: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KINFLOW_LOG_LEVEL", tt.env)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out, errs strings.Builder
			args := append([]string{"-sink-url", url, "-index-prefix", prefix}, tt.flags...)
			if err := runSetup(ctx, args, nil, &out, &errs); err != nil {
				t.Fatalf("setup: %v\n%s", err, errs.String())
			}
			got := logMessages(errs.String())
			if _, ok := got[debugLine]; ok != tt.debug {
				t.Errorf("debug line %q logged = %v, want %v:\n%s", debugLine, ok, tt.debug, errs.String())
			}
			if _, ok := got[infoLine]; ok != tt.info {
				t.Errorf("info line %q logged = %v, want %v:\n%s", infoLine, ok, tt.info, errs.String())
			}
			if strings.Contains(errs.String(), `"msg":"configuration"`) && !strings.Contains(errs.String(), `"KINFLOW_INDEX_PREFIX":"`+prefix+`"`) {
				t.Errorf("the configuration line lacks the prefix the flag set:\n%s", errs.String())
			}
		})
	}
}

// Each command that takes settings from the environment warns of a KINFLOW_ variable that is no setting when it
// starts, before anything else can fail; decode (flags only) and health (the container's probe) do not.
func TestCommandsWarnOfUnknownVariables(t *testing.T) {
	t.Setenv("KINFLOW_WINDOWS", "t0psecret")
	const warning = "KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"
	for _, tt := range []struct {
		args []string
		warn bool
	}{
		{[]string{"run", "-sink", "solr"}, true}, // an invalid configuration: the command stops at once
		{[]string{"setup", "-sink", "solr"}, true},
		{[]string{"finalize", "-sink", "solr"}, true},
		{[]string{"demo", "-no-such-flag"}, true},
		{[]string{"decode", "-no-such-flag"}, false},
		{[]string{"health", "-no-such-flag"}, false},
	} {
		t.Run(tt.args[0], func(t *testing.T) {
			var out, errs strings.Builder
			if err := dispatch(t.Context(), tt.args, strings.NewReader(""), &out, &errs); err == nil {
				t.Fatalf("%v succeeded; want it to stop", tt.args)
			}
			if level, ok := logMessages(errs.String())[warning]; ok != tt.warn || ok && level != "WARN" {
				t.Errorf("%v: warning %q at %q, want it: %v\n%s", tt.args, warning, level, tt.warn, errs.String())
			}
			if strings.Contains(errs.String(), "t0psecret") {
				t.Errorf("the variable's value is logged:\n%s", errs.String())
			}
		})
	}

	// Warnings are left out at KINFLOW_LOG_LEVEL=error.
	t.Setenv("KINFLOW_LOG_LEVEL", "error")
	var out, errs strings.Builder
	dispatch(t.Context(), []string{"setup", "-sink", "solr"}, nil, &out, &errs)
	if strings.Contains(errs.String(), "KINFLOW_WINDOWS") {
		t.Errorf("a warning at KINFLOW_LOG_LEVEL=error:\n%s", errs.String())
	}
}
