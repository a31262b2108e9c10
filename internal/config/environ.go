package config

import (
	"log/slog"

	"github.com/kinflow/kinflow/internal/settings"
)

// WarnUnknown logs a warning for each KINFLOW_ variable of environ that is no setting of any runtime, by name only:
// a value may be a secret.
//
// Deprecated: an unknown variable is an error of LoadFor (and LoadEnv), which a runtime reports with the rest of
// its configuration's problems; a caller of both reports it twice.
func WarnUnknown(log *slog.Logger, environ []string) {
	for _, p := range settings.CheckEnviron(0, environ) {
		log.Warn(p.String(), "variable", p.Name, "suggestion", p.Suggestion)
	}
}
