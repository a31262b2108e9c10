package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction: its keyword (upper case) and the rest, continuation lines joined.
type instruction struct {
	cmd, args string
}

// parseDockerfile reads the instructions of a Dockerfile, grouped by stage (each FROM starts one). It knows what
// consumer/Dockerfile uses: comments, parser directives and backslash continuations.
func parseDockerfile(tb testing.TB, path string) [][]instruction {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var stages [][]instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		cur.Reset()
		in := instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")}
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			tb.Fatalf("%s: %s before the first FROM", path, in.cmd)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return stages
}

// last returns the arguments of the stage's last instruction cmd (the one Docker applies), or "".
func last(stage []instruction, cmd string) string {
	out := ""
	for _, in := range stage {
		if in.cmd == cmd {
			out = in.args
		}
	}
	return out
}

// execForm decodes an exec-form (JSON array) instruction argument; the shell form would need a shell the image lacks.
func execForm(tb testing.TB, what, args string) []string {
	tb.Helper()
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		tb.Fatalf("%s %s: want the exec form [\"...\"] (the image has no shell): %v", what, args, err)
	}
	return out
}

// stringsIn returns the string literals of the first key: value field named key in the Go file that holds only literals, as
// `HealthCommand: []string{"CMD", "/kinflow", "health"}` or `Command: jsii.Strings("run")`.
func stringsIn(tb testing.TB, file, key string) []string {
	tb.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok || found != nil {
			return found == nil
		}
		if id, ok := kv.Key.(*ast.Ident); !ok || id.Name != key {
			return true
		}
		var elts []ast.Expr
		switch v := kv.Value.(type) {
		case *ast.CompositeLit:
			elts = v.Elts
		case *ast.CallExpr:
			elts = v.Args
		}
		var lits []string
		for _, e := range elts {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true // not a list of literals, as the health check's Command: jsii.Strings(cfg.HealthCommand...)
			}
			s, _ := strconv.Unquote(lit.Value)
			lits = append(lits, s)
		}
		found = lits
		return false
	})
	if found == nil {
		tb.Fatalf("%s: no %s: field holding string literals", file, key)
	}
	return found
}

// The image the CDK stack builds and runs: the final stage's entrypoint is the binary the health check calls, the
// default command is the one the task runs, the user is not root, and the builder makes that binary from ./consumer,
// static, for the target architecture.
func TestDockerfileContract(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a builder and a final stage", len(stages))
	}
	final, build := stages[len(stages)-1], stages[0]

	if base := last(final, "FROM"); base != "gcr.io/distroless/static-debian12:nonroot" && base != "scratch" {
		t.Errorf("final base %q: want gcr.io/distroless/static-debian12:nonroot or scratch", base)
	}
	entry := execForm(t, "ENTRYPOINT", last(final, "ENTRYPOINT"))
	if !slices.Equal(entry, []string{"/kinflow"}) {
		t.Errorf("ENTRYPOINT %q, want [/kinflow]", entry)
	}
	cmd := execForm(t, "CMD", last(final, "CMD"))
	if !slices.Equal(cmd, []string{"run"}) {
		t.Errorf("CMD %q, want [run]", cmd)
	}
	if u, _, _ := strings.Cut(last(final, "USER"), ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("USER %q: want a non-root user", last(final, "USER"))
	}
	if got := last(final, "COPY"); got != "--from=build /kinflow /kinflow" {
		t.Errorf("final COPY %q, want the builder's /kinflow at /kinflow", got)
	}
	for _, in := range final {
		if in.cmd == "RUN" {
			t.Errorf("final stage RUN %q: the final base has no shell", in.args)
		}
	}

	// The builder: modules downloaded in a layer of their own, then a static build of ./consumer to /kinflow.
	if !strings.HasSuffix(build[0].args, " AS build") {
		t.Errorf("first stage %q: want it named build", build[0].args)
	}
	var runs []string
	for _, in := range build {
		if in.cmd == "RUN" {
			runs = append(runs, in.args)
		}
	}
	if len(runs) != 2 || runs[0] != "go mod download" {
		t.Fatalf("builder RUNs %q: want go mod download, then the build", runs)
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=$TARGETARCH", "go build -trimpath",
		"-ldflags='-s -w'", "-o /kinflow ./consumer"} {
		if !strings.Contains(runs[1], want) {
			t.Errorf("build %q lacks %q", runs[1], want)
		}
	}

	// The stack: the health check runs this image's binary with a command it has, and the task runs CMD.
	names := map[string]bool{}
	for _, c := range commands() {
		names[c.name] = true
	}
	hc := stringsIn(t, filepath.Join("..", "cdk", "kinflowstack", "props.go"), "HealthCommand")
	if len(hc) != 3 || hc[0] != "CMD" || hc[1] != entry[0] || !names[hc[2]] {
		t.Errorf("props.go HealthCommand %q: want [CMD %s <a consumer command>]", hc, entry[0])
	}
	if hc[len(hc)-1] != "health" {
		t.Errorf("props.go HealthCommand %q runs %q, want health", hc, hc[len(hc)-1])
	}
	task := stringsIn(t, filepath.Join("..", "cdk", "kinflowstack", "consumer.go"), "Command")
	if !slices.Equal(task, cmd) || !names[task[0]] {
		t.Errorf("consumer.go container Command %q, want the image's CMD %q, a consumer command", task, cmd)
	}
}

// .dockerignore keeps the context small and the build hermetic: no history, caches, build outputs or test data.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			have[l] = true
		}
	}
	for _, want := range []string{".git", ".cache", "cdk.out", "dist", "bin", "**/node_modules", "**/testdata", "*.test"} {
		if !have[want] {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
	for _, needed := range []string{"go.mod", "go.sum", "consumer", "internal", "aggregate", "*.go", "!"} {
		if have[needed] {
			t.Errorf(".dockerignore excludes %s, which the build needs", needed)
		}
	}
}

// The builder's command, run here: a static linux/arm64 executable comes out (no interpreter, so it runs on
// distroless/static), built from the same context the image gets.
func TestDockerBuildArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the consumer")
	}
	bin := filepath.Join(t.TempDir(), "kinflow")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./consumer")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Type != elf.ET_EXEC {
		t.Errorf("binary is %v %v, want EM_AARCH64 ET_EXEC", f.Machine, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v segment: not static, it would not start on distroless/static", p.Type)
		}
	}
	if syms, _ := f.Symbols(); len(syms) != 0 {
		t.Errorf("binary keeps %d symbols, want none (-s -w)", len(syms))
	}
}
