package settings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kinflow/kinflow/internal/suggest"
)

// Tooling are the KINFLOW_ variables that are no settings: the local services, the Makefile and the tests read
// them, and they share an environment with the runtimes (make test, make demo, a developer's shell), so they are
// allowed beside the settings. Settings are not repeated here.
func Tooling() []string {
	return []string{
		// scripts/services.sh: where the services run and what it installs.
		"KINFLOW_CACHE", "KINFLOW_ES_VERSION", "KINFLOW_OPENSEARCH_VERSION", "KINFLOW_SEARCH_HEAP",
		"KINFLOW_SERVICE_USER", "KINFLOW_JAVA_HOME", "KINFLOW_START_TIMEOUT",
		"KINFLOW_ES_PORT", "KINFLOW_OPENSEARCH_PORT", "KINFLOW_MOTO_PORT", "KINFLOW_KINESALITE_PORT", "KINFLOW_DYNALITE_PORT",
		// scripts/services.sh env and internal/testing/testenv: the services' addresses, and which must be up.
		"KINFLOW_ES_URL", "KINFLOW_OPENSEARCH_URL", "KINFLOW_MOTO_URL", "KINFLOW_KINESALITE_URL", "KINFLOW_DYNALITE_URL",
		"KINFLOW_REQUIRE_SERVICES", "KINFLOW_TEST_SHIFT", "KINFLOW_ARTIFACTS",
		// cdk/kinflowstack tests: the pinned tools.
		"KINFLOW_CDK_CLI", "KINFLOW_CFN_LINT", "KINFLOW_NPM_DIR",
	}
}

// knownNames are the settings' variables that start with KINFLOW_, in registry order, then the tooling's.
func knownNames() []string {
	var names []string
	for _, s := range All() {
		if strings.HasPrefix(s.Env, EnvPrefix) {
			names = append(names, s.Env)
		}
	}
	return append(names, Tooling()...)
}

// A Problem is a variable of an environment that a runtime will not read although it is named like a setting:
// a misspelling, a setting that no longer exists, or one of another runtime.
type Problem struct {
	Name string // as it is set
	// Suggestion is the closest known name when Name is no setting at all; empty when none is close.
	Suggestion string
	// Runtimes that read the setting, when it is one but not of Reader, the runtime asked about.
	Runtimes, Reader Runtime
}

func (p Problem) String() string {
	switch {
	case p.Runtimes != 0:
		return fmt.Sprintf("%s is read by %s only, not by %s", p.Name, p.Runtimes, p.Reader)
	case p.Suggestion != "":
		return fmt.Sprintf("%s is not a kinflow setting; did you mean %s?", p.Name, p.Suggestion)
	}
	return p.Name + " is not a kinflow setting"
}

// CheckEnviron returns, sorted by name and once each, the variables of environ (NAME=value, as os.Environ gives
// them) whose name starts with KINFLOW_, in any case, and which rt does not read: names neither a setting nor
// tooling, and settings only other runtimes read. rt 0 reads every setting.
func CheckEnviron(rt Runtime, environ []string) []Problem {
	known := knownNames()
	var out []Problem
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(strings.ToUpper(name), EnvPrefix) {
			continue
		}
		if s, ok := Lookup(name); ok {
			if rt != 0 && s.Runtimes&rt == 0 {
				out = append(out, Problem{Name: name, Runtimes: s.Runtimes &^ CDK, Reader: rt})
			}
			continue
		}
		if !slices.Contains(known, name) {
			out = append(out, Problem{Name: name, Suggestion: closest(name, known)})
		}
	}
	slices.SortFunc(out, func(a, b Problem) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b Problem) bool { return a.Name == b.Name })
}

// closest returns the known name nearest to name by edit distance (case-insensitive, the shared prefix aside), or
// "" when even the nearest is more edits away than half of name's own characters (2 edits are always allowed):
// KINFLOW_WINDOWS suggests KINFLOW_WINDOW, KINFLOW_FOO nothing. A known name that begins with name (of 4 characters
// or more) counts as one edit away, so an abbreviation finds its setting: KINFLOW_SINK_USER suggests
// KINFLOW_SINK_USERNAME, not KINFLOW_SINK_URL. Ties go to the earlier name.
func closest(name string, known []string) string {
	want := strings.TrimPrefix(strings.ToUpper(name), EnvPrefix)
	best, bestDist := "", max(2, len(want)/2)+1
	for _, k := range known {
		k0 := strings.TrimPrefix(k, EnvPrefix)
		d := suggest.Distance(want, k0)
		if len(want) >= 4 && strings.HasPrefix(k0, want) {
			d = min(d, 1)
		}
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}
