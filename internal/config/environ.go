package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// settingPrefix starts the name of every kinflow setting but AWS_REGION.
const settingPrefix = "KINFLOW_"

// tooling are the KINFLOW_ variables that are not settings: the local services, the Makefile and the tests read
// them, and they share an environment with the runtimes (make test, make demo, a developer's shell), so they are
// known and not reported. Settings are not repeated here; they are the settings table.
var tooling = []string{
	// scripts/services.sh: where the services run and what it installs.
	"KINFLOW_CACHE", "KINFLOW_ES_VERSION", "KINFLOW_OPENSEARCH_VERSION", "KINFLOW_SEARCH_HEAP",
	"KINFLOW_SERVICE_USER", "KINFLOW_JAVA_HOME", "KINFLOW_START_TIMEOUT",
	"KINFLOW_ES_PORT", "KINFLOW_OPENSEARCH_PORT", "KINFLOW_MOTO_PORT", "KINFLOW_KINESALITE_PORT", "KINFLOW_DYNALITE_PORT",
	// scripts/services.sh env and internal/testing/testenv: the services' addresses, and which must be up.
	"KINFLOW_ES_URL", "KINFLOW_OPENSEARCH_URL", "KINFLOW_MOTO_URL", "KINFLOW_KINESALITE_URL", "KINFLOW_DYNALITE_URL",
	"KINFLOW_REQUIRE_SERVICES", "KINFLOW_TEST_SHIFT",
	// cdk/kinflowstack tests: the pinned tools.
	"KINFLOW_CDK_CLI", "KINFLOW_CFN_LINT", "KINFLOW_NPM_DIR",
}

// knownNames are the settings' variables that start with KINFLOW_, in table order, then the tooling's.
func knownNames() []string {
	var names []string
	for _, s := range settings() {
		if strings.HasPrefix(s.env, settingPrefix) {
			names = append(names, s.env)
		}
	}
	return append(names, tooling...)
}

// Unknown is an environment variable named like a setting that no setting declares: a misspelling, or a setting
// that no longer exists. Nothing reads it.
type Unknown struct {
	Name       string // as it is set
	Suggestion string // the closest known name; empty when none is close
}

func (u Unknown) String() string {
	if u.Suggestion == "" {
		return u.Name + " is not a kinflow setting"
	}
	return fmt.Sprintf("%s is not a kinflow setting; did you mean %s?", u.Name, u.Suggestion)
}

// UnknownVariables returns, sorted by name, every variable of environ (NAME=value, as os.Environ gives them) whose
// name starts with KINFLOW_, in any case, and is neither a setting nor a tooling variable.
func UnknownVariables(environ []string) []Unknown {
	known := knownNames()
	var out []Unknown
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(strings.ToUpper(name), settingPrefix) || slices.Contains(known, name) {
			continue
		}
		out = append(out, Unknown{Name: name, Suggestion: closest(name, known)})
	}
	slices.SortFunc(out, func(a, b Unknown) int { return strings.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b Unknown) bool { return a.Name == b.Name })
}

// WarnUnknown logs a warning for each of UnknownVariables(environ), by name only: a value may be a secret. The
// runtimes call it at start-up, so a misspelt setting is not silently ignored; it is not an error, because the
// rest of the configuration may be fine.
func WarnUnknown(log *slog.Logger, environ []string) {
	for _, u := range UnknownVariables(environ) {
		log.Warn(u.String(), "variable", u.Name, "suggestion", u.Suggestion)
	}
}

// closest returns the known name nearest to name by edit distance (case-insensitive, the shared prefix aside), or
// "" when even the nearest is more edits away than half of name's own characters (2 edits are always allowed):
// KINFLOW_WINDOWS suggests KINFLOW_WINDOW, KINFLOW_FOO nothing. A known name that begins with name (of 4 characters
// or more) counts as one edit away, so an abbreviation finds its setting: KINFLOW_SINK_USER suggests
// KINFLOW_SINK_USERNAME, not KINFLOW_SINK_URL. Ties go to the earlier name.
func closest(name string, known []string) string {
	want := strings.TrimPrefix(strings.ToUpper(name), settingPrefix)
	best, bestDist := "", max(2, len(want)/2)+1
	for _, k := range known {
		k0 := strings.TrimPrefix(k, settingPrefix)
		d := editDistance(want, k0)
		if len(want) >= 4 && strings.HasPrefix(k0, want) {
			d = min(d, 1)
		}
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in bytes (variable names are ASCII).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
