package main

import (
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbiddenDeps are the packages a production binary must not link: the test helpers (fault proxy, generators,
// emulator staging, service lookup), the CloudWatch Logs SDK (only the demo and the tests stage log groups; the
// runtimes decode CloudWatch Logs envelopes themselves) and the CDK app. A path matches itself and what is under it.
var forbiddenDeps = []string{
	"github.com/kinflow/kinflow/internal/testing",
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs",
	"github.com/kinflow/kinflow/cdk",
}

// The production binaries, built the way they ship, link nothing of forbiddenDeps. A failure names the chain of
// imports that brings the package in, which is where to cut.
func TestProductionDeps(t *testing.T) {
	for _, tt := range []struct {
		name string
		pkg  string
		tags string
		env  []string
	}{
		// As consumer/Dockerfile builds the image (its default target, arm64 for Fargate).
		{"consumer image", "./consumer", "", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}},
		// As `make lambda` builds the bootstrap.
		{"lambda bootstrap", "./lambda", "lambda.norpc", []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}},
		// As `go build ./...` on this machine does (what a developer runs).
		{"consumer", "./consumer", "", nil},
		{"lambda", "./lambda", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			imports := listDeps(t, tt.pkg, tt.tags, tt.env)
			root := rootImportPath(t, tt.pkg, imports)
			for _, pkg := range slices.Sorted(maps.Keys(imports)) {
				if forbidden(pkg) {
					t.Errorf("%s links %s: %s", tt.pkg, pkg, strings.Join(importChain(imports, root, pkg), " -> "))
				}
			}
		})
	}
}

func forbidden(pkg string) bool {
	for _, f := range forbiddenDeps {
		if pkg == f || strings.HasPrefix(pkg, f+"/") {
			return true
		}
	}
	return false
}

// listDeps runs `go list -deps` on pkg from the repository root and returns each package with its imports.
func listDeps(tb testing.TB, pkg, tags string, env []string) map[string][]string {
	tb.Helper()
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			imports[fields[0]] = fields[1:]
		}
	}
	return imports
}

// rootImportPath is the import path of pkg, a directory relative to the repository root: the one package that no
// other in the list imports (a command is imported by nobody).
func rootImportPath(tb testing.TB, pkg string, imports map[string][]string) string {
	tb.Helper()
	imported := map[string]bool{}
	for _, deps := range imports {
		for _, d := range deps {
			imported[d] = true
		}
	}
	for p := range imports {
		if !imported[p] && strings.HasSuffix(p, "/"+strings.TrimPrefix(pkg, "./")) {
			return p
		}
	}
	tb.Fatalf("go list -deps %s: no package of that directory that nothing imports", pkg)
	return ""
}

// importChain is a shortest chain of imports from root to target (breadth first).
func importChain(imports map[string][]string, root, target string) []string {
	parent := map[string]string{root: ""}
	for queue := []string{root}; len(queue) > 0; queue = queue[1:] {
		p := queue[0]
		if p == target {
			var chain []string
			for ; p != ""; p = parent[p] {
				chain = append([]string{p}, chain...)
			}
			return chain
		}
		for _, d := range imports[p] {
			if _, seen := parent[d]; !seen {
				parent[d] = p
				queue = append(queue, d)
			}
		}
	}
	return []string{root, "...", target}
}
