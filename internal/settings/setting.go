package settings

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is how a value is written and read.
type Kind string

const (
	String   Kind = "string"
	Duration Kind = "duration" // Go syntax: 90s, 10m, 1h30m
	Int      Kind = "int"
	Bool     Kind = "bool" // true or false (strconv.ParseBool)
	// List is comma-separated in the environment and on the command line; the CDK also takes a JSON array.
	List Kind = "list"
	// Map is key=value pairs separated by ';' in the environment; the CDK takes a JSON object.
	Map     Kind = "map"
	URL     Kind = "url"  // one http(s) URL; empty means none
	URLList Kind = "urls" // one or more http(s) URLs, comma-separated
	// CIDRs is a list of IPs and CIDRs (10.0.0.5, 10.1.0.0/16, 2001:db8::/32), comma-separated; the CDK also takes a
	// JSON array.
	CIDRs Kind = "cidrs"
)

// Runtime is a set of the programs that read a setting.
type Runtime uint8

const (
	Consumer Runtime = 1 << iota // consumer/: the KCL worker and its commands, configured by environment and flags
	Lambda                       // lambda/: the batch and finalizer functions, configured by environment
	CDK                          // cdk/: the deployment, configured by context keys
)

// Has reports whether r includes every runtime of x.
func (r Runtime) Has(x Runtime) bool { return r&x == x }

// String lists the runtimes: "consumer, lambda".
func (r Runtime) String() string {
	var names []string
	for _, x := range []struct {
		r    Runtime
		name string
	}{{Consumer, "consumer"}, {Lambda, "lambda"}, {CDK, "cdk"}} {
		if r.Has(x.r) {
			names = append(names, x.name)
		}
	}
	return strings.Join(names, ", ")
}

// A Setting is one row of the registry.
type Setting struct {
	// Env is the environment variable the runtimes read; empty for a setting of the CDK app only.
	Env string
	// Context is the CDK context key (`cdk deploy -c key=value`) that sets it; empty when the CDK does not.
	Context string
	Kind    Kind
	// Default is the built-in value, as a user would write it; empty when there is none or the runtime computes
	// one, which DefaultText then describes.
	Default     string
	DefaultText string
	// ContextRequired: the CDK app has no default and refuses to synthesize without the key (Default is the
	// runtimes' alone).
	ContextRequired bool
	// Secret values have no flag (a command line shows in ps) and are redacted wherever a value is printed.
	Secret bool
	// Allowed, when set, are the only values.
	Allowed []string
	// Range bounds an int or a duration, in its own syntax: "lo..hi", "lo..", "..hi", with ">0" as lo for a
	// positive value ("" is unbounded).
	Range string
	// Step: a duration must be a whole number of it.
	Step string
	// Pattern is a regular expression the whole of a non-empty string must match; Shape says it in words.
	Pattern, Shape string
	Runtimes       Runtime
	Help           string
	// OldFlags are flag names the consumer used to take for this setting; they still work, marked deprecated.
	OldFlags []string
	// Example is a valid value other than the default, for a row whose kind's generic samples (Sample) would not
	// be: a value with a shape of its own.
	Example string
}

// EnvPrefix starts the name of every kinflow variable but AWS_REGION.
const EnvPrefix = "KINFLOW_"

// Flag is the consumer's flag for the setting, derived from Env (KINFLOW_STREAM_NAME: stream-name, AWS_REGION:
// aws-region), or "" for none: only the consumer takes flags, and a secret takes none.
func (s Setting) Flag() string {
	if s.Env == "" || s.Secret || !s.Runtimes.Has(Consumer) {
		return ""
	}
	return FlagName(s.Env)
}

// FlagName derives a flag name from an environment variable's name.
func FlagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, EnvPrefix)), "_", "-")
}

// Name is how the setting is known to a user: its variable, or its context key.
func (s Setting) Name() string {
	if s.Env != "" {
		return s.Env
	}
	return s.Context
}

// CheckSyntax reports whether v can be read as the setting's kind at all; what reads a value (the environment, a
// flag) calls it, and Check says the rest later, once.
func (s Setting) CheckSyntax(v string) error {
	switch s.Kind {
	case Duration:
		if _, err := time.ParseDuration(v); err != nil {
			return errors.New("want a duration such as 10m or 90s")
		}
	case Int:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return errors.New("want an integer")
		}
	case Bool:
		if _, err := strconv.ParseBool(v); err != nil {
			return errors.New("want true or false")
		}
	case CIDRs:
		for _, e := range SplitList(v) {
			if _, err := ParsePrefix(e); err != nil {
				return fmt.Errorf("%q: want IPs or CIDRs, comma-separated (10.0.0.5,10.1.0.0/16,2001:db8::/32)", e)
			}
		}
	case Map:
		for _, part := range strings.Split(v, ";") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			k, val, ok := strings.Cut(part, "=")
			if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(val) == "" {
				return fmt.Errorf("%q: want key=value pairs separated by ';'", part)
			}
		}
	}
	return nil
}

// Check reports what is wrong with v, or nil: its syntax, allowed values, range, step and pattern, and for URLs
// their scheme and host. The message says what is wanted, not which setting: the caller names it.
func (s Setting) Check(v string) error {
	if err := s.CheckSyntax(v); err != nil {
		return err
	}
	if len(s.Allowed) > 0 {
		for _, a := range s.Allowed {
			if v == a {
				return nil
			}
		}
		return errors.New("want " + orList(s.Allowed, ""))
	}
	switch s.Kind {
	case Int, Duration:
		return s.checkRange(v)
	case URL:
		if v != "" && !isHTTPURL(v) {
			return errors.New("want an http:// or https:// URL with a host")
		}
	case URLList:
		urls := SplitList(v)
		if len(urls) == 0 {
			return errors.New("want one or more http(s) URLs, comma-separated")
		}
		for _, u := range urls {
			if !isHTTPURL(u) {
				return fmt.Errorf("%q: want an http:// or https:// URL with a host", redactURL(u))
			}
		}
	case String:
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(v) {
			return errors.New("want " + s.Shape)
		}
	}
	return nil
}

// bounds are a parsed Range and Step, in the kind's unit (nanoseconds for durations).
type bounds struct {
	lo, hi         int64
	hasLo, hasHi   bool
	positive       bool // lo is ">0"
	step           int64
	loText, hiText string
}

func (s Setting) bounds() (bounds, error) {
	var b bounds
	parse := func(t string) (int64, error) {
		if s.Kind == Duration {
			d, err := time.ParseDuration(t)
			return int64(d), err
		}
		return strconv.ParseInt(t, 10, 64)
	}
	lo, hi, isRange := strings.Cut(s.Range, "..")
	if !isRange {
		lo, hi = s.Range, ""
	}
	var err error
	switch {
	case lo == ">0":
		b.positive = true
	case lo != "":
		b.hasLo, b.loText = true, lo
		if b.lo, err = parse(lo); err != nil {
			return b, fmt.Errorf("range %q: %w", s.Range, err)
		}
	}
	if hi != "" {
		b.hasHi, b.hiText = true, hi
		if b.hi, err = parse(hi); err != nil {
			return b, fmt.Errorf("range %q: %w", s.Range, err)
		}
	}
	if s.Step != "" {
		if b.step, err = parse(s.Step); err != nil || b.step <= 0 {
			return b, fmt.Errorf("step %q: want a positive %s", s.Step, s.Kind)
		}
	}
	return b, nil
}

func (s Setting) checkRange(v string) error {
	b, err := s.bounds()
	if err != nil {
		return err // a broken row; the registry's tests catch it
	}
	var n int64
	if s.Kind == Duration {
		d, _ := time.ParseDuration(v)
		n = int64(d)
	} else {
		n, _ = strconv.ParseInt(v, 10, 64)
	}
	if b.positive && n <= 0 || b.hasLo && n < b.lo || b.hasHi && n > b.hi || b.step > 0 && n%b.step != 0 {
		return errors.New("want " + s.Constraint())
	}
	return nil
}

// Constraint says in words which values the setting takes ("a positive duration", "1 to 256", "compat or rich"),
// or "" when any value of its kind will do.
func (s Setting) Constraint() string { return s.constraint("") }

// constraint is Constraint with allowed values between quote marks.
func (s Setting) constraint(quote string) string {
	if len(s.Allowed) > 0 {
		return orList(s.Allowed, quote)
	}
	if s.Kind == String && s.Pattern != "" {
		return s.Shape
	}
	if s.Kind != Int && s.Kind != Duration || s.Range == "" && s.Step == "" {
		return ""
	}
	b, err := s.bounds()
	if err != nil {
		return ""
	}
	noun := "integer"
	if s.Kind == Duration {
		noun = "duration"
	}
	switch {
	case s.Step == "1s":
		noun = "whole number of seconds"
	case b.step > 0:
		noun = "multiple of " + s.Step
	}
	switch {
	case b.positive && b.hasHi:
		return fmt.Sprintf("a positive %s up to %s", noun, b.hiText)
	case b.positive:
		return "a positive " + noun
	case b.hasLo && b.hasHi && b.step > 0:
		return fmt.Sprintf("a %s from %s to %s", noun, b.loText, b.hiText)
	case b.hasLo && b.hasHi:
		return b.loText + " to " + b.hiText
	case b.hasLo:
		return b.loText + " or more"
	case b.hasHi:
		return "at most " + b.hiText
	}
	return "a " + noun
}

// Sample returns a value of the setting other than its default that Check accepts: what a test sets to see that
// a runtime reads the setting.
func (s Setting) Sample() string {
	if s.Example != "" {
		return s.Example
	}
	var candidates []string
	switch s.Kind {
	case Duration:
		candidates = []string{"7s", "90s", "3s", "5m", "2h", "48h"}
	case Int:
		candidates = []string{"7", "2", "0", "2048", "100000", "1", "-1"}
	case Bool:
		candidates = []string{"true", "false"}
	case List:
		candidates = []string{"sample-a,sample-b"}
	case CIDRs:
		candidates = []string{"192.0.2.7,198.51.100.0/24"}
	case Map:
		candidates = []string{"/sample=version srcaddr"}
	case URL:
		candidates = []string{"https://sample.example.com/hook"}
	case URLList:
		candidates = []string{"https://a.example.com:9243,https://b.example.com:9243"}
	default:
		candidates = []string{"sample"}
	}
	candidates = slices.Concat(s.Allowed, candidates)
	for _, c := range candidates {
		if c != s.Default && s.Check(c) == nil {
			return c
		}
	}
	return ""
}

// ParsePrefix reads an IP or a CIDR; an IP is its /32 or /128.
func ParsePrefix(v string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(v); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// SplitList reads a comma-separated list, leaving out empty elements and spaces around them.
func SplitList(v string) []string {
	var out []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func isHTTPURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// redactURL hides a password in a URL that an error repeats.
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	return v
}

// orList writes "a", "a or b", "a, b or c", each between quote marks.
func orList(vs []string, quote string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = quote + v + quote
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
