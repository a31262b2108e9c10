package awsres

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// ErrInvalidConfig is wrapped by the errors of Validate and New.
var ErrInvalidConfig = errors.New("awsres: invalid configuration")

// A Target is one region of one account whose interfaces the inventory holds.
type Target struct {
	Region string // us-east-1
	// RoleARN is assumed with STS to read another account (arn:aws:iam::123456789012:role/kinflow-inventory);
	// empty: the base credentials' own account.
	RoleARN string
	// ExternalID is passed to AssumeRole when the role's trust policy asks for one; only with RoleARN.
	ExternalID string
	// VPCs restricts the inventory to these VPC ids; empty: every VPC of the region.
	VPCs []string
}

// String names the target in logs, errors and metric labels: the region, and the role when there is one.
func (t Target) String() string {
	if t.RoleARN == "" {
		return t.Region
	}
	return t.Region + "/" + t.RoleARN
}

// key identifies a target's part of the snapshot; two targets with the same key would read the same interfaces.
func (t Target) key() string { return t.Region + "\x00" + t.RoleARN + "\x00" + t.ExternalID }

// Config is the inventory's configuration. Start from DefaultConfig and set Targets.
type Config struct {
	Targets []Target
	// Interval is the time between two refreshes of every target.
	Interval time.Duration
	// Timeout bounds the refresh of one target: every page and every tag request.
	Timeout time.Duration
	// MaxInterfaces bounds the interfaces of the snapshot, every target together; a refresh that finds more keeps
	// the first MaxInterfaces (targets in configuration order, interfaces in EC2's order), logs it and counts it.
	// BenchmarkMemoryPerInterface measures what one interface costs.
	MaxInterfaces int
}

// Bounds of the configuration.
const (
	// MinInterval keeps a misconfigured refresher from spending the account's EC2 API rate limit on the inventory.
	MinInterval = 10 * time.Second
	// MaxTargets bounds the targets refreshed at once (each refresh runs them concurrently).
	MaxTargets = 256
)

// DefaultConfig returns the defaults: no target, a refresh every 5 minutes, 2 minutes per target, at most 100,000
// interfaces (about 75 MB of snapshot at the ~730 bytes per interface BenchmarkMemoryPerInterface
// measures).
func DefaultConfig() Config {
	return Config{Interval: 5 * time.Minute, Timeout: 2 * time.Minute, MaxInterfaces: 100_000}
}

var (
	// regionRE accepts the shapes of AWS's region names: us-east-1, eu-central-2, us-gov-west-1, cn-north-1,
	// us-isob-east-1.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// roleARNRE is an IAM role ARN in any partition, with an optional path.
	roleARNRE = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
	// externalIDRE is what STS accepts as an external id, of 2 to 1224 characters (Go's regexp stops at 1000
	// repeats, so the length is checked apart).
	externalIDRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@:/_-]+$`)
	vpcIDRE      = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
)

// Validate reports every problem of the configuration at once, wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Targets) == 0 {
		bad("no targets: want at least one {Region, RoleARN (optional), ExternalID (optional)}")
	}
	if len(c.Targets) > MaxTargets {
		bad("%d targets: at most %d", len(c.Targets), MaxTargets)
	}
	seen := make(map[string]int, len(c.Targets))
	for i, t := range c.Targets {
		if !regionRE.MatchString(t.Region) {
			bad("target %d: region %q: want a region name such as us-east-1", i, t.Region)
		}
		if t.RoleARN != "" && !roleARNRE.MatchString(t.RoleARN) {
			bad("target %d: role ARN %q: want arn:<partition>:iam::<12-digit account>:role/<name>", i, t.RoleARN)
		}
		if t.ExternalID != "" {
			if t.RoleARN == "" {
				bad("target %d: external id without a role ARN: it is only sent when assuming a role", i)
			} else if n := len(t.ExternalID); n < 2 || n > 1224 || !externalIDRE.MatchString(t.ExternalID) {
				bad("target %d: external id: want 2 to 1224 characters of [A-Za-z0-9+=,.@:/_-]", i)
			}
		}
		for _, v := range t.VPCs {
			if !vpcIDRE.MatchString(v) {
				bad("target %d: VPC id %q: want vpc-<8 or 17 hex digits>", i, v)
			}
		}
		if j, dup := seen[t.key()]; dup {
			bad("target %d (%s) repeats target %d: each region and role once", i, t, j)
		} else {
			seen[t.key()] = i
		}
	}
	if c.Interval < MinInterval {
		bad("interval %v: must be at least %v", c.Interval, MinInterval)
	}
	if c.Timeout <= 0 {
		bad("timeout %v: must be positive", c.Timeout)
	}
	if c.MaxInterfaces < 1 {
		bad("max interfaces %d: must be at least 1", c.MaxInterfaces)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}
