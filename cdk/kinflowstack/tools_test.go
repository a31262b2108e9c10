package kinflowstack

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests run the tools the project pins: cfn-lint (scripts/requirements.txt), cdk-nag and the aws-cdk CLI
// (scripts/npm/package.json). `scripts/services.sh install moto kinesalite` installs both into .cache/. Missing
// tools fail the test when CI is set, and skip it (with the command that installs them) otherwise.

func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// tool returns the path of an executable from env or under the repository, or fails/skips.
func tool(tb testing.TB, envVar, rel, install string) string {
	tb.Helper()
	path := os.Getenv(envVar)
	if path == "" {
		path = filepath.Join(repoRoot(tb), rel)
	}
	return requireFile(tb, path, "set "+envVar+" or run: "+install)
}

// requireFile returns path if it is a file; otherwise the test fails under CI and skips elsewhere.
func requireFile(tb testing.TB, path, hint string) string {
	tb.Helper()
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		return path
	}
	msg := path + " not found (" + hint + ")"
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

func npmDir(tb testing.TB) string {
	tb.Helper()
	dir := os.Getenv("KINFLOW_NPM_DIR")
	if dir == "" {
		dir = filepath.Join(repoRoot(tb), ".cache", "npm")
	}
	return dir
}

var (
	synthOnce sync.Once
	synthDir  string
	synthErr  error
	synthList map[string]string
)

// synthesizedTemplates synthesizes every scenario once per test binary; it returns scenario -> template path.
func synthesizedTemplates(tb testing.TB) map[string]string {
	tb.Helper()
	synthOnce.Do(func() {
		synthDir, synthErr = os.MkdirTemp("", "kinflow-synth-")
		if synthErr != nil {
			return
		}
		synthList = map[string]string{}
		for name, props := range scenarios(tb) {
			out := filepath.Join(synthDir, name)
			_, app := build(tb, props, out)
			app.Synth(nil)
			synthList[name] = filepath.Join(out, "Kinflow.template.json")
		}
	})
	if synthErr != nil {
		tb.Fatal(synthErr)
	}
	return synthList
}

func templatesOf(m map[string]string) []string {
	var out []string
	for _, p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func run(tb testing.TB, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestCfnLint runs cfn-lint on the template of every scenario. W3005 (a DependsOn that a GetAtt already implies)
// is ignored: the CDK's Lambda Function construct itself declares DependsOn on its role next to the role's ARN.
func TestCfnLint(t *testing.T) {
	lint := tool(t, "KINFLOW_CFN_LINT", ".cache/venv/bin/cfn-lint", "scripts/services.sh install moto")
	files := templatesOf(synthesizedTemplates(t))
	out, err := run(t, 5*time.Minute, "", nil, lint, append([]string{"--ignore-checks", "W3005", "--"}, files...)...)
	if err != nil {
		t.Fatalf("cfn-lint %v:\n%s", err, out)
	}
	t.Logf("cfn-lint: %d templates clean", len(files))
}

// TestCdkNag runs cdk-nag's AwsSolutions pack (npm) over every template; findings must be fixed or acknowledged
// in the stack with a written reason (nag.go).
func TestCdkNag(t *testing.T) {
	dir := npmDir(t)
	requireFile(t, filepath.Join(dir, "node_modules", "cdk-nag", "package.json"),
		"set KINFLOW_NPM_DIR to a directory with node_modules, or run: scripts/services.sh install kinesalite")
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found")
	}
	files := templatesOf(synthesizedTemplates(t))
	out, err := run(t, 5*time.Minute, "", []string{"NODE_PATH=" + filepath.Join(dir, "node_modules")},
		"node", append([]string{filepath.Join(repoRoot(t), "cdk", "nag", "check.js")}, files...)...)
	if err != nil {
		t.Fatalf("cdk-nag %v:\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out))
}

// TestCdkSynthCLI runs `cdk synth` through the pinned CLI from the repository root (cdk.json), once per mode.
func TestCdkSynthCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and runs the app through the CLI (about a minute per mode)")
	}
	cli := tool(t, "KINFLOW_CDK_CLI", ".cache/npm/node_modules/.bin/cdk", "scripts/services.sh install kinesalite")
	root := repoRoot(t)
	zip := lambdaZip(t)
	docker := dockerDir(t)
	modes := map[string][]string{
		"lambda": {"-c", "mode=lambda", "-c", "lambdaZip=" + zip, "-c", "logGroupNames=/vpc/flowlogs/prod",
			"-c", "sinkUrl=https://search.example.com", "-c", "flowLogVpcIds=vpc-0123456789abcdef0",
			"-c", "s3Sources=corp-logs/AWSLogs/,corp-logs/copied/alb/=alb", "-c", "s3NewBucket=true",
			"-c", "enrichAws=true", "-c", "enrichRoles=" + testEnrichRoleA, "-c", "geoipCity=s3://geo-data/GeoLite2-City.mmdb",
			"-c", "threatLists=feodo=s3://intel/feodo.csv"},
		"consumer": {"-c", "mode=consumer", "-c", "consumerDockerDir=" + docker, "-c", "consumerDockerfile=Dockerfile",
			"-c", "logGroupNames=/vpc/flowlogs/prod", "-c", "sink=domain", "-c", "streamMode=provisioned", "-c", "shardCount=2"},
	}
	env := []string{"AWS_EC2_METADATA_DISABLED=true", "CDK_DISABLE_CLI_TELEMETRY=true", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1"}
	for mode, args := range modes {
		t.Run(mode, func(t *testing.T) {
			outdir := t.TempDir()
			out, err := run(t, 8*time.Minute, root, env, cli, append([]string{"synth", "--no-notices", "-q", "-o", outdir}, args...)...)
			if err != nil {
				t.Fatalf("cdk synth %v:\n%s", err, out)
			}
			tpl, err := os.ReadFile(filepath.Join(outdir, "Kinflow.template.json"))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{
				"lambda": {"AWS::Lambda::EventSourceMapping", "Custom::S3BucketNotifications", "corp-logs/copied/alb/=alb",
					"sts:AssumeRole", "s3:::geo-data/GeoLite2-City.mmdb", "feodo=s3://intel/feodo.csv"},
				"consumer": {"AWS::ECS::Service"},
			}[mode]
			for _, w := range want {
				if !strings.Contains(string(tpl), w) {
					t.Errorf("template has no %s", w)
				}
			}
		})
	}
}
