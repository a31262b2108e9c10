package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Logger lets through what LogLevel asks for, and nothing below it.
func TestLoggerLevel(t *testing.T) {
	for _, tt := range []struct {
		level string
		want  []string // of the messages debug, info, warn, error
	}{
		{"debug", []string{"debug", "info", "warn", "error"}},
		{"info", []string{"info", "warn", "error"}},
		{"warn", []string{"warn", "error"}},
		{"error", []string{"error"}},
		{"loud", []string{"info", "warn", "error"}}, // Validate rejects it; until then it is info
	} {
		t.Run(tt.level, func(t *testing.T) {
			c, err := Load(lookup(map[string]string{"KINFLOW_LOG_LEVEL": tt.level}))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			log := c.Logger(&out)
			log.Debug("debug")
			log.Info("info")
			log.Warn("warn")
			log.Error("error")
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if line == "" {
					continue
				}
				_, rest, _ := strings.Cut(line, `"msg":"`)
				msg, _, _ := strings.Cut(rest, `"`)
				got = append(got, msg)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("KINFLOW_LOG_LEVEL=%s logged %v, want %v", tt.level, got, tt.want)
			}
		})
	}
}

// A logged configuration is the settings in effect, without secrets, in URLs or not.
func TestLogValueRedacts(t *testing.T) {
	c, err := Load(lookup(map[string]string{
		"KINFLOW_SINK_URL":       "https://elastic:pw1@a:9243,https://b:9243",
		"KINFLOW_SINK_PASSWORD":  "pw2",
		"KINFLOW_SINK_API_KEY":   "pw3",
		"KINFLOW_WEBHOOK_SECRET": "pw4",
		"KINFLOW_WEBHOOK_URL":    "https://hook:pw5@example.com/sets/{bucket_time}",
		"KINFLOW_WINDOW":         "5m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("configuration", "config", c)
	got := out.String()
	for _, secret := range []string{"pw1", "pw2", "pw3", "pw4", "pw5"} {
		if strings.Contains(got, secret) {
			t.Errorf("secret %s logged: %s", secret, got)
		}
	}
	for _, want := range []string{`"KINFLOW_WINDOW":"5m0s"`, `"KINFLOW_SINK_URL":"https://elastic:xxxxx@a:9243,https://b:9243"`,
		`"KINFLOW_SINK_PASSWORD":"[redacted]"`, `"KINFLOW_LOG_LEVEL":"info"`, `"AWS_REGION":"us-east-1"`} {
		if !strings.Contains(got, want) {
			t.Errorf("logged configuration lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, "KINFLOW_STREAM_NAME") {
		t.Errorf("an empty setting is logged: %s", got)
	}
}

// A command with defaults of its own that takes only some settings from the environment (the demo: the log level).
func TestLoadOverOnly(t *testing.T) {
	base := Default()
	base.LogLevel = "warn"
	env := lookup(map[string]string{"KINFLOW_LOG_LEVEL": "debug", "KINFLOW_STREAM_NAME": "prod", "KINFLOW_WINDOW": "never"})
	c, err := LoadOver(base, Only(env, "KINFLOW_LOG_LEVEL"))
	if err != nil || c.LogLevel != "debug" || c.StreamName != "" {
		t.Errorf("LoadOver = level %q, stream %q, %v; want debug, none, no error", c.LogLevel, c.StreamName, err)
	}
	if c, _ := LoadOver(base, Only(lookup(nil), "KINFLOW_LOG_LEVEL")); c.LogLevel != "warn" {
		t.Errorf("unset: level %q, want the base's warn", c.LogLevel)
	}
}
