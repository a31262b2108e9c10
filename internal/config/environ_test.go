package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// WarnUnknown, kept for callers that have not moved to LoadFor, still warns by name of a variable no runtime
// reads, and never logs a value.
func TestWarnUnknown(t *testing.T) {
	var logs bytes.Buffer
	WarnUnknown(slog.New(slog.NewJSONHandler(&logs, nil)), []string{"KINFLOW_WINDOWS=5m", "KINFLOW_SINK_PASSWD=hunter2",
		"KINFLOW_STREAM_NAME=flows", "KINFLOW_ES_URL=http://127.0.0.1:9200", "PATH=/bin"})
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Level, Msg, Variable, Suggestion string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if rec.Level != "WARN" || rec.Variable == "" {
			t.Errorf("log line %s: want a WARN naming the variable", line)
		}
		got = append(got, rec.Msg)
	}
	want := []string{"KINFLOW_SINK_PASSWD is not a kinflow setting; did you mean KINFLOW_SINK_PASSWORD?",
		"KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings %q, want %q", got, want)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("a value is logged:\n%s", logs.String())
	}
}
