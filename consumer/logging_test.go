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
// A KINFLOW_ variable that is no setting stops every command that takes settings, with the nearest name and never
// the value; decode (flags only) and health (the container's health check) do not read settings.
func TestCommandsRefuseUnknownVariables(t *testing.T) {
	t.Setenv("KINFLOW_WINDOWS", "t0psecret")
	const problem = "KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"
	for _, tt := range []struct {
		args   []string
		refuse bool
	}{
		{[]string{"run", "-stream-name", "s"}, true},
		{[]string{"setup"}, true},
		{[]string{"finalize"}, true},
		{[]string{"decode", "-no-such-flag"}, false},
		{[]string{"health", "-no-such-flag"}, false},
	} {
		t.Run(tt.args[0], func(t *testing.T) {
			var out, errs strings.Builder
			err := dispatch(t.Context(), tt.args, strings.NewReader(""), &out, &errs)
			if err == nil {
				t.Fatalf("%v succeeded; want it to stop", tt.args)
			}
			if got := strings.Contains(err.Error(), problem); got != tt.refuse {
				t.Errorf("%v: error %q names the unknown variable: %v, want %v", tt.args, err, got, tt.refuse)
			}
			if strings.Contains(err.Error()+errs.String(), "t0psecret") {
				t.Errorf("the variable's value is shown:\n%v\n%s", err, errs.String())
			}
		})
	}
}
