package repo

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the repository's top folder, two levels up from this package's.
const root = "../../.."

// TestLayoutNamesEveryPackage: the README's layout block has one line per package of the runtime's module and the
// CDK's, in any order, and no line for a folder that holds no package; every package has a doc comment, which is
// where the line's claim is spelt out.
func TestLayoutNamesEveryPackage(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- layout:begin -->")
	block, _, ok2 := strings.Cut(block, "<!-- layout:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no <!-- layout:begin --> ... <!-- layout:end --> block")
	}
	var listed []string
	for _, line := range strings.Split(block, "\n") {
		if dir, _, ok := strings.Cut(line, " "); ok && strings.HasSuffix(dir, "/") {
			listed = append(listed, strings.TrimSuffix(dir, "/"))
		}
	}

	var packages []string
	for _, module := range []string{".", "cdk"} {
		cmd := exec.Command("go", "list", "-f", "{{.Dir}}\t{{.Doc}}", "./...")
		cmd.Dir = filepath.Join(root, module)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list in %s: %v", module, err)
		}
		abs, _ := filepath.Abs(root)
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			dir, doc, _ := strings.Cut(line, "\t")
			rel, err := filepath.Rel(abs, dir)
			if err != nil {
				t.Fatal(err)
			}
			packages = append(packages, filepath.ToSlash(rel))
			if strings.TrimSpace(doc) == "" {
				t.Errorf("%s has no package doc comment", rel)
			}
		}
	}
	for _, p := range packages {
		if n := count(listed, p); n != 1 {
			t.Errorf("README layout lists %s/ %d times, want once", p, n)
		}
	}
	for _, l := range listed {
		if !slices.Contains(packages, l) {
			t.Errorf("README layout lists %s/, which holds no package", l)
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
