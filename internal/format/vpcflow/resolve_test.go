package vpcflow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeSource struct {
	formats map[string][]string
	err     error
	calls   int
}

func (s *fakeSource) LogFormats(_ context.Context, group string) ([]string, error) {
	s.calls++
	return s.formats[group], s.err
}

type permanentErr struct{}

func (permanentErr) Error() string   { return "access denied" }
func (permanentErr) Permanent() bool { return true }

func TestResolver(t *testing.T) {
	const custom = "${version} ${srcaddr} ${dstaddr} ${action} ${log-status}"
	cfg := DefaultConfig()
	cfg.Overrides = []Override{
		{Match: "/vpc/exact", Format: "${version} ${srcaddr}"},
		{Match: "/vpc/*", Format: "${srcaddr} ${dstaddr}"},
		{Match: "/vpc/special/*", Format: "${dstaddr} ${srcaddr} ${action}"},
		{Match: "/multi", Format: "${srcaddr} | ${srcaddr} ${dstaddr}"},
	}
	src := &fakeSource{formats: map[string][]string{"/discovered": {custom}, "/two": {custom, DefaultFormatString}}}
	r, err := NewResolver(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	ctx := context.Background()
	for group, want := range map[string]string{
		"/vpc/exact":        "${version} ${srcaddr}",
		"/vpc/other":        "${srcaddr} ${dstaddr}",
		"/vpc/special/x":    "${dstaddr} ${srcaddr} ${action}",
		"/discovered":       custom,
		"/nothing-delivers": DefaultFormatString,
	} {
		p, err := r.Parser(ctx, group)
		if err != nil || p.Formats()[0].String() != want {
			t.Errorf("%s: %v %v, want %s", group, p.Formats(), err, want)
		}
	}
	if p, _ := r.Parser(ctx, "/multi"); len(p.Formats()) != 2 || p.Origin() != "override /multi" {
		t.Errorf("/multi: %v from %s", p.Formats(), p.Origin())
	}
	if p, _ := r.Parser(ctx, "/two"); len(p.Formats()) != 2 || p.Origin() != "discovered" {
		t.Errorf("/two: %v from %s", p.Formats(), p.Origin())
	}
	calls := src.calls
	r.Parser(ctx, "/discovered")
	if src.calls != calls {
		t.Error("a cached format was looked up again")
	}
	// Past the TTL the source is asked again; when it fails, the stale answer serves.
	now = now.Add(cfg.CacheTTL + time.Second)
	src.err = errors.New("throttled")
	if p, err := r.Parser(ctx, "/discovered"); err != nil || p.Formats()[0].String() != custom || src.calls != calls+1 {
		t.Errorf("stale: %v %v (calls %d)", p, err, src.calls-calls)
	}
	// A transient failure with nothing cached is the caller's to retry.
	_, err = r.Parser(ctx, "/new")
	var de *DiscoveryError
	if !errors.As(err, &de) || de.Permanent() || !errors.Is(err, ErrDiscovery) || de.LogGroup != "/new" {
		t.Errorf("transient failure: %v", err)
	}
	// A permanent one (access denied) falls back to the default.
	src.err = permanentErr{}
	if p, err := r.Parser(ctx, "/denied"); err != nil || p != r.def {
		t.Errorf("permanent failure: %v %v", p, err)
	}
	// Two discovered formats of one length cannot both be used: the default serves, and says why.
	src.err = nil
	src.formats["/ambiguous"] = []string{custom, "${a} ${b} ${c} ${d} ${e}"}
	if p, err := r.Parser(ctx, "/ambiguous"); err != nil || !strings.Contains(p.Origin(), "unusable") {
		t.Errorf("ambiguous: %v %v", p.Origin(), err)
	}
	if r, _ := NewResolver(DefaultConfig(), nil); r == nil {
		t.Fatal("no resolver without a source")
	} else if p, err := r.Parser(ctx, "/any"); err != nil || p.Origin() != "default" {
		t.Errorf("no source: %v %v", p, err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := Config{DefaultFormat: "", Overrides: []Override{{Match: "", Format: "x"}, {Match: "a*b", Format: "${x"}, {Match: "g", Format: "x"}, {Match: "g", Format: "x"}}}
	err := cfg.Validate()
	for _, want := range []string{"DefaultFormat", "Overrides[0]", "'*' is allowed only at the end", "Overrides[1] (a*b)", "appears twice", "CacheTTL", "NegativeTTL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if _, err := NewResolver(cfg, nil); err == nil {
		t.Error("NewResolver accepted an invalid config")
	}
}
