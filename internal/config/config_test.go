package config

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/finalize"
	"github.com/kinflow/kinflow/internal/format/vpcflow"
	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/settings"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/sink/opensearch"
	"github.com/kinflow/kinflow/internal/webhook"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	c, err := Load(lookup(map[string]string{
		"KINFLOW_SINK_KIND":             "opensearch",
		"KINFLOW_SINK_URL":              "https://a:443, https://b:443",
		"KINFLOW_WINDOW":                "5m",
		"KINFLOW_BULK_MAX_DOCS":         "1000",
		"KINFLOW_FORMAT_DISCOVERY":      "true",
		"KINFLOW_FLOW_FORMAT_OVERRIDES": "/vpc/a=${version} ${srcaddr};/vpc/b-*=version srcaddr dstaddr",
		"KINFLOW_STREAM_NAME":           "flows",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sink.Kind != SinkOpenSearch || !cmp.Equal(c.Sink.URLs, []string{"https://a:443", "https://b:443"}) ||
		c.Pipeline.Aggregate.Window != 5*time.Minute || c.Sink.Bulk.FlushDocs != 1000 || !c.Discovery || c.StreamName != "flows" {
		t.Errorf("Load = %+v", c)
	}
	want := []vpcflow.Override{{Match: "/vpc/a", Format: "${version} ${srcaddr}"}, {Match: "/vpc/b-*", Format: "version srcaddr dstaddr"}}
	if d := cmp.Diff(want, c.Formats.Overrides); d != "" {
		t.Errorf("overrides (-want +got):\n%s", d)
	}
	if err := c.ValidateConsumer(); err != nil {
		t.Errorf("ValidateConsumer: %v", err)
	}
}

// Every runtime setting of the registry has a binding, and every binding a row; the field holds the row's kind,
// and Default holds the row's default.
func TestBindingsMatchRegistry(t *testing.T) {
	b := bindings()
	rows := map[string]bool{}
	def := Default()
	for _, s := range settings.All() {
		if s.Env == "" {
			continue
		}
		rows[s.Env] = true
		bind, ok := b[s.Env]
		if !ok {
			t.Errorf("%s: a row without a binding", s.Env)
			continue
		}
		if !slices.Contains(bind.kinds, s.Kind) {
			t.Errorf("%s: a %s row bound to a field of %v", s.Env, s.Kind, bind.kinds)
		}
		var want Config
		if s.Default != "" {
			if err := bind.set(&want, s.Default); err != nil {
				t.Errorf("%s: default %q: %v", s.Env, s.Default, err)
			}
		}
		if got := bind.get(&def); got != bind.get(&want) {
			t.Errorf("%s: Default() has %q, the registry %q", s.Env, got, s.Default)
		}
	}
	for env := range b {
		if !rows[env] {
			t.Errorf("%s: a binding without a row", env)
		}
	}
}

// The parts' own defaults are the registry's, so a library user of a part and a runtime get the same behaviour.
func TestPartsDefaultsAreTheRegistrys(t *testing.T) {
	c := Default()
	p, f, w, s := pipeline.DefaultConfig(), finalize.DefaultConfig(), webhook.DefaultConfig(), sink.DefaultConfig()
	got := []any{c.Pipeline.Aggregate.Window, c.Pipeline.Aggregate.AllowedLateness, c.Pipeline.Aggregate.MaxExactPeers,
		c.Pipeline.Decode.MaxDecompressedBytes, c.Pipeline.Prefix, c.Formats.DefaultFormat,
		c.Sink.Bulk.FlushBytes, c.Sink.Bulk.FlushDocs, c.Sink.Bulk.MaxInFlight, c.Sink.SigV4Service,
		c.Finalizer.Interval, c.Finalizer.LockLease, c.Finalizer.MaxDelay, c.Finalizer.IdleAfter, c.Finalizer.Horizon,
		c.Webhook.Format, c.Webhook.Timeout, c.Webhook.Attempts, c.Webhook.ChunkIPs}
	want := []any{p.Aggregate.Window, p.Aggregate.AllowedLateness, p.Aggregate.MaxExactPeers,
		p.Decode.MaxDecompressedBytes, p.Prefix, vpcflow.DefaultFormatString,
		s.FlushBytes, s.FlushDocs, s.MaxInFlight, opensearch.ServiceManaged,
		f.Interval, f.LockLease, f.MaxDelay, f.IdleAfter, f.Horizon,
		string(w.Format), w.Timeout, w.MaxAttempts, w.ChunkIPs}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parts' defaults (-want) and the registry's (+got):\n%s", d)
	}
	idle, _ := settings.Lookup(settings.IdleAfter)
	if _, hi, _ := strings.Cut(idle.Range, ".."); hi != "" {
		if d, err := time.ParseDuration(hi); err != nil || d != f.StaleAfter {
			t.Errorf("%s range %q: want it to end at the finalizer's StaleAfter (%v)", settings.IdleAfter, idle.Range, f.StaleAfter)
		}
	}
}

// The package's names of values are the registry's allowed values.
func TestConstantsAreAllowedValues(t *testing.T) {
	for env, want := range map[string][]string{
		settings.SinkKind:        {SinkElasticsearch, SinkOpenSearch},
		settings.InitialPosition: {TrimHorizon, Latest},
		settings.LambdaHandler:   {LambdaBatch, LambdaFinalizer, LambdaObjects},
		settings.LogLevel:        slices.Sorted(maps.Keys(logLevels)),
		settings.WebhookFormat:   {string(webhook.FormatCompat), string(webhook.FormatRich)},
		settings.SinkAWSService:  {opensearch.ServiceManaged, opensearch.ServiceServerless},
	} {
		s, _ := settings.Lookup(env)
		if !cmp.Equal(slices.Sorted(slices.Values(s.Allowed)), slices.Sorted(slices.Values(want))) {
			t.Errorf("%s allows %v, the code knows %v", env, s.Allowed, want)
		}
	}
}

// A value a row accepts, every part accepts: the parts' Validate never has to speak for the registry.
func TestRowsCoverParts(t *testing.T) {
	b := bindings()
	for _, s := range settings.All() {
		if s.Env == "" {
			continue
		}
		values := append([]string{s.Sample()}, s.Allowed...)
		if lo, hi, ok := strings.Cut(s.Range, ".."); ok {
			values = append(values, strings.TrimPrefix(lo, ">"), hi)
		}
		for _, v := range values {
			if v == "" || s.Check(v) != nil {
				continue
			}
			c := Default()
			if err := b[s.Env].set(&c, v); err != nil {
				t.Fatalf("%s=%s: %v", s.Env, v, err)
			}
			// Keep the rules between settings out of the way: they are tested on their own.
			c.Finalizer.MaxDelay = max(c.Finalizer.MaxDelay, c.Pipeline.Aggregate.AllowedLateness)
			c.Finalizer.Horizon = 1000 * time.Hour
			d := &c.Finalizer.Detect
			d.BaselineWindows = max(d.BaselineWindows, d.Rules.MinBaselineWindows)
			d.Rules.MinBaselineWindows = min(d.BaselineWindows, d.Rules.MinBaselineWindows)
			if s.Env != settings.RetentionConns {
				c.Sink.Retention.Conns = 0
			} else if r := c.Sink.Retention.Conns; r > 0 && r < time.Duration(d.BaselineWindows)*c.Pipeline.Aggregate.Window+24*time.Hour {
				continue // TestDetectionRules
			}
			if s.Env != settings.RetentionPartials {
				c.Sink.Retention.Partials = 0
			} else if c.Sink.Retention.Partials > 0 {
				c.Finalizer.Horizon = c.Pipeline.Aggregate.Window + c.Finalizer.MaxDelay
				if c.Sink.Retention.Partials < c.Finalizer.Horizon+24*time.Hour {
					continue // TestPartialsOutliveTheHorizon
				}
			}
			if c.Sink.SigV4Region != "" {
				c.Sink.Kind = SinkOpenSearch
			}
			if c.Sink.APIKey != "" || c.Sink.Password != "" || c.Webhook.Secret != "" {
				continue
			}
			if err := c.Validate(); err != nil {
				t.Errorf("%s=%s: the row accepts it, Validate says:\n%v", s.Env, v, err)
			}
		}
	}
	prefix, _ := settings.Lookup(settings.IndexPrefix)
	for _, v := range []string{"kinflow", "a", "0-x_y", "", "-a", "_a", "+a", "Kin", "a b", "a.b", strings.Repeat("a", 100), strings.Repeat("a", 101)} {
		if row, part := prefix.Check(v) == nil, sink.ValidatePrefix(v) == nil; row != part {
			t.Errorf("index prefix %q: the row accepts it %v, the sink %v", v, row, part)
		}
	}
}

// Five bad settings are five lines, each naming its variable, and its flag when the command has flags: no line
// twice, no part's Go field names.
func TestFiveBadSettingsFiveLines(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		flags []string // nil: no command line
		want  []string
	}{
		{name: "environment",
			env: map[string]string{"KINFLOW_IDLE_AFTER": "-1s", "KINFLOW_FINALIZER_LOCK_LEASE": "1s", "KINFLOW_WINDOW": "0s",
				"KINFLOW_SINK_KIND": "solr", "KINFLOW_BULK_MAX_IN_FLIGHT": "0"},
			want: []string{
				"KINFLOW_SINK_KIND=solr: want elasticsearch or opensearch",
				"KINFLOW_BULK_MAX_IN_FLIGHT=0: want 1 to 256",
				"KINFLOW_WINDOW=0s: want a whole number of seconds from 1s to 24h",
				"KINFLOW_FINALIZER_LOCK_LEASE=1s: want 3s or more",
				"KINFLOW_IDLE_AFTER=-1s: want a positive duration up to 20m",
			}},
		{name: "unreadable and wrong",
			env: map[string]string{"KINFLOW_WINDOW": "ten minutes", "KINFLOW_BULK_MAX_DOCS": "many", "KINFLOW_SINK_SETUP": "yes please",
				"KINFLOW_LOG_LEVEL": "loud", "KINFLOW_INDEX_PREFIX": "Kin Flow"},
			want: []string{
				`KINFLOW_SINK_SETUP="yes please": want true or false`,
				`KINFLOW_BULK_MAX_DOCS=many: want an integer`,
				`KINFLOW_WINDOW="ten minutes": want a duration such as 10m or 90s`,
				`KINFLOW_INDEX_PREFIX="Kin Flow": want lowercase letters, digits, - and _, starting with a letter or digit, at most 100`,
				`KINFLOW_LOG_LEVEL=loud: want debug, info, warn or error`,
			}},
		{name: "flags",
			env:   map[string]string{"KINFLOW_SINK_KIND": "solr"},
			flags: []string{"-idle-after", "-1s", "-finalizer-lease", "1s", "-window", "0s", "-bulk-max-in-flight", "0"},
			want: []string{
				"KINFLOW_SINK_KIND=solr (flag -sink-kind): want elasticsearch or opensearch",
				"KINFLOW_BULK_MAX_IN_FLIGHT=0 (flag -bulk-max-in-flight): want 1 to 256",
				"KINFLOW_WINDOW=0s (flag -window): want a whole number of seconds from 1s to 24h",
				"KINFLOW_FINALIZER_LOCK_LEASE=1s (flag -finalizer-lock-lease): want 3s or more",
				"KINFLOW_IDLE_AFTER=-1s (flag -idle-after): want a positive duration up to 20m",
			}},
		{name: "a rule, with flags",
			flags: []string{"-max-delay", "1m"},
			want:  []string{"KINFLOW_MAX_DELAY=1m0s (flag -max-delay): want at least KINFLOW_ALLOWED_LATENESS (15m0s)"}},
		{name: "rules between settings, once each",
			env: map[string]string{"KINFLOW_SINK_API_KEY": "c2VjcmV0OmtleQ==", "KINFLOW_SINK_KIND": "opensearch",
				"KINFLOW_SINK_PASSWORD": "hunter2", "KINFLOW_MAX_DELAY": "10m", "KINFLOW_CORRECTION_HORIZON": "15m",
				"KINFLOW_WEBHOOK_SECRET": "k", "KINFLOW_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:k"},
			want: []string{
				"KINFLOW_SINK_API_KEY: applies to KINFLOW_SINK_KIND=elasticsearch only",
				"KINFLOW_SINK_PASSWORD: set without KINFLOW_SINK_USERNAME",
				"KINFLOW_WEBHOOK_SECRET and KINFLOW_WEBHOOK_SECRET_ARN: set one, not both",
				"KINFLOW_MAX_DELAY=10m0s: want at least KINFLOW_ALLOWED_LATENESS (15m0s)",
				"KINFLOW_CORRECTION_HORIZON=15m0s: want at least KINFLOW_WINDOW + KINFLOW_MAX_DELAY (20m0s)",
			}},
		{name: "a setting that is wrong is not also blamed by a rule",
			env: map[string]string{"KINFLOW_WINDOW": "90m", "KINFLOW_ALLOWED_LATENESS": "-5m", "KINFLOW_MAX_DELAY": "1m",
				"KINFLOW_CORRECTION_HORIZON": "1h", "KINFLOW_SINK_KIND": "elastic", "KINFLOW_SINK_AWS_REGION": "eu-west-1"},
			want: []string{
				"KINFLOW_SINK_KIND=elastic: want elasticsearch or opensearch",
				"KINFLOW_ALLOWED_LATENESS=-5m0s: want a whole number of seconds from 0s to 168h",
				"KINFLOW_CORRECTION_HORIZON=1h0m0s: want at least KINFLOW_WINDOW + KINFLOW_MAX_DELAY (1h31m0s)",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(lookup(tt.env))
			if tt.flags != nil {
				fs := flag.NewFlagSet("run", flag.ContinueOnError)
				BindFlags(fs, &c)
				if err := fs.Parse(tt.flags); err != nil {
					t.Fatal(err)
				}
			}
			err = errorsJoin(err, c.Validate())
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
			for _, secret := range []string{"c2VjcmV0OmtleQ==", "hunter2"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("a secret is printed: %v", err)
				}
			}
		})
	}
}

func errorsJoin(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%w\n%w", a, b)
}

func TestValidateConsumerAndLambda(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	BindFlags(fs, &c)
	if err := fs.Parse([]string{"-application-name", ""}); err != nil {
		t.Fatal(err)
	}
	want := "KINFLOW_APPLICATION_NAME (flag -application-name): required\nKINFLOW_STREAM_NAME (flag -stream-name) or KINFLOW_SQS_QUEUE_URL (flag -sqs-queue-url): set one or both: the consumer reads a stream, a queue of S3 notifications, or both"
	if err := c.ValidateConsumer(); err == nil || err.Error() != want {
		t.Errorf("ValidateConsumer = %v, want\n%s", err, want)
	}

	c = Default()
	c.LambdaHandler = LambdaFinalizer
	want = "KINFLOW_STATE_TABLE: required by KINFLOW_LAMBDA_HANDLER=finalizer"
	if err := c.ValidateLambda(); err == nil || err.Error() != want {
		t.Errorf("ValidateLambda = %v, want %s", err, want)
	}
	c.StateTable = "kinflow-state"
	if err := c.ValidateLambda(); err != nil {
		t.Errorf("ValidateLambda = %v", err)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := Load(lookup(map[string]string{"KINFLOW_STREAM_NAME": "from-env", "KINFLOW_INDEX_PREFIX": "envprefix"}))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	BindFlags(fs, &c)
	if err := fs.Parse([]string{"-stream-name", "from-flag", "-window", "1m"}); err != nil {
		t.Fatal(err)
	}
	if c.StreamName != "from-flag" || c.Pipeline.Prefix != "envprefix" || c.Pipeline.Aggregate.Window != time.Minute {
		t.Errorf("after flags: stream %q prefix %q window %v", c.StreamName, c.Pipeline.Prefix, c.Pipeline.Aggregate.Window)
	}
	for _, secret := range []string{"sink-password", "sink-api-key", "webhook-secret"} {
		if fs.Lookup(secret) != nil {
			t.Errorf("a secret has a command-line flag -%s (it would show in ps)", secret)
		}
	}
	if err := fs.Parse([]string{"-window", "ten minutes"}); err == nil || !strings.Contains(err.Error(), "-window: want a duration") {
		t.Errorf("a bad flag: %v, want it named with what it wants", err)
	}
}

// Each flag is its variable's name; the old names still set the same setting and say they are deprecated.
func TestOldFlagsStillWork(t *testing.T) {
	for old, want := range map[string]struct{ flag, env, value string }{
		"stream":          {"stream-name", settings.StreamName, "flows"},
		"application":     {"application-name", settings.ApplicationName, "app"},
		"region":          {"aws-region", settings.AWSRegion, "eu-west-1"},
		"sink":            {"sink-kind", settings.SinkKind, "opensearch"},
		"setup":           {"sink-setup", settings.SinkSetup, "false"},
		"finalizer-lease": {"finalizer-lock-lease", settings.FinalizerLockLease, "5s"},
	} {
		c := Default()
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		BindFlags(fs, &c)
		if err := fs.Parse([]string{"-" + old, want.value}); err != nil {
			t.Fatalf("-%s: %v", old, err)
		}
		if v, _ := c.Setting(want.env); v != want.value {
			t.Errorf("-%s %s: %s = %q", old, want.value, want.env, v)
		}
		if f := fs.Lookup(old); f == nil || !strings.Contains(f.Usage, "deprecated: use -"+want.flag) {
			t.Errorf("-%s: usage %v, want it to name -%s", old, f, want.flag)
		}
		if fs.Lookup(want.flag) == nil {
			t.Errorf("no -%s", want.flag)
		}
	}
}

// -h shows the registry's defaults, never what the environment set: a secret URL or a stream name stays out.
func TestHelpShowsBuiltInDefaults(t *testing.T) {
	c, err := Load(lookup(map[string]string{"KINFLOW_SINK_URL": "https://elastic:t0psecret@prod:9243",
		"KINFLOW_WINDOW": "5m", "KINFLOW_STREAM_NAME": "prod-flows"}))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	BindFlags(fs, &c)
	fs.PrintDefaults()
	help := out.String()
	for _, leak := range []string{"t0psecret", "prod:9243", "prod-flows", "5m0s"} {
		if strings.Contains(help, leak) {
			t.Errorf("-h shows %q from the environment:\n%s", leak, help)
		}
	}
	for _, want := range []string{"-window duration\n", "env KINFLOW_WINDOW: a whole number of seconds from 1s to 24h, default 10m)",
		"env KINFLOW_SINK_URL, default http://127.0.0.1:9200)"} {
		if !strings.Contains(help, want) {
			t.Errorf("-h lacks %q:\n%s", want, help)
		}
	}
}

// Each runtime reads the settings the registry says it reads, and reports the others and misspellings as errors.
func TestLoadFor(t *testing.T) {
	def := Default()
	for _, rt := range []settings.Runtime{settings.Consumer, settings.Lambda} {
		for _, s := range settings.All() {
			if s.Env == "" {
				continue
			}
			v := s.Sample()
			c, err := LoadFor(rt, lookup(map[string]string{s.Env: v}), nil)
			got, _ := c.Setting(s.Env)
			was, _ := def.Setting(s.Env)
			if read := got != was; read != s.Runtimes.Has(rt) || err != nil {
				t.Errorf("%s: %s=%s read %v (%q), error %v; want read %v", rt, s.Env, v, read, got, err, s.Runtimes.Has(rt))
			}
		}
	}
	_, err := LoadFor(settings.Lambda, lookup(nil), []string{"KINFLOW_WINDOWS=5m", "KINFLOW_STREAM_NAME=flows",
		"KINFLOW_ES_URL=http://127.0.0.1:9200", "PATH=/bin"})
	want := "KINFLOW_STREAM_NAME is read by consumer only, not by lambda\n" +
		"KINFLOW_WINDOWS is not a kinflow setting; did you mean KINFLOW_WINDOW?"
	if err == nil || err.Error() != want {
		t.Errorf("LoadFor(lambda) = %v, want\n%s", err, want)
	}
}

// Partials are kept at least as long as the finalizer may correct from them: the rule names both settings, and 0
// (forever) is always fine.
func TestPartialsOutliveTheHorizon(t *testing.T) {
	for _, tc := range []struct {
		partials, horizon string
		ok                bool
	}{{"72h", "24h", true}, {"48h", "24h", true}, {"47h", "24h", false}, {"72h", "72h", false}, {"0s", "720h", true}} {
		c, err := Load(Only(func(k string) (string, bool) {
			return map[string]string{settings.RetentionPartials: tc.partials, settings.CorrectionHorizon: tc.horizon}[k], true
		}, settings.RetentionPartials, settings.CorrectionHorizon))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("partials %s, horizon %s: %v, want ok %v", tc.partials, tc.horizon, err, tc.ok)
		}
		if err != nil && !(strings.Contains(err.Error(), settings.RetentionPartials+"=") && strings.Contains(err.Error(), settings.CorrectionHorizon)) {
			t.Errorf("the error names not both settings: %v", err)
		}
	}
}

// The rules between detection settings: a baseline span the rules can use, and finals kept as long as it reaches
// back. Each message names the settings.
func TestDetectionRules(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string // settings the error names; none: valid
	}{
		{env: map[string]string{}},
		{env: map[string]string{settings.DetectBaselineWindows: "5"}, want: []string{settings.DetectBaselineWindows + "=5", settings.DetectMinBaseline}},
		{env: map[string]string{settings.DetectBaselineWindows: "5", settings.Detect: "false"}},
		{env: map[string]string{settings.DetectBaselineWindows: "12", settings.DetectMinBaseline: "12"}},
		{env: map[string]string{settings.RetentionConns: "24h"}, want: []string{settings.RetentionConns + "=24h", settings.DetectBaselineWindows, settings.Window}},
		{env: map[string]string{settings.RetentionConns: "30h"}},
		{env: map[string]string{settings.RetentionConns: "0s", settings.DetectBaselineWindows: "10000"}},
		{env: map[string]string{settings.DetectHorizontalReject: "0"}, want: []string{settings.DetectHorizontalReject + "=0", "1 to 100"}},
		{env: map[string]string{settings.DetectAllow: "10.0.0.5,10.1.0.0/16,nat-gw"}, want: []string{settings.DetectAllow, `"nat-gw"`}},
	} {
		names := slices.Collect(maps.Keys(tc.env))
		c, err := Load(Only(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, names...))
		if err == nil {
			err = c.Validate()
		}
		if (err == nil) != (len(tc.want) == 0) {
			t.Errorf("%v: %v, want an error naming %v", tc.env, err, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %v: does not name %s", tc.env, err, w)
			}
		}
	}
}

// The allow-lists reach every rule: the shared one joined to each rule's own.
func TestDetectAllowJoinsEveryRule(t *testing.T) {
	c, err := Load(Only(func(k string) (string, bool) {
		return map[string]string{settings.DetectAllow: "10.0.0.5,2001:db8::/32", settings.DetectVerticalAllow: "192.0.2.0/24"}[k], true
	}, settings.DetectAllow, settings.DetectVerticalAllow))
	if err != nil {
		t.Fatal(err)
	}
	r := c.FinalizerConfig().Detect.Rules
	shared := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("2001:db8::/32")}
	for name, got := range map[string][]netip.Prefix{"horizontal": r.Horizontal.Allow, "reject storm": r.RejectStorm.Allow, "egress": r.Egress.Allow} {
		if !slices.Equal(got, shared) {
			t.Errorf("%s: %v, want %v", name, got, shared)
		}
	}
	if want := append(slices.Clone(shared), netip.MustParsePrefix("192.0.2.0/24")); !slices.Equal(r.Vertical.Allow, want) {
		t.Errorf("vertical: %v, want %v", r.Vertical.Allow, want)
	}
	if v, _ := c.Setting(settings.DetectAllow); v != "10.0.0.5,2001:db8::/32" {
		t.Errorf("the setting reads back as %q", v)
	}
}
