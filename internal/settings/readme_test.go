package settings

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's generated tables")

const readme = "../../README.md"

// The README's tables of settings are the registry's: `go test ./internal/settings -run README -update` rewrites
// them, between their markers and nowhere else.
func TestREADMETables(t *testing.T) {
	tables := map[string]string{"env": EnvTable(), "cdk": ContextTable()}
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, name := range []string{"env", "cdk"} {
		begin, end := "<!-- settings:"+name+":begin -->\n", "<!-- settings:"+name+":end -->"
		i, j := strings.Index(text, begin), strings.Index(text, end)
		if i < 0 || j < i {
			t.Fatalf("README.md has no %s ... %s", strings.TrimSpace(begin), end)
		}
		want := "\n" + tables[name] + "\n"
		if got := text[i+len(begin) : j]; got != want {
			if !*update {
				t.Errorf("README.md's %s table is stale: go test ./internal/settings -run README -update", name)
				continue
			}
			text = text[:i+len(begin)] + want + text[j:]
		}
	}
	if *update && text != string(b) {
		if err := os.WriteFile(readme, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
