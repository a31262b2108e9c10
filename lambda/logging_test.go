package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// logRecord is one JSON log line.
type logRecord struct {
	Level, Msg string
	Variable   string
}

func logRecords(t *testing.T, b *bytes.Buffer) []logRecord {
	t.Helper()
	var out []logRecord
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func envLookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// Both handlers log at KINFLOW_LOG_LEVEL: debug adds the configuration and the pipeline's per-batch line, info is
// the per-invocation report, warn leaves both out.
func TestHandlersLogAtConfiguredLevel(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "kinflow-test") // the state table is on the local DynamoDB emulator
	t.Setenv("AWS_SECRET_ACCESS_KEY", "kinflow-test")
	for _, h := range []struct {
		handler     string
		debug, info []string // messages logged at these levels
	}{
		{"batch", []string{"configuration", "batch processed"}, []string{"batch done"}},
		{"finalizer", []string{"configuration"}, []string{"index templates installed", "finalizer pass"}},
	} {
		t.Run(h.handler, func(t *testing.T) {
			c := newCluster(t)
			env := map[string]string{
				"AWS_REGION":             testenv.Region,
				"KINFLOW_SINK_URL":       testenv.URL(t, testenv.Elasticsearch),
				"KINFLOW_INDEX_PREFIX":   c.prefix,
				"KINFLOW_LAMBDA_HANDLER": h.handler,
			}
			if h.handler == "finalizer" {
				env["KINFLOW_STATE_TABLE"] = newStore(t).Table()
				env["KINFLOW_DYNAMODB_ENDPOINT"] = testenv.URL(t, testenv.Dynalite)
			}
			for _, level := range []string{"debug", "info", "warn"} {
				t.Run(level, func(t *testing.T) {
					env["KINFLOW_LOG_LEVEL"] = level
					var logs bytes.Buffer
					a := coldStart(envLookup(env), nil, &logs)
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					var err error
					if h.handler == "batch" {
						_, err = a.handleKinesis(ctx, loadFixture(t))
					} else {
						err = a.handleSchedule(ctx, nil)
					}
					if err != nil {
						t.Fatalf("invocation: %v\n%s", err, logs.String())
					}
					logged := map[string]bool{}
					for _, r := range logRecords(t, &logs) {
						logged[r.Msg] = true
						if level == "warn" && (r.Level == "DEBUG" || r.Level == "INFO") || level == "info" && r.Level == "DEBUG" {
							t.Errorf("at %s: %s line %q", level, r.Level, r.Msg)
						}
					}
					for _, m := range h.debug {
						if logged[m] != (level == "debug") {
							t.Errorf("at %s: debug line %q logged = %v\n%s", level, m, logged[m], logs.String())
						}
					}
					for _, m := range h.info {
						if logged[m] != (level != "warn") {
							t.Errorf("at %s: info line %q logged = %v\n%s", level, m, logged[m], logs.String())
						}
					}
				})
			}
		})
	}
}

// At cold start each KINFLOW_ variable that is no setting is a warning naming the nearest setting, at every level
// that shows warnings, whether the rest of the configuration is good or bad. The tooling's variables are no
// misspellings.
// A KINFLOW_ variable that is no setting makes the configuration invalid: one error line at cold start, at every
// log level, naming the variable and the nearest setting but never its value; the tooling's variables pass.
func TestColdStartRefusesUnknownVariables(t *testing.T) {
	const invalid = "invalid configuration; every invocation will fail until it is fixed"
	for _, tt := range []struct {
		name    string
		env     map[string]string
		environ []string
		problem string // in the logged error; "" for a valid configuration
	}{
		{"misspelt", map[string]string{}, []string{"KINFLOW_WINDOWS=5m", "KINFLOW_WINDOW=5m", "PATH=/bin"},
			"KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"},
		{"tooling", map[string]string{}, []string{"KINFLOW_ES_URL=http://127.0.0.1:9200", "KINFLOW_REQUIRE_SERVICES=all",
			"KINFLOW_MOTO_PORT=5000"}, ""},
		{"at log level error too", map[string]string{"KINFLOW_LOG_LEVEL": "error"}, []string{"KINFLOW_WINDOWS=5m"},
			"KINFLOW_WINDOWS is not a kinflow setting"},
		{"a secret's value is not logged", map[string]string{}, []string{"KINFLOW_SINK_PASSWD=hunter2"},
			"KINFLOW_SINK_PASSWD is not a kinflow setting; did you mean KINFLOW_SINK_PASSWORD?"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := coldStart(envLookup(tt.env), tt.environ, &logs)
			var got []string
			for _, r := range logRecords(t, &logs) {
				if r.Level != "DEBUG" {
					got = append(got, r.Msg)
				}
			}
			if tt.problem == "" {
				if len(got) != 0 || a.configErr != nil {
					t.Errorf("logged %q, error %v; want neither\n%s", got, a.configErr, logs.String())
				}
				return
			}
			if len(got) != 1 || got[0] != invalid {
				t.Errorf("logged %q, want one line %q\n%s", got, invalid, logs.String())
			}
			if a.configErr == nil || !strings.Contains(a.configErr.Error(), tt.problem) || !strings.Contains(logs.String(), tt.problem) {
				t.Errorf("error %v (logged: %s), want it to say %q", a.configErr, logs.String(), tt.problem)
			}
			if strings.Contains(logs.String(), "hunter2") {
				t.Errorf("a value is logged:\n%s", logs.String())
			}
		})
	}
}
