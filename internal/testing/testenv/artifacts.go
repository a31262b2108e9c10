package testenv

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ArtifactsEnv names the folder that tests write their artifacts under (screenshots, pages as the browser saw
// them): each test writes into a folder of its own name there. Unset, it is .cache/artifacts in the repository,
// which git ignores. CI can point it at the folder it keeps.
const ArtifactsEnv = "KINFLOW_ARTIFACTS"

// module is the runtime module's path: its go.mod marks the repository's top folder (the CDK app's go.mod, in
// cdk/, names another module and is passed over).
const module = "github.com/kinflow/kinflow"

// Artifacts returns the folder, made if need be, where tb writes its artifacts: <ArtifactsEnv or
// <repo>/.cache/artifacts>/<tb.Name()>, a subtest in a folder under its parent's. A folder per test, also under
// ArtifactsEnv, so that two tests that name a screenshot alike (the same page on Elasticsearch and on OpenSearch)
// do not overwrite each other.
func Artifacts(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(ArtifactsEnv)
	if base == "" {
		root, err := repoRoot()
		if err != nil {
			tb.Fatalf("artifacts folder: %v (set %s)", err, ArtifactsEnv)
		}
		base = filepath.Join(root, ".cache", "artifacts")
	}
	dir := filepath.Join(base, filepath.FromSlash(safeName(tb.Name())))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("artifacts folder: %v", err)
	}
	return dir
}

// safeName keeps a test's name readable as a path: letters, digits, '.', '-' and '_' stay, the '/' of subtests
// makes folders, anything else (the spaces t.Run turns into '_' already, quotes, colons) becomes '_'.
func safeName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '/':
			return r
		}
		return '_'
	}, strings.ReplaceAll(name, "..", "__"))
}

// repoRoot walks up from the working folder (the test's package folder) to the folder of the module's go.mod.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if moduleOf(filepath.Join(dir, "go.mod")) == module {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s in %s or above", module, wd)
		}
		dir = parent
	}
}

// moduleOf is the module path a go.mod declares, "" when there is no such file.
func moduleOf(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
