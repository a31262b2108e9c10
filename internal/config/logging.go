package config

import (
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/kinflow/kinflow/internal/settings"
	"github.com/kinflow/kinflow/internal/sink"
)

// logLevels are the values of KINFLOW_LOG_LEVEL.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// Level is LogLevel as a slog level; a value Validate rejects counts as info.
func (c Config) Level() slog.Level {
	if l, ok := logLevels[c.LogLevel]; ok {
		return l
	}
	return slog.LevelInfo
}

// Logger returns the logger of every runtime and command: JSON lines on w, at LogLevel. Building it here, and
// nowhere else, makes KINFLOW_LOG_LEVEL (and -log-level) mean the same in the Lambda functions and the consumer.
func (c Config) Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: c.Level()}))
}

// LogValue makes a logged Config the settings in effect, by environment variable, in registry order: empty ones
// left out, secrets redacted, and passwords in URLs too. The runtimes log it at debug level when they start.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	b := bindings()
	for _, s := range settings.All() {
		if s.Env == "" {
			continue
		}
		v := b[s.Env].get(&c)
		if v == "" {
			continue
		}
		if s.Secret {
			v = sink.Redacted
		}
		attrs = append(attrs, slog.String(s.Env, redactURLs(v)))
	}
	return slog.GroupValue(attrs...)
}

// redactURLs hides the password of every URL in v, a comma-separated list or a single value.
func redactURLs(v string) string {
	if !strings.Contains(v, "://") {
		return v
	}
	parts := strings.Split(v, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

var _ slog.LogValuer = Config{}
