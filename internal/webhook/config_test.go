package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	got := DefaultConfig()
	want := Config{Format: FormatCompat, Timeout: 10 * time.Second, MaxAttempts: 8, RetryInitial: 500 * time.Millisecond,
		RetryMax: 30 * time.Second, MaxRetryAfter: 5 * time.Minute, ChunkIPs: 5000, TopN: 20}
	if got.String() != want.String() || got.URL != "" || got.Secret != nil {
		t.Errorf("DefaultConfig() = %v, want %v", got, want)
	}
	got.URL = "https://hooks.example/connection_sets/{bucket_time}"
	if err := got.Validate(); err != nil {
		t.Errorf("defaults with a URL: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // each line of the joined error, in order
	}{
		{"every problem at once", func(c *Config) {
			*c = Config{URL: "ftp://user:hunter2@files.example/drop?token=s3cret", Format: "xml", Timeout: -time.Second,
				RetryInitial: time.Second, RetryMax: time.Millisecond, ChunkIPs: 0, TopN: -1}
		}, []string{
			`webhook: invalid configuration: url "ftp://user:xxxxx@files.example/drop?token=xxxxx": scheme "ftp", allowed http, https`,
			`format "xml": allowed "compat", "rich"`,
			`timeout -1s: must be positive`,
			`max attempts 0: must be at least 1 (1: no retry)`,
			`retry backoff 1s..1ms: need 0 < initial <= max`,
			`max retry-after 0s: must be positive`,
			`chunk IPs 0: must be at least 1`,
			`top N -1: must be 0 (no top list) or more`,
		}},
		{"empty url", func(c *Config) { c.URL = "" }, []string{
			`webhook: invalid configuration: url is empty: want http(s)://host[:port]/path, optionally with {bucket_time}`}},
		{"no host", func(c *Config) { c.URL = "http:///connection_sets" }, []string{
			`webhook: invalid configuration: url "http:///connection_sets": no host`}},
		{"relative", func(c *Config) { c.URL = "/connection_sets/{bucket_time}" }, []string{
			`webhook: invalid configuration: url "/connection_sets/%7Bbucket_time%7D": scheme "", allowed http, https`,
			`url "/connection_sets/%7Bbucket_time%7D": no host`}},
		{"placeholder in the host", func(c *Config) { c.URL = "http://{bucket_time}.example/" }, []string{
			`webhook: invalid configuration: url "[unparsable url]": invalid character "{" in host name`}},
		{"placeholder in the user", func(c *Config) { c.URL = "http://{bucket_time}:pw@h/" }, []string{
			`webhook: invalid configuration: url "[unparsable url]": net/url: invalid userinfo`}},
		{"bad escape, password not shown", func(c *Config) { c.URL = "http://u:hunter2@h/%zz" }, []string{
			`webhook: invalid configuration: url "[unparsable url]": invalid URL escape "%zz"`}},
		{"rich, no top, one attempt", func(c *Config) { c.Format, c.TopN, c.MaxAttempts = FormatRich, 0, 1 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.URL = "https://hooks.example/connection_sets/{bucket_time}"
			tt.modify(&cfg)
			err := cfg.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Validate:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Validate shows a secret: %v", err)
			}
			if _, err := New(cfg, Options{}); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestConfigStringHidesSecrets(t *testing.T) {
	cfg := DefaultConfig()
	cfg.URL, cfg.Secret = "https://bot:hunter2@hooks.example/sets/{bucket_time}?key=s3cret", []byte("topsecret")
	s := cfg.String()
	for _, secret := range []string{"hunter2", "s3cret", "topsecret"} {
		if strings.Contains(s, secret) {
			t.Errorf("String shows %q: %s", secret, s)
		}
	}
	want := "webhook{url: https://bot:xxxxx@hooks.example/sets/%7Bbucket_time%7D?key=xxxxx, format: compat, " +
		"secret: [redacted], timeout: 10s, attempts: 8, backoff: 500ms..30s, max retry-after: 5m0s, chunk IPs: 5000, top: 20}"
	if s != want {
		t.Errorf("String:\n%s\nwant\n%s", s, want)
	}
}
