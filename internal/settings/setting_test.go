package settings

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every row is whole: named once, of a known kind, its default, range and pattern readable and its default valid,
// and it belongs to the runtimes its names say it does.
func TestRowsAreWhole(t *testing.T) {
	envs, contexts, flags := map[string]bool{}, map[string]bool{}, map[string]string{}
	kinds := []Kind{String, Duration, Int, Bool, List, Map, URL, URLList, CIDRs}
	for _, s := range All() {
		t.Run(s.Name(), func(t *testing.T) {
			if s.Name() == "" || s.Help == "" || s.Runtimes == 0 || !slices.Contains(kinds, s.Kind) {
				t.Fatalf("row %+v: want a name, help, runtimes and a kind", s)
			}
			if s.Env != "" && envs[s.Env] || s.Context != "" && contexts[s.Context] {
				t.Errorf("%s declared twice", s.Name())
			}
			envs[s.Env], contexts[s.Context] = s.Env != "", s.Context != ""
			if s.Env == "" && s.Runtimes != CDK {
				t.Errorf("a setting without a variable is the CDK's only; runtimes %s", s.Runtimes)
			}
			if s.Env != "" && !s.Runtimes.Has(Consumer) && !s.Runtimes.Has(Lambda) {
				t.Errorf("a variable that no runtime reads")
			}
			if (s.Context != "") != s.Runtimes.Has(CDK) {
				t.Errorf("context key %q with runtimes %s: the CDK reads exactly the rows with a key", s.Context, s.Runtimes)
			}
			if s.Env != "" && s.Env != AWSRegion && !strings.HasPrefix(s.Env, EnvPrefix) {
				t.Errorf("variable %s: want the %s prefix", s.Env, EnvPrefix)
			}
			if s.Secret && (s.Default != "" || s.Context != "") {
				t.Errorf("a secret with a default or a context key (CloudFormation templates are not secret)")
			}
			if _, err := s.bounds(); err != nil {
				t.Error(err)
			}
			if s.Pattern != "" {
				if _, err := regexp.Compile(s.Pattern); err != nil || s.Shape == "" {
					t.Errorf("pattern %q (%v) without words for it", s.Pattern, err)
				}
			}
			if (s.Range != "" || s.Step != "") && s.Kind != Int && s.Kind != Duration {
				t.Errorf("a range on a %s", s.Kind)
			}
			if s.Default != "" || s.Kind == URLList {
				if err := s.Check(s.Default); err != nil {
					t.Errorf("default %q: %v", s.Default, err)
				}
			}
			if v := s.Sample(); v == "" || v == s.Default || s.Check(v) != nil {
				t.Errorf("sample %q: want a valid value other than the default", v)
			}
			for _, f := range append([]string{s.Flag()}, s.OldFlags...) {
				if f == "" {
					continue
				}
				if other, ok := flags[f]; ok {
					t.Errorf("flag -%s is also %s's", f, other)
				}
				flags[f] = s.Name()
			}
			if len(s.OldFlags) > 0 && s.Flag() == "" {
				t.Errorf("old flags %v without a flag", s.OldFlags)
			}
		})
	}
}

// The flag is the variable's name, derived the same way for each: no prefix, lower case, '-' for '_'.
func TestFlag(t *testing.T) {
	for env, want := range map[string]string{
		FinalizerLockLease:    "finalizer-lock-lease",
		StreamName:            "stream-name",
		AWSRegion:             "aws-region",
		SinkKind:              "sink-kind",
		BulkMaxInFlight:       "bulk-max-in-flight",
		SinkPassword:          "", // a secret: a command line shows in ps
		WebhookSecret:         "",
		LambdaHandler:         "", // the Lambda functions take no flags
		LambdaDeadlineReserve: "",
	} {
		s, ok := Lookup(env)
		if !ok {
			t.Fatalf("%s: no row", env)
		}
		if got := s.Flag(); got != want {
			t.Errorf("%s: flag %q, want %q", env, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	row := func(env string) Setting {
		s, ok := Lookup(env)
		if !ok {
			t.Fatalf("%s: no row", env)
		}
		return s
	}
	tests := []struct {
		env, value, want string // want: the error, "" for none
	}{
		{IdleAfter, "-1s", "want a positive duration up to 20m"},
		{IdleAfter, "0s", "want a positive duration up to 20m"},
		{IdleAfter, "20m", ""},
		{IdleAfter, "21m", "want a positive duration up to 20m"},
		{IdleAfter, "soon", "want a duration such as 10m or 90s"},
		{ShutdownTimeout, "-1s", "want a positive duration"},
		{Window, "0s", "want a whole number of seconds from 1s to 24h"},
		{Window, "1500ms", "want a whole number of seconds from 1s to 24h"},
		{Window, "25h", "want a whole number of seconds from 1s to 24h"},
		{Window, "24h", ""},
		{AllowedLateness, "0s", ""},
		{FinalizerLockLease, "1s", "want 3s or more"},
		{FinalizerLockLease, "3s", ""},
		{BulkMaxInFlight, "0", "want 1 to 256"},
		{BulkMaxInFlight, "256", ""},
		{BulkMaxInFlight, "four", "want an integer"},
		{BulkMaxDocs, "0", "want a positive integer"},
		{SinkKind, "solr", "want elasticsearch or opensearch"},
		{LogLevel, "loud", "want debug, info, warn or error"},
		{SinkSetup, "yes please", "want true or false"},
		{IndexPrefix, "Kin Flow", "want lowercase letters, digits, - and _, starting with a letter or digit, at most 100"},
		{IndexPrefix, "_flows", "want lowercase letters, digits, - and _, starting with a letter or digit, at most 100"},
		{IndexPrefix, "flows-2", ""},
		{SinkURL, "", "want one or more http(s) URLs, comma-separated"},
		{SinkURL, "https://a:9200, http://b", ""},
		{SinkURL, "https://elastic:pw@a:9200,b:9200", `"b:9200": want an http:// or https:// URL with a host`},
		{WebhookURL, "", ""},
		{WebhookURL, "ftp://hooks", "want an http:// or https:// URL with a host"},
		{WebhookURL, "https://hooks.example.com/sets/{bucket_time}", ""},
		{FlowFormatOverrides, "/vpc/a=version srcaddr; /vpc/b*=${version}", ""},
		{FlowFormatOverrides, "/vpc/a", `"/vpc/a": want key=value pairs separated by ';'`},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			err := row(tt.env).Check(tt.value)
			if got := errString(err); got != tt.want {
				t.Errorf("Check(%q) = %q, want %q", tt.value, got, tt.want)
			}
			if strings.Contains(errString(err), "pw@") {
				t.Errorf("a password in %q", err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRuntimeString(t *testing.T) {
	for r, want := range map[Runtime]string{Consumer: "consumer", Consumer | Lambda: "consumer, lambda",
		Consumer | Lambda | CDK: "consumer, lambda, cdk", CDK: "cdk", 0: ""} {
		if got := r.String(); got != want {
			t.Errorf("%d: %q, want %q", r, got, want)
		}
	}
}

func ExampleSetting_Check() {
	s, _ := Lookup(IdleAfter)
	fmt.Printf("-%s: %v\n", s.Flag(), s.Check("-1s"))
	// Output: -idle-after: want a positive duration up to 20m
}
