package main

import (
	"io"
	"testing"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/settings"
)

// Every setting the registry says the Lambda functions read, the cold start reads: set alone to a value other
// than its default, it is in effect. A setting of the consumer's only is not read, and is an error.
func TestColdStartReadsEverySettingOfLambda(t *testing.T) {
	def := config.Default()
	for _, s := range settings.All() {
		if s.Env == "" {
			continue
		}
		v := s.Sample()
		a := coldStart(envLookup(map[string]string{s.Env: v}), []string{s.Env + "=" + v}, io.Discard)
		got, _ := a.cfg.Setting(s.Env)
		was, _ := def.Setting(s.Env)
		if read := got != was; read != s.Runtimes.Has(settings.Lambda) {
			t.Errorf("%s=%s: read %v (%q); the registry says the Lambda functions read it: %v", s.Env, v, read, got,
				s.Runtimes.Has(settings.Lambda))
		}
		if !s.Runtimes.Has(settings.Lambda) && a.configErr == nil {
			t.Errorf("%s=%s: a setting the functions do not read is no error", s.Env, v)
		}
	}
}
