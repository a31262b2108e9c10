package kinflowstack

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/settings"
)

// readKeys returns the context keys FromContext reads from ctx.
func readKeys(t *testing.T, ctx map[string]any) map[string]bool {
	t.Helper()
	read := map[string]bool{}
	if _, _, err := FromContext(func(k string) any { read[k] = true; return ctx[k] }); err != nil {
		t.Fatalf("FromContext(%v): %v", ctx, err)
	}
	return read
}

// The app reads exactly the context keys the settings registry declares: a key read and not declared, or declared
// and not read, fails.
func TestContextKeysAreSettings(t *testing.T) {
	read := readKeys(t, nil)
	maps.Copy(read, readKeys(t, map[string]any{"sink": "domain"})) // the new domain's keys are read only then
	got := slices.Sorted(maps.Keys(read))
	want := slices.Sorted(slices.Values(ContextKeys))
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("context keys (-declared +read):\n%s", d)
	}
	if _, _, err := FromContext(func(k string) any { return map[string]any{"window": 10.0}[k] }); err == nil ||
		!strings.Contains(err.Error(), "window: want a string") {
		t.Errorf("a number for a duration: %v", err)
	}
}

// fromContext is FromContext over a map, failing the test on an error.
func fromContext(t *testing.T, ctx map[string]any) Props {
	t.Helper()
	p, _, err := FromContext(func(k string) any { return ctx[k] })
	if err != nil {
		t.Fatalf("FromContext(%v): %v", ctx, err)
	}
	return p
}

// Setting a key to the default the registry documents changes nothing.
func TestContextDefaultsAreTheRegistrys(t *testing.T) {
	for key, s := range settings.ByContext() {
		if s.Default == "" || s.ContextRequired {
			continue
		}
		base := map[string]any{}
		if strings.HasPrefix(key, "domain") {
			base["sink"] = "domain" // read only then
		}
		with := maps.Clone(base)
		with[key] = s.Default
		if got, want := fromContext(t, with), fromContext(t, base); !reflect.DeepEqual(got, want) {
			t.Errorf("%s=%s (the registry's default) changes the props:\n%s", key, s.Default, cmp.Diff(want, got))
		}
	}
}

// The registry's allowed values and ranges of the app's own keys are what Props.Validate accepts: the values at
// the ends pass, the values beyond them fail, naming the key.
func TestContextRangesAreValidate(t *testing.T) {
	zip, docker := lambdaZip(t), dockerDir(t)
	for key, s := range settings.ByContext() {
		if s.Env != "" || len(s.Allowed) == 0 && s.Range == "" {
			continue
		}
		ctx := map[string]any{"lambdaZip": zip, "logGroupNames": "/vpc/flowlogs", "sinkUrl": "https://search.example.com",
			"consumerDockerDir": docker, "consumerDockerfile": "Dockerfile"}
		switch {
		case key == "sink" || strings.HasPrefix(key, "domain"):
			delete(ctx, "sinkUrl")
			ctx["sink"] = "domain"
		case key == "shardCount":
			ctx["streamMode"] = "provisioned"
		case strings.HasPrefix(key, "flowLog"):
			ctx["flowLogVpcIds"] = "vpc-0123456789abcdef0"
		case strings.HasPrefix(key, "consumer") || key == "natGateways":
			ctx["mode"] = "consumer"
		}
		good, bad := s.Allowed, []string{"bogus"}
		if len(s.Allowed) > 0 && s.Kind == settings.Int {
			bad = []string{"7"}
		}
		if lo, hi, ok := strings.Cut(s.Range, ".."); ok {
			bad = nil
			for _, end := range []struct {
				v    string
				step int
			}{{lo, -1}, {hi, 1}} {
				if end.v == "" {
					continue
				}
				n, err := strconv.Atoi(end.v)
				if err != nil {
					t.Fatalf("%s: range %q", key, s.Range)
				}
				good, bad = append(good, end.v), append(bad, strconv.Itoa(n+end.step))
			}
		}
		named := regexp.MustCompile(`(^|[^A-Za-z])` + key + `[ :]`)
		for _, v := range append(good, bad...) {
			c := maps.Clone(ctx)
			c[key] = v
			p, _, err := FromContext(func(k string) any { return c[k] })
			if err == nil {
				err = p.Validate()
			}
			want := slices.Contains(bad, v)
			if got := err != nil && named.MatchString(err.Error()); got != want {
				t.Errorf("%s=%s: rejected %v, want %v (the registry says %s): %v", key, v, got, want, s.Constraint(), err)
			}
		}
	}
}

// Every runtime setting with a context key reaches the runtimes of each mode as its variable, with the value the
// key gave it (the enrichment's only those that run the pipeline: not the finalizer function), and every variable
// the stack passes is a setting the runtime it goes to reads.
func TestStackPassesSettings(t *testing.T) {
	values := map[string]string{
		"sinkKind": "opensearch", "sinkUrl": "https://search.example.com:9243", "sinkSecretArn": testSecret,
		"webhookUrl": "https://hooks.example.com/kinflow/{bucket_time}", "webhookSecretArn": testWebhookSecret,
		"indexPrefix": "flows", "window": "5m", "allowedLateness": "30m",
		"alertsWebhookUrl": "https://alerts.example.com/kinflow", "alertsWebhookSecretArn": testWebhookSecret,
		"detections": "false", "detectAllow": "10.0.0.5,192.0.2.0/24",
		"enrichAws": "true", "enrichRegions": "eu-west-1,us-east-1", "enrichRoles": testEnrichRoleA + "," + testEnrichRoleB,
		"enrichRefresh": "10m", "geoipCity": "s3://geo-data/GeoLite2-City.mmdb", "geoipAsn": "s3://geo-data/GeoLite2-ASN.mmdb",
		"threatLists": "drop=s3://intel/lists/drop.txt;feodo=s3://intel/feodo.csv",
	}
	var mapped []string
	for key, s := range settings.ByContext() {
		if s.Env != "" {
			mapped = append(mapped, key)
		}
	}
	if d := cmp.Diff(slices.Sorted(maps.Keys(values)), slices.Sorted(slices.Values(mapped))); d != "" {
		t.Fatalf("the keys this test sets (-) are not the registry's runtime settings with a key (+):\n%s", d)
	}
	for _, mode := range []struct {
		name string
		rt   settings.Runtime
		ctx  map[string]any
		envs func(*template) map[string]map[string]any // runtime -> its environment
	}{
		{"lambda", settings.Lambda, map[string]any{"lambdaZip": lambdaZip(t), "s3Sources": testBucket}, func(tpl *template) map[string]map[string]any {
			out := map[string]map[string]any{}
			for _, h := range []string{"batch", "finalizer", "objects"} {
				out[h] = env(t, lambdaFunction(t, tpl, h))
			}
			return out
		}},
		{"consumer", settings.Consumer, map[string]any{"mode": "consumer", "consumerDockerDir": dockerDir(t), "consumerDockerfile": "Dockerfile"},
			func(tpl *template) map[string]map[string]any {
				return map[string]map[string]any{"consumer": containerEnv(t, tpl)}
			}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := mode.ctx
			ctx["logGroupNames"] = "/vpc/flowlogs"
			for k, v := range values {
				ctx[k] = v
			}
			k, _ := build(t, fromContext(t, ctx), "")
			tpl := templateOf(t, k)
			rows := settings.ByContext()
			for runtime, e := range mode.envs(tpl) {
				for key, v := range values {
					s := rows[key]
					if runtime == "finalizer" && slices.Contains(PipelineOnlyEnv, s.Env) {
						if got, ok := e[s.Env]; ok {
							t.Errorf("%s=%s: the finalizer enriches nothing, but has %s=%s", key, v, s.Env, jsonString(got))
						}
						continue
					}
					if got := fmt.Sprint(e[s.Env]); !sameValue(s.Kind, got, v) {
						t.Errorf("%s=%s: %s of %s is %s", key, v, s.Env, runtime, jsonString(e[s.Env]))
					}
				}
				checkReads(t, mode.rt, e)
			}
		})
	}
	// The options that pass more: a new domain and SigV4 (region and service), flow-log formats.
	all := scenarios(t)
	for _, name := range []string{"lambda-all", "lambda-domain", "consumer-domain", "consumer-sigv4", "lambda-enrich", "consumer-enrich"} {
		t.Run(name, func(t *testing.T) {
			props := all[name]
			tpl := templateOf(t, must(build(t, props, "")))
			if props.Mode == ModeLambda {
				checkReads(t, settings.Lambda, env(t, lambdaFunction(t, tpl, "batch")))
				checkReads(t, settings.Lambda, env(t, lambdaFunction(t, tpl, "finalizer")))
			} else {
				checkReads(t, settings.Consumer, containerEnv(t, tpl))
			}
		})
	}
}

// checkReads fails for each variable of e that is no setting rt reads.
func checkReads(t *testing.T, rt settings.Runtime, e map[string]any) {
	t.Helper()
	for name := range e {
		if s, ok := settings.Lookup(name); !ok || !s.Runtimes.Has(rt) {
			t.Errorf("the stack passes %s, which %s does not read", name, rt)
		}
	}
}

func must[A, B any](a A, _ B) A { return a }

// sameValue compares a value as the stack writes it with the one the context gave: durations by their length.
func sameValue(kind settings.Kind, got, want string) bool {
	if kind == settings.Duration {
		g, err1 := time.ParseDuration(got)
		w, err2 := time.ParseDuration(want)
		return err1 == nil && err2 == nil && g == w
	}
	return got == want
}
