package vpcflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kinflow/kinflow/internal/retry"
)

// Config chooses the format of each log group: an override that matches the group (an exact name, or a prefix
// ending in '*'; exact beats prefix, longer prefix beats shorter), else what the FormatSource discovers (when the
// resolver has one), else the default.
type Config struct {
	DefaultFormat string     // the AWS ${field} string or a list of names; default DefaultFormatString
	Overrides     []Override // per log group
	// CacheTTL is how long a discovered format is trusted before asking again (default 15m); NegativeTTL how long
	// "no flow log writes to this group" or a failed lookup is remembered (default 1m).
	CacheTTL    time.Duration
	NegativeTTL time.Duration
}

// An Override gives the format of the log groups it matches.
type Override struct {
	Match  string // a log group name, or a prefix followed by '*'
	Format string // a format, or several of different lengths separated by '|' (each line finds its own by length)
}

// DefaultConfig returns a configuration under which every group has the default format, and discovered formats are
// cached for 15 minutes.
func DefaultConfig() Config {
	return Config{DefaultFormat: DefaultFormatString, CacheTTL: 15 * time.Minute, NegativeTTL: time.Minute}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if _, err := ParseFormat(c.DefaultFormat); err != nil {
		errs = append(errs, fmt.Errorf("vpcflow: DefaultFormat: %w", err))
	}
	seen := map[string]bool{}
	for i, o := range c.Overrides {
		m := strings.TrimSuffix(o.Match, "*")
		switch {
		case o.Match == "" || m == "" && o.Match != "*":
			errs = append(errs, fmt.Errorf("vpcflow: Overrides[%d]: Match %q: want a log group name or a prefix followed by '*'", i, o.Match))
		case strings.Contains(m, "*"):
			errs = append(errs, fmt.Errorf("vpcflow: Overrides[%d]: Match %q: '*' is allowed only at the end", i, o.Match))
		case seen[o.Match]:
			errs = append(errs, fmt.Errorf("vpcflow: Overrides[%d]: Match %q appears twice", i, o.Match))
		}
		seen[o.Match] = true
		if _, err := parserFor("", strings.Split(o.Format, "|")...); err != nil {
			errs = append(errs, fmt.Errorf("vpcflow: Overrides[%d] (%s): %w", i, o.Match, err))
		}
	}
	if c.CacheTTL <= 0 {
		errs = append(errs, fmt.Errorf("vpcflow: CacheTTL %v: want a positive duration", c.CacheTTL))
	}
	if c.NegativeTTL <= 0 {
		errs = append(errs, fmt.Errorf("vpcflow: NegativeTTL %v: want a positive duration", c.NegativeTTL))
	}
	return errors.Join(errs...)
}

// A FormatSource discovers the formats of the flow logs that deliver to a log group (flowformats asks EC2's
// DescribeFlowLogs). It returns no formats, and no error, when no flow log delivers there. An error with a
// Permanent() true method (access denied, say) makes the resolver fall back to its default; any other error is
// transient and is returned to the caller, unless an earlier answer is still cached.
type FormatSource interface {
	LogFormats(ctx context.Context, logGroup string) ([]string, error)
}

// ErrDiscovery is wrapped by transient failures of a FormatSource.
var ErrDiscovery = errors.New("discovering the flow-log format failed")

// A DiscoveryError is a transient failure to learn a log group's format: retry the record later.
type DiscoveryError struct {
	LogGroup string
	Err      error
}

func (e *DiscoveryError) Error() string {
	return fmt.Sprintf("vpcflow: log group %q: %v: %v", e.LogGroup, ErrDiscovery, e.Err)
}
func (e *DiscoveryError) Unwrap() []error { return []error{ErrDiscovery, e.Err} }

// Permanent reports false: the lookup may succeed later.
func (e *DiscoveryError) Permanent() bool { return false }

// A Resolver hands out the parser of each log group. It is safe for concurrent use.
type Resolver struct {
	cfg       Config
	src       FormatSource
	now       func() time.Time
	def       *Parser
	exact     map[string]*Parser
	prefixes  []prefixParser // longest first
	mu        sync.Mutex
	cache     map[string]cached
	discovers int
}

type prefixParser struct {
	prefix string
	p      *Parser
}

type cached struct {
	p       *Parser
	expires time.Time
}

// NewResolver returns a resolver for cfg; src may be nil (no discovery).
func NewResolver(cfg Config, src FormatSource) (*Resolver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Resolver{cfg: cfg, src: src, now: time.Now, exact: map[string]*Parser{}, cache: map[string]cached{}}
	var err error
	if r.def, err = parserFor("default", cfg.DefaultFormat); err != nil {
		return nil, err
	}
	for _, o := range cfg.Overrides {
		p, err := parserFor("override "+o.Match, strings.Split(o.Format, "|")...)
		if err != nil {
			return nil, err
		}
		if prefix, ok := strings.CutSuffix(o.Match, "*"); ok {
			r.prefixes = append(r.prefixes, prefixParser{prefix, p})
		} else {
			r.exact[o.Match] = p
		}
	}
	// Longest prefix first, so the most specific override wins.
	for i := 1; i < len(r.prefixes); i++ {
		for j := i; j > 0 && len(r.prefixes[j].prefix) > len(r.prefixes[j-1].prefix); j-- {
			r.prefixes[j], r.prefixes[j-1] = r.prefixes[j-1], r.prefixes[j]
		}
	}
	return r, nil
}

func parserFor(origin string, formats ...string) (*Parser, error) {
	fs := make([]*Format, 0, len(formats))
	for _, s := range formats {
		f, err := ParseFormat(s)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	p, err := NewParser(fs...)
	if err != nil {
		return nil, err
	}
	p.origin = origin
	return p, nil
}

// Parser returns the parser for logGroup. Only discovery can fail, with a *DiscoveryError.
func (r *Resolver) Parser(ctx context.Context, logGroup string) (*Parser, error) {
	if p, ok := r.exact[logGroup]; ok {
		return p, nil
	}
	for _, pp := range r.prefixes {
		if strings.HasPrefix(logGroup, pp.prefix) {
			return pp.p, nil
		}
	}
	if r.src == nil {
		return r.def, nil
	}
	r.mu.Lock()
	c, ok := r.cache[logGroup]
	r.mu.Unlock()
	now := r.now()
	if ok && now.Before(c.expires) {
		return c.p, nil
	}
	p, ttl, err := r.discover(ctx, logGroup)
	if err != nil {
		if ok { // serve the stale answer while the source is failing, and ask again later
			p, ttl = c.p, r.cfg.NegativeTTL
		} else {
			return nil, &DiscoveryError{LogGroup: logGroup, Err: err}
		}
	}
	r.mu.Lock()
	r.cache[logGroup] = cached{p: p, expires: now.Add(ttl)}
	r.mu.Unlock()
	return p, nil
}

func (r *Resolver) discover(ctx context.Context, logGroup string) (*Parser, time.Duration, error) {
	r.mu.Lock()
	r.discovers++
	r.mu.Unlock()
	formats, err := r.src.LogFormats(ctx, logGroup)
	switch {
	case retry.IsPermanent(err):
		return r.def, r.cfg.NegativeTTL, nil
	case err != nil:
		return nil, 0, err
	case len(formats) == 0:
		return r.def, r.cfg.NegativeTTL, nil
	}
	p, err := parserFor("discovered", formats...)
	if err != nil {
		// A format AWS accepted that we cannot use (two of equal length, say): fall back to the default, and say why.
		fallback := *r.def
		fallback.origin = "default (discovered formats unusable: " + err.Error() + ")"
		return &fallback, r.cfg.NegativeTTL, nil
	}
	return p, r.cfg.CacheTTL, nil
}
